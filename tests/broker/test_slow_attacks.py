"""Catalogue A/B: huge declared lengths (T3), packet size (T4), alias abuse (T5), property floods (T6),
SlowITe keep-alive cap (T11), per-source caps (T12), CONNECT deadline (T13), Slowloris CONNECT and TLS (T14),
stalled subscriber (T15). Honest clients keep being served (canary) while attacks run."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import ssl
from pathlib import Path

import psutil
import pytest

from gateway.broker import Broker, BrokerSettings, ListenerSettings, TlsSettings
from gateway.broker.codec import (
    Connect,
    Properties,
    Publish,
    Suback,
    Subscribe,
    SubscriptionRequest,
    Will,
    encode,
)
from gateway.broker.codec.wire import encode_varint
from tests.broker.canary import Canary
from tests.broker.conftest import BrokerFactory, RawFactory
from tests.support.raw_mqtt import RawMQTT
from tests.support.waiting import async_wait_until

CONNECT_V4 = "10 0d 00 04 4d 51 54 54 04 02 00 00 00 01 61"


def rss() -> int:
    return int(psutil.Process(os.getpid()).memory_info().rss)


@pytest.mark.timeout(60)
async def test_t3_huge_remaining_length_first_packets(broker: Broker, raw_mqtt: RawFactory) -> None:
    before = rss()
    sockets = [await raw_mqtt(broker.ports[0]) for _ in range(15)]
    filler = bytes(65_536)
    for index, raw in enumerate(sockets):
        first = 0x10 * (index + 1) if index < 15 else 0x10
        with contextlib.suppress(ConnectionError):
            await raw.send(bytes((first,)) + bytes.fromhex("80 80 80 74"))
            for _ in range(160):  # up to 10 MB of filler, until the broker has closed
                await raw.send(filler)
    for raw in sockets:
        await raw.expect_closed(2.0)
    assert rss() - before < 5 * 1024 * 1024
    assert not broker.core.connections


@pytest.mark.parametrize("version", [4, 5])
async def test_t4_packet_size_limits(
    broker_factory: BrokerFactory, raw_mqtt: RawFactory, version: int
) -> None:
    broker = await broker_factory(max_packet_size=65_536)
    early = await raw_mqtt(broker.ports[0], version=version)
    await early.send(b"\x10" + encode_varint(100_000))  # CONNECT header only: closed before any body
    await early.expect_closed(1.0)
    raw = await raw_mqtt(broker.ports[0], version=version)
    ack = await raw.connect("big")
    if version == 5:
        assert ack.properties.maximum_packet_size == 65_536
    await raw.send(b"\x30" + encode_varint(65_537 - 4))  # a 65 537-byte PUBLISH, header only
    if version == 5:
        await raw.expect_disconnect(0x95)
    else:
        await raw.expect_closed(1.0)


async def test_t5_topic_alias_remapping(broker: Broker, raw_mqtt: RawFactory) -> None:
    raw = await raw_mqtt(broker.ports[0], version=5)
    await raw.connect("aliaser")
    for index in range(10_000):
        await raw.send_packet(
            Publish(f"t/{index}", b"", 0, properties=Properties(topic_alias=1 + index % 10))
        )
    await raw.send_hex("c0 00")
    await raw.expect_hex("d0 00", timeout=20)  # behind 10 000 PUBLISH on a shared, busy machine
    conn = broker.core.sessions["aliaser"].connection
    assert conn is not None
    assert len(conn._alias_in) == 10


@pytest.mark.timeout(60)
async def test_t6_user_property_floods_do_not_starve_others(broker: Broker, raw_mqtt: RawFactory) -> None:
    canary = await Canary(broker.ports[0]).start()
    huge = Properties(user_properties=(("", ""),) * 30_000)  # ~150 KB of empty pairs
    allowed = Properties(user_properties=(("", ""),) * 1000)
    huge_connect = encode(Connect(5, "flood", properties=huge), 5)
    ok_connect = encode(Connect(5, "flood", properties=allowed), 5)
    huge_publish = encode(Publish("flood/t", b"x", 0, properties=huge), 5)
    try:
        raw = await raw_mqtt(broker.ports[0], version=5)
        await raw.send(huge_connect)
        assert (await raw.read_packet()).reason_code == 0x83  # type: ignore[union-attr]
        await raw.expect_closed()
        for _ in range(20):
            raw = await raw_mqtt(broker.ports[0], version=5)
            await raw.send(ok_connect)
            assert (await raw.read_packet()).reason_code == 0  # type: ignore[union-attr]
            await raw.send(huge_publish)
            await raw.expect_disconnect(0x83)
            await asyncio.sleep(0.1)  # the attack's rate: 10 per second
    finally:
        await canary.stop()
    assert canary.failures == 0
    assert canary.p99() < 0.1, canary.p99()
    assert not broker.core.sessions.get("flood")


async def test_t6_rejected_connect_leaves_no_session_or_will(broker: Broker, raw_mqtt: RawFactory) -> None:
    got: list[str] = []
    broker.subscribe("w/#", lambda m: got.append(m.topic))
    raw = await raw_mqtt(broker.ports[0], version=5)
    bad_will = Properties(payload_format_indicator=1)
    data = bytearray(encode(Connect(5, "rejected", will=Will("w/x", b"", 0, False, bad_will)), 5))
    # duplicate the Payload Format Indicator inside the Will properties: 0x02 01 01 -> 0x04 01 01 01 01
    marker = data.index(b"\x02\x01\x01")
    data[marker : marker + 3] = b"\x04\x01\x01\x01\x01"
    data[1] += 2
    await raw.send(bytes(data))
    ack = await raw.read_packet()
    assert ack.reason_code == 0x82  # type: ignore[union-attr]
    await raw.expect_closed()
    assert not broker.core.sessions
    broker.publish("w/sync", b"", 0)
    assert got == ["w/sync"]


@pytest.mark.timeout(30)
async def test_t11_keepalive_cap_applies_to_v311_v5_and_zero(
    broker_factory: BrokerFactory, raw_mqtt: RawFactory
) -> None:
    broker = await broker_factory(max_keepalive=4)
    clients = []
    for version, keep_alive in ((4, 65_535), (4, 0), (5, 65_535), (5, 0)):
        raw = await raw_mqtt(broker.ports[0], version=version)
        ack = await raw.connect(f"slowite-{version}-{keep_alive}", keep_alive=keep_alive)
        if version == 5:
            assert ack.properties.server_keep_alive == 4
        clients.append(raw)
    durations = await asyncio.gather(*(raw.expect_closed(10.0) for raw in clients))
    # 1.5 x 4 s plus the 0.25 s timer granularity
    assert all(5.5 <= d <= 7.5 for d in durations), durations
    assert broker.stats.keepalive_timeouts == 4


@pytest.mark.timeout(60)
async def test_t12_per_source_caps_keep_honest_clients_served(
    broker_factory: BrokerFactory, raw_mqtt: RawFactory
) -> None:
    broker = await broker_factory(
        max_connections=100, max_connections_per_source=20, connection_rate=50, connection_burst=20
    )
    canary = await Canary(broker.ports[0]).start()
    accepted = 0
    attackers: list[RawMQTT] = []
    try:
        for index in range(150):
            try:
                raw = await raw_mqtt(broker.ports[0], local_addr="127.0.0.3")
                await raw.send_hex(CONNECT_V4[:-2] + f"{0x41 + index % 26:02x}")
                attackers.append(raw)
            except ConnectionError:
                continue
        for raw in attackers:
            try:
                frame = await raw.read_frame(1.0)
                accepted += frame[:2] == b"\x20\x02"
            except (EOFError, asyncio.IncompleteReadError, ConnectionError):
                pass
        honest = await raw_mqtt(broker.ports[0], local_addr="127.0.0.4")
        await honest.connect("honest")
        internal: list[bytes] = []
        broker.subscribe("internal", lambda m: internal.append(m.payload))
        assert broker.publish("internal", b"ok", 0) == 1
    finally:
        await canary.stop()
    assert internal == [b"ok"]
    assert accepted <= 20
    assert broker.stats.connections_refused >= 130
    assert canary.failures == 0 and canary.p99() < 0.1


@pytest.mark.timeout(30)
async def test_t13_connect_deadline(broker_factory: BrokerFactory, raw_mqtt: RawFactory) -> None:
    broker = await broker_factory(connect_timeout=2.0)
    silent = await raw_mqtt(broker.ports[0])
    one_byte = await raw_mqtt(broker.ports[0])
    await one_byte.send_hex("10")
    durations = await asyncio.gather(silent.expect_closed(5.0), one_byte.expect_closed(5.0))
    assert all(1.5 <= d <= 3.2 for d in durations), durations
    assert broker.stats.connect_timeouts == 2


async def _trickle(raw: RawMQTT, data: bytes, interval: float) -> None:
    with contextlib.suppress(ConnectionError):
        for byte in data:
            await raw.send(bytes((byte,)))
            await asyncio.sleep(interval)  # the attack itself: one byte per interval


@pytest.mark.timeout(30)
async def test_t14_slowloris_connect_hits_the_absolute_deadline(
    broker_factory: BrokerFactory, raw_mqtt: RawFactory
) -> None:
    broker = await broker_factory(connect_timeout=2.0)
    valid = await raw_mqtt(broker.ports[0])
    declared = await raw_mqtt(broker.ports[0])
    tasks = [
        asyncio.create_task(_trickle(valid, bytes.fromhex(CONNECT_V4), 0.3)),
        asyncio.create_task(_trickle(declared, b"\x10" + encode_varint(60_000) + bytes(100), 0.3)),
    ]
    durations = await asyncio.gather(valid.expect_closed(5.0), declared.expect_closed(5.0))
    for task in tasks:
        task.cancel()
    assert all(1.5 <= d <= 3.2 for d in durations), durations


@pytest.mark.timeout(30)
async def test_t14_slow_tls_handshake(tmp_path: Path) -> None:
    trustme = pytest.importorskip("trustme")
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    certfile, keyfile = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.cert_chain_pems[0].write_to_path(certfile)
    cert.private_key_pem.write_to_path(keyfile)
    keyfile.chmod(0o600)
    tls = TlsSettings(certfile=certfile, keyfile=keyfile, handshake_timeout=1.0)
    settings = BrokerSettings(
        listeners=(ListenerSettings(port=0, tls=tls),), allow_anonymous=True, sys_interval=0
    )
    async with Broker(settings) as broker:
        no_hello = await RawMQTT.open(broker.ports[0])
        hello_only = await RawMQTT.open(broker.ports[0])
        incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        client_side = ssl.create_default_context().wrap_bio(incoming, outgoing, server_hostname="127.0.0.1")
        with contextlib.suppress(ssl.SSLWantReadError):
            client_side.do_handshake()
        await hello_only.send(outgoing.read())  # the ClientHello, then silence
        durations = await asyncio.gather(no_hello.expect_closed(5.0), hello_only.expect_closed(5.0))
        assert all(0.5 <= d <= 2.0 for d in durations), durations
        # and an honest TLS client still gets through
        context = ssl.create_default_context()
        ca.configure_trust(context)
        reader, writer = await asyncio.open_connection("127.0.0.1", broker.ports[0], ssl=context)
        tls_client = RawMQTT(reader, writer)
        await tls_client.connect("tls-ok")
        await tls_client.close()


@pytest.mark.timeout(120)
async def test_t15_stalled_subscriber_cannot_grow_memory(
    broker_factory: BrokerFactory, raw_mqtt: RawFactory
) -> None:
    broker = await broker_factory(output_buffer_bytes=256 * 1024)
    loop = asyncio.get_running_loop()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await loop.sock_connect(sock, ("127.0.0.1", broker.ports[0]))
    reader, writer = await asyncio.open_connection(sock=sock)
    stalled = RawMQTT(reader, writer)
    await stalled.connect("stalled")
    await stalled.send_packet(Subscribe(1, (SubscriptionRequest("t", 0),)))
    assert isinstance(await stalled.read_packet(), Suback)
    stalled.writer.transport.pause_reading()  # from here on nothing reads from ``stalled``
    fast = await raw_mqtt(broker.ports[0])
    await fast.connect("fast")
    await fast.send_packet(Subscribe(1, (SubscriptionRequest("t", 0),)))
    assert isinstance(await fast.read_packet(), Suback)
    publisher = await raw_mqtt(broker.ports[0])
    await publisher.connect("pub")
    before = rss()
    payload = bytes(1000)
    frame = encode(Publish("t", payload, 0), 4)
    received = 0
    total = 20_000
    for _batch in range(total // 100):
        await publisher.send(frame * 100)
        for _ in range(100):
            await fast.read_frame(5.0)
            received += 1
    growth = rss() - before
    stats = broker.stats
    assert received >= 0.99 * total
    assert stats.dropped_qos0 > 0 or stats.slow_consumers_disconnected == 1
    assert growth < 20 * 1024 * 1024, f"RSS grew by {growth / 1e6:.1f} MB"
    await stalled.close()
    await async_wait_until(lambda: "stalled" not in broker.core.sessions, timeout=5)


async def test_tls_client_certificate_cn_reaches_the_authenticator(tmp_path: Path) -> None:
    """The shell passes the verified certificate's CN (and the listener's use_identity_as_username) on."""
    from gateway.broker import AuthDecision, AuthRequest

    trustme = pytest.importorskip("trustme")
    ca = trustme.CA()
    server_cert = ca.issue_cert("127.0.0.1")
    client_cert = ca.issue_cert("plc-7.example", common_name="plc-7")
    certfile, keyfile, cafile = tmp_path / "cert.pem", tmp_path / "key.pem", tmp_path / "ca.pem"
    server_cert.cert_chain_pems[0].write_to_path(certfile)
    server_cert.private_key_pem.write_to_path(keyfile)
    keyfile.chmod(0o600)
    ca.cert_pem.write_to_path(cafile)
    tls = TlsSettings(certfile, keyfile, cafile, require_certificate=True, use_identity_as_username=True)
    seen: list[AuthRequest] = []

    class Recorder:
        def authenticate(self, request: AuthRequest) -> AuthDecision:
            seen.append(request)
            return AuthDecision(True, username=request.peer_cert_cn)

    settings = BrokerSettings(listeners=(ListenerSettings(port=0, tls=tls),), sys_interval=0)
    async with Broker(settings, authenticator=Recorder()) as broker:
        context = ssl.create_default_context()
        ca.configure_trust(context)
        client_cert.configure_cert(context)
        reader, writer = await asyncio.open_connection("127.0.0.1", broker.ports[0], ssl=context)
        client = RawMQTT(reader, writer)
        await client.connect("plc")
        await client.close()
        without = ssl.create_default_context()
        ca.configure_trust(without)
        refused = None
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", broker.ports[0], ssl=without)
            refused = RawMQTT(reader, writer)
            with pytest.raises(asyncio.IncompleteReadError):  # TLS 1.3: the alert comes after the handshake
                await refused.connect("nocert")
        except (ssl.SSLError, ConnectionError):
            pass  # TLS 1.2 style: the handshake itself fails
        finally:
            if refused is not None:
                await refused.close()
    assert [(r.client_id, r.peer_cert_cn, r.use_identity_as_username) for r in seen] == [
        ("plc", "plc-7", True)
    ]


@pytest.mark.timeout(60)
async def test_slowite_from_many_addresses_is_cleared_by_the_keepalive_cap(
    broker_factory: BrokerFactory, raw_mqtt: RawFactory
) -> None:
    """SlowITe from five addresses fills every slot with silent keep-alive-0 connections; honest clients get
    Server busy (0x89) for at most 1.5 x max_keepalive, then the cap frees the slots and they are served.
    The canary, connected before the attack, is served throughout."""
    broker = await broker_factory(max_connections=101, max_connections_per_source=20, max_keepalive=2)
    canary = await Canary(broker.ports[0]).start()
    try:
        attackers = []
        for host in range(10, 15):
            for index in range(20):
                raw = await raw_mqtt(broker.ports[0], version=5, local_addr=f"127.0.0.{host}")
                await raw.connect(f"slowite-{host}-{index}", keep_alive=0)
                attackers.append(raw)
        assert broker.core.connected == 101
        honest = await raw_mqtt(broker.ports[0], version=5, local_addr="127.0.0.20")
        await honest.connect("honest", expect_reason=0x89)
        await async_wait_until(lambda: broker.core.connected == 1, timeout=10, message="attackers timed out")
        again = await raw_mqtt(broker.ports[0], version=5, local_addr="127.0.0.20")
        await again.connect("honest")
    finally:
        await canary.stop()
    assert canary.failures == 0
    assert broker.stats.keepalive_timeouts == 100
