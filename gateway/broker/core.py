# ruff: noqa: PLR0917  (hot-path calls pass positionally: keyword arguments cost time per message)
"""The broker core, without I/O: sessions, routing, retained messages, wills, limits, timers.

What it handles: accepting or refusing connections (total and per-source caps, connection rate), opening,
taking over and ending sessions, routing each message to matching sessions with QoS downgrade, No Local,
Retain As Published and subscription identifiers, retained messages, Will publication (at once or after
the Will Delay Interval, or at session end, whichever first [MQTT-3.1.3-9]), session expiry, keep-alive and
CONNECT deadlines, and $SYS statistics.

What it leaves to the shell: sockets, reading and writing, the event loop. The shell calls ``tick(now)``
periodically (every 0.25 s) and must write out what connections queue after any call.
"""

from __future__ import annotations

import itertools
import logging
import os

from gateway.broker.codec.topics import split_shared
from gateway.broker.codes import ReasonCode
from gateway.broker.connection import Connection
from gateway.broker.connection_state import State
from gateway.broker.core_restore import RestoreMixin
from gateway.broker.core_subscriptions import SubscriptionsMixin
from gateway.broker.hooks import (
    Action,
    Authorizer,
    BrokerPersistence,
    ClientIdentity,
    StoredMessage,
    StoredSession,
    StoredSubscription,
)
from gateway.broker.message import Message
from gateway.broker.retained import RetainedStore
from gateway.broker.router import Router, Subscriber
from gateway.broker.session import Session
from gateway.broker.settings import BrokerSettings
from gateway.broker.stats import BrokerStats
from gateway.broker.sys_topics import sys_messages

log = logging.getLogger(__name__)

V5 = 5
AUTH_GRACE = 30.0
"""Seconds an authentication decision may take beyond the CONNECT deadline before the client is dropped."""


