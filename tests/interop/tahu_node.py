"""Eclipse Tahu's JavaScript Sparkplug codec (npm ``sparkplug-payload``) driven through one Node.js process.

``tahu_codec.js`` reads JSON-line requests on stdin and answers one line each. This module starts it,
converts between our typed model and Tahu's plain-JSON form, and is shared by the interoperability tests
and ``benchmarks/sparkplug_codec.py``. Node.js and ``tests/interop/node_modules`` (``npm ci --prefix
tests/interop``, run by ``scripts/setup --test``) are required; :class:`TahuUnavailableError` says
how to fix it.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

from sparkplug import (
    DataSet,
    DataType,
    MetaData,
    Metric,
    Payload,
    PropertySet,
    PropertyValue,
    Template,
    TemplateParameter,
)

HERE = Path(__file__).resolve().parent
SCRIPT = HERE / "tahu_codec.js"
_LONG_TYPES = frozenset({DataType.Int64, DataType.UInt64, DataType.DateTime})
_META_KEYS = {
    "is_multi_part": "isMultiPart",
    "content_type": "contentType",
    "size": "size",
    "seq": "seq",
    "file_name": "fileName",
    "file_type": "fileType",
    "md5": "md5",
    "description": "description",
}


class TahuUnavailableError(RuntimeError):
    """Node.js or the pinned npm package is missing."""


class TahuError(RuntimeError):
    """tahu_codec.js answered with an error (e.g. Tahu threw while decoding)."""


class TahuNode:
    """One ``node tahu_codec.js`` child process; use as a context manager."""

    def __init__(self) -> None:
        node = shutil.which("node")
        if node is None:
            raise TahuUnavailableError(
                "Node.js (`node`) is not on PATH: install Node.js 18+ (scripts/setup needs it)"
            )
        if not (HERE / "node_modules" / "sparkplug-payload").is_dir():
            raise TahuUnavailableError(
                "tests/interop/node_modules is missing: "
                "run `scripts/setup --test` (npm ci --prefix tests/interop)"
            )
        self._process = subprocess.Popen(
            [node, str(SCRIPT)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            bufsize=1,
        )

    def __enter__(self) -> TahuNode:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        process = self._process
        if process.stdin is not None:
            process.stdin.close()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()

    def request(self, message: dict[str, Any]) -> dict[str, Any]:
        assert self._process.stdin is not None and self._process.stdout is not None
        self._process.stdin.write(json.dumps(message) + "\n")
        self._process.stdin.flush()
        line = self._process.stdout.readline()
        if not line:
            raise TahuError(f"tahu_codec.js exited (code {self._process.poll()}) without answering")
        reply: dict[str, Any] = json.loads(line)
        if not reply.get("ok"):
            raise TahuError(str(reply.get("error")))
        return reply

    def decode(self, data: bytes) -> dict[str, Any]:
        """Tahu's decodePayload, as plain JSON."""
        payload: dict[str, Any] = self.request({"op": "decode", "b64": base64.b64encode(data).decode()})[
            "payload"
        ]
        return payload

    def encode(self, plain: dict[str, Any]) -> bytes:
        """Tahu's encodePayload of a plain-JSON payload (see :func:`to_tahu`)."""
        return base64.b64decode(self.request({"op": "encode", "payload": plain})["b64"])

    def bench(self, plain: dict[str, Any], seconds: float) -> dict[str, Any]:
        """encode/decode rates measured inside Node (no process start-up, JIT warmed up)."""
        return self.request({"op": "bench", "payload": plain, "seconds": seconds})


# --------------------------------------------------------------------------------------- model -> Tahu JSON


def _long(value: int, unsigned: bool = True) -> dict[str, Any]:
    return {"$long": str(value), "unsigned": unsigned}


def _number(value: float) -> Any:
    return (
        value
        if value == value and abs(value) != float("inf")
        else {"$num": repr(value).replace("inf", "Infinity").replace("nan", "NaN")}
    )


def _value_to_tahu(datatype: DataType, value: Any) -> Any:
    if value is None:
        return None
    if datatype in _LONG_TYPES:
        return _long(value, unsigned=datatype is not DataType.Int64)
    if datatype in (DataType.Float, DataType.Double):
        return _number(value)
    if datatype in (DataType.Bytes, DataType.File):
        return {"$bytes": base64.b64encode(value).decode()}
    if datatype is DataType.DataSet:
        return {
            "numOfColumns": len(value.columns),
            "columns": list(value.columns),
            "types": [t.name for t in value.types],
            "rows": [
                [_value_to_tahu(t, cell) for t, cell in zip(value.types, row, strict=True)]
                for row in value.rows
            ],
        }
    if datatype is DataType.Template:
        out: dict[str, Any] = {
            "metrics": [_metric_to_tahu(m) for m in value.metrics],
            "parameters": [
                {"name": p.name, "type": p.type.name, "value": _value_to_tahu(p.type, p.value)}
                for p in value.parameters
            ],
            "isDefinition": value.is_definition,
        }
        if value.version is not None:
            out["version"] = value.version
        if value.template_ref is not None:
            out["templateRef"] = value.template_ref
        return out
    return value


