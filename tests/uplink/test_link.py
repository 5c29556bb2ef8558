"""PahoLink against real mosquitto: CONNACK, acks, inbound order, dead-link detection, connect timeouts."""

from __future__ import annotations

import asyncio
import time

import pytest

from gateway.uplink import (
    ConnectRefusedError,
    ConnectTimeoutError,
    FailoverSettings,
    InboundMessage,
    LinkClosedError,
    LinkError,
    MqttVersion,
    PahoLink,
    ServerSettings,
    WillMessage,
)
from tests.support.fault_proxy import FaultProxy, SynBlackhole
from tests.support.waiting import async_wait_until

FAST = FailoverSettings(connect_timeout=1.0, backoff_initial=0.05, backoff_max=0.2, hold_down=1.0)


def server_for(
    port: int, *, keepalive: int = 2, version: MqttVersion = MqttVersion.V311, client_id: str = "gw"
) -> ServerSettings:
    return ServerSettings(
        host="127.0.0.1", port=port, keepalive=keepalive, version=version, client_id=client_id
    )


@pytest.mark.parametrize("version", [MqttVersion.V311, MqttVersion.V5])
async def test_publish_is_acknowledged_and_messages_arrive_in_order(mosquitto, version: MqttVersion) -> None:
    received: list[InboundMessage] = []
    link = PahoLink(server_for(mosquitto.port, version=version), FAST, on_message=received.append)
    info = await link.connect()
    assert info.keepalive == 2 and info.receive_maximum > 0
    await link.subscribe([("t/#", 1)])
    acks: list[bool] = []
    for n in range(200):
        link.publish("t/x", str(n).encode(), qos=1, on_ack=acks.append)
    await async_wait_until(lambda: len(received) == 200 and len(acks) == 200, timeout=10)
    assert [int(m.payload) for m in received] == list(range(200))
    assert all(acks) and link.unacknowledged == 0
    await link.close()
    assert link.closed.done()
    with pytest.raises(LinkClosedError):
        link.publish("t/x", b"late")


async def test_frozen_broker_is_detected_within_one_keepalive(mosquitto) -> None:
    # Keep-alive 3 s: our watchdog needs <= 3 s, paho alone >= 6 s; the bound (1.5x + 1 s of slack for a
    # loaded CI machine) tells them apart. The precise figure is in benchmarks/uplink.py.
    link = PahoLink(server_for(mosquitto.port, keepalive=3), FAST)
    await link.connect()
    mosquitto.freeze()
    try:
        start = time.monotonic()
        reason = await asyncio.wait_for(link.closed, 10)
        elapsed = time.monotonic() - start
    finally:
        mosquitto.thaw()
    assert "frozen or link dead" in reason
    assert elapsed < 1.5 * 3 + 1.0, elapsed
    await link.close()


async def test_half_open_link_is_detected_within_one_keepalive(mosquitto) -> None:
    proxy = FaultProxy("127.0.0.1", mosquitto.port).start()
    try:
        link = PahoLink(server_for(proxy.port, keepalive=3), FAST)
        await link.connect()
        proxy.blackhole()
        start = time.monotonic()
        reason = await asyncio.wait_for(link.closed, 10)
        assert time.monotonic() - start < 1.5 * 3 + 1.0 and "frozen or link dead" in reason
        await link.close()
    finally:
        proxy.stop()


async def test_killed_broker_closes_the_link(mosquitto) -> None:
    link = PahoLink(server_for(mosquitto.port, keepalive=10), FAST)
    await link.connect()
    mosquitto.kill()
    reason = await asyncio.wait_for(link.closed, 5)
    assert "lost" in reason
    await link.close()


async def test_syn_blackhole_fails_within_the_connect_timeout() -> None:
    hole = SynBlackhole()
    try:
        link = PahoLink(server_for(hole.port), FAST)
        start = time.monotonic()
        with pytest.raises(ConnectTimeoutError, match="connect timeout"):
            await link.connect()
        assert time.monotonic() - start < 3 * FAST.connect_timeout
    finally:
        hole.close()


async def test_silent_server_fails_within_the_connack_timeout(mosquitto) -> None:
    proxy = FaultProxy("127.0.0.1", mosquitto.port).start()
    proxy.blackhole()
    try:
        link = PahoLink(server_for(proxy.port), FAST)
        start = time.monotonic()
        with pytest.raises(ConnectTimeoutError, match="no CONNACK"):
            await link.connect()
        assert time.monotonic() - start < 3 * FAST.connect_timeout
    finally:
        proxy.stop()


async def test_refused_port_is_a_link_error() -> None:
    hole = SynBlackhole()
    port = hole.port
    hole.close()
    with pytest.raises(LinkError, match="connection failed"):
        await PahoLink(server_for(port), FAST).connect()


async def test_bad_credentials_are_refused(mosquitto_factory, tmp_path) -> None:
    broker = mosquitto_factory(["allow_anonymous false"])
    # The fixture writes allow_anonymous true first; mosquitto takes the last value in the file.
    with pytest.raises(ConnectRefusedError):
        await PahoLink(server_for(broker.port), FAST).connect()


async def test_will_is_published_when_the_link_dies_and_not_on_clean_close_v5(mosquitto) -> None:
    watcher_messages: list[InboundMessage] = []
    watcher = PahoLink(
        server_for(mosquitto.port, client_id="watcher"), FAST, on_message=watcher_messages.append
    )
    await watcher.connect()
    await watcher.subscribe([("death/#", 1)])
    will = WillMessage("death/gw", b"bdSeq=1", qos=1)
    link = PahoLink(server_for(mosquitto.port, version=MqttVersion.V5), FAST, will=will)
    await link.connect()
    # Intentional close: NDEATH published explicitly, then DISCONNECT 0x04 (the broker sends the Will too).
    await link.close(final=WillMessage("death/gw", b"explicit", qos=1))
    await async_wait_until(lambda: len(watcher_messages) >= 2, timeout=5)
    assert [m.payload for m in watcher_messages[:2]] == [b"explicit", b"bdSeq=1"]
    await watcher.close()


async def test_the_event_loop_keeps_running_while_connecting_to_a_black_hole() -> None:
    hole = SynBlackhole()
    lags: list[float] = []

    async def ticker() -> None:
        while True:
            before = time.monotonic()
            await asyncio.sleep(0.01)
            lags.append(time.monotonic() - before - 0.01)

    task = asyncio.create_task(ticker())
    try:
        with pytest.raises(ConnectTimeoutError):
            await PahoLink(server_for(hole.port), FAST).connect()
    finally:
        task.cancel()
        hole.close()
    # About one tick per 10 ms during the whole connect timeout; none of them held up by the connect.
    assert len(lags) >= 0.5 * FAST.connect_timeout / 0.01
    assert max(lags) < 0.5, max(lags)
