# ruff: noqa: PLR0917  (hot-path calls pass positionally: keyword arguments cost time per message)
"""Decoding complete packets: fixed-header flags, variable header and payload, strictly.

``decode_body(first_byte, buf, pos, end, version)`` decodes one packet whose body is ``buf[pos:end]``.
Whatever the bytes, it returns a packet or raises :class:`~gateway.broker.errors.ProtocolError` (usually
its subclass MalformedPacket); nothing else escapes (property-tested). Framing (remaining length,
maximum packet size) is :mod:`gateway.broker.codec.stream`'s job.
"""

from __future__ import annotations

from gateway.broker.codec.packets import (
    Auth,
    Connack,
    Connect,
    Disconnect,
    Packet,
    Pingreq,
    Pingresp,
    Puback,
    Pubcomp,
    Publish,
    Pubrec,
    Pubrel,
    Suback,
    Subscribe,
    SubscriptionRequest,
    Unsuback,
    Unsubscribe,
    Will,
)
from gateway.broker.codec.properties import NO_PROPERTIES, Properties, PropertyContext, decode_properties
from gateway.broker.codec.topics import SHARE_PREFIX, validate_filter, validate_topic_name
from gateway.broker.codec.wire import check_utf8_text, read_binary, read_u8, read_u16, read_utf8
from gateway.broker.codes import PacketType, ProtocolVersion, ReasonCode
from gateway.broker.errors import MalformedPacket, ProtocolError

V5 = ProtocolVersion.MQTT_5
# [MQTT-2.2.2-2]: the flags every packet type but PUBLISH must carry.
_REQUIRED_FLAGS = {
    PacketType.PUBREL: 0b0010,
    PacketType.SUBSCRIBE: 0b0010,
    PacketType.UNSUBSCRIBE: 0b0010,
}


def _packet_id(buf: bytes, pos: int, end: int, what: str) -> tuple[int, int]:
    pid, pos = read_u16(buf, pos, end, f"{what} packet identifier")
    if pid == 0:
        raise ProtocolError(f"{what}: packet identifier 0 [MQTT-2.2.1-3]")
    return pid, pos


def _expect_end(pos: int, end: int, what: str) -> None:
    if pos != end:
        raise MalformedPacket(f"{what}: {end - pos} unexpected bytes at the end of the packet")


def decode_connect(buf: bytes, pos: int, end: int) -> Connect:
    name, pos = read_utf8(buf, pos, end, "CONNECT protocol name")
    level, pos = read_u8(buf, pos, end, "CONNECT protocol level")
    if name != "MQTT":
        if name == "MQIsdp" and level == 3:
            raise ProtocolError("MQTT 3.1 (MQIsdp) is not supported", ReasonCode.UNSUPPORTED_PROTOCOL_VERSION)
        raise MalformedPacket(f"CONNECT protocol name {name!r}, expected 'MQTT' [MQTT-3.1.2-1]")
    if level not in (4, 5):
        raise ProtocolError(
            f"CONNECT protocol level {level}; this broker speaks 4 (3.1.1) and 5 (5.0)",
            ReasonCode.UNSUPPORTED_PROTOCOL_VERSION,
        )
    flags, pos = read_u8(buf, pos, end, "CONNECT flags")
    if flags & 0x01:
        raise MalformedPacket("CONNECT reserved flag is set [MQTT-3.1.2-3]")
    clean_start = bool(flags & 0x02)
    will_flag = bool(flags & 0x04)
    will_qos = (flags >> 3) & 0x03
    will_retain = bool(flags & 0x20)
    password_flag = bool(flags & 0x40)
    username_flag = bool(flags & 0x80)
    if will_qos == 3:
        raise MalformedPacket("CONNECT Will QoS 3 [MQTT-3.1.2-14]")
    if not will_flag and (will_qos or will_retain):
        raise MalformedPacket("CONNECT Will QoS/Retain set without the Will flag [MQTT-3.1.2-11/13/15]")
    if level == 4 and password_flag and not username_flag:
        raise MalformedPacket("CONNECT password without user name [MQTT-3.1.2-22]")
    keep_alive, pos = read_u16(buf, pos, end, "CONNECT keep alive")
    props = NO_PROPERTIES
    if level == V5:
        props, pos = decode_properties(buf, pos, end, PropertyContext.CONNECT)
    client_id, pos = read_utf8(buf, pos, end, "CONNECT client identifier")
    will = None
    if will_flag:
        will_props = NO_PROPERTIES
        if level == V5:
            will_props, pos = decode_properties(buf, pos, end, PropertyContext.WILL)
        will_topic, pos = read_utf8(buf, pos, end, "CONNECT Will topic")
        if not will_topic:
            raise MalformedPacket("CONNECT Will topic is empty [MQTT-4.7.3-1]")
        validate_topic_name(will_topic)
        will_payload, pos = read_binary(buf, pos, end, "CONNECT Will payload")
        will = Will(will_topic, will_payload, will_qos, will_retain, will_props)
    username = None
    password = None
    if username_flag:
        username, pos = read_utf8(buf, pos, end, "CONNECT user name")
    if password_flag:
        password, pos = read_binary(buf, pos, end, "CONNECT password")
    _expect_end(pos, end, "CONNECT")
    return Connect(level, client_id, clean_start, keep_alive, username, password, will, props)


