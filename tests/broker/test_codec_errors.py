"""T2 at the codec level: truncated fields raise MalformedPacket (never IndexError or struct.error)."""

from __future__ import annotations

import pytest

from gateway.broker.codec import decode
from gateway.broker.codec.stream import FrameReader
from gateway.broker.errors import MalformedPacket, PacketTooLarge, ProtocolError
from tests.support.raw_mqtt import unhex

TRUNCATED = {
    "QoS 1 PUBLISH ending after the topic (v3)": ("32 03 00 01 74", 4),
    "QoS 1 PUBLISH ending after the topic (v5)": ("32 03 00 01 74", 5),
    "SUBSCRIBE without options byte (v3)": ("82 05 00 01 00 01 61", 4),
    "SUBSCRIBE without options byte (v5)": ("82 06 00 01 00 00 01 61", 5),
    "v3 PUBLISH with topic length 0": ("30 02 00 00", 4),
    "string length greater than the remaining bytes": ("30 04 00 09 61 62", 4),
    "property length greater than the remaining bytes": ("30 05 00 01 74 20 01", 5),
    "varint property with continuation on its last byte": ("30 06 00 01 74 02 0b 81", 5),
    "5-byte varint property": ("30 0a 00 01 74 06 0b 81 81 81 81 01", 5),
    "CONNECT cut inside the keep-alive": ("10 08 00 04 4d 51 54 54 04 02", 4),
    "PUBACK with one byte": ("40 01 00", 4),
    "v3 PUBACK with a reason code": ("40 03 00 01 00", 4),
}


@pytest.mark.parametrize("hex_bytes, version", TRUNCATED.values(), ids=TRUNCATED.keys())
def test_truncated_fields_raise_malformed_packet(hex_bytes: str, version: int) -> None:
    with pytest.raises(MalformedPacket):
        decode(unhex(hex_bytes), version)


def test_duplicate_property_is_a_protocol_error_not_malformed() -> None:
    with pytest.raises(ProtocolError) as info:
        decode(unhex("30 08 00 01 74 04 01 00 01 00"), 5)
    assert info.value.reason_code == 0x82


def test_packet_too_large_is_refused_before_the_body_arrives() -> None:
    reader = FrameReader(max_packet_size=1024)
    with pytest.raises(PacketTooLarge):
        list(reader.feed(unhex("30 a0 8d 06")))  # RL = 100 000, no body bytes sent yet
    assert reader.buffered == 0


def test_partial_packets_are_buffered_up_to_their_size_only() -> None:
    reader = FrameReader(max_packet_size=1024)
    assert list(reader.feed(unhex("30 05 00"))) == []
    assert reader.buffered == 3
    frames = list(reader.feed(unhex("01 74 78 79")))
    assert [bytes(buf[start:end]) for _f, buf, start, end in frames] == [unhex("00 01 74 78 79")]
    assert reader.buffered == 0
