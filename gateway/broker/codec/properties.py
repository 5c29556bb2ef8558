"""MQTT 5.0 properties (section 2.2.2): one typed value object, and its strict decoder and encoder.

The decoder rejects, with Malformed Packet (0x81) as the spec asks:
- an identifier unknown to MQTT 5.0 or not allowed in this packet kind (e.g. Topic Alias in SUBSCRIBE);
- a property length running past the end of the packet, a truncated value.
A property given twice (except User Property and, in PUBLISH, Subscription Identifier) and values the spec
constrains (Receive Maximum 0, Subscription Identifier 0, a flag other than 0/1) are a Protocol Error (0x82),
as each property's section says ("It is a Protocol Error to include ... more than once").
More than :data:`MAX_USER_PROPERTIES` User Properties is refused with 0x83.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from enum import Enum
from typing import Any

from gateway.broker.codec.wire import (
    check_utf8_text,
    encode_binary,
    encode_utf8,
    encode_varint,
    read_binary,
    read_u8,
    read_u16,
    read_u32,
    read_utf8,
    read_varint,
)
from gateway.broker.codes import PropertyId, ReasonCode
from gateway.broker.errors import MalformedPacket, ProtocolError


class PropertyContext(Enum):
    """The packet (or CONNECT Will section) a property block belongs to."""

    CONNECT = "CONNECT"
    CONNACK = "CONNACK"
    PUBLISH = "PUBLISH"
    WILL = "Will"
    ACK = "PUBACK/PUBREC/PUBREL/PUBCOMP"
    SUBSCRIBE = "SUBSCRIBE"
    SUBACK = "SUBACK"
    UNSUBSCRIBE = "UNSUBSCRIBE"
    UNSUBACK = "UNSUBACK"
    DISCONNECT = "DISCONNECT"
    AUTH = "AUTH"


@dataclass(frozen=True, slots=True)
class Properties:
    """All MQTT 5.0 properties; ``None`` (or empty) means absent. Field names follow the spec's names."""

    payload_format_indicator: int | None = None
    message_expiry_interval: int | None = None
    content_type: str | None = None
    response_topic: str | None = None
    correlation_data: bytes | None = None
    subscription_identifiers: tuple[int, ...] = ()
    session_expiry_interval: int | None = None
    assigned_client_identifier: str | None = None
    server_keep_alive: int | None = None
    authentication_method: str | None = None
    authentication_data: bytes | None = None
    request_problem_information: int | None = None
    will_delay_interval: int | None = None
    request_response_information: int | None = None
    response_information: str | None = None
    server_reference: str | None = None
    reason_string: str | None = None
    receive_maximum: int | None = None
    topic_alias_maximum: int | None = None
    topic_alias: int | None = None
    maximum_qos: int | None = None
    retain_available: int | None = None
    user_properties: tuple[tuple[str, str], ...] = ()
    maximum_packet_size: int | None = None
    wildcard_subscription_available: int | None = None
    subscription_identifier_available: int | None = None
    shared_subscription_available: int | None = None

    def with_changes(self, **changes: Any) -> Properties:
        return replace(self, **changes)


NO_PROPERTIES = Properties()

MAX_USER_PROPERTIES = 1024
"""User Properties accepted in one packet; more is refused with 0x83 (Implementation specific error), so a
packet holding tens of thousands of empty pairs cannot tie up the event loop (catalogue T6)."""

