"""The two hot messages, :class:`TagSnapshot` and :class:`TagChanges`, written as JSON text directly.

The generic path (``to_jsonable`` then ``json.dumps``) builds a dict per TagValue and walks every field
in Python, then the encoder walks it again: about 75-100 ms for a 5,000-tag snapshot on the 2-core
x86-64 development machine, most of the daemon's control-plane CPU (benchmarks/gateway.py, py-spy).
Here each TagValue becomes one string from a cached per-tag prefix and suffix (name, datatype,
writable and unit rarely change) around the value, quality and timestamp.

The output is byte for byte what the generic path writes (same field order, ``separators=(",", ":")``,
``ensure_ascii=False``, non-finite floats as the strings ``"NaN"``/``"Infinity"``/``"-Infinity"``,
``int.__repr__``/``float.__repr__`` for numbers as :mod:`json` uses them); tests/control compares the
two on generated values. Anything this module does not recognise exactly (a field added to the contract,
a value of another type, a subclass) returns ``None`` and the caller takes the generic path, so the
wire format never depends on this shortcut.
"""

from __future__ import annotations

import dataclasses
import json
import math
from json.encoder import encode_basestring  # the C escaper json.dumps(ensure_ascii=False) uses
from typing import Any

from gateway.control.contract._status import Quality, TagChanges, TagSnapshot, TagValue
from gateway.control.contract._topics import SCHEMA_VERSION

_TAG_FIELDS = ("name", "value", "quality", "timestamp_ms", "datatype", "writable", "unit")
_SNAPSHOT_FIELDS = ("timestamp_ms", "device_id", "tags")
_CHANGES_FIELDS = ("timestamp_ms", "device_id", "changes", "dropped", "pending")

# Off (generic path only) if the contract's fields are not exactly the ones this module writes.
_ENABLED = (
    tuple(f.name for f in dataclasses.fields(TagValue)) == _TAG_FIELDS
    and tuple(f.name for f in dataclasses.fields(TagSnapshot)) == _SNAPSHOT_FIELDS
    and tuple(f.name for f in dataclasses.fields(TagChanges)) == _CHANGES_FIELDS
)

_QUALITY = {q: ',"quality":' + encode_basestring(q.value) + ',"timestamp_ms":' for q in Quality}
_NON_FINITE = {"nan": '"NaN"', "inf": '"Infinity"', "-inf": '"-Infinity"'}
_CACHE_LIMIT = 100_000
_affixes: dict[tuple[object, object, object, object], tuple[str, str]] = {}


def _affix(name: object, datatype: object, writable: object, unit: object) -> tuple[str, str] | None:
    """The text before the value and after the timestamp of one tag (cached; None: not plain str/bool)."""
    if type(writable) is not bool:  # before the look-up: a key (..., 1, ...) equals (..., True, ...)
        return None
    key = (name, datatype, writable, unit)
    found = _affixes.get(key)
    if found is not None:
        return found
    if type(name) is not str or type(datatype) is not str or type(unit) is not str:
        return None
    if len(_affixes) >= _CACHE_LIMIT:
        _affixes.clear()  # a bounded cache: tag sets come from the configuration, this is a safety net
    found = (
        '{"name":' + encode_basestring(name) + ',"value":',
        ',"datatype":'
        + encode_basestring(datatype)
        + ',"writable":'
        + ("true" if writable else "false")
        + ',"unit":'
        + encode_basestring(unit)
        + "}",
    )
    _affixes[key] = found
    return found


def _tags(tags: tuple[TagValue, ...]) -> str | None:
    """The JSON array of ``tags``, or None. One loop with everything inlined: a function call per tag
    and field cost more than the text itself (4 us against 1.2 us per tag on the development machine)."""
    parts: list[str] = []
    append = parts.append
    cached = _affixes.get
    quality_text = _QUALITY.get
    int_text, float_text, finite = int.__repr__, float.__repr__, math.isfinite
    for tag in tags:
        if type(tag) is not TagValue:
            return None
        writable = tag.writable
        affix = cached((tag.name, tag.datatype, writable, tag.unit)) if type(writable) is bool else None
        if affix is None:
            affix = _affix(tag.name, tag.datatype, writable, tag.unit)
            if affix is None:
                return None
        value: Any = tag.value  # narrowed by the exact type checks below
        cls = type(value)
        if cls is int:
            text = int_text(value)
        elif cls is float:
            text = float_text(value) if finite(value) else _NON_FINITE[str(value)]
        elif cls is str:
            text = encode_basestring(value)
        elif cls is bool:
            text = "true" if value else "false"
        elif value is None:
            text = "null"
        else:
            return None
        quality = quality_text(tag.quality)
        stamp = tag.timestamp_ms
        if quality is None or type(stamp) is not int:
            return None
        append(f"{affix[0]}{text}{quality}{stamp}{affix[1]}")
    return "[" + ",".join(parts) + "]"


def _int(value: object) -> str | None:
    return int.__repr__(value) if type(value) is int else None


def encode_tag_message(message: object) -> bytes | None:
    """The envelope of a TagSnapshot or TagChanges as UTF-8 JSON, or None (use the generic encoder)."""
    if not _ENABLED:
        return None
    cls = type(message)
    if cls is TagSnapshot:
        assert isinstance(message, TagSnapshot)
        tags = _tags(message.tags)
        head = _head(TagSnapshot.KIND, message.timestamp_ms, message.device_id)
        if tags is None or head is None:
            return None
        return (head + ',"tags":' + tags + "}}").encode()
    if cls is TagChanges:
        assert isinstance(message, TagChanges)
        changes = _tags(message.changes)
        head = _head(TagChanges.KIND, message.timestamp_ms, message.device_id)
        dropped, pending = _int(message.dropped), _int(message.pending)
        if changes is None or head is None or dropped is None or pending is None:
            return None
        tail = ',"dropped":' + dropped + ',"pending":' + pending + "}}"
        return (head + ',"changes":' + changes + tail).encode()
    return None


_ENVELOPES = {
    kind: json.dumps({"schema": SCHEMA_VERSION, "kind": kind}, separators=(",", ":"))[:-1]
    + ',"data":{"timestamp_ms":'
    for kind in (TagSnapshot.KIND, TagChanges.KIND)
}


def _head(kind: str, timestamp_ms: object, device_id: object) -> str | None:
    stamp = _int(timestamp_ms)
    if stamp is None or type(device_id) is not str:
        return None
    return _ENVELOPES[kind] + stamp + ',"device_id":' + encode_basestring(device_id)
