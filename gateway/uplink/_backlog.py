"""What the uplink needs from a store-and-forward queue, as protocols, plus the message types it forwards.

``gateway.store.MessageStore`` satisfies :class:`Backlog` structurally; the uplink never imports the store
(ARCHITECTURE: broker/, store/ and uplink/ meet only through small interfaces wired by the daemon).
"""

from __future__ import annotations

import asyncio
import enum
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol


class RecordKind(enum.IntEnum):
    """Who knows how to replay a stored message (stored as an integer column)."""

    MQTT = 0
    """A plain MQTT message (bridge rules): replayed as it is."""
    SPARKPLUG = 1
    """Sparkplug DATA: re-encoded by the session as a historical payload (is_historical, current seq)."""


def utc_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(frozen=True, slots=True)
class OutboundMessage:
    """A message for upstream.

    Attributes:
        topic, payload, qos, retain: what to publish live.
        kind: how to replay it if it has to be stored.
        created_ms: UTC ms when the data was sampled (Sparkplug timestamps; the store's age limit).
        stored_form: what to store instead of ``payload`` if it cannot be delivered live (Sparkplug: the
            samples, so the replay can build a historical payload with the seq and aliases of the
            session it is replayed in); ``None`` stores ``payload``.
    """

    topic: str
    payload: bytes
    qos: int = 1
    retain: bool = False
    kind: RecordKind = RecordKind.MQTT
    created_ms: int = field(default_factory=utc_ms)
    stored_form: bytes | None = None

    def for_storage(self) -> OutboundMessage:
        """The message as it goes into the backlog."""
        if self.stored_form is None:
            return self
        return OutboundMessage(
            self.topic, self.stored_form, self.qos, self.retain, self.kind, self.created_ms
        )


class BacklogRecord(Protocol):
    """A stored message read back (``gateway.store.StoredMessage`` has these fields)."""

    @property
    def id(self) -> int: ...
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


class Backlog(Protocol):
    """The queue of undelivered messages. Ids increase strictly in append order and are never reused."""

    def append(self, message: OutboundMessage) -> asyncio.Future[int]:
        """Resolves with the id once the message is durable (committed); may raise when overloaded."""
        ...

    async def read_after(
        self, after_id: int, *, limit: int = ..., max_bytes: int = ...
    ) -> Sequence[BacklogRecord]: ...

    def delete(self, ids: Sequence[int]) -> asyncio.Future[None]: ...


@dataclass(frozen=True, slots=True)
class ReplayPublish:
    """What to publish for one stored message (QoS is always 1 so that its PUBACK can delete it)."""

    topic: str
    payload: bytes
    retain: bool = False


ReplayEncoder = Callable[[BacklogRecord], Sequence[ReplayPublish]]
"""Turns a stored message into what to publish now, called right before sending (so a Sparkplug session
can give it the current seq and aliases). An empty sequence = cannot be replayed any more (e.g. the metric
is not in the current birth): the message is deleted and counted as unreplayable. Raise
:class:`ReplayDeferredError` when the session cannot publish right now (it is leaving): the drain stops
and the message stays in the backlog."""


class ReplayDeferredError(Exception):
    """The session is not in a state to publish history now; try again on the next connection."""


def replay_as_is(record: BacklogRecord) -> Sequence[ReplayPublish]:
    """The replay of plain MQTT messages: same topic, payload and retain flag."""
    return (ReplayPublish(record.topic, record.payload, record.retain),)
