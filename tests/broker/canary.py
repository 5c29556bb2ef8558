"""The ``canary`` of the reliability catalogue: a client that round-trips a QoS 0 message through the broker
every 100 ms and records the RTT, to show the broker keeps serving honest clients during an attack."""

from __future__ import annotations

import asyncio
import contextlib
import time

from gateway.broker.codec import Publish, Suback, Subscribe, SubscriptionRequest
from tests.support.raw_mqtt import RawMQTT


class Canary:
    def __init__(self, port: int, name: str = "canary") -> None:
        self.port = port
        self.name = name
        self.rtts: list[float] = []
        self.failures = 0
        self._task: asyncio.Task[None] | None = None
        self._raw: RawMQTT | None = None

    async def start(self) -> Canary:
        raw = await RawMQTT.open(self.port, local_addr="127.0.0.2")
        await raw.connect(self.name, keep_alive=60)
        await raw.send_packet(Subscribe(1, (SubscriptionRequest(f"canary/{self.name}", 0),)))
        assert isinstance(await raw.read_packet(), Suback)
        self._raw = raw
        self._task = asyncio.create_task(self._run())
        return self

    async def _run(self) -> None:
        raw = self._raw
        assert raw is not None
        while True:
            sent = time.monotonic()
            await raw.send_packet(Publish(f"canary/{self.name}", b"ping", 0))
            try:
                await raw.read_packet(timeout=2.0)
                self.rtts.append(time.monotonic() - sent)
            except TimeoutError:
                self.failures += 1
            await asyncio.sleep(0.1)  # pacing of the probe, not a wait for a condition

    def p99(self) -> float:
        ordered = sorted(self.rtts)
        return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._raw is not None:
            await self._raw.close()
