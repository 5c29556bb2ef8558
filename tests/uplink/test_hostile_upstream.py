"""A scripted bad upstream (catalogue T44): each misbehaviour ends in a specific error and a move to the
next server, never in a stuck "connected" state or a traceback. The fake server is raw asyncio on loopback.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import struct
from collections.abc import Awaitable, Callable

import pytest

from gateway.store import MessageStore
from gateway.uplink import Forwarder, ForwardingSession, OutboundMessage, Uplink, UplinkState
from tests.uplink.harness import FAST, CountingSubscriber, server

CONNACK_OK = bytes([0x20, 0x02, 0x00, 0x00])

Script = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def read_connect(reader: asyncio.StreamReader) -> None:
    header = await reader.readexactly(1)
    assert header[0] >> 4 == 1, "expected CONNECT"
    length, multiplier = 0, 1
    while True:
        byte = (await reader.readexactly(1))[0]
        length += (byte & 0x7F) * multiplier
        multiplier *= 128
        if not byte & 0x80:
            break
    await reader.readexactly(length)


async def malformed_connack(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await read_connect(reader)
    writer.write(bytes([0x20, 0x05, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]))  # wrong length, nonsense flags
    await writer.drain()
    await reader.read()


async def stall_mid_packet(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await read_connect(reader)
    writer.write(CONNACK_OK + bytes([0x30, 0x20, 0x00]))  # then half of a PUBLISH, and silence
    await writer.drain()
    while await reader.read(65536):
        pass  # swallow probes and publishes, never answer


async def reset_mid_packet(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await read_connect(reader)
    writer.write(CONNACK_OK + bytes([0x30, 0x20, 0x00, 0x03]))
    await writer.drain()
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


async def unknown_puback(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await read_connect(reader)
    writer.write(CONNACK_OK + bytes([0x40, 0x02, 0x12, 0x34]))  # PUBACK for a packet id never used
    await writer.drain()
    while await reader.read(65536):
        pass  # then silence: the watchdog must still notice


@pytest.mark.timeout(60)
@pytest.mark.parametrize("script", [malformed_connack, stall_mid_packet, reset_mid_packet, unknown_puback])
async def test_bad_upstream_is_left_for_the_next_server(script: Script, mosquitto, tmp_path) -> None:
    connections = 0

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            await script(reader, writer)
        writer.close()

    fake = await asyncio.start_server(handle, "127.0.0.1", 0)
    fake_port = fake.sockets[0].getsockname()[1]
    counter = CountingSubscriber()
    counter.watch(mosquitto)
    store = MessageStore(tmp_path / "sf.db", commit_interval=0.01)
    await store.open()
    forwarder = Forwarder(store)
    uplink = Uplink(
        [server(fake_port, name="fake"), server(mosquitto, name="B")],
        ForwardingSession(forwarder),
        FAST,
        rng=random.Random(5),
    )
    task = asyncio.create_task(uplink.run())
    try:
        published = [forwarder.publish(OutboundMessage("test/value", str(n).encode())) for n in range(20)]
        deadline = asyncio.get_running_loop().time() + 15
        while not (uplink.status().state is UplinkState.ONLINE and uplink.status().server == "B"):
            assert asyncio.get_running_loop().time() < deadline, uplink.status()
            await asyncio.sleep(0.02)
        await asyncio.gather(*published)
        while counter.received() != set(range(20)):
            assert asyncio.get_running_loop().time() < deadline, counter.received()
            await asyncio.sleep(0.02)
        assert connections >= 1
        assert uplink.status().switches[-1].to_server == "B"
    finally:
        await uplink.stop()
        await asyncio.wait_for(task, 10)
        await forwarder.aclose()
        await store.close()
        counter.close()
        fake.close()
        await fake.wait_closed()
