"""Readable renderings of :class:`~sparkplug.sniffer.SniffedMessage`: a text block or one JSON object."""

from __future__ import annotations

import base64
import math
from datetime import UTC, datetime
from typing import Any

from sparkplug.model import DataSet, MetaData, Metric, PropertySet, Template
from sparkplug.sniffer import SniffedMessage


def _time(ms: int | None) -> str:
    if ms is None:
        return "-"
    try:
        return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    except (OverflowError, OSError, ValueError):
        return f"{ms}ms"


def jsonable(value: Any) -> Any:
    """Model values as JSON-friendly data: bytes as base64, non-finite floats as strings, tuples as lists."""
    if isinstance(value, bytes):
        return {"base64": base64.b64encode(value).decode()}
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, PropertySet):
        return {key: {"type": prop.type.name, "value": jsonable(prop.value)} for key, prop in value.items}
    if isinstance(value, DataSet):
        return {
            "columns": list(value.columns),
            "types": [t.name for t in value.types],
            "rows": jsonable(value.rows),
        }
    if isinstance(value, Template):
        return {
            "version": value.version,
            "template_ref": value.template_ref,
            "is_definition": value.is_definition,
            "parameters": [
                {"name": p.name, "type": p.type.name, "value": jsonable(p.value)} for p in value.parameters
            ],
            "metrics": [metric_json(m) for m in value.metrics],
        }
    if isinstance(value, MetaData):
        return {name: getattr(value, name) for name in MetaData.__slots__ if getattr(value, name) is not None}
    return value


def metric_json(metric: Metric) -> dict[str, Any]:
    out: dict[str, Any] = {"name": metric.name, "alias": metric.alias, "timestamp": metric.timestamp}
    out["datatype"] = metric.datatype.name
    out["value"] = jsonable(metric.value)
    for flag in ("is_historical", "is_transient", "is_null"):
        if getattr(metric, flag):
            out[flag] = True
    if metric.properties is not None:
        out["properties"] = jsonable(metric.properties)
    if metric.metadata is not None:
        out["metadata"] = jsonable(metric.metadata)
    return out


def to_json(message: SniffedMessage) -> dict[str, Any]:
    """One JSON object per message (``--json``)."""
    out: dict[str, Any] = {"received_at": message.received_at, "topic": message.topic}
    if message.parsed is not None:
        parsed = message.parsed
        out["type"] = parsed.message_type.value
        for key in ("group_id", "edge_node_id", "device_id", "host_id"):
            value = getattr(parsed, key)
            if value:
                out[key] = value
    if message.state is not None:
        out["state"] = {"online": message.state.online, "timestamp": message.state.timestamp}
    if message.payload is not None:
        payload = message.payload
        out["timestamp"] = payload.timestamp
        out["seq"] = payload.seq
        out["metrics"] = [metric_json(m) for m in payload.metrics]
        if payload.uuid is not None:
            out["uuid"] = payload.uuid
        if payload.body is not None:
            out["body"] = jsonable(payload.body)
    if message.error is not None:
        out["error"] = message.error
    out["violations"] = [{"rule": v.rule, "message": v.message} for v in message.violations]
    return out


def to_text(message: SniffedMessage) -> str:
    """A readable block: header line, one line per metric, then any violations marked ``!!``."""
    kind = message.parsed.message_type.value if message.parsed is not None else "?"
    lines = [f"{_time(message.received_at)}  {kind:<6}  {message.topic}"]
    if message.state is not None:
        lines.append(f"    online={message.state.online} timestamp={message.state.timestamp}")
    if message.payload is not None:
        payload = message.payload
        lines.append(
            f"    seq={payload.seq if payload.seq is not None else '-'}  timestamp={_time(payload.timestamp)}"
        )
        for metric in payload.metrics:
            label = metric.name if metric.name is not None else "?"
            alias = f" [alias {metric.alias}]" if metric.alias is not None else ""
            flags = "".join(f" {flag}" for flag in ("is_historical", "is_transient") if getattr(metric, flag))
            value = "null" if metric.value is None else repr(jsonable(metric.value))
            lines.append(
                f"    {label}{alias} ({metric.datatype.name}) = {value}  @ {_time(metric.timestamp)}{flags}"
            )
            if metric.properties is not None:
                lines.append(f"        properties: {jsonable(metric.properties)}")
    if message.error is not None:
        lines.append(f"    error: {message.error}")
    for violation in message.violations:
        lines.append(f"    !! {violation.rule}: {violation.message}")
    return "\n".join(lines)
