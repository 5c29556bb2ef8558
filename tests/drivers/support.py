"""Test helpers for drivers: collect a driver's samples, run an OPC UA simulator in its own thread."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import itertools
import threading
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, cast

from drivers import Driver, Quality, Sample
from drivers.simulators import OpcUaSimulator
from tests.support.waiting import async_wait_until

T = TypeVar("T")


class Collector:
    """Consumes a driver's samples in a task; keeps every sample and the latest per tag."""

    def __init__(self, driver: Driver) -> None:
        self.driver = driver
        self.samples: list[Sample] = []
        self.latest: dict[str, Sample] = {}
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Collector:
        await self.driver.start()
        self._task = asyncio.create_task(self._run())
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.driver.stop()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        async for batch in self.driver.samples():
            self.samples.extend(batch)
            for sample in batch:
                self.latest[sample.tag] = sample

    def of(self, tag: str) -> list[Sample]:
        return [s for s in self.samples if s.tag == tag]

    async def wait_quality(self, tag: str, quality: Quality, timeout: float = 10.0) -> Sample:
        def check() -> Sample | None:
            s = self.latest.get(tag)
            return s if s is not None and s.quality is quality else None

        return await _sample_until(
            check, timeout, lambda: f"{tag} {quality.name}, latest {self.latest.get(tag)}"
        )

    async def wait_seen(self, tag: str, quality: Quality, timeout: float = 10.0) -> Sample:
        """The first sample of ``tag`` with ``quality``, even if a later sample has replaced it."""

        def check() -> Sample | None:
            return next((s for s in self.samples if s.tag == tag and s.quality is quality), None)

        return await _sample_until(check, timeout, lambda: f"a {quality.name} sample of {tag}")

    async def wait_count(
        self, tag: str, count: int, timeout: float = 10.0, quality: Quality = Quality.GOOD
    ) -> None:
        await async_wait_until(
            lambda: len([s for s in self.of(tag) if s.quality is quality]) >= count,
            timeout=timeout,
            message=f"{count} {quality.name} samples of {tag}",
        )


def interleaving_violations(samples: list[Sample], dead: str, live: tuple[str, ...]) -> list[str]:
    """Gaps between two consecutive BAD samples of ``dead`` (one per timed-out attempt) in which
    some ``live`` tag got no GOOD sample, described for the assertion message."""
    stream = [s for s in samples if s.tag == dead or s.tag in live]
    bad_at = [i for i, s in enumerate(stream) if s.tag == dead and s.quality is Quality.BAD]
    problems = []
    for n, (a, b) in enumerate(itertools.pairwise(bad_at)):
        served = {s.tag for s in stream[a + 1 : b] if s.quality is Quality.GOOD}
        if served != set(live):
            problems.append(f"between timeouts {n} and {n + 1}: only {sorted(served)} read")
    return problems


class ThreadedOpcUaSimulator:
    """An :class:`OpcUaSimulator` in a thread with its own event loop, so one server can serve many
    tests (asyncua's ~1.5 s start-up is paid once per module) while each test has its own loop."""

    def __init__(self, **kwargs: Any) -> None:
        self.kwargs = kwargs
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="opcua-sim", daemon=True)
        self.sim: OpcUaSimulator | None = None

    def start(self, timeout: float = 30.0) -> OpcUaSimulator:
        self.thread.start()
        self.sim = OpcUaSimulator(**self.kwargs)
        self.call(self.sim.start, timeout=timeout)
        return self.sim

    def call(self, fn: Callable[..., Awaitable[T]], *args: Any, timeout: float = 10.0) -> T:
        future = asyncio.run_coroutine_threadsafe(_run(fn, *args), self.loop)
        return future.result(timeout)

    async def acall(self, fn: Callable[..., Awaitable[T]], *args: Any, timeout: float = 10.0) -> T:
        future: concurrent.futures.Future[T] = asyncio.run_coroutine_threadsafe(_run(fn, *args), self.loop)
        return await asyncio.wait_for(asyncio.wrap_future(future), timeout)

    def stop(self) -> None:
        if self.sim is not None:
            self.call(self.sim.stop)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


async def _run(fn: Callable[..., Awaitable[T]], *args: Any) -> T:
    return await fn(*args)


async def _sample_until(
    check: Callable[[], Sample | None], timeout: float, message: Callable[[], str]
) -> Sample:
    """Poll ``check`` until it returns a sample. The cast: ``async_wait_until`` returns the first
    truthy value, which mypy cannot narrow from ``Sample | None`` through its ``T | Awaitable[T]``."""
    return await async_wait_until(cast("Callable[[], Sample]", check), timeout=timeout, message=message)
