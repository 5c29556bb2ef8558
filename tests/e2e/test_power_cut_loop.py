"""Catalogue T57, power-cut loop across the whole gateway (bounded to about a minute; the catalogue's
50 iterations would take several minutes on the shared CI machine).

Setup: ``edge-gateway run`` with its embedded broker (SQLite persistence), a Modbus simulator and an
OPC UA simulator (real processes), and two upstream mosquittos in failover order. Loop, with a fixed
seed: start the gateway, let it run for a random moment, SIGKILL it, toggle one upstream up or down
at random, and start again. Checked on every iteration:

- the gateway starts every time without manual help;
- a retained message acknowledged on the embedded broker before the loop survives every kill, and a
  persistent session keeps its subscription (the broker's T26 promise);
- the store-and-forward database passes SQLite's integrity check after every kill (T30's invariant
  that nothing half-written is ever read back), and once both upstreams are up again it drains;
- bdSeq only increases across restarts (the file, and the NBIRTHs the hosts saw);
- the data directory stays under a fixed cap.
"""

from __future__ import annotations

import itertools
import json
import random
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from gateway.app.daemon import STORE_FILE
from gateway.control import contract as c
from sparkplug import BdSeqStore
from tests.e2e.support import GatewayProcess, ModbusSimulatorProcess, Process, SparkplugHost
from tests.e2e.test_control_plane import ControlClient
from tests.support.mosquitto import MosquittoProcess
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

SEED = 57
LOOP_BUDGET_S = 30.0  # iterations are started until this much time has passed (at least MIN_ITERATIONS)
MIN_ITERATIONS = 3
DATA_DIR_CAP_BYTES = 20 * 1024 * 1024


@pytest.fixture
def opcua_sim(tmp_path: Path) -> Iterator[tuple[str, list[dict[str, object]]]]:
    sim = Process(["simulate", "opcua", "--port", "0", "--describe"], tmp_path, "opcua-sim")
    try:
        first = json.loads(sim.wait_line(r'^\{.*"endpoint"', timeout=60).string)
        wait_until(lambda: len(sim.lines) >= 3, timeout=20, message="the OPC UA variables")
        variables = [json.loads(line) for line in sim.lines[1:] if line.startswith("{")]
        yield str(first["endpoint"]), variables
    finally:
        sim.kill()


def _config(
    tmp_path: Path, modbus_port: int, endpoint: str, variables: list[dict[str, object]], ups: list[int]
) -> Path:
    doubles = [v for v in variables if v.get("data_type") == "Double"][:2]
    opcua_tags = "".join(
        f"      - {{name: {str(v['name']).replace('.', '/')}, node_id: '{v['node_id']}', type: Double}}\n"
        for v in doubles
    )
    servers = "".join(
        f"    - {{name: up{i}, host: 127.0.0.1, port: {port}, keepalive_s: 5}}\n"
        for i, port in enumerate(ups)
    )
    path = tmp_path / "gateway.yaml"
    path.write_text(
        f"""\
identity: {{group_id: T57, edge_node_id: gw}}
broker:
  listeners: [{{host: 127.0.0.1, port: 0}}]
  allow_anonymous: true
  durable_ack: true
upstream:
  servers:
{servers}store: {{max_bytes: 2000000}}
devices:
  - id: skid
    protocol: modbus_tcp
    host: 127.0.0.1
    port: {modbus_port}
    poll_interval_s: 0.2
    tags:
      - {{name: temperature, address: 40001, type: float32}}
      - {{name: motor_speed, address: 40006, type: int16}}
  - id: line
    protocol: opcua
    endpoint: {endpoint}
    publishing_interval_s: 0.2
    tags:
{opcua_tags}data_dir: data
"""
    )
    return path


class PersistentClient:
    """A clean_session=False client of the embedded broker with one QoS 1 subscription."""

    def __init__(self, port: int, *, subscribe: bool) -> None:
        self.received: list[tuple[str, bytes, bool]] = []
        self.session_present: bool | None = None
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id="t57-persistent",
            protocol=mqtt.MQTTv311,
            clean_session=False,
        )
        self.client.on_connect = self._on_connect
        self.client.on_message = lambda _c, _u, m: self.received.append((m.topic, bytes(m.payload), m.retain))
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        wait_until(lambda: self.session_present is not None, timeout=15, message="CONNACK")
        if subscribe:
            self.client.subscribe("t57/#", qos=1)

    def _on_connect(self, _c: object, _u: object, flags: mqtt.ConnectFlags, _r: object, _p: object) -> None:
        self.session_present = flags.session_present

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def _publish(port: int, topic: str, payload: bytes, *, retain: bool) -> None:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="t57-publisher", protocol=mqtt.MQTTv311)
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(10)
    finally:
        client.loop_stop()
        client.disconnect()


