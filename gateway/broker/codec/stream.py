"""Framing a byte stream into packets, with the Maximum Packet Size enforced before any body is buffered.

:class:`FrameReader` is fed whatever the socket delivered and yields ``(first_byte, buf, start, end)`` for
each complete packet, where ``buf[start:end]`` is the body. Partial packets are kept in one bytearray that
never exceeds the maximum packet size: the Remaining Length is checked as soon as its last byte arrives
([MQTT-3.2.2-15] for what we announce, CVE-2023-0809 for why: nothing is allocated from a declared length).
"""

from __future__ import annotations

from collections.abc import Iterator

from gateway.broker.errors import MalformedPacket, PacketTooLarge

Frame = tuple[int, bytes, int, int]


def parse_header(buf: bytes | bytearray, pos: int, end: int) -> tuple[int, int] | None:
    """Parse the Remaining Length after the first byte at ``pos``.

    Returns ``(body_start, remaining_length)`` or ``None`` when more bytes are needed.
    Raises MalformedPacket for a 5-byte or non-minimal length ([MQTT-1.5.5-1], [MQTT-2.2.3]).
    """
    value = 0
    shift = 0
    index = pos + 1
    for count in range(4):
        if index >= end:
            return None
        byte = buf[index]
        index += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            if count > 0 and byte == 0:
                raise MalformedPacket("Remaining Length is not minimally encoded [MQTT-1.5.5-1]")
            return index, value
        shift += 7
    raise MalformedPacket("Remaining Length longer than 4 bytes")


class FrameReader:
    """Splits a byte stream into packet frames.

    Args:
        max_packet_size: the largest whole packet (fixed header included) accepted; larger ones raise
            PacketTooLarge as soon as the header is complete.
    """

    __slots__ = ("_need", "_pending", "max_packet_size")

    def __init__(self, max_packet_size: int) -> None:
        self.max_packet_size = max_packet_size
        self._pending = bytearray()
        self._need = 0  # total bytes of the pending frame, once its header is known

    @property
    def buffered(self) -> int:
        """Bytes of an incomplete packet held right now."""
        return len(self._pending)

    def feed(self, data: bytes) -> Iterator[Frame]:
        """Yield every complete frame in the stream so far; keep the incomplete tail."""
        pending = self._pending
        if pending:
            pending += data
            if self._need and len(pending) < self._need:
                return
            buf: bytes = bytes(pending)
            pending.clear()
            self._need = 0
        else:
            buf = data
        pos = 0
        end = len(buf)
        max_size = self.max_packet_size
        while pos < end:
            header = parse_header(buf, pos, end)
            if header is None:
                if end - pos > 5:
                    raise MalformedPacket("Remaining Length longer than 4 bytes")
                pending += buf[pos:]
                return
            body_start, length = header
            stop = body_start + length
            if stop - pos > max_size:
                raise PacketTooLarge(
                    f"packet of {stop - pos} bytes exceeds the maximum packet size {max_size} [MQTT-3.1.2-24]"
                )
            if stop > end:
                pending += buf[pos:]
                self._need = stop - pos
                return
            yield buf[pos], buf, body_start, stop
            pos = stop