_C = PropertyContext
# id -> (field, wire type, contexts it may appear in)
_SPEC: dict[int, tuple[str, str, frozenset[PropertyContext]]] = {
    PropertyId.PAYLOAD_FORMAT_INDICATOR: (
        "payload_format_indicator",
        "flag",
        frozenset({_C.PUBLISH, _C.WILL}),
    ),
    PropertyId.MESSAGE_EXPIRY_INTERVAL: ("message_expiry_interval", "u32", frozenset({_C.PUBLISH, _C.WILL})),
    PropertyId.CONTENT_TYPE: ("content_type", "utf8", frozenset({_C.PUBLISH, _C.WILL})),
    PropertyId.RESPONSE_TOPIC: ("response_topic", "utf8", frozenset({_C.PUBLISH, _C.WILL})),
    PropertyId.CORRELATION_DATA: ("correlation_data", "binary", frozenset({_C.PUBLISH, _C.WILL})),
    PropertyId.SUBSCRIPTION_IDENTIFIER: (
        "subscription_identifiers",
        "varint",
        frozenset({_C.PUBLISH, _C.SUBSCRIBE}),
    ),
    PropertyId.SESSION_EXPIRY_INTERVAL: (
        "session_expiry_interval",
        "u32",
        frozenset({_C.CONNECT, _C.CONNACK, _C.DISCONNECT}),
    ),
    PropertyId.ASSIGNED_CLIENT_IDENTIFIER: ("assigned_client_identifier", "utf8", frozenset({_C.CONNACK})),
    PropertyId.SERVER_KEEP_ALIVE: ("server_keep_alive", "u16", frozenset({_C.CONNACK})),
    PropertyId.AUTHENTICATION_METHOD: (
        "authentication_method",
        "utf8",
        frozenset({_C.CONNECT, _C.CONNACK, _C.AUTH}),
    ),
    PropertyId.AUTHENTICATION_DATA: (
        "authentication_data",
        "binary",
        frozenset({_C.CONNECT, _C.CONNACK, _C.AUTH}),
    ),
    PropertyId.REQUEST_PROBLEM_INFORMATION: ("request_problem_information", "flag", frozenset({_C.CONNECT})),
    PropertyId.WILL_DELAY_INTERVAL: ("will_delay_interval", "u32", frozenset({_C.WILL})),
    PropertyId.REQUEST_RESPONSE_INFORMATION: (
        "request_response_information",
        "flag",
        frozenset({_C.CONNECT}),
    ),
    PropertyId.RESPONSE_INFORMATION: ("response_information", "utf8", frozenset({_C.CONNACK})),
    PropertyId.SERVER_REFERENCE: ("server_reference", "utf8", frozenset({_C.CONNACK, _C.DISCONNECT})),
    PropertyId.REASON_STRING: (
        "reason_string",
        "utf8",
        frozenset({_C.CONNACK, _C.ACK, _C.SUBACK, _C.UNSUBACK, _C.DISCONNECT, _C.AUTH}),
    ),
    PropertyId.RECEIVE_MAXIMUM: ("receive_maximum", "u16", frozenset({_C.CONNECT, _C.CONNACK})),
    PropertyId.TOPIC_ALIAS_MAXIMUM: ("topic_alias_maximum", "u16", frozenset({_C.CONNECT, _C.CONNACK})),
    PropertyId.TOPIC_ALIAS: ("topic_alias", "u16", frozenset({_C.PUBLISH})),
    PropertyId.MAXIMUM_QOS: ("maximum_qos", "flag", frozenset({_C.CONNACK})),
    PropertyId.RETAIN_AVAILABLE: ("retain_available", "flag", frozenset({_C.CONNACK})),
    PropertyId.USER_PROPERTY: ("user_properties", "pair", frozenset(PropertyContext)),
    PropertyId.MAXIMUM_PACKET_SIZE: ("maximum_packet_size", "u32", frozenset({_C.CONNECT, _C.CONNACK})),
    PropertyId.WILDCARD_SUBSCRIPTION_AVAILABLE: (
        "wildcard_subscription_available",
        "flag",
        frozenset({_C.CONNACK}),
    ),
    PropertyId.SUBSCRIPTION_IDENTIFIER_AVAILABLE: (
        "subscription_identifier_available",
        "flag",
        frozenset({_C.CONNACK}),
    ),
    PropertyId.SHARED_SUBSCRIPTION_AVAILABLE: (
        "shared_subscription_available",
        "flag",
        frozenset({_C.CONNACK}),
    ),
}
_FIELD_TO_ID = {spec[0]: pid for pid, spec in _SPEC.items()}
_FIELD_ORDER = tuple(f.name for f in fields(Properties))


def _read_pair(buf: bytes, pos: int, stop: int, users: list[tuple[str, str]]) -> int:
    """One User Property (two strings), inlined: a flood of them must stay cheap to parse (T6)."""
    if pos + 2 > stop:
        raise MalformedPacket("user property: packet ends inside a string length")
    key_end = pos + 2 + ((buf[pos] << 8) | buf[pos + 1])
    if key_end + 2 > stop:
        raise MalformedPacket("user property: string runs past the end of the properties")
    val_end = key_end + 2 + ((buf[key_end] << 8) | buf[key_end + 1])
    if val_end > stop:
        raise MalformedPacket("user property: string runs past the end of the properties")
    try:
        key = buf[pos + 2 : key_end].decode()
        val = buf[key_end + 2 : val_end].decode()
    except UnicodeDecodeError:
        raise MalformedPacket("user property: not valid UTF-8") from None
    if key or val:
        check_utf8_text(key + val, "user property")
    users.append((key, val))
    return val_end