def _check_session_and_retained(port: int, iteration: int) -> None:
    """The persistent session survived the last kill with the message queued for it; the retained
    message acknowledged before the loop is still there (a fresh subscriber gets it)."""
    session = PersistentClient(port, subscribe=False)
    try:
        assert session.session_present, f"iteration {iteration}: the persistent session was lost"
        wanted = f"t57/queued/{iteration - 1}"
        wait_until(
            lambda: any(topic == wanted for topic, _payload, _retain in session.received),
            timeout=10,
            message=f"iteration {iteration}: {wanted} queued before the kill",
        )
    finally:
        session.close()
    fresh = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="t57-fresh", protocol=mqtt.MQTTv311)
    got: list[bytes] = []
    fresh.on_message = lambda _c, _u, m: got.append(bytes(m.payload))
    fresh.connect("127.0.0.1", port)
    fresh.loop_start()
    try:
        fresh.subscribe("t57/retained", qos=1)
        wait_until(
            lambda: got == [b"survives"], timeout=10, message=f"iteration {iteration}: the retained message"
        )
    finally:
        fresh.loop_stop()
        fresh.disconnect()


def _store_is_intact(path: Path) -> None:
    if not path.exists():
        return
    connection = sqlite3.connect(path)
    try:
        assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    finally:
        connection.close()


def _size(directory: Path) -> int:
    return sum(p.stat().st_size for p in directory.rglob("*") if p.is_file())


def test_power_cut_loop(
    tmp_path: Path,
    modbus_sim: ModbusSimulatorProcess,
    opcua_sim: tuple[str, list[dict[str, object]]],
    mosquitto_factory: object,
) -> None:
    rng = random.Random(SEED)
    ups: list[MosquittoProcess] = [mosquitto_factory(), mosquitto_factory()]  # type: ignore[operator]
    endpoint, variables = opcua_sim
    config = _config(tmp_path, modbus_sim.port, endpoint, variables, [u.port for u in ups])
    data = tmp_path / "data"
    hosts = [SparkplugHost(u.port) for u in ups]
    bd_seq_file = data / "bdseq"
    next_bd_seqs: list[int] = []
    started_loop = time.monotonic()
    iteration = 0
    try:
        while iteration < MIN_ITERATIONS or time.monotonic() - started_loop < LOOP_BUDGET_S:
            gateway = GatewayProcess(tmp_path, config)
            try:
                gateway.wait_running(timeout=60)  # starts every time, whatever was killed mid-write
                port = gateway.broker_port
                if iteration == 0:
                    PersistentClient(port, subscribe=True).close()
                    _publish(port, "t57/retained", b"survives", retain=True)
                else:
                    _check_session_and_retained(port, iteration)
                # queued for the offline persistent session; acknowledged = committed (durable_ack)
                _publish(port, f"t57/queued/{iteration}", b"queued", retain=False)
                # a random moment of the run: the kill's timing is the test
                time.sleep(rng.uniform(0.2, 2.5))
            finally:
                gateway.kill()  # SIGKILL: the power cut
            _store_is_intact(data / STORE_FILE)
            if bd_seq_file.exists():
                next_bd_seqs.append(BdSeqStore(bd_seq_file).load())
            assert _size(data) < DATA_DIR_CAP_BYTES, f"iteration {iteration}: data dir grew to {_size(data)}"
            victim = ups[rng.randrange(2)]
            if victim.process is None:
                victim.start()
            else:
                victim.kill()
            iteration += 1

        # the end: both upstreams up, one clean run: births, data, and the store drained
        for up in ups:
            if up.process is None:
                up.start()
        gateway = GatewayProcess(tmp_path, config)
        try:
            gateway.wait_running(timeout=60)
            control = ControlClient(gateway.broker_port)
            try:
                wait_until(
                    lambda: (s := control.latest(c.StoreStatus)) is not None and s.depth == 0,
                    timeout=60,
                    message="the store to drain",
                )
            finally:
                control.close()
            wait_until(
                lambda: any(h.of("DDATA", "skid") and h.of("DDATA", "line") for h in hosts),
                timeout=30,
                message="data of both devices upstream after the loop",
            )
            assert gateway.terminate() == 0
        finally:
            gateway.kill()
    finally:
        for host in hosts:
            host.close()

    # bdSeq only increases across restarts: the stored next value never goes back (mod 256, small steps) ...
    steps = [(b - a) % 256 for a, b in itertools.pairwise(next_bd_seqs)]
    assert all(step < 128 for step in steps), next_bd_seqs
    # ... and every NBIRTH a host saw carries a bdSeq not seen in an earlier session of that host
    for host in hosts:
        seen = [host.metric(m, "bdSeq") for m in host.of("NBIRTH")]
        fresh = [b for i, b in enumerate(seen) if i == 0 or b != seen[i - 1]]  # a rebirth repeats its bdSeq
        assert all((b - a) % 256 < 128 and b != a for a, b in itertools.pairwise(fresh)), seen
    assert iteration >= MIN_ITERATIONS
