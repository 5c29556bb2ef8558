"""Values that cross the store's boundary: messages in and out, limits, status and drop counters."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Protocol


class StoreMode(enum.Enum):
    """Where the queue lives right now."""

    DISK = "disk"
    """The SQLite file in the data directory: survives kill -9 and (up to one commit) power loss."""
    MEMORY = "memory"
    """The file could not be used; an in-memory SQLite database keeps the gateway running, nothing survives
    a restart. ``StoreStatus.problems`` says why."""
    CLOSED = "closed"


class DropReason(enum.Enum):
    """Why messages left the queue without being delivered. Every drop is counted under one of these."""

    MAX_BYTES = "max_bytes"
    """The queue grew past ``StoreLimits.max_bytes``: the oldest messages made room (drop-oldest)."""
    MAX_AGE = "max_age"
    """Older than ``StoreLimits.max_age_s``."""
    DISK_FULL = "disk_full"
    """SQLITE_FULL: the oldest messages were dropped to make room, or the batch itself could not be stored."""
    OVERLOADED = "overloaded"
    """The hand-off queue to the writer thread was full."""
    WRITE_ERROR = "write_error"
    """SQLite reported an I/O error other than a full disk while committing the batch."""


class MessageLike(Protocol):
    """Anything with the fields of :class:`NewMessage` (e.g. the uplink's ``OutboundMessage``), so callers
    need not import the store's types."""

    @property
    def topic(self) -> str: ...
    @property
    def payload(self) -> bytes: ...
    @property
    def qos(self) -> int: ...
    @property
    def retain(self) -> bool: ...
    @property
    def kind(self) -> int: ...
    @property
    def created_ms(self) -> int: ...


@dataclass(frozen=True, slots=True)
class NewMessage:
    """A message to queue.

    Attributes:
        topic: MQTT topic to publish to upstream (for Sparkplug: the original DATA topic).
        payload: the bytes to store (opaque to the store).
        qos: MQTT QoS the message was meant to be sent with (0..2).
        retain: the MQTT retain flag.
        kind: who knows how to replay it (0 = plain MQTT, 1 = Sparkplug; see ``gateway.uplink.RecordKind``).
        created_ms: UTC milliseconds when the value was sampled; the age limit is measured from it.
    """

    topic: str
    payload: bytes
    qos: int
    retain: bool
    kind: int
    created_ms: int

    @property
    def size(self) -> int:
        """Bytes this message counts against ``max_bytes`` (topic + payload + a fixed row overhead)."""
        return len(self.topic.encode()) + len(self.payload) + ROW_OVERHEAD_BYTES


ROW_OVERHEAD_BYTES = 32
"""Approximate per-row cost in SQLite (rowid, header, five small columns), counted so tiny messages
cannot fill a disk while staying under ``max_bytes``."""


@dataclass(frozen=True, slots=True)
class StoredMessage:
    """A queued message read back. ``id`` increases strictly in append order and is never reused."""

    id: int
    topic: str
    payload: bytes
    qos: int
    retain: bool
    kind: int
    created_ms: int


@dataclass(frozen=True, slots=True)
class StoreLimits:
    """Caps of the queue; past them the oldest messages are dropped and counted.

    Attributes:
        max_bytes: total of ``NewMessage.size`` over the queue; ``None`` = unlimited.
        max_age_s: messages whose ``created_ms`` is older than this are dropped; ``None`` = unlimited.
    """

    max_bytes: int | None = 256 * 1024 * 1024
    max_age_s: float | None = 7 * 24 * 3600.0


@dataclass(frozen=True, slots=True)
class StoreProblem:
    """Something the operator should see (shown by the terminal UI), with what to do about it."""

    message: str
    hint: str


@dataclass(frozen=True, slots=True)
class StoreStatus:
    """A snapshot for the terminal UI and the control plane.

    Attributes:
        mode: disk, memory (degraded) or closed.
        path: the database file (``None`` in memory mode when no file was configured).
        messages: rows queued now (committed).
        bytes: sum of ``NewMessage.size`` queued now.
        pending: messages handed to the writer thread but not yet committed.
        appended: messages committed since start.
        removed: messages deleted after an upstream acknowledgement since start.
        dropped: drop counters by reason since start (every dropped message is in exactly one).
        commits: transactions committed since start (each one fsync with ``synchronous=FULL``).
        disk_full: the last insert hit SQLITE_FULL (cleared by the next successful insert).
        problems: start-up and run-time problems, oldest first.
        max_bytes: the configured byte cap (``None``: unlimited), for a fill-level display.
        in_per_s: messages committed per second, over the last 10 s.
        out_per_s: messages leaving per second (acknowledged upstream, or dropped), over the last 10 s.
        eta_s: seconds until the queue is empty at those rates: 0 when empty, ``None`` when it is not
            shrinking (storing, or a stalled drain).
    """

    mode: StoreMode
    path: str | None
    messages: int
    bytes: int
    pending: int
    appended: int
    removed: int
    dropped: dict[DropReason, int] = field(default_factory=dict)
    commits: int = 0
    disk_full: bool = False
    problems: tuple[StoreProblem, ...] = ()
    max_bytes: int | None = None
    in_per_s: float = 0.0
    out_per_s: float = 0.0
    eta_s: float | None = None

    @property
    def dropped_total(self) -> int:
        return sum(self.dropped.values())
