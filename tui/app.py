"""The Textual application: modes on number keys, the redraw clock, and the entry point.

    from tui import TuiSettings, run_tui
    run_tui(TuiSettings(host="127.0.0.1", port=1883))

Data flow: the MQTT thread (``tui.connection.client``) queues events and wakes the app with
``post_message(Inbox())`` (thread-safe); :meth:`GatewayTui.on_inbox` drains them into the model on
the UI loop; a timer repaints the visible screen from the model at most ``redraw_hz`` times a
second with only what changed. Keys: digits switch screens (F1-F10 or alt+digit too, which also
work while typing in a field), ``?`` help, ``:``/ctrl+p palette, ``/`` filter, ``s`` sort, ``y``
copy the selected value, Esc back, ``z`` freezes the display, ``q`` quits (the gateway keeps
running).
No binding uses ctrl+a or ctrl+b (screen and tmux prefixes).
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import sys
import time
from collections.abc import Iterable
from typing import ClassVar

from rich.console import RenderableType
from textual import events
from textual.app import App, ScreenStackError, SystemCommand
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.screen import Screen

from tui.connection.attachment import Attachment, SourceFactory
from tui.glyphs import ASCII_CLASS, terminal_is_utf8
from tui.screens.base import GatewayScreen
from tui.screens.broker import BrokerScreen
from tui.screens.config import ConfigScreen
from tui.screens.devices import DevicesScreen
from tui.screens.events import EventsScreen
from tui.screens.overview import OverviewScreen
from tui.screens.store import StoreScreen
from tui.screens.tags import TagsScreen
from tui.screens.tools import ToolsScreen
from tui.screens.traffic import TrafficScreen
from tui.screens.uplink import UplinkScreen
from tui.settings import TuiSettings
from tui.trace import Tracer

SCREENS: tuple[tuple[str, str, str, type[GatewayScreen]], ...] = (
    ("1", "overview", "Overview", OverviewScreen),
    ("2", "devices", "Devices", DevicesScreen),
    ("3", "tags", "Tags", TagsScreen),
    ("4", "uplink", "Uplink", UplinkScreen),
    ("5", "store", "Store", StoreScreen),
    ("6", "broker", "Broker", BrokerScreen),
    ("7", "traffic", "Sparkplug traffic", TrafficScreen),
    ("8", "events", "Events and logs", EventsScreen),
    ("9", "config", "Config", ConfigScreen),
    ("0", "tools", "Tools", ToolsScreen),
)


class Inbox(Message):
    """The connection has queued events (posted from the MQTT thread; thread-safe)."""


class ReadOnlyNow(Message):
    """The UI just became read-only (the broker refused a command with 0x87)."""

    def __init__(self, reason: str) -> None:
        super().__init__()
        self.reason = reason


class GatewayTui(App[None]):
    """The technician's terminal UI, attached to one gateway daemon."""

    TITLE = "edge-gateway"
    MODES: ClassVar = {name: cls for _key, name, _title, cls in SCREENS}
    DEFAULT_MODE = "overview"
    ENABLE_COMMAND_PALETTE = True
    # Not a UTF-8 terminal (tui.glyphs): ASCII borders, and no sparkline (block characters only).
    CSS = """
    GatewayTui.-ascii Panel, GatewayTui.-ascii RichLog { border: ascii $primary-darken-2; }
    GatewayTui.-ascii #tag-detail, GatewayTui.-ascii #detail, GatewayTui.-ascii #result-box {
        border-top: ascii $primary-darken-2;
    }
    GatewayTui.-ascii ModalScreen > Vertical { border: ascii $primary; }
    GatewayTui.-ascii ConfirmScreen > Vertical { border: ascii $error; }
    GatewayTui.-ascii Input { border: ascii $primary-darken-2; }
    GatewayTui.-ascii Sparkline { display: none; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        *(
            Binding(key, f"switch_mode('{name}')", title, show=False, id=f"screen-{name}")
            for key, name, title, _cls in SCREENS
        ),
        # A form or filter input consumes digits (they are text there), so the screens are also on
        # F1-F10 and alt+digit, with priority: they work while typing. (F1 may be taken by the
        # terminal's own help, F10 by its menu: alt+digit then.)
        *(
            Binding(
                f"{fkey},alt+{key}",
                f"switch_mode('{name}')",
                f"{title} (also while typing)",
                show=False,
                priority=True,
                key_display=f"{fkey.upper()}/alt+{key}",
            )
            for (key, name, title, _cls), fkey in zip(SCREENS, [f"f{n}" for n in range(1, 11)], strict=True)
        ),
        Binding("question_mark", "toggle_help", "Help", id="help"),
        Binding("colon", "command_palette", "Palette", show=False, id="palette"),
        Binding("z", "freeze", "Freeze", show=False, id="freeze"),
        Binding("at", "command_log", "Command log", show=False, id="command-log"),
        Binding("q", "quit", "Quit", id="quit"),
    ]

    def __init__(
        self, settings: TuiSettings, source_factory: SourceFactory | None = None, *, ascii_only: bool = False
    ) -> None:
        """``ascii_only``: draw with ASCII only (run_tui sets it when the locale is not UTF-8)."""
        super().__init__()
        self.set_class(ascii_only, ASCII_CLASS)
        self.settings = settings
        self.attachment = Attachment(settings, self._wake, source_factory)
        self.attachment.commands.on_read_only = self._read_only_now
        self.frozen = False
        self.freeze_gc = False  # run_tui turns it on (process-wide: never inside a test process)
        self._gc_frozen_version = -1
        self.tracer = Tracer.from_environment()
        if self.tracer is not None:
            self.attachment.on_decoded = self.tracer.decoded

    # ---- life ----------------------------------------------------------------------------------------

    def _read_only_now(self, reason: str) -> None:
        self.post_message(ReadOnlyNow(reason))

    def _wake(self) -> None:
        self.post_message(Inbox())

    def on_mount(self) -> None:
        self.attachment.start()
        self.set_interval(1.0 / self.settings.redraw_hz, self.repaint)
        if self.tracer is not None:
            self._beat()

    def on_unmount(self) -> None:
        self.attachment.stop()
        if self.tracer is not None:
            self.tracer.close()
            self.tracer = None

    # ---- tracing (EDGE_GATEWAY_TUI_TRACE, see tui.trace) -------------------------------------------

    def _beat(self) -> None:
        # a raw asyncio timer, not Textual's, so its lateness is the loop's own
        if self.tracer is not None:
            asyncio.get_running_loop().call_later(self.tracer.beat(), self._beat)

    async def on_event(self, event: events.Event) -> None:
        if self.tracer is not None and isinstance(event, events.Key) and not event.is_forwarded:
            self.tracer.key(event.key, event.time)
        await super().on_event(event)

    def _display(self, screen: Screen[object], renderable: RenderableType | None) -> None:
        t0 = time.monotonic()
        super()._display(screen, renderable)
        if self.tracer is not None:
            self.tracer.span("display", t0)
        if self.tracer is not None and renderable is not None:
            self.tracer.shown()

    def on_inbox(self, _message: Inbox) -> None:
        t0 = time.monotonic()
        n = self.attachment.drain()
        if self.tracer is not None:
            self.tracer.span("drain", t0, events=n)

    def on_read_only_now(self, message: ReadOnlyNow) -> None:
        self.notify(message.reason, title="read-only", severity="warning", timeout=10)
        self.refresh_bindings()
        self.repaint(full=True)

    @property
    def read_only_reason(self) -> str:
        commands = self.attachment.commands
        return (commands.read_only_reason or "read-only") if commands.read_only else ""

    def repaint(self, full: bool = False) -> None:
        """Repaint the visible screen from the model (the redraw timer calls this)."""
        if self.frozen:
            return
        try:
            screen = self.screen
        except ScreenStackError:
            return  # shutting down: the timer fired after the last screen was removed
        t0 = time.monotonic()
        dirty, changed = self.attachment.model.take_dirty()
        if isinstance(screen, GatewayScreen):
            screen.repaint(dirty, changed, full=full)
        if self.freeze_gc:
            self._freeze_model_for_gc()
        if self.tracer is not None:
            self.tracer.span("repaint", t0, changed=len(changed))

    def _freeze_model_for_gc(self) -> None:
        """Move the objects alive now (above all the model's 10,000 tag entries) out of the
        collector's sight whenever the set of tags changed.

        Measured with EDGE_GATEWAY_TUI_TRACE: with 10,000 tags every full (generation 2) collection
        scanned them all and stopped the UI for 50-55 ms (several times a minute at 1,000
        changes/s), the largest part of the key-to-repaint p99. Frozen objects are still freed by
        reference counting; only cycles among them are never collected (the model builds none; a
        screen closed later may keep its cycles: a few kilobytes per change of the tag set).
        """
        version = self.attachment.model.tag_set_version
        if version != self._gc_frozen_version:
            self._gc_frozen_version = version
            gc.freeze()

    # ---- actions ----------------------------------------------------------------------------------------

    def action_toggle_help(self) -> None:
        if self.screen.query("HelpPanel"):
            self.action_hide_help_panel()
        else:
            self.action_show_help_panel()

    def action_command_log(self) -> None:
        from tui.widgets.command_log import CommandLogScreen

        self.push_screen(CommandLogScreen(self.attachment.commands.history))

    def action_freeze(self) -> None:
        self.frozen = not self.frozen
        self.notify(
            "display FROZEN: z resumes (data keeps arriving)" if self.frozen else "display live again"
        )
        if not self.frozen:
            self.repaint(full=True)

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        for key, name, title, _cls in SCREENS:
            yield SystemCommand(f"Go to {title}", f"screen {key}", lambda n=name: self.switch_mode(n))
        yield SystemCommand("Freeze / resume the display", "z", self.action_freeze)
        yield SystemCommand("Command log", "@: every request sent, with its outcome", self.action_command_log)
        yield SystemCommand("Quit the UI", "the gateway keeps running", self.exit)


def run_tui(settings: TuiSettings, source_factory: SourceFactory | None = None) -> None:
    """Run the UI in this terminal until the person quits (the daemon keeps running).

    Log handlers that write to the terminal are detached while the UI runs (a log line would tear
    the screen); file handlers stay.
    """
    root = logging.getLogger()
    detached = [
        h
        for h in root.handlers
        if isinstance(h, logging.StreamHandler) and not isinstance(h, logging.FileHandler)
    ]
    for handler in detached:
        root.removeHandler(handler)
    switch_interval = sys.getswitchinterval()
    # The MQTT thread decodes messages while the UI loop waits for keys; with CPython's default 5 ms
    # GIL switch interval every return of the UI loop from select() could wait up to 5 ms for that
    # thread, and a key press takes dozens of loop turns. 1 ms keeps key-to-repaint short under load.
    sys.setswitchinterval(0.001)
    try:
        app = GatewayTui(settings, source_factory, ascii_only=not terminal_is_utf8(os.environ))
        app.freeze_gc = True
        app.run()
    finally:
        sys.setswitchinterval(switch_interval)
        for handler in detached:
            root.addHandler(handler)
