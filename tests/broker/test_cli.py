"""``edge-gateway broker``: runs standalone, prints the bound port (port 0 allowed), stops on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

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
    process.communicate(timeout=10)  # also closes the pipes
    return process.returncode


def test_standalone_broker_prints_port_and_serves(tmp_path: Path) -> None:
    config = tmp_path / "broker.toml"
    config.write_text(
        '[broker]\nallow_anonymous = true\n[[broker.listeners]]\nhost = "127.0.0.1"\nport = 1\n'
        "[broker.limits]\nmax_keepalive = 30\n"
    )
    process = _start("-c", str(config), "--port", "0")
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("listening on 127.0.0.1:"), line
        port = int(line.rsplit(":", 1)[1])
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="cli-test")
        client.connect("127.0.0.1", port)
        assert client.publish("t", b"x", qos=1).rc == 0
        client.disconnect()
    finally:
        assert _stop(process) == 0


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
            from tests.support.waiting import wait_until

            wait_until(lambda: codes, timeout=5, message="CONNACK")
        finally:
            client.loop_stop()
        assert str(codes[0]) == "Not authorized"
    finally:
        _stop(process)


def test_bad_config_key_is_reported(tmp_path: Path) -> None:
    config = tmp_path / "broker.toml"
    config.write_text("[broker]\nallow_anonymus = true\n[broker.limits]\nmax_keepalive = 30\nspeed = 3\n")
    process = _start("-c", str(config))
    _out, err = process.communicate(timeout=20)
    assert process.returncode == 1
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
