"""Confirmation of plant-affecting actions that a stray Enter cannot pass.

The dialog opens with the focus on **Cancel**, so Enter (or key auto-repeat of the key that opened
it) cancels. To confirm, the person types the word shown (the device or tag name, or the action's
name) into the box; only then is Confirm enabled, and Enter in the box confirms. Esc cancels.
"""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static


class ConfirmScreen(ModalScreen[bool]):
    """Ask to confirm ``title``; dismisses with True only after ``word`` is typed."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]
    AUTO_FOCUS = "#cancel"  # a stray Enter lands on Cancel
    DEFAULT_CSS = """
    ConfirmScreen { align: center middle; }
    ConfirmScreen > Vertical { width: 76; max-width: 100%; height: auto; border: thick $error;
                               background: $surface; padding: 0 1; }
    ConfirmScreen #details { height: auto; max-height: 14; margin: 1 0; }
    ConfirmScreen Horizontal { height: auto; align-horizontal: right; }
    ConfirmScreen Button { margin-left: 2; }
    """

    def __init__(self, title: str, details: str, word: str) -> None:
        super().__init__()
        self._title, self._details, self.word = title, details, word

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(f"[b]{self._title}[/b]", markup=True)
            yield Static(self._details, id="details", markup=False)
            yield Static(
                f"Type [b]{self.word}[/b] to confirm (Tab to the box). Esc or Enter on Cancel cancels."
            )
            yield Input(placeholder=self.word, id="word")
            with Horizontal():
                yield Button("Cancel", id="cancel", variant="primary")
                yield Button("Confirm", id="confirm", variant="error", disabled=True)

    def on_input_changed(self, event: Input.Changed) -> None:
        self.query_one("#confirm", Button).disabled = event.value != self.word

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.value == self.word:
            self.dismiss(True)
        else:
            self.notify(f"type {self.word!r} exactly to confirm", severity="warning")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id == "confirm" and self.query_one("#word", Input).value == self.word)

    def action_cancel(self) -> None:
        self.dismiss(False)
