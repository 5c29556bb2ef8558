"""The drain against a real mosquitto: read-ahead across store batches, and live data first when paho's
write queue is backed up."""

from __future__ import annotations

import time

import pytest

from gateway.store import MessageStore, NewMessage
from gateway.uplink import Forwarder, PahoLink
from gateway.uplink._link_types import AckCallback
from tests.support.waiting import async_wait_until
from tests.uplink.harness import FAST, TOPIC, CountingSubscriber, server


class GatedLink:
    """The real link underneath, with its ``write_pending`` forced on while ``backed_up`` is set: the state
    a slow uplink puts paho in (socket buffer full), which loopback cannot produce on demand."""

    def __init__(self, link: PahoLink) -> None:
        self.link = link
        self.backed_up = True
        self.asked = 0
        self.sent: list[bytes] = []

    @property
    def write_pending(self) -> bool:
        self.asked += 1
        return self.backed_up or self.link.write_pending

    def publish(
        self,
        topic: str,
        payload: bytes,
        qos: int = 0,
        retain: bool = False,
        on_ack: AckCallback | None = None,
    ) -> int:
        self.sent.append(payload)
        return self.link.publish(topic, payload, qos, retain, on_ack)


async def fill(store: MessageStore, count: int) -> None:
    now_ms = time.time_ns() // 1_000_000
    for n in range(count):
        store.append(NewMessage(TOPIC, str(n).encode(), 1, False, 0, now_ms))
    await store.flush()


@pytest.mark.timeout(60)
async def test_drain_crosses_many_read_batches_in_order_and_empties_the_store(mosquitto, tmp_path) -> None:
    counter = CountingSubscriber()
    counter.watch(mosquitto)
    store = MessageStore(tmp_path / "sf.db")
    await store.open()
    await fill(store, 3000)  # about six read batches of 512
    forwarder = Forwarder(store)
    link = PahoLink(server(mosquitto), FAST)
    info = await link.connect()
    try:
        forwarder.attach(link, info.receive_maximum)
        await async_wait_until(
            lambda: counter.received() == set(range(3000)),
            timeout=30,
            message=lambda: f"drained: {forwarder.status()}, {store.status()}",
        )
        await async_wait_until(lambda: store.status().messages == 0, timeout=10, message="store empty")
        assert counter.values == sorted(counter.values)  # original order, no duplicates on a clean run
        assert forwarder.status().drained == 3000
    finally:
        await forwarder.aclose()
        await link.close()
        await store.close()
        counter.close()


@pytest.mark.timeout(30)
async def test_drain_sends_nothing_while_the_write_queue_is_backed_up(mosquitto, tmp_path) -> None:
    store = MessageStore(tmp_path / "sf.db")
    await store.open()
    await fill(store, 50)
    forwarder = Forwarder(store)
    link = PahoLink(server(mosquitto), FAST)
    info = await link.connect()
    gated = GatedLink(link)
    try:
        forwarder.attach(gated, info.receive_maximum)
        await async_wait_until(lambda: gated.asked >= 5, timeout=10, message="the drain checked the queue")
        assert gated.sent == []
        gated.backed_up = False
        await async_wait_until(lambda: store.status().messages == 0, timeout=10, message="drained")
        assert gated.sent == [str(n).encode() for n in range(50)]
    finally:
        await forwarder.aclose()
        await link.close()
        await store.close()
