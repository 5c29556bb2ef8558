"""The issue's proof "a run of the demo that shows data in `sniff`": the real ``edge-gateway run`` (the
built-in demo, no file) and the real ``edge-gateway sniff --json`` against its embedded broker, as a
newcomer would run them (no credentials: the demo's broker is loopback-only and anonymous).

The sniffer attaches after the start-up births (Sparkplug births are not retained), so, as a host
application would, the test asks for a rebirth with NCMD ``Node Control/Rebirth``; from the NBIRTH on,
the sniffer must flag no rule violation. Before it, only ``data-before-birth`` is expected (the sniffer
says it may have started late).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import paho.mqtt.publish as mqtt_publish
import pytest

from sparkplug import DataType, Metric, Payload, encode_payload
from tests.e2e.support import GatewayProcess, Process
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

COUNT = 60  # ~15 s of demo traffic: enough for a (possibly debounced) rebirth and DDATA of both devices


def test_sniff_shows_the_demo_births_and_data_without_violations(tmp_path: Path) -> None:
    gateway = GatewayProcess(tmp_path, None, ["--port", "0", "--data-dir", str(tmp_path / "demo")])
    sniff: Process | None = None
    try:
        gateway.wait_running()
        port = gateway.broker_port
        # the printed hint is the command this test runs
        gateway.wait_line(rf"edge-gateway sniff --host 127\.0\.0\.1 --port {port}$")
        sniff = Process(
            ["sniff", "--host", "127.0.0.1", "--port", str(port), "--json", "--count", str(COUNT)],
            tmp_path,
            "sniff",
        )
        wait_until(
            lambda: "sniff: subscribed to spBv1.0/#" in sniff.stderr() or sniff.proc.poll() is not None,
            timeout=20,
            message="sniff to subscribe",
        )
        assert sniff.proc.poll() is None, sniff.stderr()
        rebirth = Payload(
            timestamp=1,
            metrics=(Metric(name="Node Control/Rebirth", datatype=DataType.Boolean, value=True),),
        )
        mqtt_publish.single(
            "spBv1.0/Demo/NCMD/demo-gateway", encode_payload(rebirth), hostname="127.0.0.1", port=port
        )
        sniff.proc.wait(timeout=60)
        assert sniff.proc.returncode == 0, sniff.stderr()
        sniff._close_pipes()
        messages = [json.loads(line) for line in sniff.lines if line.startswith("{")]
        assert len(messages) == COUNT, sniff.lines[-5:]
        _check(messages)
        assert gateway.terminate() == 0
    finally:
        if sniff is not None:
            sniff.kill()
        gateway.kill()


def _check(messages: list[dict[str, Any]]) -> None:
    kinds = [(m["type"], m.get("device_id")) for m in messages]
    assert ("NBIRTH", None) in kinds, kinds
    start = kinds.index(("NBIRTH", None))
    for early in messages[:start]:
        assert {v["rule"] for v in early["violations"]} <= {"data-before-birth"}, early
    after = messages[start:]
    flagged = [(m["topic"], m["violations"]) for m in after if m["violations"]]
    assert not flagged, flagged
    seen = {(m["type"], m.get("device_id")) for m in after}
    for device in ("skid-1", "line-1"):  # the Modbus device and the OPC UA device
        assert ("DBIRTH", device) in seen, (device, kinds)
        assert ("DDATA", device) in seen, (device, kinds)
    assert after[0]["seq"] == 0 and all(m.get("error") is None for m in after)
    # the births name the metrics; DATA resolves aliases through them
    dbirth = next(m for m in after if m["type"] == "DBIRTH" and m["device_id"] == "line-1")
    assert "Line1/Temperature" in {metric["name"] for metric in dbirth["metrics"]}
