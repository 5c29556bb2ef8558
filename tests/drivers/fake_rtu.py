"""A scripted Modbus RTU slave on the device side of a socat pty pair (catalogue T48 RTU, T52b).

It answers read-holding-register requests for its unit id with ``value_of(address, request number)``
(see fake_modbus), with a proper CRC. ``late_every``/``late_delay`` answer every k-th request late,
``reply_delay`` the others; ``flip_probability`` flips one random bit of that fraction of reply
bytes (line noise).
"""

from __future__ import annotations

import asyncio
import os
import random
import struct
import termios
import tty
from dataclasses import dataclass, field
from pathlib import Path

from tests.drivers.fake_modbus import value_of


def crc16(data: bytes) -> int:
    crc = 0xFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def frame(payload: bytes) -> bytes:
    return payload + struct.pack("<H", crc16(payload))


@dataclass
class FakeRtuSlave:
    path: Path
    unit: int = 1
    late_every: int = 0
    late_delay: float = 0.0
    reply_delay: float = 0.0  # every on-time reply waits this long (a slow slave keeps requests in flight)
    flip_probability: float = 0.0
    seed: int = 1
    requests: int = 0
    flipped: int = 0
    _fd: int = -1
    _buffer: bytearray = field(default_factory=bytearray)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)
    _rng: random.Random = field(default_factory=random.Random)

    def start(self) -> FakeRtuSlave:
        self._rng.seed(self.seed)
        self._fd = os.open(self.path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        tty.setraw(self._fd, termios.TCSANOW)
        asyncio.get_running_loop().add_reader(self._fd, self._readable)
        return self

    def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._fd >= 0:
            asyncio.get_running_loop().remove_reader(self._fd)
            os.close(self._fd)
            self._fd = -1

    def _readable(self) -> None:
        try:
            self._buffer += os.read(self._fd, 4096)
        except BlockingIOError:
            return
        while len(self._buffer) >= 8:
            request = bytes(self._buffer[:8])
            if crc16(request[:6]) != struct.unpack("<H", request[6:8])[0]:
                del self._buffer[0]  # resynchronise on the next byte
                continue
            del self._buffer[:8]
            self._answer(request)

    def _answer(self, request: bytes) -> None:
        unit, fc, address, count = struct.unpack(">BBHH", request[:6])
        if unit != self.unit or fc != 3:
            return
        self.requests += 1
        number = self.requests
        values = [value_of(address + i, number) for i in range(count)]
        reply = frame(bytes([unit, fc, 2 * count]) + struct.pack(f">{count}H", *values))
        if self.flip_probability:
            noisy = bytearray(reply)
            for i in range(len(noisy)):
                if self._rng.random() < self.flip_probability:
                    noisy[i] ^= 1 << self._rng.randrange(8)
                    self.flipped += 1
            reply = bytes(noisy)
        delay = self.late_delay if self.late_every and number % self.late_every == 0 else self.reply_delay
        if delay:
            task = asyncio.get_running_loop().create_task(self._later(reply, delay))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        else:
            os.write(self._fd, reply)

    async def _later(self, reply: bytes, delay: float) -> None:
        await asyncio.sleep(delay)
        if self._fd >= 0:
            os.write(self._fd, reply)
