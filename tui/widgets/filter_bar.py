"""The ``/`` filter box: hidden until asked for, Esc clears and hides it."""

from __future__ import annotations

from typing import ClassVar

from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import Input

from tui.viewmodel.filtering import RowFilter


class FilterBar(Input):
    """A regular-expression filter (``!`` inverts); posts :class:`FilterBar.Changed` as you type."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "clear", "Clear filter")]
    DEFAULT_CSS = """
    FilterBar { display: none; dock: bottom; }
    FilterBar.-shown { display: block; }
    """

    class FilterChanged(Message):
        def __init__(self, row_filter: RowFilter) -> None:
            super().__init__()
            self.row_filter = row_filter

    def __init__(self) -> None:
        super().__init__(
            # digits are text here: say how to switch screens while typing (the app's F-keys)
            placeholder="filter (regex, ! inverts), Esc clears; F1-F10 or alt+digit switch screens",
            id="filter",
        )

    def open(self) -> None:
        self.add_class("-shown")
        self.focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        row_filter = RowFilter.parse(event.value)
        self.border_subtitle = row_filter.problem or ""
        self.post_message(self.FilterChanged(row_filter))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.screen.focus_next()

    def action_clear(self) -> None:
        self.value = ""
        self.remove_class("-shown")
        self.post_message(self.FilterChanged(RowFilter.parse("")))
        self.screen.focus_next()
