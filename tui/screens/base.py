"""What every screen shares: the status bar, the footer, the filter, commands and confirmation.

A screen repaints from the model when the app's redraw timer calls :meth:`GatewayScreen.repaint`
(at most ``redraw_hz`` times a second) with the areas and tags that changed since the last repaint;
``full=True`` (on resume, or after a filter change) repaints everything. Screens never read the
network: they read the model and send commands through the app's command channel.

Plant-affecting actions are listed in ``PLANT_ACTIONS``: in read-only mode :meth:`check_action`
returns None for them, so they stay visible in the footer but greyed, and cannot run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, ClassVar, cast

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Footer

from tui._contract import CommandFailed, CommandOk, Request, Response, c
from tui.errors import CommandError
from tui.viewmodel.filtering import RowFilter
from tui.viewmodel.sorting import SortOrder
from tui.widgets.confirm import ConfirmScreen
from tui.widgets.filter_bar import FilterBar
from tui.widgets.status_bar import StatusBar

ContractCommandError = c.CommandError

if TYPE_CHECKING:
    from tui.app import GatewayTui
    from tui.viewmodel.model import GatewayModel


class GatewayScreen(Screen[None]):
    """Base of every top-level screen."""

    SCREEN_TITLE: ClassVar[str] = ""
    PLANT_ACTIONS: ClassVar[frozenset[str]] = frozenset()
    HAS_FILTER: ClassVar[bool] = False
    SORT_COLUMNS: ClassVar[tuple[str, ...]] = ()  # a list screen names its columns: ``s`` sorts
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "filter", "Filter", id="filter"),
        Binding("s", "sort", "Sort (next column)", show=False, id="sort"),
        Binding("y", "copy", "Copy the selected value", show=False, id="copy"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.row_filter = RowFilter.parse("")
        self.row_order = SortOrder(self.SORT_COLUMNS)

    # ---- composition -------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield StatusBar()
        yield from self.compose_body()
        if self.HAS_FILTER:
            yield FilterBar()
        yield Footer()

    def compose_body(self) -> Iterable[Widget]:
        raise NotImplementedError

    @property
    def screen_title(self) -> str:
        return self.SCREEN_TITLE

    @property
    def gw(self) -> GatewayTui:
        return cast("GatewayTui", self.app)

    @property
    def model(self) -> GatewayModel:
        return self.gw.attachment.model

    def now_ms(self) -> int:
        return self.gw.settings.clock()

    # ---- repainting ---------------------------------------------------------------------------------

    def on_screen_resume(self) -> None:
        self.repaint(set(), set(), full=True)

    def repaint(self, dirty: set[str], changed: set[tuple[str, str]], full: bool) -> None:
        bars = self.query(StatusBar)
        if not bars:
            return  # the timer fired while the screen is still being composed
        now = self.now_ms()
        bars.first().show(self.model, now, self.screen_title, self.gw.read_only_reason)
        self.repaint_body(dirty, changed, full, now)

    def repaint_body(self, dirty: set[str], changed: set[tuple[str, str]], full: bool, now_ms: int) -> None:
        raise NotImplementedError

    # ---- filter ----------------------------------------------------------------------------------------

    def action_filter(self) -> None:
        self.query_one(FilterBar).open()

    def on_filter_bar_filter_changed(self, message: FilterBar.FilterChanged) -> None:
        self.row_filter = message.row_filter
        self.repaint(set(), set(), full=True)

    # ---- sort and copy ---------------------------------------------------------------------------------

    def action_sort(self) -> None:
        self.row_order = self.row_order.next()
        self.notify(self.row_order.label, timeout=2)
        self.repaint(set(), set(), full=True)

    def selected_text(self) -> str | None:
        """What ``y`` copies: the selected row's value (None: nothing selected)."""
        return None

    def action_copy(self) -> None:
        text = self.selected_text()
        if text is None:
            self.notify("nothing selected to copy", severity="warning")
            return
        # OSC 52: the terminal puts it on the clipboard, also over SSH (if the terminal allows it)
        self.app.copy_to_clipboard(text)
        self.notify(f"copied: {text}", timeout=3)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "filter" and not self.HAS_FILTER:
            return False
        if action == "sort" and not self.SORT_COLUMNS:
            return False
        if action in self.PLANT_ACTIONS and self.gw.read_only_reason:
            return None  # visible but greyed: the status bar says why
        return True

    # ---- commands ---------------------------------------------------------------------------------------

    async def confirm(self, title: str, details: str, word: str) -> bool:
        """Ask for confirmation (call from a worker): True only when ``word`` was typed."""
        result = await self.app.push_screen_wait(ConfirmScreen(title, details, word))
        return bool(result)

    async def send(
        self, request: Request, what: str, on_failure: Callable[[ContractCommandError], None] | None = None
    ) -> Any:
        """Send ``request``; on success return its result, else tell the person why and return None.

        ``on_failure`` also gets the daemon's error (e.g. to list every configuration problem).
        """
        try:
            response: Response = await self.gw.attachment.commands.call(
                request, timeout=self.gw.settings.command_timeout_s
            )
        except CommandError as exc:
            self.notify(str(exc), title=f"{what}: not done", severity="error", timeout=10)
            return None
        if isinstance(response, CommandFailed):
            err = response.error
            if on_failure is not None:
                on_failure(err)
            lines = [err.message, *err.details[:20]]
            if len(err.details) > 20:
                lines.append(f"... and {len(err.details) - 20} more")
            if err.hint:
                lines.append(f"hint: {err.hint}")
            self.notify(
                "\n".join(lines), title=f"{what} failed ({err.code.value})", severity="error", timeout=15
            )
            return None
        assert isinstance(response, CommandOk)
        return response.data
