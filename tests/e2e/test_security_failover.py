"""Whole-gateway cases: admin-only commands with a real password file and ACL, failover between two
mosquitto upstreams (connection loss and the failover_now command), and restarts after SIGKILL
(a short form of catalogue T57: the gateway starts every time and bdSeq only increases)."""

from __future__ import annotations

import itertools
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gateway.control import contract as c
from tests.e2e.conftest import gateway_config
from tests.e2e.support import REPO, GatewayProcess, ModbusSimulatorProcess, SparkplugHost
from tests.e2e.test_control_plane import ControlClient
from tests.support.mosquitto import MosquittoProcess
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.timeout(150)]


def _add_user(password_file: Path, user: str, password: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "gateway.cli", "passwd", "--password-stdin", str(password_file), user],
        input=password + "\n",
        text=True,
        check=True,
        capture_output=True,
        timeout=60,
    )


def test_commands_need_the_admin_role_and_are_logged_with_the_user(
    tmp_path: Path, modbus_sim: ModbusSimulatorProcess
) -> None:
    password_file = tmp_path / "passwd"
    _add_user(password_file, "technician", "tech-secret")
    _add_user(password_file, "operator", "op-secret")
    shutil.copy(REPO / "config" / "acl.toml", tmp_path / "acl.toml")
    config = gateway_config(tmp_path, modbus_port=modbus_sim.port)
    config.write_text(
        config.read_text().replace(
            "  allow_anonymous: true\n", "  password_file: passwd\n  acl_file: acl.toml\n"
        )
    )
    gateway = GatewayProcess(tmp_path, config)
    try:
        gateway.wait_running()
        operator = ControlClient(gateway.broker_port, "operator", "op-secret")
        technician = ControlClient(gateway.broker_port, "technician", "tech-secret")
        try:
            wait_until(
                lambda: (d := operator.latest(c.DeviceStatus)) and d.born,
                timeout=20,
                message="the operator sees status (and the internal Sparkplug client logged in)",
            )
            operator.send(c.WriteTag("skid", "speed_setpoint", 11))
            wait_until(
                lambda: 0x87 in operator.puback_codes, timeout=10, message="PUBACK 0x87 not authorized"
            )
            assert "refused a control-plane command from a user without the admin role" in gateway.stderr()

            response = technician.command(c.WriteTag("skid", "speed_setpoint", 12))
            assert isinstance(response, c.CommandOk), response
            wait_until(
                lambda: "command write_tag from client" in gateway.stderr(), timeout=5, message="the log"
            )
            assert "user 'technician'" in gateway.stderr()
        finally:
            operator.close()
            technician.close()
        assert gateway.terminate() == 0
    finally:
        gateway.kill()


def test_failover_on_connection_loss_and_on_command(
    tmp_path: Path, modbus_sim: ModbusSimulatorProcess, mosquitto_factory: object
) -> None:
    first: MosquittoProcess = mosquitto_factory()  # type: ignore[operator]
    second: MosquittoProcess = mosquitto_factory()  # type: ignore[operator]
    host_b = SparkplugHost(second.port)
    config = gateway_config(tmp_path, modbus_port=modbus_sim.port, upstream_port=first.port)
    config.write_text(
        config.read_text().replace(
            "keepalive_s: 5}\n",
            "keepalive_s: 5}\n"
            f"    - {{name: backup, host: 127.0.0.1, port: {second.port}, keepalive_s: 5}}\n",
        )
    )
    gateway = GatewayProcess(tmp_path, config)
    control: ControlClient | None = None
    try:
        gateway.wait_running()
        control = ControlClient(gateway.broker_port)
        wait_until(
            lambda: (
                (u := control.latest(c.UplinkStatus))
                and u.active_server == "up"
                and u.session_state is c.SessionState.ONLINE
            ),
            timeout=20,
            message="online on the first server",
        )
        first.kill()
        wait_until(lambda: host_b.of("NBIRTH"), timeout=30, message="NBIRTH on the backup after the loss")
        wait_until(
            lambda: (
                (u := control.latest(c.UplinkStatus))
                and u.active_server == "backup"
                and u.switches
                and u.switches[-1].to_server == "backup"
            ),
            timeout=15,
            message="the switch in the uplink status",
        )

        first.restart()
        host_a = SparkplugHost(first.port)
        try:
            response = control.command(c.FailoverNow("test"))
            assert isinstance(response, c.CommandOk) and response.data.from_server == "backup"
            wait_until(lambda: host_a.of("NBIRTH"), timeout=30, message="NBIRTH on the first server again")
            wait_until(lambda: host_b.of("NDEATH"), timeout=10, message="NDEATH on the backup before leaving")
            births = [
                host_b.metric(host_b.of("NBIRTH")[0], "bdSeq"),
                host_a.metric(host_a.of("NBIRTH")[0], "bdSeq"),
            ]
            assert births[1] == (births[0] + 1) % 256, "a new CONNECT takes the next bdSeq"
        finally:
            host_a.close()
        assert gateway.terminate() == 0
    finally:
        if control is not None:
            control.close()
        host_b.close()
        gateway.kill()


def test_restarts_after_sigkill_start_every_time_with_increasing_bdseq(
    tmp_path: Path, modbus_sim: ModbusSimulatorProcess, mosquitto: MosquittoProcess
) -> None:
    rng = random.Random(57)
    host = SparkplugHost(mosquitto.port)
    config = gateway_config(tmp_path, modbus_port=modbus_sim.port, upstream_port=mosquitto.port)
    bd_seqs: list[int] = []
    try:
        for iteration in range(4):
            gateway = GatewayProcess(tmp_path, config)
            try:
                gateway.wait_running()
                wait_until(lambda n=iteration: len(host.of("NBIRTH")) > n, timeout=30, message="NBIRTH")
                bd_seqs.append(host.metric(host.of("NBIRTH")[iteration], "bdSeq"))
                deadline = time.monotonic() + rng.uniform(0.0, 1.5)
                wait_until(lambda d=deadline: time.monotonic() >= d, timeout=5, message="a random moment")
                gateway.proc.send_signal(signal.SIGKILL)
                gateway.proc.wait(10)
            finally:
                gateway.kill()
        assert all(later > earlier for earlier, later in itertools.pairwise(bd_seqs)), bd_seqs
    finally:
        host.close()
