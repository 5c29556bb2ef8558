"""Read-only accessors of the Broker (what the control plane shows): connected clients with their
subscriptions, retained messages, and whether a topic has subscribers."""

from __future__ import annotations

import time

from gateway.broker import Broker
from tests.broker.conftest import BrokerFactory
from tests.broker.paho_client import PahoClient
from tests.support.waiting import async_wait_until


async def test_clients_show_their_subscriptions_with_options(broker: Broker) -> None:
    before = time.time()
    client = PahoClient("snap-sub", version=5)
    await client.connect(broker.ports[0], keepalive=40)
    try:
        await client.subscribe("plant/#", qos=1)
        await client.subscribe("alarms/+", qos=2, noLocal=True, retainAsPublished=True, retainHandling=2)
        (snap,) = [c for c in broker.clients(10, 10) if c.client_id == "snap-sub"]
        assert [s.topic_filter for s in snap.subscriptions] == ["plant/#", "alarms/+"]
        alarms = snap.subscriptions[1]
        assert (alarms.qos, alarms.no_local, alarms.retain_as_published, alarms.retain_handling) == (
            2,
            True,
            True,
            2,
        )
        assert snap.subscription_count == 2 and snap.version == 5 and snap.keep_alive_s == 40
        assert snap.peer_host == "127.0.0.1" and snap.username is None
        assert before - 1 <= snap.connected_at <= time.time() + 1
        # the caps: fewer subscriptions listed, the true count kept
        (capped,) = [c for c in broker.clients(10, 1) if c.client_id == "snap-sub"]
        assert len(capped.subscriptions) == 1 and capped.subscription_count == 2
    finally:
        client.stop()


async def test_the_client_list_is_capped(broker: Broker) -> None:
    clients = [PahoClient(f"snap-{i}", version=4) for i in range(3)]
    for client in clients:
        await client.connect(broker.ports[0])
    try:
        assert len(broker.clients(10, 5)) == 3
        assert len(broker.clients(2, 5)) == 2
        assert broker.clients(0, 5) == ()
    finally:
        for client in clients:
            client.stop()


async def test_retained_messages_are_listed_and_a_replacement_is_a_new_payload(broker: Broker) -> None:
    client = PahoClient("snap-pub", version=5)
    await client.connect(broker.ports[0])
    try:
        await client.publish("plant/a", b"12345", qos=1, retain=True)
        await client.publish("plant/b", b"x", qos=0, retain=True)
        await async_wait_until(lambda: len(broker.retained(10)) == 2, timeout=10, message="two retained")
        first = {r.topic: r for r in broker.retained(10)}
        assert (first["plant/a"].qos, first["plant/a"].payload) == (1, b"12345")
        assert len(broker.retained(1)) == 1
        await client.publish("plant/a", b"12345", qos=1, retain=True)  # same bytes, a new message
        await async_wait_until(
            lambda: (
                {r.topic: r for r in broker.retained(10)}["plant/a"].payload is not first["plant/a"].payload
            ),
            timeout=10,
            message="plant/a replaced",
        )
        await client.publish("plant/b", b"", qos=0, retain=True)  # cleared
        await async_wait_until(
            lambda: [r.topic for r in broker.retained(10)] == ["plant/a"],
            timeout=10,
            message="plant/b cleared",
        )
    finally:
        client.stop()


async def test_has_subscribers_follows_subscriptions(broker_factory: BrokerFactory) -> None:
    broker = await broker_factory()
    topic = "$GW/v1/sparkplug/sent/s/spBv1.0/G/NDATA/E"
    assert not broker.has_subscribers(topic)
    client = PahoClient("snap-watch", version=5)
    await client.connect(broker.ports[0])
    try:
        await client.subscribe("#")  # '#' never matches a '$' topic [MQTT-4.7.2-1]
        assert not broker.has_subscribers(topic)
        await client.subscribe("$GW/v1/sparkplug/#")
        assert broker.has_subscribers(topic)
        client.client.unsubscribe("$GW/v1/sparkplug/#")
        await async_wait_until(lambda: not broker.has_subscribers(topic), timeout=10, message="unsubscribed")
        handle = broker.subscribe("$GW/v1/sparkplug/sent/#", lambda _m: None)
        assert broker.has_subscribers(topic)
        handle.unsubscribe()
        assert not broker.has_subscribers(topic)
    finally:
        client.stop()
