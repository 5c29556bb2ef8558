"""SVG snapshots of every screen (pytest-textual-snapshot; Textual pinned to 8.2.8 in pyproject).

Why a recorded stream and a frozen clock: a snapshot must be the same picture on every run and every
machine, so the app is fed tests/tui/data/stream.jsonl (the sample plant encoded with the contract,
written by tests/tui/support/record.py) through the replay source, and its clock is frozen at T0 so
ages and times do not move. Behaviour against live daemons is covered by test_app_behaviour.py and
test_real_daemon.py; these tests only pin the layout.

Regenerate only in a commit that changes the screens or bumps Textual, after looking at the report:
    .venv/bin/pytest tests/tui/test_snapshots.py --snapshot-update
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from tests.tui.support.sample import T0
from tui.app import GatewayTui
from tui.replay import ReplaySource, load_recording
from tui.settings import TuiSettings

STREAM = Path(__file__).parent / "data" / "stream.jsonl"
SnapCompare = Callable[..., bool]


def replay_app(**settings: Any) -> GatewayTui:
    messages = load_recording(STREAM)
    frozen = TuiSettings(clock=lambda: T0, redraw_hz=1, **settings)
    return GatewayTui(frozen, source_factory=ReplaySource.factory(messages))


async def settle(pilot: Pilot[None]) -> None:
    """Apply the replayed messages and repaint once, deterministically (not on the timer)."""
    app = pilot.app
    assert isinstance(app, GatewayTui)
    await pilot.pause()
    app.attachment.drain()
    app.repaint(full=True)
    await pilot.pause()


@pytest.mark.parametrize(
    ("keys", "name"),
    [
        ("1", "overview"),
        ("2", "devices"),
        ("3", "tags"),
        ("4", "uplink"),
        ("5", "store"),
        ("6", "broker"),
        ("7", "traffic"),
        ("8", "events"),
        ("9", "config"),
        ("0", "tools"),
    ],
)
def test_screen(snap_compare: SnapCompare, keys: str, name: str) -> None:
    async def run_before(pilot: Pilot[None]) -> None:
        await pilot.press(keys)
        await settle(pilot)

    assert snap_compare(replay_app(), run_before=run_before, terminal_size=(100, 30))


def test_overview_at_80x24(snap_compare: SnapCompare) -> None:
    async def run_before(pilot: Pilot[None]) -> None:
        await settle(pilot)

    assert snap_compare(replay_app(), run_before=run_before, terminal_size=(80, 24))


def test_device_drill_down_read_only(snap_compare: SnapCompare) -> None:
    async def run_before(pilot: Pilot[None]) -> None:
        await pilot.press("2", "down", "down", "enter")
        await settle(pilot)

    assert snap_compare(replay_app(read_only=True), run_before=run_before, terminal_size=(100, 30))


def test_broker_at_80x24(snap_compare: SnapCompare) -> None:
    """The broker screen's two tables (clients with their filters, retained topics) fit 80x24."""

    async def run_before(pilot: Pilot[None]) -> None:
        await pilot.press("6")
        await settle(pilot)

    assert snap_compare(replay_app(), run_before=run_before, terminal_size=(80, 24))
