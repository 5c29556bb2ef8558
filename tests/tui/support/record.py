"""Write the recorded stream of the snapshot tests: ``python -m tests.tui.support.record``.

The stream is the sample plant encoded with the contract, plus a few Sparkplug messages encoded
with the sparkplug library, at the frozen time ``T0``. Regenerate it only together with the
snapshots (``pytest tests/tui/test_snapshots.py --snapshot-update``, after reviewing the report).
"""

from __future__ import annotations

from pathlib import Path

from gateway.control import contract as c
from sparkplug import DataType, Metric, Payload, encode_payload
from tests.tui.support import sample
from tui.replay import dump_recording

PATH = Path(__file__).resolve().parents[1] / "data" / "stream.jsonl"


def sparkplug_messages() -> list[tuple[str, bytes, bool]]:
    t0 = sample.T0
    birth = Payload(
        timestamp=t0 - 5000,
        seq=0,
        metrics=(
            Metric(name="bdSeq", datatype=DataType.UInt64, value=3),
            Metric(name="Node Control/Rebirth", datatype=DataType.Boolean, value=False),
        ),
    )
    data = Payload(
        timestamp=t0 - 1000,
        seq=117,
        metrics=(
            Metric(name="temperature", datatype=DataType.Float, value=21.5),
            Metric(name="level", datatype=DataType.Float, value=73.25),
        ),
    )
    sent = c.RelayDirection.SENT
    received = c.RelayDirection.RECEIVED
    return [
        ("spBv1.0/Demo/NBIRTH/demo-gateway", encode_payload(birth), False),
        # the daemon's relay of its upstream traffic: data it sent to site-a, a STATE it received there
        (
            c.sparkplug_relay_topic(sent, "site-a", "spBv1.0/Demo/DDATA/demo-gateway/skid-1"),
            encode_payload(data, include_datatype=False),
            False,
        ),
        (
            c.sparkplug_relay_topic(received, "site-a", "spBv1.0/STATE/scada-1"),
            b'{"online":true,"timestamp":1767225590000}',
            False,
        ),
    ]


def messages() -> list[tuple[str, bytes, bool]]:
    return [(topic, payload, True) for topic, payload in sample.stream()] + sparkplug_messages()


if __name__ == "__main__":
    PATH.write_text(dump_recording(messages()))
    print(f"wrote {PATH}")
