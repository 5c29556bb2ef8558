"""Small form helpers for the tool panes: titled inputs and reading them with clear errors."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from textual.widgets import Input, Select

if TYPE_CHECKING:
    from textual.widget import Widget

    from tui.screens.base import GatewayScreen


def field(title: str, value: str = "", *, id: str, placeholder: str = "") -> Input:
    box = Input(value=value, id=id, placeholder=placeholder)
    box.border_title = title
    return box


def choice(title: str, options: list[str], value: str, *, id: str) -> Select[str]:
    box: Select[str] = Select([(o, o) for o in options], value=value, allow_blank=False, id=id)
    box.border_title = title
    return box


def text_of(owner: Widget, id: str) -> str:
    return owner.query_one(f"#{id}", Input).value.strip()


def int_of(owner: Widget, id: str, title: str, problems: list[str]) -> int:
    raw = text_of(owner, id)
    try:
        return int(raw, 0)
    except ValueError:
        problems.append(f"{title}: {raw!r} is not a whole number")
        return 0


def choice_of(owner: Widget, id: str) -> str:
    return str(owner.query_one(f"#{id}", Select).value)


def gateway_screen(owner: Widget) -> GatewayScreen:
    return cast("GatewayScreen", owner.screen)
