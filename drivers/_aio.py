"""Small asyncio helpers shared by the drivers.

Why not ``asyncio.wait_for``: on Python 3.11 it can swallow a cancellation that arrives while the
inner awaitable completes (CPython gh-86296, fixed in 3.12), which leaves a poll loop running after
``stop()`` cancelled it. ``asyncio.timeout`` does not have that race.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Iterable
from typing import TypeVar

T = TypeVar("T")


async def within(seconds: float, awaitable: Awaitable[T]) -> T:
    """Await ``awaitable``; raise ``TimeoutError`` after ``seconds``."""
    async with asyncio.timeout(seconds):
        return await awaitable


async def cancel_and_wait(tasks: Iterable[asyncio.Task[None]]) -> None:
    """Cancel ``tasks`` and return once every one has finished (cancelling again if one resists)."""
    pending = {t for t in tasks if not t.done()}
    while pending:
        for task in pending:
            task.cancel()
        _done, pending = await asyncio.wait(pending, timeout=1.0)
