"""A scripted Modbus TCP device: a raw asyncio MBAP server whose misbehaviour a test chooses.

Real sockets on 127.0.0.1, port 0. The register at address ``a`` answers ``value_of(a, n)`` where
``n`` is the number of the request (1-based, per device), so a test can tell which request a value
came from (catalogue T48). Behaviours:

- ``silent``: accept connections and read requests, never answer (T47).
- ``late_every``/``late_delay``: every k-th request is answered after ``late_delay`` seconds (T48).
- ``exceptions``: a list of (area function code, first, last, exception code) ranges; a read or write
  touching one gets that exception (T49).
- ``max_read``: reads longer than this get exception 03 (T50).
- ``short_reply``: register reads answer with fewer registers than asked; ``wrapped_count`` lies in
  the byte count (T50).
- ``max_connections``: accepting one more kicks the oldest (T51); ``idle_close`` closes connections
  idle longer than that many seconds (T51).
- ``mask_write``: answer function 22 against ``fixed`` (without it: exception 01, as many devices).
Counters: ``requests``, ``connections_total``, ``active``; ``request_log`` keeps (fc, address, count);
``writes`` keeps (fc, address, values) of writes (FC05/06/15/16/22); ``refused`` the function codes
answered with exception 01.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
from dataclasses import dataclass, field


def value_of(address: int, request_number: int) -> int:
    """High byte: the address (mod 256); low byte: the request number (mod 256)."""
    return ((address & 0xFF) << 8) | (request_number & 0xFF)


@dataclass
class FakeModbusDevice:
    silent: bool = False
    late_every: int = 0
    late_delay: float = 0.0
    exceptions: list[tuple[int, int, int, int]] = field(default_factory=list)
    max_read: int = 125
    short_reply: bool = False
    wrapped_count: bool = False
    max_connections: int = 0
    idle_close: float = 0.0
    unit_ids: tuple[int, ...] = ()  # answer only these (empty: all)
    fixed: dict[int, int] = field(default_factory=dict)  # address -> constant value (writes land here)
    host: str = "127.0.0.1"
    port: int = 0
    requests: int = 0
    connections_total: int = 0
    request_log: list[tuple[int, int, int]] = field(default_factory=list)
    writes: list[tuple[int, int, list[int]]] = field(default_factory=list)
    mask_write: bool = False  # answer function 22 (Mask Write Register); otherwise exception 01
    refused: list[int] = field(default_factory=list)  # function codes answered with exception 01
    _server: asyncio.Server | None = None
    _writers: list[asyncio.StreamWriter] = field(default_factory=list)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    @property
    def active(self) -> int:
        return len(self._writers)

    async def start(self) -> FakeModbusDevice:
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            for writer in list(self._writers):
                writer.close()
            for task in list(self._tasks):
                task.cancel()
            await self._server.wait_closed()
            self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections_total += 1
        if self.max_connections and len(self._writers) >= self.max_connections:
            oldest = self._writers.pop(0)
            oldest.close()
        self._writers.append(writer)
        try:
            while True:
                try:
                    if self.idle_close:
                        header = await asyncio.wait_for(reader.readexactly(7), self.idle_close)
                    else:
                        header = await reader.readexactly(7)
                except (TimeoutError, asyncio.IncompleteReadError, ConnectionError):
                    return
                tid, _proto, length, unit = struct.unpack(">HHHB", header)
                pdu = await reader.readexactly(length - 1)
                if self.silent or (self.unit_ids and unit not in self.unit_ids):
                    continue
                self.requests += 1
                number = self.requests
                reply = self._answer(pdu, number)
                frame = struct.pack(">HHHB", tid, 0, len(reply) + 1, unit) + reply
                if self.late_every and number % self.late_every == 0:
                    task = asyncio.create_task(self._send_later(writer, frame))
                    self._tasks.add(task)
                    task.add_done_callback(self._tasks.discard)
                else:
                    writer.write(frame)
        except (asyncio.IncompleteReadError, ConnectionError):
            return
        finally:
            if writer in self._writers:
                self._writers.remove(writer)
            writer.close()

    async def _send_later(self, writer: asyncio.StreamWriter, frame: bytes) -> None:
        await asyncio.sleep(self.late_delay)
        with contextlib.suppress(ConnectionError, RuntimeError):
            if not writer.is_closing():
                writer.write(frame)

    def _exception_for(self, fc: int, first: int, count: int) -> int | None:
        area_fc = {5: 1, 15: 1, 6: 3, 16: 3}.get(fc, fc)
        for efc, lo, hi, code in self.exceptions:
            if efc == area_fc and first <= hi and first + count - 1 >= lo:
                return code
        return None

    def _answer(self, pdu: bytes, number: int) -> bytes:
        fc = pdu[0]
        if fc in (1, 2, 3, 4):
            address, count = struct.unpack(">HH", pdu[1:5])
            self.request_log.append((fc, address, count))
            code = self._exception_for(fc, address, count)
            if code is None and count > self.max_read:
                code = 3
            if code is not None:
                return bytes([fc | 0x80, code])
            if fc in (1, 2):
                nbytes = (count + 7) // 8
                bits = bytearray(nbytes)
                for i in range(count):
                    if (address + i + number) % 2:
                        bits[i // 8] |= 1 << (i % 8)
                return bytes([fc, nbytes]) + bytes(bits)
            values = [self.fixed.get(address + i, value_of(address + i, number)) for i in range(count)]
            if self.short_reply:
                values = values[: max(0, count - 2)]
            body = struct.pack(f">{len(values)}H", *values)
            # wrapped: the byte count disagrees with the data that follows (as a wrapped 8-bit
            # counter in a buggy gateway does): it claims one register less
            byte_count = (len(body) - 2) & 0xFF if self.wrapped_count else len(body)
            return bytes([fc, byte_count]) + body
        if fc in (5, 6):
            address, value = struct.unpack(">HH", pdu[1:5])
            code = self._exception_for(fc, address, 1)
            if code is not None:
                return bytes([fc | 0x80, code])
            self.writes.append((fc, address, [value]))
            if fc == 6:
                self.fixed[address] = value
            return pdu[:5]
        if fc == 16:
            address, count, _nbytes = struct.unpack(">HHB", pdu[1:6])
            values = list(struct.unpack(f">{count}H", pdu[6 : 6 + 2 * count]))
            code = self._exception_for(fc, address, count)
            if code is not None:
                return bytes([fc | 0x80, code])
            self.writes.append((fc, address, values))
            for i, v in enumerate(values):
                self.fixed[address + i] = v
            return pdu[:5]
        if fc == 15:
            address, count, _nbytes = struct.unpack(">HHB", pdu[1:6])
            coils = [bool(pdu[6 + i // 8] >> (i % 8) & 1) for i in range(count)]
            code = self._exception_for(fc, address, count)
            if code is not None:
                return bytes([fc | 0x80, code])
            self.writes.append((fc, address, [int(b) for b in coils]))
            return pdu[:5]
        if fc == 22 and self.mask_write:
            address, and_mask, or_mask = struct.unpack(">HHH", pdu[1:7])
            current = self.fixed.get(address, value_of(address, number))
            self.fixed[address] = (current & and_mask) | (or_mask & ~and_mask & 0xFFFF)
            self.writes.append((fc, address, [and_mask, or_mask]))
            return pdu[:7]
        self.refused.append(fc)
        return bytes([fc | 0x80, 1])
