"""Primitive wire types (MQTT section 1.5): integers, variable byte integers, UTF-8 strings, binary data.

Readers take ``(buf, pos, end)`` and return ``(value, new_pos)``; they never read past ``end`` and raise only
:class:`~gateway.broker.errors.MalformedPacket`, whatever the bytes (no IndexError or struct.error escapes).
"""

from __future__ import annotations

import re

from gateway.broker.errors import MalformedPacket

MAX_VARINT = 268_435_455

# [MQTT-1.5.4-1..3]: no U+0000, no surrogates (Python's strict decoder rejects them already).
# Like mosquitto we
# also refuse the control characters U+0001-U+001F and U+007F-U+009F and the non-characters, which the spec
# says a receiver MAY treat as malformed; a topic containing them is almost always an attack or a bug.
_DISALLOWED = re.compile(
    "[\x00-\x1f\x7f-\x9f\ufdd0-\ufdef\ufffe\uffff"
    + "".join(f"{chr(plane * 0x10000 + 0xFFFE)}{chr(plane * 0x10000 + 0xFFFF)}" for plane in range(1, 17))
    + "]"
)


def check_utf8_text(text: str, what: str) -> None:
    """Raise MalformedPacket if ``text`` holds a character MQTT strings must not contain."""
    if _DISALLOWED.search(text) is not None:
        raise MalformedPacket(f"{what} contains a disallowed character (control, U+0000 or non-character)")


def read_u8(buf: bytes, pos: int, end: int, what: str) -> tuple[int, int]:
    if pos >= end:
        raise MalformedPacket(f"{what}: packet ends before this byte")
    return buf[pos], pos + 1


def read_u16(buf: bytes, pos: int, end: int, what: str) -> tuple[int, int]:
    if pos + 2 > end:
        raise MalformedPacket(f"{what}: packet ends inside a two-byte integer")
    return (buf[pos] << 8) | buf[pos + 1], pos + 2


def read_u32(buf: bytes, pos: int, end: int, what: str) -> tuple[int, int]:
    if pos + 4 > end:
        raise MalformedPacket(f"{what}: packet ends inside a four-byte integer")
    return int.from_bytes(buf[pos : pos + 4], "big"), pos + 4


def read_varint(buf: bytes, pos: int, end: int, what: str) -> tuple[int, int]:
    """A Variable Byte Integer; at most 4 bytes and minimally encoded ([MQTT-1.5.5-1])."""
    value = 0
    shift = 0
    for index in range(4):
        if pos >= end:
            raise MalformedPacket(f"{what}: packet ends inside a variable byte integer")
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            if index > 0 and byte == 0:
                raise MalformedPacket(f"{what}: variable byte integer is not minimally encoded")
            return value, pos
        shift += 7
    raise MalformedPacket(f"{what}: variable byte integer longer than 4 bytes")


def read_binary(buf: bytes, pos: int, end: int, what: str) -> tuple[bytes, int]:
    length, pos = read_u16(buf, pos, end, what)
    if pos + length > end:
        raise MalformedPacket(f"{what}: length {length} runs past the end of the packet")
    return bytes(buf[pos : pos + length]), pos + length


def read_utf8(buf: bytes, pos: int, end: int, what: str) -> tuple[str, int]:
    length, pos = read_u16(buf, pos, end, what)
    stop = pos + length
    if stop > end:
        raise MalformedPacket(f"{what}: string length {length} runs past the end of the packet")
    raw = buf[pos:stop]
    try:
        text = bytes(raw).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedPacket(f"{what}: not valid UTF-8 ({exc.reason})") from None
    check_utf8_text(text, what)
    return text, stop


def encode_varint(value: int) -> bytes:
    if value < 128:
        return bytes((value,))
    if not 0 <= value <= MAX_VARINT:
        raise ValueError(f"variable byte integer out of range: {value}")
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def encode_utf8(text: str) -> bytes:
    raw = text.encode("utf-8")
    if len(raw) > 0xFFFF:
        raise ValueError(f"string longer than 65535 bytes: {text[:40]!r}...")
    return len(raw).to_bytes(2, "big") + raw


def encode_binary(data: bytes) -> bytes:
    if len(data) > 0xFFFF:
        raise ValueError("binary data longer than 65535 bytes")
    return len(data).to_bytes(2, "big") + data
