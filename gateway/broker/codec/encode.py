"""Encoding packets to bytes for a given protocol version.

``encode(packet, version)`` handles every packet type; :func:`encode_publish_parts` is the hot path the
router uses to build a PUBLISH once and share the bytes between subscribers.
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
    Unsuback,
    Unsubscribe,
)
from gateway.broker.codec.properties import NO_PROPERTIES, Properties, encode_properties
from gateway.broker.codec.wire import encode_binary, encode_utf8, encode_varint
from gateway.broker.codes import PacketType, ProtocolVersion
from gateway.broker.errors import LocalProtocolError

V5 = ProtocolVersion.MQTT_5
PINGRESP_BYTES = b"\xd0\x00"
PINGREQ_BYTES = b"\xc0\x00"


def _frame(first: int, body: bytes | bytearray) -> bytes:
    return bytes((first,)) + encode_varint(len(body)) + body


_BYTE = tuple(bytes((value,)) for value in range(256))


def encode_publish_parts(
    first: int, topic_bytes: bytes, packet_id: int | None, props_bytes: bytes | None, payload: bytes
) -> bytes:
    """A PUBLISH from pre-encoded pieces. ``topic_bytes`` includes its length prefix; ``props_bytes`` is
    the encoded property block for 5.0 or ``None`` for 3.1.1."""
    length = len(topic_bytes) + len(payload)
    if packet_id is None:
        if props_bytes is None:
            return b"".join((_BYTE[first], encode_varint(length), topic_bytes, payload))
        length += len(props_bytes)
        return b"".join((_BYTE[first], encode_varint(length), topic_bytes, props_bytes, payload))
    pid = packet_id.to_bytes(2, "big")
    if props_bytes is None:
        return b"".join((_BYTE[first], encode_varint(length + 2), topic_bytes, pid, payload))
    return b"".join(
        (_BYTE[first], encode_varint(length + 2 + len(props_bytes)), topic_bytes, pid, props_bytes, payload)
    )


def publish_first_byte(qos: int, retain: bool, dup: bool) -> int:
    return 0x30 | (0x08 if dup else 0) | (qos << 1) | (1 if retain else 0)


def _ack_body(packet_id: int, reason: int, props: Properties, version: int) -> bytes:
    pid = packet_id.to_bytes(2, "big")
    if version != V5 or (reason == 0 and props is NO_PROPERTIES):
        return pid
    if props is NO_PROPERTIES:
        return pid + bytes((reason,))
    return pid + bytes((reason,)) + encode_properties(props)


_ACK_V3 = {4: b"\x40\x02", 5: b"\x50\x02", 6: b"\x62\x02", 7: b"\x70\x02"}


def encode_ack(
    ptype: int, packet_id: int, reason: int = 0, props: Properties = NO_PROPERTIES, version: int = 4
) -> bytes:
    """PUBACK/PUBREC/PUBREL/PUBCOMP bytes."""
    if version != V5 or (reason == 0 and props is NO_PROPERTIES):
        return _ACK_V3[ptype] + packet_id.to_bytes(2, "big")
    first = (ptype << 4) | (0x02 if ptype == PacketType.PUBREL else 0)
    return _frame(first, _ack_body(packet_id, reason, props, version))


def _encode_connect(p: Connect) -> bytes:
    version = p.protocol_version
    flags = 0x02 if p.clean_start else 0
    body = bytearray(encode_utf8("MQTT"))
    body.append(version)
    if p.will is not None:
        flags |= 0x04 | (p.will.qos << 3) | (0x20 if p.will.retain else 0)
    if p.password is not None:
        flags |= 0x40
    if p.username is not None:
        flags |= 0x80
    body.append(flags)
    body += p.keep_alive.to_bytes(2, "big")
    if version == V5:
        body += encode_properties(p.properties)
    body += encode_utf8(p.client_id)
    if p.will is not None:
        if version == V5:
            body += encode_properties(p.will.properties)
        body += encode_utf8(p.will.topic)
        body += encode_binary(p.will.payload)
    if p.username is not None:
        body += encode_utf8(p.username)
    if p.password is not None:
        body += encode_binary(p.password)
    return _frame(0x10, body)


def encode(packet: Packet, version: int) -> bytes:
    """The wire bytes of ``packet`` for protocol level ``version`` (4 or 5; CONNECT uses its own)."""
    v5 = version == V5
    if isinstance(packet, Publish):
        if packet.qos and packet.packet_id is None:
            raise LocalProtocolError("a QoS 1/2 PUBLISH needs a packet identifier")
        return encode_publish_parts(
            publish_first_byte(packet.qos, packet.retain, packet.dup),
            encode_utf8(packet.topic),
            packet.packet_id if packet.qos else None,
            encode_properties(packet.properties) if v5 else None,
            packet.payload,
        )
    if isinstance(packet, Puback | Pubrec | Pubrel | Pubcomp):
        ptype = {Puback: 4, Pubrec: 5, Pubrel: 6, Pubcomp: 7}[type(packet)]
        return encode_ack(ptype, packet.packet_id, packet.reason_code, packet.properties, version)
    if isinstance(packet, Connect):
        return _encode_connect(packet)
    if isinstance(packet, Connack):
        head = bytes((1 if packet.session_present else 0, packet.reason_code))
        if v5:
            head += encode_properties(packet.properties)
        return _frame(0x20, head)
    if isinstance(packet, Subscribe):
        body = bytearray(packet.packet_id.to_bytes(2, "big"))
        if v5:
            body += encode_properties(packet.properties)
        for sub in packet.subscriptions:
            body += encode_utf8(sub.topic_filter)
            options = sub.qos
            if v5:
                options |= (
                    (0x04 if sub.no_local else 0)
                    | (0x08 if sub.retain_as_published else 0)
                    | (sub.retain_handling << 4)
                )
            body.append(options)
        return _frame(0x82, body)
    if isinstance(packet, Suback | Unsuback):
        body = bytearray(packet.packet_id.to_bytes(2, "big"))
        if v5:
            body += encode_properties(packet.properties)
        if isinstance(packet, Suback) or v5:
            body += bytes(packet.reason_codes)
        return _frame(0x90 if isinstance(packet, Suback) else 0xB0, body)
    if isinstance(packet, Unsubscribe):
        body = bytearray(packet.packet_id.to_bytes(2, "big"))
        if v5:
            body += encode_properties(packet.properties)
        for topic_filter in packet.topic_filters:
            body += encode_utf8(topic_filter)
        return _frame(0xA2, body)
    if isinstance(packet, Pingreq):
        return PINGREQ_BYTES
    if isinstance(packet, Pingresp):
        return PINGRESP_BYTES
    if isinstance(packet, Disconnect | Auth):
        first = 0xE0 if isinstance(packet, Disconnect) else 0xF0
        if not v5:
            if isinstance(packet, Auth):
                raise LocalProtocolError("AUTH does not exist in MQTT 3.1.1")
            return b"\xe0\x00"
        if packet.reason_code == 0 and packet.properties is NO_PROPERTIES:
            return bytes((first, 0))
        rest = bytes((packet.reason_code,))
        if packet.properties is not NO_PROPERTIES:
            rest += encode_properties(packet.properties)
        return _frame(first, rest)
    raise LocalProtocolError(f"cannot encode {packet!r}")
