"""Fixtures of the driver tests: real simulators and the scripted fake Modbus device."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from drivers.simulators import ModbusSimulator, OpcUaSimulator
from tests.drivers.fake_modbus import FakeModbusDevice
from tests.drivers.support import ThreadedOpcUaSimulator
from tests.support.waiting import wait_until

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


class SocatPair:
    """Two linked ptys from Debian socat; ``device_side`` and ``gateway_side`` are stable symlinks."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.device_side = directory / "device"
        self.gateway_side = directory / "gateway"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> SocatPair:
        for link in (self.device_side, self.gateway_side):
            link.unlink(missing_ok=True)
        self.process = subprocess.Popen(
            ["socat", f"pty,raw,echo=0,link={self.device_side}", f"pty,raw,echo=0,link={self.gateway_side}"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until(
            lambda: self.device_side.exists() and self.gateway_side.exists(),
            timeout=10,
            message="socat to create its ptys",
        )
        return self

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(10)
            self.process = None


@pytest.fixture
def rtu_bus(tmp_path: Path) -> Iterator[SocatPair]:
    if shutil.which("socat") is None:
        pytest.fail("socat is not installed: ./scripts/setup installs it")
    pair = SocatPair(tmp_path).start()
    yield pair
    pair.kill()
