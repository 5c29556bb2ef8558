"""Live publishing with store-and-forward: what cannot be delivered goes into the backlog, and comes back.

Contract
--------
``Forwarder.publish(message)`` returns a future that resolves to a :class:`Delivery` (never raises):

- ``ACKED``: the upstream acknowledged it (QoS 1), or ``SENT`` for QoS 0 handed to the socket;
- ``STORED``: it is durably in the backlog (committed), to be replayed later;
- ``DROPPED``: it could neither be delivered nor stored (no backlog configured, store full or overloaded);
  counted in :class:`ForwarderStatus`.

A producer that waits for the future before it forgets a sample loses none on kill -9 (README promise).

Where messages go
-----------------
- Attached (the session is online: births done) and QoS 0: published live at once.
- Attached and QoS 1: published live while fewer than ``live window`` are unacknowledged, else held in a
  bounded in-memory queue (sent as acks come back), and only when that is full, into the backlog.
- Not attached (no server, primary host offline, between servers): into the backlog.
- On detach (the link was lost or left), every unacknowledged live QoS 1 message and every held one
  goes into the backlog, in original order, before anything newer: nothing waits in memory for a link
  that is gone. A message whose PUBACK was lost with the link is therefore sent twice (a duplicate, never
  a loss).

The drain
---------
While attached, one task replays the backlog oldest first through the session's :data:`ReplayEncoder`
(Sparkplug: historical payloads with the current seq), at QoS 1, paced by :class:`DrainPacer`. A stored
message is deleted only when its PUBACK arrives. The window is ``min(max_inflight, Receive Maximum)``:
the drain gets at most ``DrainPacing.window`` of it (and at most half), live traffic the rest, so the
server's Receive Maximum is never exceeded [MQTT-3.3.4-7]. When the backlog is empty, the drain waits for
a commit notification (or a 1 s poll), never for new live traffic to push it.

Live data first: a live publish goes to the link at once (never queued behind the drain in this class),
and the drain sends nothing while the link's own write queue is backed up
(:class:`FlowControlledPublisher`, ``PahoLink.write_pending``), so drained bytes never pile up in paho in
front of a live message. Rows are read from the store (in its writer thread) one batch ahead.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import enum
import functools
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from gateway.uplink._backlog import (
    Backlog,
    BacklogRecord,
    OutboundMessage,
    ReplayDeferredError,
    ReplayEncoder,
    replay_as_is,
)
from gateway.uplink._exceptions import LinkClosedError
from gateway.uplink._link_types import AckCallback
from gateway.uplink._pacing import DrainPacer, DrainPacing

log = logging.getLogger(__name__)


class Delivery(enum.Enum):
    ACKED = "acked"
    SENT = "sent"
    STORED = "stored"
    DROPPED = "dropped"
    REJECTED = "rejected"
    """The server answered the PUBACK with a failure reason (5.0): it will never accept this message."""


_READ_ROWS = 512
_READ_BYTES = 1 << 20
_READ_AHEAD_BELOW = 256
"""Rows left in the drain's buffer when the next batch is requested from the store."""
_WRITE_PENDING_POLL_S = 0.002


class Publisher(Protocol):
    """The part of ``PahoLink`` the forwarder uses."""

    def publish(
        self,
        topic: str,
        payload: bytes,
        qos: int = 0,
        retain: bool = False,
        on_ack: AckCallback | None = None,
    ) -> int: ...


@runtime_checkable
class FlowControlledPublisher(Publisher, Protocol):
    """A publisher that says when its own write queue is backed up (``PahoLink``)."""

    @property
    def write_pending(self) -> bool: ...


@dataclass(frozen=True, slots=True)
class ForwarderStatus:
    """Counters since start, for the terminal UI.

    Attributes:
        attached: a link is attached (the session is online).
        live_sent, live_acked: live publishes handed to the link, and QoS 1 ones acknowledged.
        stored: messages committed to the backlog.
        dropped: messages neither delivered nor stored (see the log for why).
        rejected: messages the server refused in its PUBACK.
        drained: backlog messages acknowledged upstream (and deleted).
        unreplayable: backlog messages the replay encoder could not map any more (deleted).
        live_inflight, live_held, drain_inflight: current occupancy.
        drain_rate: current pacing rate in messages/s; drain_latency_s: smoothed drain ack latency.
    """

    attached: bool
    live_sent: int
    live_acked: int
    stored: int
    dropped: int
    rejected: int
    drained: int
    unreplayable: int
    live_inflight: int
    live_held: int
    drain_inflight: int
    drain_rate: float
    drain_latency_s: float | None