# Validated topic names by their raw bytes: a publisher usually repeats a few topics, so the UTF-8 decode and
# the disallowed-character scan run once per distinct topic. Bounded: cleared when full.
_TOPIC_CACHE: dict[bytes, str] = {}
_TOPIC_CACHE_LIMIT = 8192

PublishFields = tuple[str, bytes, int, bool, bool, int | None, Properties, int]


def parse_publish(first: int, buf: bytes, pos: int, end: int, version: int) -> PublishFields:
    """The fields of a PUBLISH without building a packet object (the broker's hot path).

    Returns ``(topic, topic_bytes, qos, retain, dup, packet_id, properties, payload_start)``, where
    ``topic_bytes`` is the length-prefixed topic as received. Raises ProtocolError like :func:`decode_body`.
    """
    qos = (first >> 1) & 0x03
    if qos == 3:
        raise MalformedPacket("PUBLISH with QoS 3 [MQTT-3.3.1-4]")
    dup = bool(first & 0x08)
    if dup and qos == 0:
        raise MalformedPacket("PUBLISH QoS 0 with DUP set [MQTT-3.3.1-2]")
    if pos + 2 > end:
        raise MalformedPacket("PUBLISH topic: packet ends inside a two-byte integer")
    stop = pos + 2 + ((buf[pos] << 8) | buf[pos + 1])
    if stop > end:
        raise MalformedPacket("PUBLISH topic: string length runs past the end of the packet")
    topic_bytes = buf[pos:stop]
    topic = _TOPIC_CACHE.get(topic_bytes)
    if topic is None:
        topic, _ = read_utf8(buf, pos, end, "PUBLISH topic")
        if "+" in topic or "#" in topic:
            validate_topic_name(topic)
        if len(_TOPIC_CACHE) >= _TOPIC_CACHE_LIMIT:
            _TOPIC_CACHE.clear()
        _TOPIC_CACHE[topic_bytes] = topic
    if not topic and version != V5:
        raise MalformedPacket("PUBLISH with an empty topic [MQTT-4.7.3-1]")
    pos = stop
    packet_id = None
    if qos:
        if pos + 2 > end:
            raise MalformedPacket("PUBLISH packet identifier: packet ends inside a two-byte integer")
        packet_id = (buf[pos] << 8) | buf[pos + 1]
        if packet_id == 0:
            raise ProtocolError("PUBLISH: packet identifier 0 [MQTT-2.2.1-3]")
        pos += 2
    props = NO_PROPERTIES
    if version == V5:
        if pos < end and buf[pos] == 0:
            pos += 1
        else:
            props, pos = decode_properties(buf, pos, end, PropertyContext.PUBLISH)
    return topic, topic_bytes, qos, bool(first & 0x01), dup, packet_id, props, pos