def decode_properties(buf: bytes, pos: int, end: int, context: PropertyContext) -> tuple[Properties, int]:
    """Decode a property block (length varint then properties) starting at ``pos``.

    Returns the properties and the position after the block. Raises MalformedPacket or ProtocolError.
    """
    length, pos = read_varint(buf, pos, end, f"{context.value} property length")
    stop = pos + length
    if stop > end:
        raise MalformedPacket(f"{context.value} property length {length} runs past the end of the packet")
    if length == 0:
        return NO_PROPERTIES, pos
    values: dict[str, Any] = {}
    users: list[tuple[str, str]] = []
    sub_ids: list[int] = []
    while pos < stop:
        ident, pos = read_varint(buf, pos, stop, f"{context.value} property identifier")
        spec = _SPEC.get(ident)
        if spec is None:
            raise MalformedPacket(f"{context.value}: unknown property identifier 0x{ident:02X}")
        name, kind, allowed = spec
        if context not in allowed:
            raise MalformedPacket(f"{context.value}: property {name} (0x{ident:02X}) is not allowed here")
        if kind == "pair":
            if len(users) >= MAX_USER_PROPERTIES:
                raise ProtocolError(
                    f"{context.value}: more than {MAX_USER_PROPERTIES} user properties",
                    ReasonCode.IMPLEMENTATION_SPECIFIC_ERROR,
                )
            pos = _read_pair(buf, pos, stop, users)
            continue
        what = f"{context.value} property {name}"
        value: Any
        if kind == "varint":
            value, pos = read_varint(buf, pos, stop, what)
            if value == 0:
                raise ProtocolError(f"{what}: 0 is not a valid Subscription Identifier [MQTT-3.8.2-1.2]")
            if context is PropertyContext.SUBSCRIBE and sub_ids:
                raise ProtocolError(f"{what} given twice")
            sub_ids.append(value)
            continue
        if name in values:
            # "It is a Protocol Error to include <property> more than once" (every property in 5.0 ch. 3).
            raise ProtocolError(f"{what} given twice")
        if kind == "flag":
            value, pos = read_u8(buf, pos, stop, what)
            if value > 1:
                raise ProtocolError(f"{what}: value {value}, expected 0 or 1")
        elif kind == "u16":
            value, pos = read_u16(buf, pos, stop, what)
        elif kind == "u32":
            value, pos = read_u32(buf, pos, stop, what)
        elif kind == "utf8":
            value, pos = read_utf8(buf, pos, stop, what)
        else:
            value, pos = read_binary(buf, pos, stop, what)
        values[name] = value
    if values.get("receive_maximum") == 0:
        raise ProtocolError(f"{context.value}: Receive Maximum 0 [MQTT-3.1.2-21]")
    if values.get("maximum_packet_size") == 0:
        raise ProtocolError(f"{context.value}: Maximum Packet Size 0 [MQTT-3.1.2-24]")
    if users:
        values["user_properties"] = tuple(users)
    if sub_ids:
        values["subscription_identifiers"] = tuple(sub_ids)
    return Properties(**values), stop


def encode_properties(props: Properties) -> bytes:
    """The property block (length varint then properties) for ``props``; b"\\x00" when empty."""
    if props is NO_PROPERTIES:
        return b"\x00"
    out = bytearray()
    for name in _FIELD_ORDER:
        value = getattr(props, name)
        if value is None or value == ():
            continue
        ident = _FIELD_TO_ID[name]
        kind = _SPEC[ident][1]
        if kind == "pair":
            for key, val in value:
                out.append(ident)
                out += encode_utf8(key)
                out += encode_utf8(val)
        elif kind == "varint":
            for sub_id in value:
                out.append(ident)
                out += encode_varint(sub_id)
        else:
            out.append(ident)
            if kind == "flag":
                out.append(value)
            elif kind == "u16":
                out += value.to_bytes(2, "big")
            elif kind == "u32":
                out += value.to_bytes(4, "big")
            elif kind == "utf8":
                out += encode_utf8(value)
            else:
                out += encode_binary(value)
    return encode_varint(len(out)) + bytes(out)
