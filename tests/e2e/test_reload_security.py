"""SIGHUP re-reads the embedded broker's password and ACL files (as mosquitto does), all or nothing:
a user added to the password file can log in after SIGHUP; an ACL change applies; an invalid ACL keeps
the previous users and rules in force and the reload result says so (catalogue T21/T22).

Real processes: ``edge-gateway run -c FILE``, ``edge-gateway passwd``, paho-mqtt clients.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from tests.e2e.support import REPO, GatewayProcess
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.timeout(90)]

ACL = """\
version = 1

[roles.admin]
rules = [
  {{ allow = "readwrite", topic = "#" }},
  {{ allow = "readwrite", topic = "$GW/v1/#" }},
]

[roles.viewer]
rules = [ {{ allow = "read", topic = "spBv1.0/#" }} ]

[users.technician]
roles = ["admin"]
{extra}"""


def passwd(path: Path, user: str, password: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "gateway.cli", "passwd", "--password-stdin", str(path), user],
        input=password + "\n",
        check=True,
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )


class Client:
    """One MQTT 5 connection attempt; ``reason`` is the CONNACK reason (0 = accepted)."""

    def __init__(self, port: int, user: str, password: str) -> None:
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=f"t-{user}-{os.getpid()}", protocol=mqtt.MQTTv5
        )
        self.client.username_pw_set(user, password)
        self.connack = threading.Event()
        self.suback = threading.Event()
        self.reason: int | None = None
        self.granted: list[int] = []
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = self._on_subscribe
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        wait_until(self.connack.is_set, timeout=15, message=f"CONNACK for {user}")

    def _on_connect(self, _c: object, _u: object, _f: object, reason: mqtt.ReasonCode, _p: object) -> None:
        self.reason = reason.value
        self.connack.set()

    def _on_subscribe(
        self, _c: object, _u: object, _m: int, codes: list[mqtt.ReasonCode], _p: object
    ) -> None:
        self.granted = [code.value for code in codes]
        self.suback.set()

    def may_subscribe(self, topic: str) -> bool:
        self.suback.clear()
        self.client.subscribe(topic, qos=1)
        wait_until(self.suback.is_set, timeout=10, message=f"SUBACK for {topic}")
        return self.granted[0] < 0x80

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def login(port: int, user: str, password: str) -> int | None:
    client = Client(port, user, password)
    client.close()
    return client.reason


def test_sighup_reloads_the_password_and_acl_files(tmp_path: Path) -> None:
    passwords, acl = tmp_path / "passwd", tmp_path / "acl.toml"
    passwd(passwords, "technician", "t-secret")
    acl.write_text(ACL.format(extra=""))
    config = tmp_path / "gateway.yaml"
    config.write_text(
        "identity: {group_id: G, edge_node_id: E}\n"
        "broker:\n"
        "  listeners: [{host: 127.0.0.1, port: 0}]\n"
        f"  password_file: {passwords}\n"
        f"  acl_file: {acl}\n"
        "data_dir: data\n"
    )
    gateway = GatewayProcess(tmp_path, config)
    try:
        gateway.wait_running()
        port = gateway.broker_port
        assert login(port, "technician", "t-secret") == 0
        assert login(port, "newcomer", "n-secret") == 0x86  # bad user name or password

        # a user added to the password file, and a role for them: both apply after SIGHUP
        passwd(passwords, "newcomer", "n-secret")
        acl.write_text(ACL.format(extra='\n[users.newcomer]\nroles = ["viewer"]\n'))
        reloads = _reload(gateway, 1)
        assert "security files reloaded" in reloads[-1]
        newcomer = Client(port, "newcomer", "n-secret")
        try:
            assert newcomer.reason == 0
            assert newcomer.may_subscribe("spBv1.0/#")
            assert not newcomer.may_subscribe("$GW/v1/#")  # viewer: Sparkplug only
        finally:
            newcomer.close()

        # an invalid ACL (it would have given everyone everything): the previous rules stay in force
        acl.write_text(ACL.format(extra='\n[users.newcomer]\nroles = ["admin"]\nallow = "everything"\n'))
        reloads = _reload(gateway, 2)
        assert "security files NOT reloaded, the previous users and ACL stay in force" in reloads[-1]
        assert str(acl) in gateway.stderr()
        _check_reported_on_the_control_plane(port, acl)
        newcomer = Client(port, "newcomer", "n-secret")
        try:
            assert newcomer.reason == 0
            assert newcomer.may_subscribe("spBv1.0/#")
            assert not newcomer.may_subscribe("$GW/v1/#"), "the invalid ACL must not have applied"
        finally:
            newcomer.close()
        assert gateway.terminate() == 0
    finally:
        gateway.kill()


def _reload(gateway: GatewayProcess, count: int) -> list[str]:
    """SIGHUP, then the daemon's log lines of ``count`` reloads so far."""
    gateway.proc.send_signal(signal.SIGHUP)

    def lines() -> list[str]:
        return re.findall(r"reload \(sighup\): .*", gateway.stderr())

    wait_until(lambda: len(lines()) >= count, timeout=20, message=lambda: gateway.stderr()[-2000:])
    return lines()


def _check_reported_on_the_control_plane(port: int, acl: Path) -> None:
    """The failed security reload is in the gateway status the terminal UI shows (admin user)."""
    from gateway.control import contract as c
    from tests.e2e.test_control_plane import ControlClient

    client = ControlClient(port, username="technician", password="t-secret")
    try:
        status = wait_until(
            lambda: (s := client.latest(c.GatewayStatus)) and s.last_reload and not s.last_reload.ok and s,
            timeout=20,
            message="the failed reload in the gateway status",
        )
        result = status.last_reload
        assert result is not None and not result.ok and result.security_reloaded is False
        assert result.security_message is not None and str(acl) in result.security_message
        assert result.problems, "the ACL's problems are listed"
    finally:
        client.close()
