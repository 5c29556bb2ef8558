"""Validate, show the diff, confirm, apply: the one path by which the UI changes the configuration.

Used by the Config screen's editor and by the tools that add devices or tags. Nothing is applied
unless the daemon validated the exact text and the person typed the confirmation word; an invalid
text shows every problem and applies nothing.
"""

from __future__ import annotations

from collections.abc import Callable

from tui._contract import c
from tui.screens.base import GatewayScreen
from tui.viewmodel.config_edit import unified_diff

ShowProblems = Callable[[list[str]], None]


async def validate(screen: GatewayScreen, text: str, show: ShowProblems) -> bool | None:
    """Ask the daemon to validate ``text``; show every problem. None when the check could not run."""
    result = await screen.send(c.ValidateConfig(text), "validate")
    if result is None:
        return None
    problems = [f"{p.location}: {p.key_path}: {p.message}" for p in result.problems]
    if problems:
        show([f"{len(problems)} problem(s) found; nothing was applied:", *problems])
    else:
        show(["valid: no problems found"])
    return bool(result.valid)


async def apply_text(
    screen: GatewayScreen, old: str, new: str, *, base_sha256: str | None, word: str, show: ShowProblems
) -> bool:
    """Validate, confirm with the diff and ``word``, then apply. Returns True when applied."""
    diff = unified_diff(old, new)
    if not diff:
        screen.notify("nothing to apply: the text is the same as the running configuration")
        return False
    valid = await validate(screen, new, show)
    if not valid:
        if valid is False:
            screen.notify(
                "the configuration has problems (listed below); nothing was applied",
                severity="error",
                timeout=10,
            )
        return False
    shown = diff[:40] + ([f"... {len(diff) - 40} more diff lines"] if len(diff) > 40 else [])
    if not await screen.confirm("Apply this configuration?", "\n".join(shown), word):
        screen.notify("apply: cancelled, nothing sent")
        return False
    result = await screen.send(
        c.ApplyConfig(new, base_sha256), "apply configuration", on_failure=lambda err: show(list(err.details))
    )
    if result is None:
        return False
    show([f"applied: {result.message}", *result.problems])
    screen.notify(
        result.message,
        title="configuration applied" if result.ok else "reload failed",
        severity="information" if result.ok else "error",
    )
    return bool(result.ok)
