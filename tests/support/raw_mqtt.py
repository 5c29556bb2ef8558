"""A raw-socket MQTT client for conformance and attack tests: send hex, expect hex, expect a close.

Async (asyncio streams) so it can talk to a broker running in the same event loop. Every wait has a
deadline. Packets are built with our own codec (``gateway.broker.codec``) or written as hex, so a test can
send exactly the bytes it means, valid or not.

    raw = await RawMQTT.open(port)          # or the ``raw_mqtt`` fixture, which closes them all
    await raw.send_hex("10 0d 00 04 4d 51 54 54 04 02 00 3c 00 01 61")   # spaces ignored
    await raw.expect_hex("20 02 00 00")
    await raw.send_hex("30")
    await raw.expect_closed(within=1.0)
    # 5.0:
    await raw.expect_disconnect(0x81)

``connect()`` is a shortcut that sends a CONNECT and checks the CONNACK's reason code.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time

from gateway.broker.codec import Connack, Connect, Disconnect, Packet, decode_body, encode
from gateway.broker.codec.stream import parse_header


def unhex(text: str) -> bytes:
    return bytes.fromhex("".join(text.split()))


class RawMQTT:
    """One TCP connection with byte-exact control."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, version: int = 4) -> None:
        self.reader = reader
        self.writer = writer
        self.version = version

    @classmethod
    async def open(
        cls,
        port: int,
        host: str = "127.0.0.1",
        *,
        version: int = 4,
        local_addr: str | None = None,
        timeout: float = 5.0,
    ) -> RawMQTT:
        """Open a TCP connection; ``local_addr`` binds a source address (127.0.0.3: per-source tests)."""
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(host, port, local_addr=(local_addr, 0) if local_addr else None), timeout
        )
        return cls(reader, writer, version)

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def send_hex(self, text: str) -> None:
        await self.send(unhex(text))

    async def send_packet(self, packet: Packet) -> None:
        await self.send(encode(packet, self.version))

    async def read_frame(self, timeout: float = 2.0) -> bytes:
        """The next whole packet as bytes (fixed header included). Raises EOFError if the peer closed."""
        async with asyncio.timeout(timeout):
            head = await self.reader.readexactly(1)
            length_bytes = b""
            while True:
                byte = await self.reader.readexactly(1)
                length_bytes += byte
                if not byte[0] & 0x80 or len(length_bytes) == 4:
                    break
            parsed = parse_header(head + length_bytes, 0, 1 + len(length_bytes))
            assert parsed is not None
            body = await self.reader.readexactly(parsed[1])
        return head + length_bytes + body

    async def read_packet(self, timeout: float = 2.0) -> Packet:
        frame = await self.read_frame(timeout)
        parsed = parse_header(frame, 0, len(frame))
        assert parsed is not None
        return decode_body(frame[0], frame, parsed[0], len(frame), self.version)

    async def expect_hex(self, text: str, timeout: float = 2.0) -> None:
        expected = unhex(text)
        got = await self.read_frame(timeout)
        assert got == expected, f"expected {expected.hex(' ')}, got {got.hex(' ')}"

    async def expect_closed(self, within: float = 1.0) -> float:
        """Wait for EOF/reset (discarding any bytes); returns the seconds it took. Fails after ``within``."""
        start = time.monotonic()
        try:
            async with asyncio.timeout(within):
                while True:
                    chunk = await self.reader.read(65536)
                    if not chunk:
                        break
        except (ConnectionResetError, BrokenPipeError):
            pass
        except TimeoutError:
            raise AssertionError(f"connection still open after {within} s") from None
        elapsed = time.monotonic() - start
        await self.close()
        return elapsed

    async def expect_disconnect(self, reason: int, within: float = 1.0) -> None:
        """5.0: the next packet is DISCONNECT with ``reason``, then the connection closes."""
        packet = await self.read_packet(within)
        assert isinstance(packet, Disconnect), f"expected DISCONNECT 0x{reason:02X}, got {packet!r}"
        assert packet.reason_code == reason, (
            f"DISCONNECT reason 0x{packet.reason_code:02X}, expected 0x{reason:02X}"
        )
        await self.expect_closed(within)

    async def connect(
        self,
        client_id: str = "raw",
        *,
        expect_reason: int = 0,
        **fields: object,
    ) -> Connack:
        """Send CONNECT (protocol ``self.version``) and return the CONNACK, checking its reason code."""
        packet = Connect(self.version, client_id, **fields)  # type: ignore[arg-type]
        await self.send_packet(packet)
        ack = await self.read_packet()
        assert isinstance(ack, Connack), f"expected CONNACK, got {ack!r}"
        assert ack.reason_code == expect_reason, (
            f"CONNACK reason {ack.reason_code:#x}, expected {expect_reason:#x}"
        )
        return ack

    def reset(self) -> None:
        """Close with RST (SO_LINGER 0): the broker sees a network failure, not a DISCONNECT."""
        sock = self.writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        self.writer.transport.abort()

    async def close(self) -> None:
        """Close our side (idempotent)."""
        if self.writer.is_closing():
            with contextlib.suppress(ConnectionError, OSError):
                await self.writer.wait_closed()
            return
        self.writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await self.writer.wait_closed()
