"""Sparkplug traffic for the traffic screen: decoded with the standalone ``sparkplug`` library.

Messages are kept raw in the model and decoded only when a row is shown, so 1,000 messages/s cost a
deque append each, not a protobuf parse. The ``dir`` column tells where a message was: ``local`` on the
embedded broker, ``to <server>`` sent upstream, ``from <server>`` received from upstream (the daemon's
relay, see :mod:`tui.viewmodel.traffic_feed`).
"""

from __future__ import annotations

from dataclasses import dataclass

from sparkplug import SparkplugError, decode_payload
from sparkplug.codec import retype
from sparkplug.datatypes import DataType
from sparkplug.model import Metric
from sparkplug.topics import parse_topic as parse_sparkplug_topic
from tui.viewmodel.badges import Cell
from tui.viewmodel.filtering import RowFilter
from tui.viewmodel.format import format_clock
from tui.viewmodel.traffic_births import Declarations
from tui.viewmodel.traffic_feed import LOCAL, TrafficRecord

TRAFFIC_COLUMNS = ("time (UTC)", "dir", "type", "node/device", "seq", "metrics")
_TYPE_STYLE = {
    "NBIRTH": "bold green",
    "DBIRTH": "green",
    "NDEATH": "bold red",
    "DDEATH": "red",
    "NCMD": "bold magenta",
    "DCMD": "magenta",
    "STATE": "cyan",
}


@dataclass(frozen=True, slots=True)
class DecodedTraffic:
    """One message as a row: its message type, who sent it, seq, and metrics as ``name=value``."""

    kind: str
    source: str
    seq: str
    metrics: str


def decode_record(record: TrafficRecord, max_metrics: int = 8) -> DecodedTraffic:
    """Decode one record; a payload that is not Sparkplug B is shown as such, never raised."""
    try:
        topic = parse_sparkplug_topic(record.topic)
    except SparkplugError as exc:
        return DecodedTraffic("?", record.topic, "", f"not a Sparkplug topic: {exc}")
    kind = topic.message_type.value
    if kind == "STATE":
        return DecodedTraffic(kind, topic.host_id or "", "", record.payload.decode("utf-8", "replace")[:200])
    source = f"{topic.group_id}/{topic.edge_node_id}" + (f"/{topic.device_id}" if topic.device_id else "")
    try:
        payload = decode_payload(record.payload)
    except SparkplugError as exc:
        return DecodedTraffic(kind, source, "", f"undecodable payload ({len(record.payload)} B): {exc}")
    parts = []
    for metric in payload.metrics[:max_metrics]:
        name, value = _as_declared(metric, record.declared)
        parts.append(f"{name}={_metric_text(value)}")
    more = len(payload.metrics) - max_metrics
    if more > 0:
        parts.append(f"+{more} more")
    seq = "" if payload.seq is None else str(payload.seq)
    return DecodedTraffic(kind, source, seq, ", ".join(parts))


def _as_declared(metric: Metric, declared: Declarations | None) -> tuple[str, object]:
    """The metric's name and value as its birth declared them (name from the alias, value typed by the
    datatype: a negative Int16 travels as a large unsigned int); ``#alias`` and the raw value when the
    birth is unknown or does not fit."""
    key = metric.name if metric.name is not None else metric.alias
    entry = declared.get(key) if declared is not None and key is not None else None
    if entry is None:
        return (metric.name if metric.name is not None else f"#{metric.alias}"), metric.value
    if metric.datatype is not DataType.Unknown:
        return entry.name, metric.value
    try:
        return entry.name, retype(metric, entry.datatype).value
    except SparkplugError:
        return entry.name, metric.value  # the wire value contradicts the birth: show what arrived


def _metric_text(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, str | bytes):
        return repr(value[:40])
    if isinstance(value, int | bool) or value is None:
        return str(value)
    return type(value).__name__


def direction_cell(record: TrafficRecord) -> Cell:
    """``local``, ``to <server>`` (sent upstream) or ``from <server>`` (received from upstream)."""
    if record.direction == LOCAL:
        return Cell("local", "bright_black")
    if record.direction == "sent":
        return Cell(f"to {record.server}", "blue")
    return Cell(f"from {record.server}", "magenta")


def traffic_cells(record: TrafficRecord) -> tuple[Cell, ...]:
    d = decode_record(record)
    return (
        Cell(format_clock(record.at_ms, millis=True)),
        direction_cell(record),
        Cell(d.kind, _TYPE_STYLE.get(d.kind, "")),
        Cell(d.source),
        Cell(d.seq),
        Cell(d.metrics),
    )


def traffic_matches(record: TrafficRecord, row_filter: RowFilter) -> bool:
    """Filter on the topic and the direction text (``local``, ``to site-a``, ``from site-a``); cheap:
    the payload is not decoded to filter."""
    return row_filter.matches(record.topic, direction_cell(record).text)
