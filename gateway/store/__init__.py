"""Store-and-forward queue: everything the uplink could not deliver, in one SQLite file.

Public surface (see each class for its contract):

- :class:`MessageStore`: ``open()``, ``append(NewMessage) -> Future[id]``, ``read_after(id)``,
  ``delete(ids)``, ``flush()``, ``status()``, ``close()``.
- values: :class:`NewMessage`, :class:`StoredMessage`, :class:`StoreLimits`, :class:`StoreStatus`,
  :class:`StoreMode`, :class:`DropReason`, :class:`StoreProblem`.
- errors: see ``gateway.store._exceptions``.

The store knows nothing about MQTT connections or Sparkplug; the daemon hands it to the uplink, which
uses it through its own small ``Backlog`` protocol.
"""

from gateway.store._exceptions import (
    StoreClosedError,
    StoreCorruptError,
    StoreError,
    StoreFullError,
    StoreOpenError,
    StoreOverloadedError,
)
from gateway.store._store import MessageStore
from gateway.store._types import (
    DropReason,
    MessageLike,
    NewMessage,
    StoredMessage,
    StoreLimits,
    StoreMode,
    StoreProblem,
    StoreStatus,
)

__all__ = [
    "DropReason",
    "MessageLike",
    "MessageStore",
    "NewMessage",
    "StoreClosedError",
    "StoreCorruptError",
    "StoreError",
    "StoreFullError",
    "StoreLimits",
    "StoreMode",
    "StoreOpenError",
    "StoreOverloadedError",
    "StoreProblem",
    "StoreStatus",
    "StoredMessage",
]
