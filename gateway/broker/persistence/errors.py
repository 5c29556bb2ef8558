"""Errors of the broker's SQLite persistence.

    StartupError (gateway.errors)          shown to the user, no traceback
     +-- StoreUnusableError                the store cannot be opened at start-up; names the file
          +-- StoreUnreadableError         unreadable, a directory, I/O error, locked by another broker
          +-- StoreCorruptError            not a database, truncated, malformed pages, failed integrity check
          +-- StoreVersionError            written by another schema version (newer, or not ours at all)
    RuntimeError
     +-- StoreClosedError                  a write was handed to a store after close() (a bug in the caller)

Start-up errors carry ``path`` and a ``hint`` saying how to recover (see README.md, "Durability"). A failed
write while running is not raised into the event loop: the writer thread logs it, counts it
(``SqlitePersistence.write_errors``) and keeps the in-memory broker serving.
"""

from __future__ import annotations

from pathlib import Path

from gateway.errors import StartupError


class StoreUnusableError(StartupError):
    """The store at ``path`` cannot be used; ``reason`` is the short cause, ``message`` the full text."""

    def __init__(self, path: Path, reason: str, *, hint: str | None = None) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"broker store {path}: {reason}", hint=hint)


class StoreUnreadableError(StoreUnusableError):
    """The file exists but cannot be read or locked; moving it aside would not help."""


class StoreCorruptError(StoreUnusableError):
    """The file is not a sound SQLite database of ours."""


class StoreVersionError(StoreUnusableError):
    """The file has a schema version this program does not know (``found``), e.g. after a downgrade."""

    def __init__(self, path: Path, found: int, *, hint: str | None = None) -> None:
        self.found = found
        super().__init__(path, f"schema version {found} is not supported by this version", hint=hint)


class StoreClosedError(RuntimeError):
    """A write was handed to the store after :meth:`close`."""
