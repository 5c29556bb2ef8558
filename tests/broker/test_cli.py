"""``edge-gateway broker``: runs standalone, prints the bound port (port 0 allowed), stops on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from tests.support.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]


def _start(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "broker", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )


def _stop(process: subprocess.Popen[str]) -> int:
    process.send_signal(signal.SIGTERM)
    process.communicate(timeout=60)  # also closes the pipes; a deadline for a loaded machine
    return process.returncode


def _config(tmp_path: Path) -> Path:
    config = tmp_path / "gateway.yaml"
    config.write_text(
        "identity:\n  group_id: G\n  edge_node_id: n\n"
        f"data_dir: {tmp_path / 'data'}\n"
        "upstream:\n  servers: []\n"
        "broker:\n  allow_anonymous: true\n  listeners:\n    - host: 127.0.0.1\n      port: 1\n"
        "  limits:\n    max_keepalive: 30\n"
    )
    return config


def _port(process: subprocess.Popen[str]) -> int:
    assert process.stdout is not None
    line = process.stdout.readline()
    assert line.startswith("listening on 127.0.0.1:"), line
    return int(line.rsplit(":", 1)[1])


def _subscribe_once(port: int, topic: str) -> bytes:
    got: list[bytes] = []
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="cli-sub")
    client.on_message = lambda c, u, m: got.append(m.payload)
    client.connect("127.0.0.1", port)
    client.subscribe(topic, 1)
    client.loop_start()
    try:
        wait_until(lambda: got, timeout=5, message=f"a message on {topic}")
    finally:
        client.disconnect()
        client.loop_stop()
    return got[0]


def test_standalone_broker_with_config_file_persists_retained(tmp_path: Path) -> None:
    """-c FILE: the gateway configuration's broker section and data_dir (SQLite persistence), port 0
    printed; a retained message survives a SIGTERM and a restart."""
    config = _config(tmp_path)
    process = _start("-c", str(config), "--port", "0")
    try:
        port = _port(process)
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="cli-test")
        client.connect("127.0.0.1", port)
        client.loop_start()
        info = client.publish("plant/state", b"running", qos=1, retain=True)
        info.wait_for_publish(5)
        client.disconnect()
        client.loop_stop()
    finally:
        assert _stop(process) == 0
    assert (tmp_path / "data" / "broker").is_dir()
    again = _start("-c", str(config), "--port", "0")
    try:
        assert _subscribe_once(_port(again), "plant/#") == b"running"
    finally:
        assert _stop(again) == 0


def test_anonymous_is_refused_by_default() -> None:
    process = _start("--port", "0")
    try:
        assert process.stdout is not None
        port = int(process.stdout.readline().rsplit(":", 1)[1])
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="anon")
        codes: list[object] = []
        client.on_connect = lambda c, u, f, rc, p: codes.append(rc)
        client.connect("127.0.0.1", port)
        client.loop_start()
        try:
            wait_until(lambda: codes, timeout=5, message="CONNACK")
        finally:
            client.loop_stop()
        assert str(codes[0]) == "Not authorized"
    finally:
        _stop(process)


def test_bad_config_key_is_reported(tmp_path: Path) -> None:
    config = tmp_path / "gateway.yaml"
    config.write_text(
        "identity:\n  group_id: G\n  edge_node_id: n\n"
        "broker:\n  allow_anonymus: true\n  limits:\n    speed: 3\n"
    )
    process = _start("-c", str(config))
    _out, err = process.communicate(timeout=20)
    assert process.returncode != 0
    assert "broker.allow_anonymus: unknown key" in err
    assert "broker.limits.speed: unknown key" in err
    assert "Traceback" not in err


def test_port_in_use_is_a_clear_error() -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = dict(os.environ)
        process = subprocess.run(
            [sys.executable, "-m", "gateway.cli", "broker", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=20,
            cwd=ROOT,
            env=env,
            check=False,
        )
    assert process.returncode == 1
    assert "cannot listen" in process.stderr
    assert "Traceback" not in process.stderr


def test_response_information_option_answers_a_5_0_client_that_asks() -> None:
    process = _start("--port", "0", "--allow-anonymous", "--response-information", "rsp/")
    try:
        port = _port(process)
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="cli-rsp", protocol=mqtt.MQTTv5)
        got: list[object] = []
        client.on_connect = lambda c, u, flags, rc, props: got.append(props)
        request = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        request.RequestResponseInformation = 1
        client.connect("127.0.0.1", port, properties=request)
        client.loop_start()
        wait_until(lambda: got, timeout=30, message="CONNACK")
        client.disconnect()
        client.loop_stop()
        assert getattr(got[0], "ResponseInformation", None) == "rsp/cli-rsp/"
    finally:
        assert _stop(process) == 0
