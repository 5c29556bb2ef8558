# ruff: noqa: PLR0917  (hot-path calls pass positionally: keyword arguments cost time per message)
"""A session: subscriptions plus the QoS 1/2 state that outlives one network connection.

What it handles: the outgoing in-flight window (QoS 1 awaiting PUBACK, QoS 2 awaiting PUBREC then PUBCOMP),
the queue behind it, redelivery with DUP of everything unacknowledged when the client comes back
([MQTT-4.4.0-1]: PUBLISH and PUBREL resent in their original order), message expiry while queued
([MQTT-3.3.2-5]: an expired message is never delivered), and the queue bound.

Queue policy (stated and counted): a session queues at most ``max_queued_messages`` messages and
``max_queued_bytes`` payload bytes beyond its in-flight window; when full, ``queue_overflow`` chooses
whether the oldest queued or the arriving message is dropped; each drop bumps ``stats.dropped_queue_full``.
QoS 0 messages are never queued for a connected client (a congested client loses them, counted in
``stats.dropped_qos0``); for an offline persistent session they are dropped unless ``queue_qos0_offline``.

What it leaves to others: the connection encodes and writes (``Connection.send_publish``), the core decides
when a session ends (expiry) and routes messages here.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING

from gateway.broker.hooks import BrokerPersistence, ClientIdentity, QueuedMessage, StoredMessage
from gateway.broker.message import Message, Subscription
from gateway.broker.settings import BrokerLimits, QueueOverflow
from gateway.broker.stats import BrokerStats

if TYPE_CHECKING:
    from gateway.broker.connection import Connection


class Delivery:
    """One QoS 1/2 message on its way to one session."""

    __slots__ = ("maybe_sent", "message", "pid", "qos", "retain", "seq", "state", "sub_ids")

    def __init__(self, message: Message, qos: int, retain: bool, sub_ids: tuple[int, ...], seq: int) -> None:
        self.message = message
        self.qos = qos
        self.retain = retain
        self.sub_ids = sub_ids
        self.seq = seq
        self.pid = 0
        self.state = 0  # 0: PUBLISH sent, awaiting PUBACK/PUBREC; 1: PUBREL sent, awaiting PUBCOMP
        # Restored after a restart: it may have reached the client before, so its first send carries DUP
        # ([MQTT-3.3.1-1]). A QoS 2 delivery keeps its packet id and state across the restart.
        self.maybe_sent = False


class Session:
    """State of one client id.

    Args:
        expiry_interval: seconds the session survives a disconnect (0: ends with the connection).
        persistence: where persistent sessions record queued messages and acknowledgements.
        wall_offset: wall-clock minus monotonic seconds, to store expiry times that survive restarts.
    """

    __slots__ = (
        "_next_pid",
        "_persistence",
        "_seq",
        "_stats",
        "client_id",
        "connection",
        "expires_at",
        "expiry_interval",
        "identity",
        "inbound_qos2",
        "inbound_restored",
        "inflight",
        "limits",
        "queue",
        "queued_bytes",
        "subscriptions",
        "version",
        "wall_offset",
    )

    def __init__(
        self,
        client_id: str,
        version: int,
        expiry_interval: int,
        limits: BrokerLimits,
        stats: BrokerStats,
        persistence: BrokerPersistence,
        wall_offset: float = 0.0,
    ) -> None:
        self.client_id = client_id
        self.version = version
        self.expiry_interval = expiry_interval
        self.limits = limits
        self._stats = stats
        self._persistence = persistence
        self.wall_offset = wall_offset
        self.subscriptions: dict[str, Subscription] = {}
        self.connection: Connection | None = None
        self.inflight: dict[int, Delivery] = {}
        self.queue: deque[Delivery] = deque()
        self.queued_bytes = 0
        self.inbound_qos2: set[int] = set()
        # Packet ids in inbound_qos2 that came from the store at start-up (see connection_publish).
        self.inbound_restored: set[int] = set()
        self.expires_at: float | None = None
        self.identity = ClientIdentity(client_id, None)
        self._next_pid = 1
        self._seq = 0

    @property
    def online(self) -> bool:
        return self.connection is not None

    @property
    def persistent(self) -> bool:
        return self.expiry_interval > 0

    # -- delivery ---------------------------------------------------------------------------------------

    def deliver(
        self,
        message: Message,
        qos: int,
        retain: bool,
        sub_ids: tuple[int, ...],
        now: float,
    ) -> None:
        """Accept one routed message (``qos`` already downgraded to the subscription's maximum)."""
        conn = self.connection
        if qos == 0:
            if conn is not None:
                conn.send_qos0(message, retain, sub_ids, now)
                return
            if not (self.limits.queue_qos0_offline and self.persistent):
                self._stats.dropped_offline_qos0 += 1
                return
        self._seq += 1
        delivery = Delivery(message, qos, retain, sub_ids, self._seq)
        if self.persistent and qos:
            self._persistence.message_queued(self.client_id, self._stored(delivery))
        if (
            conn is not None
            and not self.queue
            and not conn.congested
            and len(self.inflight) < conn.send_window
        ):
            self._send_new(delivery, conn, now)
        else:
            self._enqueue(delivery)

    def _stored(self, delivery: Delivery) -> QueuedMessage:
        msg = delivery.message
        expires = None if msg.expires_at is None else msg.expires_at + self.wall_offset
        return QueuedMessage(
            delivery.seq,
            StoredMessage(
                msg.topic,
                msg.payload,
                msg.qos,
                msg.retain,
                msg.properties,
                expires,
                msg.origin,
                msg.origin_username,
            ),
            delivery.qos,
            delivery.sub_ids,
        )

    def restore(self, queued: QueuedMessage, now: float) -> None:
        """Put a message loaded from persistence back in the queue (at start-up)."""
        stored = queued.message
        expires = None if stored.expires_at is None else stored.expires_at - self.wall_offset
        message = Message(
            stored.topic,
            stored.payload,
            stored.qos,
            stored.retain,
            stored.properties,
            expires,
            stored.origin,
            None,
            stored.origin_username,
        )
        self._seq = max(self._seq, queued.seq)
        delivery = Delivery(message, queued.qos, stored.retain, queued.subscription_identifiers, queued.seq)
        delivery.maybe_sent = True
        pid = queued.packet_id
        if queued.qos == 2 and pid is not None and pid not in self.inflight:
            # QoS 2 in flight before the restart: same packet id, and PUBREL (not the PUBLISH) once the
            # client PUBRECed it, so the client's duplicate detection holds across it [MQTT-4.4.0-1].
            delivery.pid = pid
            delivery.state = 1 if queued.released else 0
            self.inflight[pid] = delivery
            return
        self._enqueue(delivery)

    def _enqueue(self, delivery: Delivery) -> None:
        size = len(delivery.message.payload)
        limits = self.limits
        queue = self.queue
        while len(queue) >= limits.max_queued_messages or self.queued_bytes + size > limits.max_queued_bytes:
            if limits.queue_overflow is QueueOverflow.DROP_NEWEST or not queue:
                self._drop(delivery)
                return
            oldest = queue.popleft()
            self.queued_bytes -= len(oldest.message.payload)
            self._drop(oldest)
        queue.append(delivery)
        self.queued_bytes += size

    def _drop(self, delivery: Delivery) -> None:
        self._stats.dropped_queue_full += 1
        if self.persistent and delivery.qos:
            self._persistence.message_acknowledged(self.client_id, delivery.seq)

    def _allocate_pid(self) -> int:
        pid = self._next_pid
        inflight = self.inflight
        while pid in inflight:
            pid = pid % 65535 + 1
        self._next_pid = pid % 65535 + 1
        return pid

    def _send_new(self, delivery: Delivery, conn: Connection, now: float) -> None:
        pid = self._allocate_pid()
        delivery.pid = pid
        self.inflight[pid] = delivery
        if not conn.send_publish(delivery, delivery.maybe_sent, now):
            # Larger than the client's Maximum Packet Size: dropped as if acknowledged [MQTT-3.1.2-25].
            del self.inflight[pid]
            self._completed(delivery)
        elif delivery.qos == 2 and self.persistent:
            self._persistence.message_in_flight(self.client_id, delivery.seq, pid, False)

    def _completed(self, delivery: Delivery) -> None:
        if self.persistent:
            self._persistence.message_acknowledged(self.client_id, delivery.seq)

    def pump(self, now: float) -> None:
        """Move queued messages into the in-flight window while there is room and the client keeps up."""
        conn = self.connection
        queue = self.queue
        if conn is None:
            return
        window = conn.send_window
        while queue and len(self.inflight) < window and not conn.congested:
            delivery = queue.popleft()
            self.queued_bytes -= len(delivery.message.payload)
            if delivery.message.expired(now):
                self._stats.dropped_expired += 1
                self._completed(delivery)
                continue
            if delivery.qos == 0:
                conn.send_qos0(delivery.message, delivery.retain, delivery.sub_ids, now)
                continue
            self._send_new(delivery, conn, now)

    # -- acknowledgements from the client ---------------------------------------------------------------

    def on_puback(self, pid: int, now: float) -> bool:
        delivery = self.inflight.get(pid)
        if delivery is None or delivery.qos != 1:
            return False
        del self.inflight[pid]
        self._completed(delivery)
        self.pump(now)
        return True

    def on_pubrec(self, pid: int, reason: int, now: float) -> bool:
        """True if ``pid`` was awaiting PUBREC; the caller then sends PUBREL (unless ``reason`` >= 0x80)."""
        delivery = self.inflight.get(pid)
        if delivery is None or delivery.qos != 2:
            return False
        if reason >= 0x80:
            del self.inflight[pid]
            self._completed(delivery)
            self.pump(now)
        elif delivery.state == 0:
            # The client owns the message now [MQTT-4.3.3]; what is left is the PUBREL, which must survive
            # a restart too [MQTT-4.4.0-1], so the stored row is kept, marked released, until PUBCOMP.
            delivery.state = 1
            if self.persistent:
                self._persistence.message_in_flight(self.client_id, delivery.seq, pid, True)
        return True

    def on_pubcomp(self, pid: int, now: float) -> bool:
        delivery = self.inflight.get(pid)
        if delivery is None or delivery.state != 1:
            return False
        del self.inflight[pid]
        self._completed(delivery)
        self.pump(now)
        return True

    # -- connection lifecycle -----------------------------------------------------------------------------

    def attach(self, conn: Connection, now: float) -> None:
        """A connection takes this session: resend what is unacknowledged (DUP), then drain the queue."""
        self.connection = conn
        self.expires_at = None
        for delivery in list(self.inflight.values()):
            if delivery.state == 0:
                if not conn.send_publish(delivery, True, now):
                    del self.inflight[delivery.pid]
                    self._completed(delivery)
            else:
                conn.send_pubrel(delivery.pid)
        self.pump(now)

    def detach(self, now: float) -> None:
        """The connection went away; the session lives on until ``expires_at`` (set by the core)."""
        self.connection = None
        self.expires_at = now + self.expiry_interval

    def queued_count(self) -> int:
        return len(self.queue) + len(self.inflight)
