"""The Tags screen's rows: ages as of the once-a-second age refresh, and cached cells that follow
every change of what a row shows (the replayed sample plant; the clock is the test's)."""

from __future__ import annotations

from pathlib import Path

from textual.geometry import Region

from tests.tui.support.sample import T0
from tui.app import GatewayTui
from tui.replay import ReplaySource, load_recording
from tui.screens.tags import TagsScreen
from tui.settings import TuiSettings
from tui.viewmodel.model import TagEntry
from tui.widgets.row_view import RowView

STREAM = Path(__file__).parent / "data" / "stream.jsonl"


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> int:
        return self.now


def rows_text(view: RowView) -> list[str]:
    width, height = view.size
    return [strip.text for strip in view.render_lines(Region(0, 0, width, height))]


def row_of(lines: list[str], key: str) -> str:
    return next(line for line in lines if line.startswith(key))


async def test_ages_move_once_a_second_and_changed_values_show_at_once() -> None:
    clock = Clock()
    settings = TuiSettings(clock=clock, redraw_hz=0.01)  # the test repaints, not the timer
    app = GatewayTui(settings, source_factory=ReplaySource.factory(load_recording(STREAM)))
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.pause()
        app.attachment.drain()
        await pilot.press("3")
        await pilot.pause()
        app.repaint(full=True)
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, TagsScreen)
        view = screen.query_one("#tags", RowView)
        first = row_of(rows_text(view), "skid-1/temperature")
        assert " 0.9s " in first and "21.5 degC" in first

        # 0.4 s later a row drawn again (a scroll, a cursor move) keeps the age of the last refresh
        clock.now = T0 + 400
        app.repaint()
        view.refresh()
        await pilot.pause()
        assert row_of(rows_text(view), "skid-1/temperature") == first

        # a new value shows at once; it is newer than the last age refresh: 0.0s until the next
        entry = app.attachment.model.tags["skid-1"]["temperature"]
        assert isinstance(entry, TagEntry)
        entry.value, entry.timestamp_ms = 22.25, T0 + 300
        app.attachment.model.changed_tags.add(("skid-1", "temperature"))
        app.repaint()
        await pilot.pause()
        changed = row_of(rows_text(view), "skid-1/temperature")
        assert "22.25 degC" in changed and " 0.0s " in changed and "00:00:00.300" in changed

        # a second after the last refresh every age moves
        clock.now = T0 + 1_100
        app.repaint()
        await pilot.pause()
        lines = rows_text(view)
        assert " 0.8s " in row_of(lines, "skid-1/temperature")
        assert " 1.8s " in row_of(lines, "line-1/Speed")