def decode_publish(flags: int, buf: bytes, pos: int, end: int, version: int) -> Publish:
    topic, _raw, qos, retain, dup, packet_id, props, start = parse_publish(flags, buf, pos, end, version)
    return Publish(topic, bytes(buf[start:end]), qos, retain, dup, packet_id, props)


def _decode_ack(
    cls: type[Puback | Pubrec | Pubrel | Pubcomp], buf: bytes, pos: int, end: int, version: int
) -> Packet:
    name = cls.__name__.upper()
    pid, pos = _packet_id(buf, pos, end, name)
    if version != V5:
        _expect_end(pos, end, name)
        return cls(pid)
    if pos == end:
        return cls(pid)
    reason, pos = read_u8(buf, pos, end, f"{name} reason code")
    props = NO_PROPERTIES
    if pos < end:
        props, pos = decode_properties(buf, pos, end, PropertyContext.ACK)
    _expect_end(pos, end, name)
    return cls(pid, reason, props)


def decode_subscribe(buf: bytes, pos: int, end: int, version: int) -> Subscribe:
    pid, pos = _packet_id(buf, pos, end, "SUBSCRIBE")
    props = NO_PROPERTIES
    if version == V5:
        props, pos = decode_properties(buf, pos, end, PropertyContext.SUBSCRIBE)
    requests = []
    while pos < end:
        topic_filter, pos = read_utf8(buf, pos, end, "SUBSCRIBE topic filter")
        options, pos = read_u8(buf, pos, end, "SUBSCRIBE options")
        validate_filter(topic_filter)
        qos = options & 0x03
        if qos == 3:
            raise MalformedPacket(f"SUBSCRIBE {topic_filter!r} with QoS 3 [MQTT-3.8.3-4]")
        if version == V5:
            if options & 0xC0:
                raise MalformedPacket("SUBSCRIBE options reserved bits set [MQTT-3.8.3-5]")
            retain_handling = (options >> 4) & 0x03
            if retain_handling == 3:
                raise ProtocolError("SUBSCRIBE Retain Handling 3")
            no_local = bool(options & 0x04)
            if no_local and topic_filter.startswith(SHARE_PREFIX):
                raise ProtocolError("No Local on a shared subscription [MQTT-3.8.3-4]")
            requests.append(
                SubscriptionRequest(topic_filter, qos, no_local, bool(options & 0x08), retain_handling)
            )
        else:
            if options & 0xFC:
                raise MalformedPacket("SUBSCRIBE options reserved bits set [MQTT-3-8.3-4]")
            requests.append(SubscriptionRequest(topic_filter, qos))
    if not requests:
        raise ProtocolError("SUBSCRIBE without any topic filter [MQTT-3.8.3-3]")
    return Subscribe(pid, tuple(requests), props)


def decode_unsubscribe(buf: bytes, pos: int, end: int, version: int) -> Unsubscribe:
    pid, pos = _packet_id(buf, pos, end, "UNSUBSCRIBE")
    props = NO_PROPERTIES
    if version == V5:
        props, pos = decode_properties(buf, pos, end, PropertyContext.UNSUBSCRIBE)
    filters = []
    while pos < end:
        topic_filter, pos = read_utf8(buf, pos, end, "UNSUBSCRIBE topic filter")
        validate_filter(topic_filter)
        filters.append(topic_filter)
    if not filters:
        raise ProtocolError("UNSUBSCRIBE without any topic filter [MQTT-3.10.3-2]")
    return Unsubscribe(pid, tuple(filters), props)


def _reason_and_props(
    buf: bytes, pos: int, end: int, version: int, context: PropertyContext, name: str
) -> tuple[int, object]:
    if version != V5:
        _expect_end(pos, end, name)
        return 0, NO_PROPERTIES
    if pos == end:
        return 0, NO_PROPERTIES
    reason, pos = read_u8(buf, pos, end, f"{name} reason code")
    props = NO_PROPERTIES
    if pos < end:
        props, pos = decode_properties(buf, pos, end, context)
    _expect_end(pos, end, name)
    return reason, props


