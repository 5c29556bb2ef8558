"""Fixtures of the driver tests: real simulators and the scripted fake Modbus device."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import pytest

from drivers.simulators import ModbusSimulator, OpcUaSimulator
from tests.drivers.fake_modbus import FakeModbusDevice
from tests.drivers.support import ThreadedOpcUaSimulator

FakeFactory = Callable[..., Awaitable[FakeModbusDevice]]


@pytest.fixture
async def fake_modbus_device() -> AsyncIterator[FakeFactory]:
    started: list[FakeModbusDevice] = []

    async def make(**kwargs: Any) -> FakeModbusDevice:
        device = await FakeModbusDevice(**kwargs).start()
        started.append(device)
        return device

    yield make
    for device in started:
        await device.stop()


@pytest.fixture
async def modbus_sim() -> AsyncIterator[ModbusSimulator]:
    sim = ModbusSimulator(update_interval=0.05)
    await sim.start()
    yield sim
    await sim.stop()


@pytest.fixture(scope="module")
def opcua_sim_thread() -> Iterator[ThreadedOpcUaSimulator]:
    runner = ThreadedOpcUaSimulator(update_interval=0.05)
    runner.start()
    yield runner
    runner.stop()


@pytest.fixture
def opcua_sim(opcua_sim_thread: ThreadedOpcUaSimulator) -> OpcUaSimulator:
    assert opcua_sim_thread.sim is not None
    return opcua_sim_thread.sim