class Forwarder:
    """Args:
    backlog: the store-and-forward queue, or ``None`` (then undeliverable messages are dropped, counted).
    replay: turns a stored message into what to publish (default: as it is).
    pacing: drain limits.
    max_inflight: our own cap on unacknowledged QoS 1 publishes (the server's Receive Maximum also caps).
    live_hold_limit: messages held in memory while the live window is full, before going to the backlog.
    clock: monotonic seconds (injectable).
    """

    def __init__(
        self,
        backlog: Backlog | None,
        *,
        replay: ReplayEncoder = replay_as_is,
        pacing: DrainPacing | None = None,
        max_inflight: int = 100,
        live_hold_limit: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._backlog = backlog
        self._replay = replay
        self._pacing = pacing or DrainPacing()
        self._max_inflight = max_inflight
        self._hold_limit = live_hold_limit
        self._clock = clock
        self._link: Publisher | None = None
        self._live_window = max_inflight
        self._drain_window = self._pacing.window
        self._live_inflight: dict[int, tuple[OutboundMessage, asyncio.Future[Delivery]]] = {}
        self._live_held: collections.deque[tuple[OutboundMessage, asyncio.Future[Delivery]]] = (
            collections.deque()
        )
        self._next_key = 0
        self._drain_task: asyncio.Task[None] | None = None
        self._drain_inflight: dict[int, int] = {}  # row id -> publishes not yet acknowledged
        self._window_free = asyncio.Event()
        self._backlog_grew = asyncio.Event()
        self._to_delete: list[int] = []
        self._delete_handle: asyncio.TimerHandle | None = None
        self._pacer = DrainPacer(self._pacing, clock())
        self._counts = collections.Counter[str]()

    # -- producers -------------------------------------------------------------------------------------

    def publish(self, message: OutboundMessage) -> asyncio.Future[Delivery]:
        """Send live if possible, else hold or store; see the module docstring."""
        future: asyncio.Future[Delivery] = asyncio.get_running_loop().create_future()
        link = self._link
        if link is not None:
            if message.qos == 0:
                try:
                    link.publish(message.topic, message.payload, 0, message.retain)
                except LinkClosedError:
                    self.detach()
                else:
                    self._counts["live_sent"] += 1
                    future.set_result(Delivery.SENT)
                    return future
            elif not self._live_held and len(self._live_inflight) < self._live_window:
                if self._send_live(link, message, future):
                    return future
            elif len(self._live_held) < self._hold_limit:
                self._live_held.append((message, future))
                return future
        self._store(message, future)
        return future

    def _send_live(self, link: Publisher, message: OutboundMessage, future: asyncio.Future[Delivery]) -> bool:
        key = self._next_key
        self._next_key += 1
        try:
            link.publish(
                message.topic,
                message.payload,
                message.qos,
                message.retain,
                on_ack=functools.partial(self._live_acked, key),
            )
        except LinkClosedError:
            self.detach()
            return False
        self._live_inflight[key] = (message, future)
        self._counts["live_sent"] += 1
        return True

    def _live_acked(self, key: int, accepted: bool) -> None:
        entry = self._live_inflight.pop(key, None)
        if entry is None:
            return
        self._window_free.set()
        message, future = entry
        if accepted:
            self._counts["live_acked"] += 1
            _settle(future, Delivery.ACKED)
        else:
            self._counts["rejected"] += 1
            log.warning("upstream refused a message on %s (PUBACK failure); not retried", message.topic)
            _settle(future, Delivery.REJECTED)
        link = self._link
        while link is not None and self._live_held and len(self._live_inflight) < self._live_window:
            held, held_future = self._live_held.popleft()
            if not self._send_live(link, held, held_future):
                return

    def set_replay(self, replay: ReplayEncoder) -> None:
        """Use ``replay`` for the backlog from now on (the Sparkplug session installs its own)."""
        self._replay = replay

    def store(self, message: OutboundMessage) -> asyncio.Future[Delivery]:
        """Put a message straight into the backlog (Sparkplug ``StoreForLater``: not born yet)."""
        future: asyncio.Future[Delivery] = asyncio.get_running_loop().create_future()
        self._store(message, future)
        return future

    def _store(self, message: OutboundMessage, future: asyncio.Future[Delivery]) -> None:
        message = message.for_storage()
        if self._backlog is None:
            self._counts["dropped"] += 1
            _settle(future, Delivery.DROPPED)
            return
        try:
            stored = self._backlog.append(message)
        # The backlog raises its own error types (we do not import the store): overloaded or closed.
        except Exception as error:
            self._counts["dropped"] += 1
            log.error("could not store a message for %s: %s", message.topic, error)
            _settle(future, Delivery.DROPPED)
            return

        def committed(result: asyncio.Future[int]) -> None:
            if result.cancelled() or result.exception() is not None:
                self._counts["dropped"] += 1
                _settle(future, Delivery.DROPPED)
            else:
                self._counts["stored"] += 1
                self._backlog_grew.set()
                _settle(future, Delivery.STORED)

        stored.add_done_callback(committed)

    # -- the session ------------------------------------------------------------------------------------

    @property
    def attached(self) -> bool:
        return self._link is not None

    def attach(self, link: Publisher, receive_maximum: int = 65535) -> None:
        """The session is online on ``link`` (births done): publish live and start draining the backlog.
        Attaching again to the same link (a Sparkplug rebirth) keeps everything in flight."""
        if self._link is link:
            return
        self.detach()
        window = max(2, min(self._max_inflight, receive_maximum))
        self._drain_window = max(1, min(self._pacing.window, window // 2))
        self._live_window = window - self._drain_window
        self._link = link
        self._pacer = DrainPacer(self._pacing, self._clock())
        if self._backlog is not None:
            self._drain_task = asyncio.get_running_loop().create_task(self._drain(link), name="uplink-drain")

    def detach(self) -> None:
        """The link is gone or being left: everything unacknowledged goes to the backlog, in order."""
        if self._link is None:
            return
        self._link = None
        if self._drain_task is not None:
            self._drain_task.cancel()
            self._drain_task = None
        self._drain_inflight.clear()
        self._flush_deletes()
        pending = [*self._live_inflight.values(), *self._live_held]
        self._live_inflight.clear()
        self._live_held.clear()
        for message, future in pending:
            self._store(message, future)
        if pending:
            log.info("%d unacknowledged messages moved to the backlog", len(pending))

    async def quiesce(self, timeout: float) -> None:
        """Before an intentional disconnect: stop sending, wait up to ``timeout`` for the in-flight
        acknowledgements (so a clean switch makes no duplicates), then detach.

        New messages go to the backlog meanwhile, after the held ones. Messages still unacknowledged at
        the deadline are moved to the backlog after those (the only case where replay order differs from
        the original order; their timestamps are kept)."""
        link = self._link
        if link is None:
            return
        self._link = None
        if self._drain_task is not None:
            self._drain_task.cancel()
            self._drain_task = None
        held = list(self._live_held)
        self._live_held.clear()
        for message, future in held:
            self._store(message, future)
        deadline = self._clock() + timeout
        while self._live_inflight or self._drain_inflight:
            remaining = deadline - self._clock()
            if remaining <= 0:
                break
            self._window_free.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._window_free.wait(), remaining)
        self._link = link
        self.detach()

    async def aclose(self) -> None:
        task = self._drain_task
        self.detach()
        if task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._flush_deletes()

    # -- the drain --------------------------------------------------------------------------------------

    async def _drain(self, link: Publisher) -> None:
        """Replay the backlog in bursts: each wake-up fills the free part of the drain window (within the
        pacer's credit). The next batch of rows is read ahead (in the store's thread) while the current
        one is sent, so the drain does not stop at every batch boundary (measured: before read-ahead, the
        window was empty while waiting for a read)."""
        assert self._backlog is not None
        backlog = self._backlog
        buffer: collections.deque[BacklogRecord] = collections.deque()
        reading: asyncio.Task[Sequence[BacklogRecord]] | None = None
        cursor = 0
        at_tail = False  # the last read came back empty: read again when the buffer is empty or it grew
        flow = link if isinstance(link, FlowControlledPublisher) else None
        try:
            while True:
                if (
                    reading is None
                    and len(buffer) < _READ_AHEAD_BELOW
                    and (not buffer or not at_tail or self._backlog_grew.is_set())
                ):
                    self._backlog_grew.clear()  # before the read: a commit after it wakes an empty drain
                    reading = asyncio.ensure_future(
                        backlog.read_after(cursor, limit=_READ_ROWS, max_bytes=_READ_BYTES)
                    )
                if not buffer or (reading is not None and reading.done()):
                    assert reading is not None
                    rows = await reading
                    reading = None
                    at_tail = not rows
                    if rows:
                        buffer.extend(rows)
                        cursor = rows[-1].id
                    elif not buffer:
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(self._backlog_grew.wait(), 1.0)
                    continue
                while len(self._drain_inflight) >= self._drain_window:
                    self._window_free.clear()
                    await self._window_free.wait()
                delay = self._pacer.delay(self._clock())
                if flow is not None and flow.write_pending:
                    # Live data first: drained bytes never pile up in paho's queue in front of a live
                    # publish. Measured: it does not happen on loopback, but a slow uplink fills the
                    # socket buffer. A short poll: the link has no event for "drained".
                    delay = max(delay, _WRITE_PENDING_POLL_S)
                if delay > 0:
                    await asyncio.sleep(delay)
                    continue
                if not self._send_burst(link, buffer):
                    return
        finally:
            if reading is not None:
                reading.cancel()

    def _send_burst(self, link: Publisher, buffer: collections.deque[BacklogRecord]) -> bool:
        """Publish from ``buffer`` while the window and the pacer allow; False when the drain must end
        (the session is leaving, or the link closed: the rows stay in the backlog)."""
        now = self._clock()
        while buffer and len(self._drain_inflight) < self._drain_window and self._pacer.delay(now) <= 0:
            record = buffer.popleft()
            self._pacer.reserve(len(record.payload) + len(record.topic), now)
            try:
                publishes = self._replay(record)
            except ReplayDeferredError:
                return False
            if not publishes:
                self._counts["unreplayable"] += 1
                self._delete_later(record.id)
                continue
            self._drain_inflight[record.id] = len(publishes)
            on_ack = functools.partial(self._drain_acked, record.id, now)
            try:
                for replay in publishes:
                    link.publish(replay.topic, replay.payload, 1, replay.retain, on_ack=on_ack)
            except LinkClosedError:
                return False
        return True

    def _drain_acked(self, row_id: int, sent_at: float, accepted: bool) -> None:
        remaining = self._drain_inflight.get(row_id)
        if remaining is None:
            return
        if remaining > 1:
            self._drain_inflight[row_id] = remaining - 1  # a record replayed as several payloads
            return
        del self._drain_inflight[row_id]
        now = self._clock()
        self._pacer.on_ack(now - sent_at, now)
        self._counts["drained" if accepted else "rejected"] += 1
        self._delete_later(row_id)
        self._window_free.set()

    def _delete_later(self, row_id: int) -> None:
        self._to_delete.append(row_id)
        if len(self._to_delete) >= 256:
            self._flush_deletes()
        elif self._delete_handle is None:
            self._delete_handle = asyncio.get_running_loop().call_later(0.02, self._flush_deletes)

    def _flush_deletes(self) -> None:
        if self._delete_handle is not None:
            self._delete_handle.cancel()
            self._delete_handle = None
        if self._to_delete and self._backlog is not None:
            ids, self._to_delete = self._to_delete, []
            self._backlog.delete(ids)

    # -- status ---------------------------------------------------------------------------------------

    def status(self) -> ForwarderStatus:
        c = self._counts
        return ForwarderStatus(
            attached=self._link is not None,
            live_sent=c["live_sent"],
            live_acked=c["live_acked"],
            stored=c["stored"],
            dropped=c["dropped"],
            rejected=c["rejected"],
            drained=c["drained"],
            unreplayable=c["unreplayable"],
            live_inflight=len(self._live_inflight),
            live_held=len(self._live_held),
            drain_inflight=len(self._drain_inflight),
            drain_rate=self._pacer.rate,
            drain_latency_s=self._pacer.smoothed_latency,
        )


def _settle(future: asyncio.Future[Delivery], value: Delivery) -> None:
    if not future.done():
        future.set_result(value)
