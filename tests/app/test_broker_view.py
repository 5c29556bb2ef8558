"""The broker snapshot's lists (clients with subscription filters, retained messages with their age)
against a real embedded broker: caps, the shared subscription budget, reuse between refreshes."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from gateway.app.broker_view import BrokerLists
from gateway.broker import Broker, BrokerSettings, ListenerSettings
from gateway.control import contract as c
from tests.broker.paho_client import PahoClient
from tests.support.waiting import async_wait_until


@pytest.fixture
async def broker() -> AsyncIterator[Broker]:
    broker = Broker(
        BrokerSettings(listeners=(ListenerSettings(host="127.0.0.1", port=0),), allow_anonymous=True)
    )
    await broker.start()
    yield broker
    await broker.stop()


async def test_clients_carry_their_filters_and_retained_messages_their_age(broker: Broker) -> None:
    client = PahoClient("view-1", version=5)
    await client.connect(broker.ports[0])
    try:
        await client.subscribe("plant/#", qos=1, noLocal=True)
        await client.publish("plant/setpoint", b"42", qos=1, retain=True)
        lists = BrokerLists(refresh_s=1.0)
        clients, retained = lists.lists(broker, 100.0, lambda: 5_000)
        (info,) = clients
        assert info.client_id == "view-1" and info.subscriptions == 1 and info.protocol == "5"
        assert info.subscription_filters == (c.SubscriptionInfo("plant/#", 1, True, False, 0),)
        assert retained == (c.RetainedInfo("plant/setpoint", 2, 1, 5_000),)

        # within the refresh interval the very same tuples come back (a cheap comparison upstream)
        again = lists.lists(broker, 100.5, lambda: 5_500)
        assert again[0] is clients and again[1] is retained

        # an unchanged retained message keeps its first-seen time; a replaced one starts again
        assert lists.lists(broker, 101.0, lambda: 6_000)[1][0].since_ms == 5_000
        await client.publish("plant/setpoint", b"42", qos=1, retain=True)
        await async_wait_until(
            lambda: lists.lists(broker, 102.0, lambda: 7_000)[1][0].since_ms == 7_000,
            timeout=10,
            message="the replaced message dated anew",
        )
    finally:
        client.stop()


async def test_subscriptions_share_one_budget_over_all_clients(broker: Broker) -> None:
    clients = [PahoClient(f"budget-{i}", version=4) for i in range(3)]
    try:
        for client in clients:
            await client.connect(broker.ports[0])
            for n in range(3):
                await client.subscribe(f"t/{n}")
        # a budget of 4 over three clients of three subscriptions each: 3 + 1 + 0 listed, counts true
        infos, _ = BrokerLists(subscriptions_limit=4).lists(broker, 0.0, lambda: 0)
        assert sorted(len(i.subscription_filters) for i in infos) == [0, 1, 3]
        assert all(i.subscriptions == 3 for i in infos)
    finally:
        for client in clients:
            client.stop()
