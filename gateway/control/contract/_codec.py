"""JSON encoding and decoding of every control-plane message, with the schema check.

Wire shapes (UTF-8 JSON objects):

- status, events, logs: ``{"schema": 1, "kind": "<KIND>", "data": {...fields...}}``
- requests:             ``{"schema": 1, "args": {...fields...}}`` (+ ``reply_to``, ``correlation``
  for MQTT 3.1.1 clients that cannot set MQTT 5 properties)
- responses:            ``{"schema": 1, "ok": true, "data": {...}}`` or
  ``{"schema": 1, "ok": false, "error": {"code", "message", "hint", "details"}}``

Numbers that JSON cannot carry (NaN, infinities of a float register) travel as the strings
``"NaN"``, ``"Infinity"`` and ``"-Infinity"``. A ``float`` field decodes them back to numbers; a tag
value (which may be a string) keeps them as those strings, and its ``datatype`` says it is a float.

Decoding checks ``schema`` first: a different version raises :class:`SchemaMismatchError` rather than
misreading the message. Within one version, unknown fields are ignored (newer daemons may add fields
with defaults) and missing fields take their defaults; a missing field without a default, or a value
of the wrong type, raises :class:`MalformedMessageError` with the JSON path.
"""

from __future__ import annotations

import dataclasses
import json
import math
import types
import typing
from collections.abc import Mapping
from enum import Enum
from functools import cache
from typing import Any, TypeVar

from gateway.control.contract._commands import (
    COMMANDS,
    CommandError,
    CommandFailed,
    CommandName,
    CommandOk,
    Request,
)
from gateway.control.contract._errors import MalformedMessageError, SchemaMismatchError, UnknownTopicError
from gateway.control.contract._events import Event, LogBatch, RecentEvents
from gateway.control.contract._status import (
    BrokerStatus,
    DaemonState,
    DeviceStatus,
    GatewayStatus,
    StoreStatus,
    TagChanges,
    TagSnapshot,
    UplinkStatus,
)
from gateway.control.contract._tag_json import encode_tag_message
from gateway.control.contract._topics import SCHEMA_VERSION, TopicKind, TopicRef, command_topic, parse_topic

T = TypeVar("T")

MAX_PAYLOAD_BYTES = 1024 * 1024
"""Largest control-plane payload either side accepts (a configuration file fits comfortably)."""

PAYLOAD_TYPES: dict[TopicKind, type] = {
    TopicKind.STATE: DaemonState,
    TopicKind.GATEWAY: GatewayStatus,
    TopicKind.UPLINK: UplinkStatus,
    TopicKind.STORE: StoreStatus,
    TopicKind.BROKER: BrokerStatus,
    TopicKind.DEVICE: DeviceStatus,
    TopicKind.TAGS: TagSnapshot,
    TopicKind.TAG_CHANGES: TagChanges,
    TopicKind.EVENTS: Event,
    TopicKind.RECENT_EVENTS: RecentEvents,
    TopicKind.LOGS: LogBatch,
}
"""The payload type published on each status/event topic kind."""


_NON_FINITE_OUT = {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}
_NON_FINITE_IN = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


# ---- generic dataclass <-> JSON-able conversion ------------------------------------------------


def to_jsonable(value: Any) -> Any:
    """Turn a contract value (dataclass, enum, tuple, mapping, scalar) into JSON-able data."""
    # Dispatch on the exact type first: tag batches hold thousands of TagValues, and the generic
    # is_dataclass()/fields() calls per object were most of the daemon's control-plane cost (py-spy).
    cls = type(value)
    if cls is str or cls is int or cls is bool or value is None:
        return value
    if cls is float:
        # JSON has no NaN or infinity; a float register can hold them, so they travel as strings.
        return value if math.isfinite(value) else _NON_FINITE_OUT[str(value)]
    names = _field_names(cls)
    if names is not None:
        return {name: to_jsonable(getattr(value, name)) for name in names}
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, tuple | list):
        return [to_jsonable(item) for item in value]
    if isinstance(value, Mapping):
        return {str(key): to_jsonable(item) for key, item in value.items()}
    if isinstance(value, float) and not math.isfinite(value):
        return _NON_FINITE_OUT[str(value)]
    if isinstance(value, bool | int | float | str):
        return value
    raise TypeError(f"{type(value).__name__} is not part of the control-plane contract")


