"""The MQTT codec, sans-I/O: bytes -> typed packets (strictly validated) and packets -> bytes."""

from gateway.broker.codec.decode import decode_body
from gateway.broker.codec.encode import encode
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
from gateway.broker.codec.properties import NO_PROPERTIES, Properties
from gateway.broker.codec.stream import FrameReader
from gateway.broker.codes import (
    ConnackReturnCode,
    PacketType,
    PropertyId,
    ProtocolVersion,
    ReasonCode,
)


def decode(data: bytes, version: int) -> Packet:
    """Decode exactly one complete packet (tests and tools); raises ProtocolError for anything else."""
    from gateway.broker.errors import MalformedPacket

    reader = FrameReader(268_435_460)
    frames = list(reader.feed(data))
    if len(frames) != 1 or reader.buffered:
        raise MalformedPacket(
            f"expected exactly one complete packet, got {len(frames)} and {reader.buffered} spare bytes"
        )
    first, buf, start, end = frames[0]
    return decode_body(first, buf, start, end, version)


__all__ = [
    "NO_PROPERTIES",
    "Auth",
    "Connack",
    "ConnackReturnCode",
    "Connect",
    "Disconnect",
    "FrameReader",
    "Packet",
    "PacketType",
    "Pingreq",
    "Pingresp",
    "Properties",
    "PropertyId",
    "ProtocolVersion",
    "Puback",
    "Pubcomp",
    "Publish",
    "Pubrec",
    "Pubrel",
    "ReasonCode",
    "Suback",
    "Subscribe",
    "SubscriptionRequest",
    "Unsuback",
    "Unsubscribe",
    "Will",
    "decode",
    "decode_body",
    "encode",
]