def _props_to_tahu(props: PropertySet) -> dict[str, Any]:
    out = {}
    for key, prop in props.items:
        raw: Any = prop.value
        if prop.type is DataType.PropertySet:
            value: Any = None if raw is None else _props_to_tahu(raw)
        elif prop.type is DataType.PropertySetList:
            value = None if raw is None else [_props_to_tahu(p) for p in raw]
        else:
            value = _value_to_tahu(prop.type, prop.value)
        out[key] = {"type": prop.type.name, "value": value}
    return out


def _metric_to_tahu(metric: Metric) -> dict[str, Any]:
    out: dict[str, Any] = {
        "type": metric.datatype.name,
        "value": _value_to_tahu(metric.datatype, metric.value),
    }
    if metric.name is not None:
        out["name"] = metric.name
    if metric.alias is not None:
        out["alias"] = _long(metric.alias)
    if metric.timestamp is not None:
        out["timestamp"] = _long(metric.timestamp)
    if metric.is_historical:
        out["isHistorical"] = True
    if metric.is_transient:
        out["isTransient"] = True
    if metric.properties is not None:
        out["properties"] = _props_to_tahu(metric.properties)
    if metric.metadata is not None:
        meta = {}
        for ours, theirs in _META_KEYS.items():
            value = getattr(metric.metadata, ours)
            if value is not None:
                meta[theirs] = _long(value) if ours in ("size", "seq") else value
        out["metadata"] = meta
    return out


def to_tahu(payload: Payload) -> dict[str, Any]:
    """Our model as the plain JSON that tahu_codec.js turns into Tahu's encodePayload input."""
    out: dict[str, Any] = {"metrics": [_metric_to_tahu(m) for m in payload.metrics]}
    if payload.timestamp is not None:
        out["timestamp"] = _long(payload.timestamp)
    if payload.seq is not None:
        out["seq"] = _long(payload.seq)
    if payload.uuid is not None:
        out["uuid"] = payload.uuid
    if payload.body is not None:
        out["body"] = {"$bytes": base64.b64encode(payload.body).decode()}
    return out


# --------------------------------------------------------------------------------------- Tahu JSON -> model


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        if "$long" in value:
            return int(value["$long"])
        if "$bytes" in value:
            return base64.b64decode(value["$bytes"])
        if "$num" in value:
            return float(value["$num"].replace("Infinity", "inf"))
    return value


def _value_from_tahu(datatype: DataType, value: Any) -> Any:
    if value is None:
        return None
    if datatype is DataType.DataSet:
        types = tuple(DataType[name] for name in value["types"])
        rows = tuple(
            tuple(_value_from_tahu(t, c) for t, c in zip(types, row, strict=True)) for row in value["rows"]
        )
        return DataSet(tuple(value["columns"]), types, rows)
    if datatype is DataType.Template:
        return Template(
            metrics=tuple(_metric_from_tahu(m) for m in value.get("metrics", [])),
            parameters=tuple(
                TemplateParameter(
                    p["name"], DataType[p["type"]], _value_from_tahu(DataType[p["type"]], p.get("value"))
                )
                for p in value.get("parameters", [])
            ),
            version=value.get("version"),
            template_ref=value.get("templateRef"),
            is_definition=bool(value.get("isDefinition", False)),
        )
    return _plain(value)


def _props_from_tahu(props: dict[str, Any]) -> PropertySet:
    items = []
    for key, prop in props.items():
        kind = DataType[prop["type"]]
        raw = prop.get("value")
        if kind is DataType.PropertySet:
            value: Any = None if raw is None else _props_from_tahu(raw)
        elif kind is DataType.PropertySetList:
            value = None if raw is None else tuple(_props_from_tahu(p) for p in raw)
        else:
            value = _value_from_tahu(kind, raw)
        items.append((key, PropertyValue(kind, value)))
    return PropertySet(tuple(items))


def _metric_from_tahu(plain: dict[str, Any]) -> Metric:
    datatype = DataType[plain["type"]] if plain.get("type") else DataType.Unknown
    meta = plain.get("metadata")
    return Metric(
        name=plain.get("name"),
        alias=_plain(plain["alias"]) if "alias" in plain else None,
        timestamp=_plain(plain["timestamp"]) if "timestamp" in plain else None,
        datatype=datatype,
        value=_value_from_tahu(datatype, plain.get("value")),
        is_historical=bool(plain.get("isHistorical", False)),
        is_transient=bool(plain.get("isTransient", False)),
        properties=_props_from_tahu(plain["properties"]) if "properties" in plain else None,
        metadata=None
        if meta is None
        else MetaData(
            **{ours: _plain(meta[theirs]) for ours, theirs in _META_KEYS.items() if theirs in meta}
        ),
    )


def from_tahu(plain: dict[str, Any]) -> Payload:
    """What Tahu decoded, as our model (for comparison with what we encoded)."""
    return Payload(
        timestamp=_plain(plain["timestamp"]) if "timestamp" in plain else None,
        metrics=tuple(_metric_from_tahu(m) for m in plain.get("metrics", [])),
        seq=_plain(plain["seq"]) if "seq" in plain else None,
        uuid=plain.get("uuid"),
        body=_plain(plain["body"]) if "body" in plain else None,
    )