_FIELD_NAMES: dict[type, tuple[str, ...] | None] = {}


def _field_names(cls: type) -> tuple[str, ...] | None:
    """The field names of a dataclass type, in order; ``None`` for any other type (cached per type)."""
    try:
        return _FIELD_NAMES[cls]
    except KeyError:
        names = tuple(f.name for f in dataclasses.fields(cls)) if dataclasses.is_dataclass(cls) else None
        _FIELD_NAMES[cls] = names
        return names


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", str(tp))


_JSON_NAMES: dict[Any, str] = {
    bool: "boolean",
    int: "integer",
    float: "number",
    str: "string",
    list: "array",
    dict: "object",
}


def _json_name(value: object) -> str:
    if value is None:
        return "null"
    return _JSON_NAMES.get(type(value), type(value).__name__)


def from_jsonable(tp: Any, data: Any, path: str = "$") -> Any:
    """Build a value of type ``tp`` from JSON-able ``data``.

    Raises:
        MalformedMessageError: ``data`` does not fit ``tp``; the error names the JSON path.
    """
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        members = typing.get_args(tp)
        if data is None:
            if type(None) in members:
                return None
            raise MalformedMessageError(path, f"found null, expected {_union_name(members)}")
        if isinstance(data, str) and str in members:
            # A string stays a string: in a tag value, "NaN" is whatever the device sent.
            return data
        for member in members:
            if member is type(None):
                continue
            try:
                return from_jsonable(member, data, path)
            except MalformedMessageError:
                continue
        raise MalformedMessageError(path, f"found {_json_name(data)}, expected {_union_name(members)}")
    if origin is tuple:
        args = typing.get_args(tp)
        if not isinstance(data, list):
            raise MalformedMessageError(path, f"found {_json_name(data)}, expected array")
        return tuple(from_jsonable(args[0], item, f"{path}[{i}]") for i, item in enumerate(data))
    if origin is Mapping or origin is dict:
        _key_type, value_type = typing.get_args(tp)
        if not isinstance(data, dict):
            raise MalformedMessageError(path, f"found {_json_name(data)}, expected object")
        return types.MappingProxyType(
            {str(k): from_jsonable(value_type, v, f"{path}.{k}") for k, v in data.items()}
        )
    if tp is type(None):
        if data is not None:
            raise MalformedMessageError(path, f"found {_json_name(data)}, expected null")
        return None
    if isinstance(tp, type) and issubclass(tp, Enum):
        try:
            return tp(data)
        except ValueError:
            allowed = ", ".join(repr(m.value) for m in tp)
            raise MalformedMessageError(path, f"found {data!r}, expected one of {allowed}") from None
    if tp is bool:
        if not isinstance(data, bool):
            raise MalformedMessageError(path, f"found {_json_name(data)}, expected boolean")
        return data
    if tp is int:
        if isinstance(data, bool) or not isinstance(data, int):
            raise MalformedMessageError(path, f"found {_json_name(data)}, expected integer")
        return data
    if tp is float:
        if isinstance(data, str) and data in _NON_FINITE_IN:
            return _NON_FINITE_IN[data]
        if isinstance(data, bool) or not isinstance(data, int | float):
            raise MalformedMessageError(path, f"found {_json_name(data)}, expected number")
        return float(data)
    if tp is str:
        if not isinstance(data, str):
            raise MalformedMessageError(path, f"found {_json_name(data)}, expected string")
        return data
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return _dataclass_from(tp, data, path)
    raise TypeError(f"type {_type_name(tp)} is not part of the control-plane contract")


