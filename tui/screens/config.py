"""Config (9): view and edit the configuration, validate (every problem), diff, apply, reload.

The text comes from the daemon (``get_config``) with its SHA-256; apply sends that SHA so the daemon
refuses (``conflict``) when the file changed under the edit. Keys work when the editor is not
focused: Tab leaves the editor.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.widget import Widget
from textual.widgets import Button, Static, TextArea
from textual.worker import Worker

from tui._contract import c
from tui.screens import config_flow
from tui.screens.base import GatewayScreen
from tui.viewmodel.config_edit import unified_diff


class ConfigScreen(GatewayScreen):
    SCREEN_TITLE = "9 Config"
    AUTO_FOCUS = "#load"  # not the editor: digits must still switch screens until you Tab into it
    PLANT_ACTIONS = frozenset({"apply", "reload_file"})
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "load", "Load", id="load"),
        Binding("v", "validate", "Validate", id="validate"),
        Binding("d", "diff", "Diff", id="diff"),
        Binding("A", "apply", "Apply", id="apply"),
        Binding("L", "reload_file", "Reload file", id="reload"),
    ]
    DEFAULT_CSS = """
    ConfigScreen #editor { height: 1fr; }
    ConfigScreen #result-box { height: auto; max-height: 8; border-top: solid $primary-darken-2; }
    ConfigScreen #buttons { height: 1; }
    ConfigScreen #buttons Button { min-width: 10; height: 1; border: none; margin-right: 1; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.document: c.ConfigDocument | None = None
        self._loading = False

    def compose_body(self) -> Iterable[Widget]:
        yield Static("not loaded yet: press r", id="config-state", markup=False)
        yield TextArea("", id="editor", soft_wrap=False, show_line_numbers=True)
        with Horizontal(id="buttons"):
            yield Button("Load (r)", id="load")
            yield Button("Validate (v)", id="validate")
            yield Button("Diff (d)", id="diff")
            yield Button("Apply (A)", id="apply", variant="error")
        with VerticalScroll(id="result-box"):
            yield Static("", id="result", markup=False)

    def repaint_body(self, dirty: set[str], changed: set[tuple[str, str]], full: bool, now_ms: int) -> None:
        if self.document is None and not self._loading and self.gw.attachment.source.connected:
            self.action_load()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        action = {
            "load": self.action_load,
            "validate": self.action_validate,
            "diff": self.action_diff,
            "apply": self.action_apply,
        }[str(event.button.id)]
        if event.button.id == "apply" and self.check_action("apply", ()) is not True:
            self.notify("read-only: the configuration cannot be applied", severity="warning")
            return
        action()

    def show_result(self, lines: list[str]) -> None:
        self.query_one("#result", Static).update("\n".join(lines) if lines else "")

    @property
    def text(self) -> str:
        return self.query_one("#editor", TextArea).text

    def action_load(self) -> Worker[None]:
        self._loading = True  # before the worker starts, so the next repaint does not start another
        return self.run_worker(self._load(), exclusive=True, group="config")

    async def _load(self) -> None:
        self._loading = True
        try:
            doc = await self.send(c.GetConfig(), "load configuration")
        finally:
            self._loading = False
        if doc is None:
            return
        self.document = doc
        self.query_one("#editor", TextArea).load_text(doc.text)
        self.query_one("#config-state", Static).update(
            f"{doc.path or 'built-in demo'}  sha256 {doc.sha256[:12]}  "
            f"({len(doc.effective)} effective values)"
        )
        self.show_result([])

    def action_validate(self) -> Worker[None]:
        async def run() -> None:
            await config_flow.validate(self, self.text, self.show_result)

        return self.run_worker(run(), exclusive=True, group="config")

    def action_diff(self) -> None:
        if self.document is None:
            self.show_result(["load the configuration first (r)"])
            return
        diff = unified_diff(self.document.text, self.text)
        self.show_result(diff or ["no changes"])

    def action_apply(self) -> Worker[None] | None:
        if self.document is None:
            self.show_result(["load the configuration first (r)"])
            return None
        doc = self.document

        async def run() -> None:
            if await config_flow.apply_text(
                self, doc.text, self.text, base_sha256=doc.sha256, word="apply", show=self.show_result
            ):
                await self._load_keep_result()

        return self.run_worker(run(), exclusive=True, group="config")

    async def _load_keep_result(self) -> None:
        doc = await self.send(c.GetConfig(), "load configuration")
        if doc is not None:
            self.document = doc

    def action_reload_file(self) -> Worker[None]:
        async def run() -> None:
            details = (
                "Reload the configuration file from disk (what SIGHUP does); an invalid file is refused."
            )
            if not await self.confirm("Reload the configuration file?", details, "reload"):
                self.notify("reload: cancelled, nothing sent")
                return
            result = await self.send(
                c.ReloadConfig(), "reload", on_failure=lambda e: self.show_result(list(e.details))
            )
            if result is not None:
                self.show_result([result.message, *result.problems])

        return self.run_worker(run(), exclusive=True, group="config")