def decode_body(first_byte: int, buf: bytes, pos: int, end: int, version: int) -> Packet:
    """Decode the packet with fixed-header byte ``first_byte`` and body ``buf[pos:end]``.

    ``version`` is the connection's protocol level (4 or 5); it is ignored for CONNECT, which carries its own.
    """
    ptype = first_byte >> 4
    flags = first_byte & 0x0F
    if ptype == PacketType.PUBLISH:
        return decode_publish(flags, buf, pos, end, version)
    if ptype == 0 or (ptype == PacketType.AUTH and version != V5):
        raise MalformedPacket(f"reserved packet type {ptype} [MQTT-2.1.2]")
    required = _REQUIRED_FLAGS.get(ptype, 0)  # type: ignore[call-overload]
    if flags != required:
        raise MalformedPacket(
            f"{PacketType(ptype).name}: fixed-header flags 0x{flags:X}, "
            f"expected 0x{required:X} [MQTT-2.2.2-2]"
        )
    if ptype == PacketType.CONNECT:
        return decode_connect(buf, pos, end)
    if ptype == PacketType.PUBACK:
        return _decode_ack(Puback, buf, pos, end, version)
    if ptype == PacketType.PUBREC:
        return _decode_ack(Pubrec, buf, pos, end, version)
    if ptype == PacketType.PUBREL:
        return _decode_ack(Pubrel, buf, pos, end, version)
    if ptype == PacketType.PUBCOMP:
        return _decode_ack(Pubcomp, buf, pos, end, version)
    if ptype == PacketType.SUBSCRIBE:
        return decode_subscribe(buf, pos, end, version)
    if ptype == PacketType.UNSUBSCRIBE:
        return decode_unsubscribe(buf, pos, end, version)
    if ptype in (PacketType.PINGREQ, PacketType.PINGRESP):
        _expect_end(pos, end, PacketType(ptype).name)
        return Pingreq() if ptype == PacketType.PINGREQ else Pingresp()
    if ptype == PacketType.DISCONNECT:
        reason, props = _reason_and_props(buf, pos, end, version, PropertyContext.DISCONNECT, "DISCONNECT")
        return Disconnect(reason, props)  # type: ignore[arg-type]
    if ptype == PacketType.AUTH:
        reason, props = _reason_and_props(buf, pos, end, version, PropertyContext.AUTH, "AUTH")
        return Auth(reason, props)  # type: ignore[arg-type]
    if ptype == PacketType.CONNACK:
        ack_flags, pos = read_u8(buf, pos, end, "CONNACK flags")
        if ack_flags & 0xFE:
            raise MalformedPacket("CONNACK reserved flags set")
        reason, pos = read_u8(buf, pos, end, "CONNACK reason code")
        props = NO_PROPERTIES
        if version == V5:
            props, pos = decode_properties(buf, pos, end, PropertyContext.CONNACK)
        _expect_end(pos, end, "CONNACK")
        return Connack(bool(ack_flags & 1), reason, props)
    # SUBACK or UNSUBACK
    name = PacketType(ptype).name
    pid, pos = _packet_id(buf, pos, end, name)
    props = NO_PROPERTIES
    if version == V5:
        context = PropertyContext.SUBACK if ptype == PacketType.SUBACK else PropertyContext.UNSUBACK
        props, pos = decode_properties(buf, pos, end, context)
    codes = tuple(buf[pos:end])
    if ptype == PacketType.SUBACK:
        if not codes:
            raise MalformedPacket("SUBACK without reason codes")
        return Suback(pid, codes, props)
    if version != V5 and codes:
        raise MalformedPacket("3.1.1 UNSUBACK has no payload")
    return Unsuback(pid, codes, props)


__all__ = ["check_utf8_text", "decode_body"]
