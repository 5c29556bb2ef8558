"""ObservedEdgeNode: the last seq produced and the rebirth count, from the real core's outputs."""

from __future__ import annotations

from gateway.app.observed_node import ObservedEdgeNode
from sparkplug import (
    Connected,
    ConnectStarting,
    DataType,
    DeviceOnline,
    Disconnected,
    EdgeNodeConfig,
    MessageReceived,
    MessageType,
    Metric,
    MetricsChanged,
    MetricSpec,
    Payload,
    Publish,
    Sample,
    Subscribed,
    encode_payload,
)

START = 1_700_000_000_000
SPEC = (MetricSpec("T", DataType.Double),)


def _connect(node: ObservedEdgeNode, now: int) -> list[object]:
    out: list[object] = []
    out += node.handle(ConnectStarting("s1"), now)
    out += node.handle(Connected(), now + 1)
    out += node.handle(Subscribed(), now + 2)
    return out


def _rebirth(node: ObservedEdgeNode, now: int) -> list[object]:
    payload = encode_payload(
        Payload(
            timestamp=now,
            metrics=(Metric(name="Node Control/Rebirth", datatype=DataType.Boolean, value=True),),
        )
    )
    return list(node.handle(MessageReceived("spBv1.0/G/NCMD/E", payload), now))


def test_seq_follows_the_core_and_rebirths_are_counted_apart_from_sessions() -> None:
    node = ObservedEdgeNode(EdgeNodeConfig("G", "E", rebirth_debounce_ms=0))
    assert node.seq is None and node.nbirths == 0 and node.rebirths == 0
    node.handle(DeviceOnline("D1", SPEC, (Sample("T", 1.0, START),)), START)
    _connect(node, START)
    assert (node.seq, node.nbirths, node.rebirths) == (1, 1, 0)  # NBIRTH seq 0, DBIRTH seq 1
    out = node.handle(MetricsChanged("D1", (Sample("T", 2.0, START + 10),)), START + 10)
    ddata = [o for o in out if isinstance(o, Publish) and o.message_type is MessageType.DDATA]
    assert ddata and ddata[0].seq == 2 == node.seq
    out = _rebirth(node, START + 20)
    assert any(isinstance(o, Publish) and o.message_type is MessageType.NBIRTH for o in out)
    assert (node.seq, node.nbirths, node.rebirths) == (1, 2, 1)
    # a new connection: its NBIRTH is a birth, not a rebirth
    node.handle(Disconnected(), START + 30)
    _connect(node, START + 40)
    assert (node.nbirths, node.rebirths) == (3, 1)


def test_seq_wraps_after_255() -> None:
    node = ObservedEdgeNode(EdgeNodeConfig("G", "E"))
    node.handle(DeviceOnline("D1", SPEC, (Sample("T", 0.0, START),)), START)
    _connect(node, START)
    for i in range(1, 256):
        node.handle(MetricsChanged("D1", (Sample("T", float(i), START + i),)), START + 10 + i)
    assert node.seq == 0  # 1 (DBIRTH) + 255 DDATA: 256 -> 0 (payloads-sequence-num-incrementing)
