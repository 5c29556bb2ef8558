"""Errors of the terminal UI.

    TuiError                    anything the UI reports to the person at the terminal
     +-- CommandError           a command did not produce a successful response
     |    +-- ReadOnlyError     refused locally: the UI is read-only (flag, or the broker said 0x87)
     |    +-- NotConnectedError the daemon is unreachable, so nothing was sent
     |    +-- CommandTimeoutError  sent, but no response arrived in time
     |    +-- NotAuthorizedError   the broker refused the request (PUBACK 0x87 "not authorized")
     |    +-- BadResponseError  the response did not fit the contract (another schema, malformed)
     +-- SettingsError          a command-line setting is unusable (missing password variable, ...)

Each message says what happened, where, and what to try next, in one or two lines.
"""

from __future__ import annotations


class TuiError(Exception):
    """An error shown to the person at the terminal, in plain words."""


class CommandError(TuiError):
    """A command did not produce a successful response."""


class ReadOnlyError(CommandError):
    """The UI is read-only, so the plant-affecting command was not sent."""


class NotConnectedError(CommandError):
    """The daemon is unreachable, so the command was not sent."""


class CommandTimeoutError(CommandError):
    """The command was sent but no response arrived before the deadline."""


class NotAuthorizedError(CommandError):
    """The broker refused to take the request (MQTT 5 PUBACK reason 0x87)."""


class BadResponseError(CommandError):
    """The response could not be decoded with this UI's contract version."""


class SettingsError(TuiError):
    """A setting given on the command line cannot be used."""