def _union_name(members: tuple[Any, ...]) -> str:
    names = []
    for member in members:
        if member is type(None):
            names.append("null")
        elif isinstance(member, type) and issubclass(member, Enum):
            names.append("one of " + ", ".join(repr(m.value) for m in member))
        else:
            names.append(_JSON_NAMES.get(member, "object"))
    return " or ".join(names)


def _dataclass_from(cls: type[T], data: Any, path: str) -> T:
    if not isinstance(data, dict):
        raise MalformedMessageError(path, f"found {_json_name(data)}, expected object ({cls.__name__})")
    hints = _hints(cls)  # type: ignore[arg-type]  # classes are hashable; mypy cannot tell for type[T]
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        if f.name in data:
            kwargs[f.name] = from_jsonable(hints[f.name], data[f.name], f"{path}.{f.name}")
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise MalformedMessageError(f"{path}.{f.name}", f"missing, expected {_type_name(hints[f.name])}")
    return cls(**kwargs)


# ---- envelopes -----------------------------------------------------------------------------------


def _dumps(document: dict[str, Any]) -> bytes:
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def _load_envelope(payload: bytes) -> dict[str, Any]:
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise MalformedMessageError(
            "$", f"payload of {len(payload)} bytes, expected at most {MAX_PAYLOAD_BYTES}"
        )
    try:
        document = json.loads(payload.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise MalformedMessageError("$", f"payload is not UTF-8 ({exc.reason} at byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno} column {exc.colno}"
        raise MalformedMessageError("$", f"payload is not JSON ({exc.msg} at {where})") from None
    if not isinstance(document, dict):
        raise MalformedMessageError("$", f"found {_json_name(document)}, expected a JSON object")
    schema = document.get("schema")
    if schema != SCHEMA_VERSION or isinstance(schema, bool):
        raise SchemaMismatchError(schema, SCHEMA_VERSION)
    return document


def encode_message(message: object) -> bytes:
    """Encode a status snapshot, event or log batch into its envelope.

    Raises:
        TypeError: ``message`` is not a contract message (it has no ``KIND``).
    """
    fast = encode_tag_message(message)  # the same bytes, written directly (see _tag_json)
    if fast is not None:
        return fast
    kind = getattr(type(message), "KIND", None)
    if kind is None or not dataclasses.is_dataclass(message):
        raise TypeError(f"{type(message).__name__} is not a control-plane message")
    return _dumps({"schema": SCHEMA_VERSION, "kind": kind, "data": to_jsonable(message)})


def decode_message(payload: bytes, expected: type[T]) -> T:
    """Decode an envelope that must hold an ``expected`` message.

    Raises:
        SchemaMismatchError: the envelope's schema is not :data:`SCHEMA_VERSION`.
        MalformedMessageError: not JSON, another kind, or a field of the wrong shape.
    """
    document = _load_envelope(payload)
    kind = document.get("kind")
    want = getattr(expected, "KIND", None)
    if kind != want:
        raise MalformedMessageError("$.kind", f"found {kind!r}, expected {want!r}")
    result: T = _dataclass_from(expected, document.get("data"), "$.data")
    return result


def decode_topic_message(topic: str, payload: bytes) -> tuple[TopicRef, object | None]:
    """Decode whatever the daemon published on ``topic``: the parsed topic and the message.

    An empty payload (a retained message being cleared, e.g. a device removed by a reload) gives
    ``None``.

    Raises:
        UnknownTopicError: not a status/event topic of this version (commands and replies included).
        SchemaMismatchError, MalformedMessageError: as :func:`decode_message`.
    """
    ref = parse_topic(topic)
    expected = PAYLOAD_TYPES.get(ref.kind)
    if expected is None:
        raise UnknownTopicError(f"topic {topic!r} carries {ref.kind.value} messages, not published status")
    if not payload:
        return ref, None
    return ref, decode_message(payload, expected)


# ---- requests and responses ----------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class RequestEnvelope:
    """A decoded request.

    Attributes:
        request: the command request.
        reply_to: the response topic from the body (MQTT 3.1.1 clients), or ``None``.
        correlation: correlation data from the body (MQTT 3.1.1 clients), or ``None``.
    """

    request: Request
    reply_to: str | None = None
    correlation: bytes | None = None


def encode_request(
    request: Request, *, reply_to: str | None = None, correlation: bytes | None = None
) -> tuple[str, bytes]:
    """Encode a request: the topic to publish to and the payload.

    Pass ``reply_to``/``correlation`` only for MQTT 3.1.1; MQTT 5 clients set the Response Topic
    and Correlation Data properties instead (the daemon prefers the properties when both exist).
    """
    document: dict[str, Any] = {"schema": SCHEMA_VERSION, "args": to_jsonable(request)}
    if reply_to is not None:
        document["reply_to"] = reply_to
    if correlation is not None:
        document["correlation"] = correlation.decode("utf-8", errors="surrogateescape")
    return command_topic(request.COMMAND.value), _dumps(document)


def decode_request(topic: str, payload: bytes) -> RequestEnvelope:
    """Decode a request published on a command topic.

    Raises:
        UnknownTopicError: not a command topic, or an unknown command name.
        SchemaMismatchError, MalformedMessageError: the payload does not fit.
    """
    ref = parse_topic(topic)
    if ref.kind is not TopicKind.COMMAND or ref.command is None:
        raise UnknownTopicError(f"topic {topic!r} is not a command topic")
    try:
        name = CommandName(ref.command)
    except ValueError:
        known = ", ".join(c.value for c in CommandName)
        raise UnknownTopicError(f"unknown command {ref.command!r}; known commands: {known}") from None
    document = _load_envelope(payload)
    request: Request = _dataclass_from(COMMANDS[name].request, document.get("args", {}), "$.args")
    reply_to = document.get("reply_to")
    correlation = document.get("correlation")
    if reply_to is not None and not isinstance(reply_to, str):
        raise MalformedMessageError("$.reply_to", f"found {_json_name(reply_to)}, expected string")
    if correlation is not None and not isinstance(correlation, str):
        raise MalformedMessageError("$.correlation", f"found {_json_name(correlation)}, expected string")
    return RequestEnvelope(
        request,
        reply_to,
        None if correlation is None else correlation.encode("utf-8", errors="surrogateescape"),
    )


Response = CommandOk[Any] | CommandFailed
"""A decoded response."""


def encode_response(response: Response, *, correlation: bytes | None = None) -> bytes:
    """Encode a response to a command.

    Pass ``correlation`` only to answer an MQTT 3.1.1 request that carried it in its body; MQTT 5
    responses carry it in the Correlation Data property.
    """
    document: dict[str, Any] = {"schema": SCHEMA_VERSION}
    if isinstance(response, CommandFailed):
        document.update(ok=False, error=to_jsonable(response.error))
    else:
        document.update(ok=True, data=to_jsonable(response.data))
    if correlation is not None:
        document["correlation"] = correlation.decode("utf-8", errors="surrogateescape")
    return _dumps(document)


def decode_response(command: CommandName, payload: bytes) -> Response:
    """Decode the response to a ``command`` request; ``data`` is that command's result type.

    Raises:
        SchemaMismatchError, MalformedMessageError: the payload does not fit.
    """
    document = _load_envelope(payload)
    ok = document.get("ok")
    if ok is True:
        return CommandOk(_dataclass_from(COMMANDS[command].result, document.get("data"), "$.data"))
    if ok is False:
        return CommandFailed(_dataclass_from(CommandError, document.get("error"), "$.error"))
    raise MalformedMessageError("$.ok", f"found {_json_name(ok)}, expected boolean")
