"""Durable storage of the broker's retained messages and persistent sessions (SQLite, WAL, one writer thread).

Public surface: :class:`SqlitePersistence` (implements :class:`gateway.broker.hooks.BrokerPersistence`),
:class:`Recovery` (the start-up policy for a bad store), the errors, and :data:`SCHEMA_VERSION`.
See :mod:`.sqlite_store` for the durability promise and :mod:`.opening` for start-up checks and recovery.
"""

from __future__ import annotations

from gateway.broker.persistence.errors import (
    StoreClosedError,
    StoreCorruptError,
    StoreUnreadableError,
    StoreUnusableError,
    StoreVersionError,
)
from gateway.broker.persistence.opening import STORE_NAME, Recovery
from gateway.broker.persistence.schema import SCHEMA_VERSION
from gateway.broker.persistence.sqlite_store import SqlitePersistence
from gateway.broker.persistence.writer import WriterStats

__all__ = [
    "SCHEMA_VERSION",
    "STORE_NAME",
    "Recovery",
    "SqlitePersistence",
    "StoreClosedError",
    "StoreCorruptError",
    "StoreUnreadableError",
    "StoreUnusableError",
    "StoreVersionError",
    "WriterStats",
]
