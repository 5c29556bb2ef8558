"""Real processes for end-to-end tests: the gateway (``edge-gateway run``), the Modbus simulator
(``edge-gateway simulate modbus``), and a Sparkplug host application that decodes every message.

Every wait has a deadline (tests/support/waiting.py); processes are stopped in teardown by their pid.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from sparkplug import Payload, decode_payload
from tests.support.waiting import wait_until

REPO = Path(__file__).resolve().parents[2]


class Process:
    """A child process whose stdout lines are collected by a reader thread; stderr goes to a file."""

    def __init__(self, args: list[str], workdir: Path, name: str, env: dict[str, str] | None = None) -> None:
        self.stderr_path = workdir / f"{name}.stderr"
        self._stderr = self.stderr_path.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gateway.cli", *args],
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            cwd=workdir,
            # the checkout these tests belong to, whatever is installed in the environment
            env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})},
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            self.lines.append(raw.decode(errors="replace").rstrip("\n"))

    def wait_line(self, pattern: str, timeout: float = 20.0) -> re.Match[str]:
        regex = re.compile(pattern)

        def found() -> re.Match[str] | None:
            for line in list(self.lines):
                match = regex.search(line)
                if match:
                    return match
            if self.proc.poll() is not None:
                raise AssertionError(f"process exited with {self.proc.returncode}: {self.stderr()[-3000:]}")
            return None

        match: re.Match[str] = wait_until(
            found,  # type: ignore[arg-type]  # None means "not yet"
            timeout=timeout,
            message=lambda: f"{pattern!r} in {self.lines} / {self.stderr()[-2000:]}",
        )
        return match

    def stderr(self) -> str:
        if not self._stderr.closed:
            self._stderr.flush()
        return self.stderr_path.read_text(errors="replace")

    def terminate(self, timeout: float = 10.0) -> int:
        """SIGTERM and wait; returns the exit status (kills and fails if it does not stop in time)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError(f"did not stop within {timeout} s after SIGTERM") from None
        self._close_pipes()
        return self.proc.returncode

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._close_pipes()

    def _close_pipes(self) -> None:
        self._reader.join(5)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self._stderr.close()


class ModbusSimulatorProcess(Process):
    def __init__(self, workdir: Path) -> None:
        super().__init__(["simulate", "modbus", "--port", "0"], workdir, "modbus-sim")
        first = self.wait_line(r"^\{.*\"port\"")
        self.port = int(json.loads(first.string)["port"])


class GatewayProcess(Process):
    """``edge-gateway run -c FILE`` (or the demo with ``config=None``); ``broker_port`` once started."""

    def __init__(self, workdir: Path, config: Path | None, extra: list[str] | None = None) -> None:
        args = ["run", *([] if config is None else ["-c", str(config)]), *(extra or [])]
        super().__init__(args, workdir, "gateway")
        self.broker_port = 0

    def wait_running(self, timeout: float = 30.0) -> None:
        match = self.wait_line(r"broker listening on [\d.]+:(\d+)", timeout)
        self.broker_port = int(match.group(1))
        self.wait_line("gateway running", timeout)


@dataclass
class Received:
    topic: str
    kind: str
    payload: Payload | None
    device: str | None


@dataclass
class SparkplugHost:
    """A host application: subscribes to ``spBv1.0/#`` and decodes everything (decode errors fail)."""

    port: int
    messages: list[Received] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="test-host", protocol=mqtt.MQTTv5)
        self.client.on_message = self._on_message
        self._subscribed = threading.Event()
        self.client.on_subscribe = lambda *_args: self._subscribed.set()
        self.client.connect("127.0.0.1", self.port)
        self.client.loop_start()
        self.client.subscribe("spBv1.0/#", qos=1)
        wait_until(self._subscribed.is_set, timeout=10, message="SUBACK of the host")

    def _on_message(self, _client: Any, _userdata: Any, message: mqtt.MQTTMessage) -> None:
        levels = message.topic.split("/")
        kind = levels[2] if len(levels) > 2 else "?"
        device = levels[4] if len(levels) > 4 else None
        try:
            payload = decode_payload(bytes(message.payload)) if kind != "STATE" else None
        except Exception as exc:  # any decode failure is a finding of the test
            self.errors.append(f"{message.topic}: {exc!r}")
            return
        self.messages.append(Received(message.topic, kind, payload, device))

    def of(self, kind: str, device: str | None = None) -> list[Received]:
        return [m for m in list(self.messages) if m.kind == kind and (device is None or m.device == device)]

    def metric(self, message: Received, name: str) -> Any:
        """The value of metric ``name`` in ``message`` (DATA carries aliases: resolved via the births)."""
        assert message.payload is not None
        alias = self.alias_of(message.device, name)
        for metric in message.payload.metrics:
            if metric.name == name or (alias is not None and metric.alias == alias):
                return metric.value
        raise KeyError(name)

    def alias_of(self, device: str | None, name: str) -> int | None:
        kind = "DBIRTH" if device is not None else "NBIRTH"
        for birth in reversed(self.of(kind, device)):
            assert birth.payload is not None
            for metric in birth.payload.metrics:
                if metric.name == name:
                    return metric.alias
        return None

    def values(self, device: str, name: str) -> list[Any]:
        """Every value of one device metric seen in DBIRTH and DDATA, in order."""
        found = []
        for message in list(self.messages):
            if message.device == device and message.kind in ("DBIRTH", "DDATA"):
                try:
                    found.append(self.metric(message, name))
                except KeyError:
                    continue
        return found

    def publish(self, topic: str, payload: bytes) -> None:
        self.client.publish(topic, payload, qos=0).wait_for_publish(5)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def check_sequence(messages: list[Received]) -> None:
    """Sparkplug rules over one session's messages, in arrival order (sparkplug-b-edge-node.md §4-§6):
    NBIRTH first with seq 0; seq +1 mod 256 on every later message; DBIRTH before any DDATA of its
    device; NDEATH carries the NBIRTH's bdSeq and no seq."""
    births = [i for i, m in enumerate(messages) if m.kind == "NBIRTH"]
    assert births, "no NBIRTH"
    start = births[-1]
    session = messages[start:]
    nbirth = session[0]
    assert nbirth.payload is not None and nbirth.payload.seq == 0
    bd_seq = next(m.value for m in nbirth.payload.metrics if m.name == "bdSeq")
    expected = 0
    born: set[str] = set()
    for message in session:
        if message.kind == "NDEATH":
            assert message.payload is not None
            assert message.payload.seq is None
            assert [m.name for m in message.payload.metrics] == ["bdSeq"]
            assert message.payload.metrics[0].value == bd_seq
            continue
        if message.kind in ("STATE", "NCMD", "DCMD"):
            continue
        assert message.payload is not None
        if message.kind == "NBIRTH":
            expected = 0
        assert message.payload.seq == expected, (
            f"{message.topic}: seq {message.payload.seq}, expected {expected}"
        )
        expected = (expected + 1) % 256
        if message.kind == "DBIRTH":
            born.add(message.device or "")
        if message.kind == "DDATA":
            assert message.device in born, f"DDATA of {message.device} before its DBIRTH"
