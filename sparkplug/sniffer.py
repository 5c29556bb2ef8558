"""A passive Sparkplug rule checker for ``edge-gateway sniff``: no I/O, time passed in.

Feed every message seen on ``spBv1.0/#`` (and ``STATE/#``) to :meth:`SparkplugSniffer.observe`; it
returns a :class:`SniffedMessage` with the decoded payload and the rule violations visible from the
outside, tracked per edge node and device:

    seq-gap                  seq is not previous+1 (mod 256) across node and devices, or NBIRTH seq != 0
    seq-missing / seq-in-ndeath   seq absent where required, or present in NDEATH (`topics-ndeath-seq`)
    data-before-birth        NDATA/DDATA/DDEATH with no NBIRTH/DBIRTH seen in this session
    unknown-alias            DATA metric alias that the current birth did not declare
    metric-not-in-birth      DATA metric name that the current birth did not declare
    bdseq-missing            NBIRTH/NDEATH without the bdSeq metric
    bdseq-mismatch           NDEATH whose bdSeq differs from the current NBIRTH's (a stale Will looks so)
    decode-error             the payload or topic could not be decoded

A sniffer that starts mid-session cannot know earlier births, so ``data-before-birth`` is reported once
per node or device until a birth is seen. DATA metrics without a datatype are shown typed from the birth.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sparkplug.codec import decode_payload, retype
from sparkplug.datatypes import DataType
from sparkplug.errors import SparkplugDecodeError, TopicError
from sparkplug.model import Metric, Payload
from sparkplug.state import HostState, decode_legacy_state, decode_state
from sparkplug.topics import MessageType, Topic, parse_topic


@dataclass(frozen=True, slots=True)
class Violation:
    rule: str
    message: str


@dataclass(frozen=True, slots=True)
class SniffedMessage:
    """One observed message, decoded as far as possible, with the violations it shows."""

    topic: str
    received_at: int
    parsed: Topic | None = None
    payload: Payload | None = None
    state: HostState | None = None
    error: str | None = None
    violations: tuple[Violation, ...] = ()


@dataclass(slots=True)
class _Birth:
    """Metrics declared by the current NBIRTH or DBIRTH: name -> datatype, alias -> name."""

    types: dict[str, DataType] = field(default_factory=dict)
    aliases: dict[int, str] = field(default_factory=dict)


@dataclass(slots=True)
class _Node:
    born: bool = False
    bd_seq: int | None = None
    last_seq: int | None = None
    node: _Birth = field(default_factory=_Birth)
    devices: dict[str, _Birth] = field(default_factory=dict)
    warned_unborn: set[str | None] = field(default_factory=set)


class SparkplugSniffer:
    """Tracks every edge node seen and checks the rules listed in the module docstring."""

    def __init__(self) -> None:
        self._nodes: dict[tuple[str, str], _Node] = {}

    def observe(self, topic: str, data: bytes, now: int) -> SniffedMessage:
        """Decode and check one message received at ``now`` (UTC ms)."""
        try:
            parsed = parse_topic(topic)
        except TopicError as exc:
            return SniffedMessage(
                topic, now, error=str(exc), violations=(Violation("decode-error", str(exc)),)
            )
        if parsed.message_type is MessageType.STATE:
            try:
                state = decode_legacy_state(data) if parsed.legacy_state else decode_state(data)
            except SparkplugDecodeError as exc:
                return SniffedMessage(topic, now, parsed, error=str(exc))
            return SniffedMessage(topic, now, parsed, state=state)
        try:
            payload = decode_payload(data)
        except SparkplugDecodeError as exc:
            return SniffedMessage(
                topic, now, parsed, error=str(exc), violations=(Violation("decode-error", str(exc)),)
            )
        node = self._nodes.setdefault((parsed.group_id, parsed.edge_node_id), _Node())
        violations: list[Violation] = []
        payload = self._check(node, parsed, payload, violations)
        return SniffedMessage(topic, now, parsed, payload=payload, violations=tuple(violations))

    def _check(self, node: _Node, topic: Topic, payload: Payload, out: list[Violation]) -> Payload:
        kind = topic.message_type
        if kind is MessageType.NBIRTH:
            node.born = True
            node.devices.clear()
            node.warned_unborn.clear()
            node.node = _declare(payload)
            node.bd_seq = _bd_seq(payload)
            if node.bd_seq is None:
                out.append(Violation("bdseq-missing", "NBIRTH has no bdSeq metric (payloads-nbirth-bdseq)"))
            if payload.seq != 0:
                out.append(
                    Violation("seq-gap", f"NBIRTH seq is {payload.seq}, expected 0 (payloads-nbirth-seq)")
                )
            node.last_seq = payload.seq
            return payload
        if kind is MessageType.NDEATH:
            bd_seq = _bd_seq(payload)
            if bd_seq is None:
                out.append(Violation("bdseq-missing", "NDEATH has no bdSeq metric (topics-ndeath-payload)"))
            elif node.bd_seq is not None and bd_seq != node.bd_seq:
                out.append(
                    Violation(
                        "bdseq-mismatch",
                        f"NDEATH bdSeq {bd_seq} does not match the NBIRTH's {node.bd_seq} (stale Will?)",
                    )
                )
            if payload.seq is not None:
                out.append(Violation("seq-in-ndeath", "NDEATH carries a seq (topics-ndeath-seq)"))
            if bd_seq is None or node.bd_seq is None or bd_seq == node.bd_seq:
                node.born = False
                node.devices.clear()
                node.last_seq = None
            return payload
        if kind in (MessageType.NCMD, MessageType.DCMD):
            return payload
        # DBIRTH, DDEATH, NDATA, DDATA: need a born node, and seq continuing the node's one counter.
        if not node.born:
            if None not in node.warned_unborn:
                node.warned_unborn.add(None)
                out.append(
                    Violation(
                        "data-before-birth", f"{kind.value} but no NBIRTH seen (or the sniffer started late)"
                    )
                )
        else:
            self._check_seq(node, kind, payload, out)
        if kind is MessageType.DBIRTH:
            assert topic.device_id is not None
            node.devices[topic.device_id] = _declare(payload)
            node.warned_unborn.discard(topic.device_id)
            return payload
        if kind is MessageType.NDATA:
            return _check_data(node.node, payload, "NBIRTH", out) if node.born else payload
        assert topic.device_id is not None
        device = node.devices.get(topic.device_id)
        if device is None:
            if node.born and topic.device_id not in node.warned_unborn:
                node.warned_unborn.add(topic.device_id)
                out.append(
                    Violation(
                        "data-before-birth", f"{kind.value} for device {topic.device_id!r} before its DBIRTH"
                    )
                )
            return payload
        if kind is MessageType.DDEATH:
            del node.devices[topic.device_id]
            return payload
        return _check_data(device, payload, "DBIRTH", out)

    def _check_seq(self, node: _Node, kind: MessageType, payload: Payload, out: list[Violation]) -> None:
        if payload.seq is None:
            out.append(Violation("seq-missing", f"{kind.value} has no seq"))
            return
        if node.last_seq is not None:
            expected = (node.last_seq + 1) % 256
            if payload.seq != expected:
                out.append(
                    Violation(
                        "seq-gap",
                        f"seq {payload.seq}, expected {expected} (payloads-sequence-num-incrementing)",
                    )
                )
        node.last_seq = payload.seq


def _bd_seq(payload: Payload) -> int | None:
    for metric in payload.metrics:
        if metric.name == "bdSeq" and isinstance(metric.value, int) and not isinstance(metric.value, bool):
            return metric.value
    return None


def _declare(payload: Payload) -> _Birth:
    birth = _Birth()
    for metric in payload.metrics:
        if metric.name is None:
            continue
        birth.types[metric.name] = metric.datatype
        if metric.alias is not None:
            birth.aliases[metric.alias] = metric.name
    return birth


def _check_data(birth: _Birth, payload: Payload, where: str, out: list[Violation]) -> Payload:
    """Flag unknown aliases/names; return the payload with names filled in and values typed from the birth."""
    shown: list[Metric] = []
    for metric in payload.metrics:
        name = metric.name
        if name is None and metric.alias is not None:
            name = birth.aliases.get(metric.alias)
            if name is None:
                out.append(
                    Violation("unknown-alias", f"alias {metric.alias} was not declared in the {where}")
                )
                shown.append(metric)
                continue
        if name is None or name not in birth.types:
            out.append(Violation("metric-not-in-birth", f"metric {name!r} is not in the {where}"))
            shown.append(metric)
            continue
        typed = metric
        if metric.datatype is DataType.Unknown:
            try:
                typed = retype(metric, birth.types[name])
            except SparkplugDecodeError as exc:
                out.append(Violation("decode-error", f"metric {name!r}: {exc}"))
        shown.append(
            Metric(
                name=name,
                alias=typed.alias,
                timestamp=typed.timestamp,
                datatype=typed.datatype,
                value=typed.value,
                is_historical=typed.is_historical,
                is_transient=typed.is_transient,
                properties=typed.properties,
                metadata=typed.metadata,
            )
        )
    return Payload(payload.timestamp, tuple(shown), payload.seq, payload.uuid, payload.body)
