"""Catalogue T46: uplink codec fuzzing. A hostile upstream must never crash or hang the uplink, and never
cost a stored or acknowledged sample.

A relay in front of a real mosquitto passes the CONNACK through, then injects one mutated
server-to-client packet (seeded mutator: valid packets of every type the server may send, with bit flips,
truncation, inserted bytes, broken length fields, reserved types, random junk), keeps relaying for a short
while, and closes: one case per connection. Meanwhile a producer publishes numbered QoS 1 values through
the forwarder. Every case must end in a reconnect (the uplink keeps running and comes back online) or in
the packet being ignored; at the end, with the relay clean, every accepted value reaches a subscriber on
mosquitto and the store is empty.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import struct
from pathlib import Path

import pytest

from gateway.store import MessageStore
from gateway.uplink import FailoverSettings, Forwarder, ForwardingSession, Uplink, UplinkState
from tests.support.waiting import async_wait_until
from tests.uplink.harness import CountingSubscriber, Producer, assert_all_arrive, server

CASES = int(os.environ.get("UPLINK_FUZZ_CASES", "150"))  # the catalogue's 1 000: about 100 s here
SEED = 46


def _remaining_length(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _packet(first: int, body: bytes) -> bytes:
    return bytes([first]) + _remaining_length(len(body)) + body


def valid_packets(rng: random.Random) -> list[bytes]:
    """Well-formed MQTT 3.1.1 packets a server may send (and a few it must not)."""
    mid = struct.pack(">H", rng.randrange(1, 65536))
    topic = b"spBv1.0/G/NCMD/E"
    publish_qos0 = _packet(0x30, struct.pack(">H", len(topic)) + topic + b"\x08\x01")
    publish_qos1 = _packet(0x32, struct.pack(">H", len(topic)) + topic + mid + b"payload")
    return [
        _packet(0x40, mid),  # PUBACK
        _packet(0x50, mid),  # PUBREC (we never send QoS 2)
        _packet(0x62, mid),  # PUBREL
        _packet(0x70, mid),  # PUBCOMP
        _packet(0x90, mid + b"\x01"),  # SUBACK
        _packet(0xB0, mid),  # UNSUBACK
        _packet(0xD0, b""),  # PINGRESP
        _packet(0x20, b"\x00\x00"),  # a second CONNACK
        _packet(0xE0, b""),  # DISCONNECT from a 3.1.1 server (not allowed)
        publish_qos0,
        publish_qos1,
    ]


def mutate(rng: random.Random) -> bytes:
    packet = bytearray(rng.choice(valid_packets(rng)))
    kind = rng.randrange(8)
    if kind == 0:  # bit flips
        for _ in range(rng.randint(1, 4)):
            i = rng.randrange(len(packet))
            packet[i] ^= 1 << rng.randrange(8)
    elif kind == 1:  # truncated
        del packet[rng.randrange(1, len(packet) + 1) :]
    elif kind == 2:  # bytes inserted
        for _ in range(rng.randint(1, 8)):
            packet.insert(rng.randrange(len(packet) + 1), rng.randrange(256))
    elif kind == 3:  # remaining length too large, too small, or a 5-byte varint
        body = packet[2:]
        packet = (
            bytearray([packet[0]])
            + rng.choice(
                [_remaining_length(len(body) + rng.randint(1, 300)), b"\x00", b"\xff\xff\xff\xff\x7f"]
            )
            + body
        )
    elif kind == 4:  # reserved packet types 0 and 15
        packet[0] = rng.choice([0x00, 0xF0, 0x0F, 0xFF])
    elif kind == 5:  # random junk
        packet = bytearray(rng.randbytes(rng.randint(1, 64)))
    elif kind == 6:  # a PUBLISH whose topic is not valid UTF-8
        bad = b"\xc3\x28\xff"
        packet = bytearray(_packet(0x30, struct.pack(">H", len(bad)) + bad + b"x"))
    else:  # several valid packets glued, one of them flipped
        packet = bytearray(b"".join(rng.sample(valid_packets(rng), 3)))
        packet[rng.randrange(len(packet))] ^= 0xFF
    return bytes(packet)


class FuzzRelay:
    """Relays to ``target``; while ``fuzzing``, injects one mutated packet after the CONNACK of each
    connection and closes the connection ``linger`` seconds later."""

    def __init__(self, target: int, rng: random.Random, linger: float = 0.1) -> None:
        self.target = target
        self.rng = rng
        self.linger = linger
        self.fuzzing = True
        self.cases = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        return int(self._server.sockets[0].getsockname()[1])

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.close()

    async def _handle(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        try:
            server_r, server_w = await asyncio.open_connection("127.0.0.1", self.target)
        except OSError:
            client_w.close()
            return
        upstream = asyncio.create_task(self._pipe(client_r, server_w))
        self._tasks.add(upstream)
        try:
            connack = await server_r.readexactly(4)  # 3.1.1 CONNACK: 0x20 0x02 flags code
            client_w.write(connack)
            if self.fuzzing:
                self.cases += 1
                client_w.write(mutate(self.rng))
            await client_w.drain()
            downstream = self._pipe(server_r, client_w)
            if self.fuzzing:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(downstream, self.linger)
            else:
                await downstream
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            upstream.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await upstream
            self._tasks.discard(upstream)
            client_w.close()
            server_w.close()

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            for task in list(self._tasks):
                task.cancel()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._server.wait_closed(), 5)


@pytest.mark.timeout(180 + CASES // 5)
async def test_mutated_packets_from_upstream_never_crash_the_uplink_or_lose_data(
    mosquitto, tmp_path: Path
) -> None:
    loop = asyncio.get_running_loop()
    loop_errors: list[dict[str, object]] = []
    previous_handler = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: loop_errors.append(context))
    relay = FuzzRelay(mosquitto.port, random.Random(SEED))
    port = await relay.start()
    counter = CountingSubscriber()
    counter.watch(mosquitto)
    store = MessageStore(tmp_path / "sf.db", commit_interval=0.01)
    await store.open()
    forwarder = Forwarder(store)
    settings = FailoverSettings(connect_timeout=2.0, backoff_initial=0.05, backoff_max=0.2, hold_down=None)
    uplink = Uplink([server(port, name="fuzzed", keepalive=2)], ForwardingSession(forwarder), settings)
    task = asyncio.create_task(uplink.run())
    producer = Producer(forwarder, period=0.01)
    producer.start()
    try:
        await async_wait_until(
            lambda: relay.cases >= CASES or task.done(),
            timeout=150 + CASES // 5,
            interval=0.05,
            message=lambda: f"{CASES} cases (done {relay.cases}), status {uplink.status()}",
        )
        assert not task.done(), task  # the supervisor never died
        relay.fuzzing = False
        await async_wait_until(
            lambda: uplink.status().state is UplinkState.ONLINE,
            timeout=20,
            message=lambda: f"online through the clean relay, status {uplink.status()}",
        )
        await producer.stop()
        duplicates = await assert_all_arrive(producer, counter, timeout=60)
        await async_wait_until(lambda: store.status().messages == 0, timeout=30, message="store drained")
        assert not loop_errors, loop_errors[:3]
        print(f"{relay.cases} cases, {producer.sent} values, {duplicates} duplicates")
    finally:
        await producer.stop()
        await uplink.stop()
        await asyncio.wait_for(task, 10)
        await forwarder.aclose()
        await store.close()
        counter.close()
        await relay.close()
        loop.set_exception_handler(previous_handler)
