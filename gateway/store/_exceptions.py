"""Errors of the store-and-forward queue.

    StoreError                    base of everything the store raises
     +-- StoreOpenError           the database file could not be used at start-up (the store then runs
     |    |                       in memory; kept in ``StoreStatus.problems``, not raised to the caller)
     |    +-- StoreCorruptError   not a database, failed ``quick_check``, or a schema from a newer release
     +-- StoreFullError           SQLITE_FULL even after dropping the oldest messages: this batch is lost
     +-- StoreOverloadedError     the bounded hand-off queue to the writer thread is full
     +-- StoreClosedError         the store was closed (or never opened)

Each message says what happened, which file, and what to try.
"""

from __future__ import annotations


class StoreError(Exception):
    """Base class; ``hint`` says what the operator can do."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message if hint is None else f"{message} (hint: {hint})")
        self.message = message
        self.hint = hint


class StoreOpenError(StoreError):
    """The database file could not be opened or created for writing."""


class StoreCorruptError(StoreOpenError):
    """The file exists but is not a usable store database."""


class StoreFullError(StoreError):
    """The disk (or ``max_page_count``) is full; the messages of this batch were dropped and counted."""


class StoreOverloadedError(StoreError):
    """More messages are waiting for the writer thread than ``handoff_capacity``; this one was dropped."""


class StoreClosedError(StoreError):
    """The store is closed."""
