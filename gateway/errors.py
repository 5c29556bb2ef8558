"""Errors shown to the person at the terminal.

    UserFacingError            something the user can fix; printed as one block, no traceback
     +-- ConfigError           (gateway.config) a configuration file has problems
     +-- StartupError          a part could not start (port in use, unreadable data directory, ...)

Each carries what happened, where, and what to try, so the CLI can print it without a traceback.
"""

from __future__ import annotations


class UserFacingError(Exception):
    """An error the user can act on.

    Args:
        message: what happened and where.
        hint: what to try next, or ``None``.
        exit_code: the process exit status the CLI returns.
    """

    def __init__(self, message: str, *, hint: str | None = None, exit_code: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.exit_code = exit_code

    def render(self) -> str:
        lines = [f"error: {self.message}"]
        if self.hint:
            lines.append(f"  hint: {self.hint}")
        return "\n".join(lines)


class StartupError(UserFacingError):
    """A part of the gateway could not start."""
