"""Helpers for Pilot tests: wait for a condition while the app runs (with a deadline, never a sleep),
and read the screen as plain text, the way a person reads it."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from textual.app import App
from textual.pilot import Pilot

from tests.support.waiting import ConditionTimeoutError


async def wait_for(
    pilot: Pilot[Any], predicate: Callable[[], object], what: str, timeout: float = 20.0
) -> None:
    """Let the app run (``pilot.pause``) until ``predicate()`` is truthy, or fail naming ``what``."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise ConditionTimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
        await pilot.pause(0.02)


def screen_text(app: App[Any]) -> str:
    """The visible screen (including modal dialogs and toasts) as lines of plain text."""
    strips = app.screen._compositor.render_strips()
    return "\n".join(strip.text for strip in strips)


async def wait_text(pilot: Pilot[Any], needle: str, timeout: float = 20.0) -> None:
    """Wait until ``needle`` is on screen."""
    await wait_for(pilot, lambda: needle in screen_text(pilot.app), f"{needle!r} on screen", timeout)