class BrokerCore(SubscriptionsMixin, RestoreMixin):
    """All broker state. Time is passed in (``now``: monotonic seconds).

    Args:
        settings: the broker settings.
        authorizer: ACL decisions, or None to allow everything.
        persistence: where retained messages and persistent sessions are recorded.
        wall_offset: wall-clock minus monotonic seconds (for expiry times stored across restarts).
    """

    def __init__(
        self,
        settings: BrokerSettings,
        authorizer: Authorizer | None,
        persistence: BrokerPersistence,
        now: float,
        wall_offset: float = 0.0,
    ) -> None:
        self.settings = settings
        self.limits = settings.limits
        self.authorizer = authorizer
        self.persistence = persistence
        self.wall_offset = wall_offset
        self.stats = BrokerStats(started_at=now)
        self.router = Router()
        self.retained = RetainedStore(self.limits.max_retained_messages, self.limits.max_retained_bytes)
        self.sessions: dict[str, Session] = {}
        self.connections: set[Connection] = set()
        self.connected = 0
        self._per_source: dict[str, int] = {}
        self._buckets: dict[str, tuple[float, float]] = {}
        self.pending_wills: dict[str, tuple[float, Message, ClientIdentity]] = {}
        self._local_ids = itertools.count(1)
        self._next_session_sweep = now
        self._next_sys = now

    # -- connections ------------------------------------------------------------------------------------

    def accept(
        self,
        peer_host: str,
        peer_port: int,
        listener: str,
        now: float,
        peer_cert_cn: str | None = None,
        use_identity_as_username: bool = False,
    ) -> Connection | None:
        """A new socket: a Connection, or None to close it at once (total/per-source cap, rate limit)."""
        limits = self.limits
        per_source = self._per_source.get(peer_host, 0)
        refuse = None
        if len(self.connections) >= limits.max_connections + limits.max_connections // 10 + 10:
            refuse = "too many sockets"
        elif per_source >= limits.max_connections_per_source:
            refuse = f"more than {limits.max_connections_per_source} connections from this address"
        elif not self._take_token(peer_host, now):
            refuse = "connection rate exceeded"
        if refuse is not None:
            self.stats.connections_refused += 1
            log.info("refused connection from %s:%d: %s", peer_host, peer_port, refuse)
            return None
        self._per_source[peer_host] = per_source + 1
        conn = Connection(self, peer_host, peer_port, listener, now, peer_cert_cn, use_identity_as_username)
        self.connections.add(conn)
        self.stats.connections_accepted += 1
        return conn

    def _take_token(self, host: str, now: float) -> bool:
        """Token bucket per source address: ``connection_rate`` per second, ``connection_burst`` deep."""
        limits = self.limits
        tokens, last = self._buckets.get(host, (float(limits.connection_burst), now))
        tokens = min(float(limits.connection_burst), tokens + (now - last) * limits.connection_rate)
        if tokens < 1.0:
            self._buckets[host] = (tokens, now)
            return False
        if len(self._buckets) > 10_000:
            self._buckets.clear()  # bounded: forgetting buckets only ever lets a burst through again
        self._buckets[host] = (tokens - 1.0, now)
        return True

    def connection_allowed(self) -> bool:
        return self.connected < self.limits.max_connections

    def assign_client_id(self) -> str:
        return f"auto-{os.urandom(8).hex()}"

    def connection_lost(self, conn: Connection, now: float) -> None:
        """The shell's socket closed, for whatever reason."""
        conn.connection_lost(now)
        if conn in self.connections:
            self.connections.discard(conn)
            remaining = self._per_source.get(conn.peer_host, 1) - 1
            if remaining > 0:
                self._per_source[conn.peer_host] = remaining
            else:
                self._per_source.pop(conn.peer_host, None)

    # -- sessions ---------------------------------------------------------------------------------------

    def open_session(
        self, conn: Connection, clean_start: bool, expiry: int, identity: ClientIdentity, now: float
    ) -> tuple[Session, bool]:
        """Attach ``conn`` to its session, taking it over from another connection.

        Returns (session, session_present)."""
        client_id = conn.client_id
        existing = self.sessions.get(client_id)
        if existing is not None and existing.connection is not None:
            old = existing.connection
            old.taken_over()
            self.connection_closed(old, now)
            existing = self.sessions.get(client_id)
        pending = self.pending_wills.pop(client_id, None)
        if clean_start:
            if pending is not None:
                self._publish_will(pending[1], pending[2], now)
            if existing is not None:
                self._end_session(existing, now)
            existing = None
        # With clean start 0, a pending delayed Will is cancelled: the client came back in time
        # [MQTT-3.1.3-9].
        present = existing is not None
        if existing is None:
            session = Session(
                client_id, conn.version, expiry, self.limits, self.stats, self.persistence, self.wall_offset
            )
            self.sessions[client_id] = session
        else:
            session = existing
        session.version = conn.version
        session.expiry_interval = expiry
        session.identity = identity
        self.connected += 1
        if session.persistent:
            self.persistence.session_saved(self._stored_session(session, None))
        return session, present

    def _stored_session(self, session: Session, disconnected_at: float | None) -> StoredSession:
        subs = tuple(
            StoredSubscription(
                s.topic_filter,
                s.qos,
                s.no_local,
                s.retain_as_published,
                s.retain_handling,
                s.subscription_identifier,
            )
            for s in session.subscriptions.values()
        )
        wall = None if disconnected_at is None else disconnected_at + self.wall_offset
        return StoredSession(
            session.client_id, session.version, session.expiry_interval, subs, wall, session.identity.username
        )

    def connection_closed(self, conn: Connection, now: float) -> None:
        """``conn`` is done with its session (DISCONNECT, loss, error, takeover): Will and session expiry."""
        session = conn.session
        if session is None:
            return
        conn.session = None
        self.connected -= 1
        will = conn.will
        conn.will = None
        ended = False
        if session.connection is conn:
            session.detach(now)
            if session.expiry_interval == 0:
                self._end_session(session, now)
                ended = True
            else:
                self.persistence.session_saved(self._stored_session(session, now))
        if will is not None:
            delay = conn.will_delay
            if delay == 0 or ended:
                self._publish_will(will, session.identity, now)
            else:
                due = now + min(delay, session.expiry_interval)
                self.pending_wills[session.client_id] = (due, will, session.identity)

    def _end_session(self, session: Session, now: float) -> None:
        for topic_filter in list(session.subscriptions):
            group, body = split_shared(topic_filter)
            self.router.remove(session.client_id, body, group)
        session.subscriptions.clear()
        if self.sessions.get(session.client_id) is session:
            del self.sessions[session.client_id]
        if session.persistent:
            self.persistence.session_removed(session.client_id)
        pending = self.pending_wills.pop(session.client_id, None)
        if pending is not None:
            self._publish_will(pending[1], pending[2], now)

    def _publish_will(self, will: Message, identity: ClientIdentity, now: float) -> None:
        authorizer = self.authorizer
        if will.topic.startswith("$SYS") or (
            authorizer is not None and not authorizer.is_allowed(identity, Action.PUBLISH, will.topic)
        ):
            log.info("Will of %r to %r not published: not authorised", identity.client_id, will.topic)
            self.stats.dropped_not_authorized += 1
            return
        self.stats.wills_published += 1
        self.publish(will, now)

    # -- publish and route ------------------------------------------------------------------------------

    def check_publish(self, conn: Connection, topic: str) -> ReasonCode | None:
        """Why a client may not publish to ``topic`` (limits, $SYS, ACL), or None."""
        limits = self.limits
        if len(topic) > limits.max_topic_length or topic.count("/") >= limits.max_topic_levels:
            return ReasonCode.TOPIC_NAME_INVALID
        if topic.startswith("$SYS"):
            self.stats.dropped_not_authorized += 1
            return ReasonCode.NOT_AUTHORIZED
        authorizer = self.authorizer
        session = conn.session
        if (
            authorizer is not None
            and session is not None
            and not authorizer.is_allowed(session.identity, Action.PUBLISH, topic)
        ):
            log.info("client %r may not publish to %r", conn.client_id, topic)
            self.stats.dropped_not_authorized += 1
            return ReasonCode.NOT_AUTHORIZED
        return None

    def publish(self, message: Message, now: float) -> int:
        """Store (retained) and route a message; returns the number of subscribers reached, -1 if a
        retained message was refused by the retained caps (and then not routed)."""
        self.stats.messages_received += 1
        if message.retain:
            if not message.payload:
                if self.retained.clear(message.topic):
                    self.persistence.retained_cleared(message.topic)
            elif self.retained.set(message):
                expires = None if message.expires_at is None else message.expires_at + self.wall_offset
                self.persistence.retained_set(
                    StoredMessage(
                        message.topic,
                        message.payload,
                        message.qos,
                        True,
                        message.properties,
                        expires,
                        message.origin,
                        message.origin_username,
                    )
                )
            else:
                self.stats.retained_rejected += 1
                return -1
        if message.expires_at is not None and message.expired(now):
            return 0
        entries, groups = self.router.match(message.topic)
        count = 0
        authorizer = self.authorizer
        if len(entries) == 1 and not groups:
            owner, sub = entries[0]
            if sub.no_local and owner.client_id == message.origin:
                return 0
            if authorizer is not None and not self._may_receive(owner, message.topic):
                return 0
            qos = message.qos if message.qos < sub.qos else sub.qos
            retain = message.retain and sub.retain_as_published
            sub_ids = () if sub.subscription_identifier is None else (sub.subscription_identifier,)
            owner.deliver(message, qos, retain, sub_ids, now)
            self.stats.messages_sent += 1
            return 1
        merged: dict[str, _Target] = {}
        for owner, sub in entries:
            if sub.no_local and owner.client_id == message.origin:
                continue
            qos = message.qos if message.qos < sub.qos else sub.qos
            retain = message.retain and sub.retain_as_published
            found = merged.get(owner.client_id)
            if found is None:
                merged[owner.client_id] = _Target(owner, qos, retain, sub.subscription_identifier)
            else:
                # Overlapping subscriptions: one delivery at the highest QoS with every identifier
                # [MQTT-3.3.4-3/5].
                found.merge(qos, retain, sub.subscription_identifier)
        for group in groups:
            picked = group.pick()
            if picked is None:
                continue
            owner, sub = picked
            qos = message.qos if message.qos < sub.qos else sub.qos
            target = _Target(
                owner, qos, message.retain and sub.retain_as_published, sub.subscription_identifier
            )
            merged[f"{owner.client_id}\x00{group.name}"] = target
        for target in merged.values():
            if authorizer is not None and not self._may_receive(target.owner, message.topic):
                continue
            target.owner.deliver(message, target.qos, target.retain, tuple(target.sub_ids), now)
            count += 1
        self.stats.messages_sent += count
        return count

    def _may_receive(self, owner: Subscriber, topic: str) -> bool:
        identity = owner.identity
        if identity.internal or self.authorizer is None:
            return True
        if self.authorizer.is_allowed(identity, Action.RECEIVE, topic):
            return True
        self.stats.dropped_not_authorized += 1
        return False

    # -- timers -----------------------------------------------------------------------------------------

    def tick(self, now: float) -> None:
        """Deadlines: CONNECT, keep-alive, delayed Wills, session expiry, $SYS. Call every ~0.25 s."""
        connect_timeout = self.limits.connect_timeout
        for conn in list(self.connections):
            if conn.close_requested:
                continue
            state = conn.state
            if state is State.CONNECTED:
                if conn.keepalive_limit and now - conn.last_rx > conn.keepalive_limit:
                    conn.keepalive_expired()
            elif state is State.AWAITING_CONNECT:
                if now - conn.accepted_at > connect_timeout:
                    conn.connect_deadline_passed()
            elif state is State.AUTHENTICATING and now - conn.accepted_at > connect_timeout + AUTH_GRACE:
                # The client sent its CONNECT in time; a slow password hash is our delay, not its attack.
                conn.connect_deadline_passed()
        if self.pending_wills:
            for client_id, (due, will, identity) in list(self.pending_wills.items()):
                if due <= now:
                    del self.pending_wills[client_id]
                    self._publish_will(will, identity, now)
        if now >= self._next_session_sweep:
            self._next_session_sweep = now + 1.0
            for session in list(self.sessions.values()):
                if (
                    session.connection is None
                    and session.expires_at is not None
                    and session.expires_at <= now
                ):
                    log.info("session %r expired", session.client_id)
                    self._end_session(session, now)
        interval = self.settings.sys_interval
        if interval > 0 and now >= self._next_sys:
            self._next_sys = now + interval
            self.publish_sys(now)

    def publish_sys(self, now: float) -> None:
        for topic, value in sys_messages(self, now):
            self.publish(Message(topic, value.encode(), 0, True), now)


class _Target:
    """One subscriber's delivery in a routing pass (several overlapping subscriptions merge into one)."""

    __slots__ = ("owner", "qos", "retain", "sub_ids")

    def __init__(self, owner: Subscriber, qos: int, retain: bool, sub_id: int | None) -> None:
        self.owner = owner
        self.qos = qos
        self.retain = retain
        self.sub_ids: list[int] = [] if sub_id is None else [sub_id]

    def merge(self, qos: int, retain: bool, sub_id: int | None) -> None:
        self.qos = max(self.qos, qos)
        self.retain = self.retain or retain
        if sub_id is not None:
            self.sub_ids.append(sub_id)
