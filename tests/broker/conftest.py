"""Fixtures for the broker tests: our broker in the test's event loop on an ephemeral port.

- ``broker_factory(**limits)``: start a Broker with allow_anonymous and the given BrokerLimits overrides;
  stopped at the end of the test.
- ``broker``: one with default limits.
- ``raw_mqtt(port, version=4, local_addr=None)``: open a RawMQTT connection, closed at teardown.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from gateway.broker import Broker, BrokerLimits, BrokerSettings, ListenerSettings
from tests.support.raw_mqtt import RawMQTT

BrokerFactory = Callable[..., Awaitable[Broker]]


@pytest.fixture
async def broker_factory() -> AsyncIterator[BrokerFactory]:
    started: list[Broker] = []

    async def start(
        *, sys_interval: float = 0.0, settings: dict[str, Any] | None = None, **limits: Any
    ) -> Broker:
        base = BrokerSettings(
            listeners=(ListenerSettings(host="127.0.0.1", port=0),),
            allow_anonymous=True,
            limits=dataclasses.replace(BrokerLimits(), **limits),
            sys_interval=sys_interval,
        )
        if settings:
            base = dataclasses.replace(base, **settings)
        broker = Broker(base)
        await broker.start()
        started.append(broker)
        return broker

    yield start
    for broker in started:
        await broker.stop()


@pytest.fixture
async def broker(broker_factory: BrokerFactory) -> Broker:
    return await broker_factory()


RawFactory = Callable[..., Awaitable[RawMQTT]]


@pytest.fixture
async def raw_mqtt() -> AsyncIterator[RawFactory]:
    opened: list[RawMQTT] = []

    async def open_raw(port: int, version: int = 4, local_addr: str | None = None) -> RawMQTT:
        client = await RawMQTT.open(port, version=version, local_addr=local_addr)
        opened.append(client)
        return client

    yield open_raw
    for client in opened:
        await client.close()
