"""Hooks the broker calls for security and durability decisions it does not make itself.

The security and durability parts (``gateway.broker.auth``, ``gateway.broker.persistence``) implement these
protocols; the broker runs with the defaults below when they are not configured:

- :class:`AnonymousAuthenticator`: allows everyone if ``allow_anonymous`` is true, refuses everyone otherwise;
- no :class:`Authorizer` (``None``): every action is allowed (only ever paired with allow_anonymous);
- :class:`MemoryPersistence`: nothing survives a restart.

Threading and timing contract: every hook is called on the broker's event loop thread. ``authenticate`` may
return an awaitable (to hash a password in a thread); everything else must return quickly and never block:
persistence methods only hand work to the store's own writer thread.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Protocol, runtime_checkable

from gateway.broker.codec.properties import NO_PROPERTIES, Properties
from gateway.broker.codes import ReasonCode


@dataclass(frozen=True, slots=True)
class AuthRequest:
    """What a client presented in CONNECT, plus what the transport knows about it."""

    client_id: str
    username: str | None
    password: bytes | None
    peer_cert_cn: str | None
    """Common Name of a verified TLS client certificate, or None (plain TCP, no certificate)."""
    peer_host: str
    peer_port: int
    listener: str
    """The listener's name (ListenerSettings.name or host:port)."""
    use_identity_as_username: bool
    """The listener maps the certificate CN to the user name (TlsSettings.use_identity_as_username)."""
    protocol_version: int
    """4 (3.1.1) or 5 (5.0)."""


@dataclass(frozen=True, slots=True)
class AuthDecision:
    """The answer to an :class:`AuthRequest`.

    ``reason_code`` is sent in CONNACK when not allowed (mapped to the 3.1.1 return code for 3.1.1 clients):
    BAD_USER_NAME_OR_PASSWORD for wrong credentials, NOT_AUTHORIZED for anonymous/refused, BANNED...
    """

    allowed: bool
    reason_code: ReasonCode = ReasonCode.SUCCESS
    username: str | None = None
    """The effective user name (the CN with use_identity_as_username); ACL %u expands to it."""
    roles: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class ClientIdentity:
    """Who a connected client is, as the Authorizer sees it."""

    client_id: str
    username: str | None
    roles: frozenset[str] = frozenset()
    peer_host: str = ""
    internal: bool = False
    """True for the gateway's own in-process client (Broker.publish / Broker.subscribe)."""


class Action(Enum):
    PUBLISH = "publish"
    """The client sends a PUBLISH (also checked for its Will at CONNECT and for retained writes)."""
    SUBSCRIBE = "subscribe"
    """The client subscribes with this filter."""
    RECEIVE = "receive"
    """A message on this topic is about to be delivered to the client (live, queued or retained)."""


@runtime_checkable
class Authenticator(Protocol):
    def authenticate(self, request: AuthRequest) -> AuthDecision | Awaitable[AuthDecision]:
        """Decide whether a CONNECT is accepted. May return an awaitable for slow password hashing."""
        ...


@runtime_checkable
class Authorizer(Protocol):
    def is_allowed(self, identity: ClientIdentity, action: Action, topic: str) -> bool:
        """Whether ``identity`` may do ``action`` on ``topic`` (a filter for SUBSCRIBE). Must be fast."""
        ...


@dataclass(frozen=True, slots=True)
class StoredMessage:
    """An application message as persistence stores it.

    ``expires_at`` is wall-clock UTC seconds (time.time()) or None, so it survives restarts.
    ``origin`` / ``origin_username`` identify the publisher (client id, user name); ``origin`` is "" for the
    broker's own messages (Broker.publish, $SYS), which no ACL applies to. A retained message is served only
    while its publisher may still publish to its topic (T21).
    """

    topic: str
    payload: bytes
    qos: int
    retain: bool
    properties: Properties = NO_PROPERTIES
    expires_at: float | None = None
    origin: str = ""
    origin_username: str | None = None


@dataclass(frozen=True, slots=True)
class StoredSubscription:
    topic_filter: str
    qos: int
    no_local: bool = False
    retain_as_published: bool = False
    retain_handling: int = 0
    subscription_identifier: int | None = None


@dataclass(frozen=True, slots=True)
class StoredSession:
    """A persistent session (Session Expiry Interval > 0, or 3.1.1 clean session 0)."""

    client_id: str
    protocol_version: int
    expiry_interval: int
    """Seconds after disconnect before the session ends (capped by limits.max_session_expiry)."""
    subscriptions: tuple[StoredSubscription, ...] = ()
    disconnected_at: float | None = None
    """Wall-clock UTC seconds when the client went away, None while connected."""
    username: str | None = None


@dataclass(frozen=True, slots=True)
class QueuedMessage:
    """A QoS 1/2 message waiting for (or in flight to) a session; ``seq`` is unique and increasing per
    session."""

    seq: int
    message: StoredMessage
    qos: int
    """QoS of this delivery (already downgraded to the subscription's maximum)."""
    subscription_identifiers: tuple[int, ...] = ()
    packet_id: int | None = None
    """QoS 2 only: the packet id it was sent with (None: not sent yet, or QoS 1). Resent with the same id
    after a restart, so the client's duplicate detection works across it [MQTT-4.4.0-1]."""
    released: bool = False
    """QoS 2 only: the client PUBRECed it; after a restart the broker sends PUBREL, not the PUBLISH."""


@dataclass(frozen=True, slots=True)
class PersistedState:
    retained: tuple[StoredMessage, ...] = ()
    sessions: tuple[StoredSession, ...] = ()
    queues: dict[str, tuple[QueuedMessage, ...]] = field(default_factory=dict)
    """client id -> its queued messages in ``seq`` order."""
    inbound_qos2: dict[str, tuple[int, ...]] = field(default_factory=dict)
    """client id -> packet ids of QoS 2 messages it sent that were routed and await its PUBREL."""


@runtime_checkable
class BrokerPersistence(Protocol):
    """Durable storage of retained messages and persistent sessions (write-behind: calls must not block).

    When the broker calls what:
    - ``load`` once at start, before listening;
    - ``retained_set`` / ``retained_cleared`` on every retained PUBLISH (an empty payload clears);
    - ``session_saved`` when a persistent session is created, changes subscriptions or expiry, disconnects;
    - ``session_removed`` when a session ends (expiry, clean start, takeover by a clean session);
    - ``message_queued`` when a QoS 1/2 message is put into a persistent session's queue;
    - ``message_in_flight`` when a QoS 2 message of a persistent session is sent with a packet id
      (``released`` False) and when the client PUBRECs it (``released`` True: PUBREL pending);
    - ``message_acknowledged`` when it is PUBACKed / PUBCOMPed (QoS 2), dropped by the queue policy, or
      expired;
    - ``inbound_qos2_received`` when a persistent session's client sends a QoS 2 PUBLISH that is routed
      (before the PUBREC), ``inbound_qos2_released`` at its PUBREL: duplicate detection across restarts;
    - ``after_commit`` (only with ``durable_ack``): run a callback on the loop once everything handed over
      so far is durable;
    - ``flush`` at stop (and may be awaited by whoever needs a durability point); ``close`` last.
    PUBACK to a publisher is sent after the hand-off to persistence, not after fsync, unless the broker runs
    with ``durable_ack`` (then after ``after_commit`` calls back).
    """

    async def load(self) -> PersistedState: ...

    def retained_set(self, message: StoredMessage) -> None: ...

    def retained_cleared(self, topic: str) -> None: ...

    def session_saved(self, session: StoredSession) -> None: ...

    def session_removed(self, client_id: str) -> None: ...

    def message_queued(self, client_id: str, queued: QueuedMessage) -> None: ...

    def message_acknowledged(self, client_id: str, seq: int) -> None: ...

    def message_in_flight(self, client_id: str, seq: int, packet_id: int, released: bool) -> None: ...

    def inbound_qos2_received(self, client_id: str, packet_id: int) -> None: ...

    def inbound_qos2_released(self, client_id: str, packet_id: int) -> None: ...

    def after_commit(self, callback: Callable[[], None]) -> None: ...

    async def flush(self) -> None: ...

    async def close(self) -> None: ...


class AnonymousAuthenticator:
    """The default when no security is configured: everyone or no one, by ``allow_anonymous``."""

    def __init__(self, allow_anonymous: bool) -> None:
        self.allow_anonymous = allow_anonymous

    def authenticate(self, request: AuthRequest) -> AuthDecision:
        if self.allow_anonymous:
            return AuthDecision(True, username=request.username)
        return AuthDecision(False, ReasonCode.NOT_AUTHORIZED)


class MemoryPersistence:
    """The default persistence: keeps nothing (data_dir is None)."""

    async def load(self) -> PersistedState:
        return PersistedState()

    def retained_set(self, message: StoredMessage) -> None:
        return None

    def retained_cleared(self, topic: str) -> None:
        return None

    def session_saved(self, session: StoredSession) -> None:
        return None

    def session_removed(self, client_id: str) -> None:
        return None

    def message_queued(self, client_id: str, queued: QueuedMessage) -> None:
        return None

    def message_acknowledged(self, client_id: str, seq: int) -> None:
        return None

    def message_in_flight(self, client_id: str, seq: int, packet_id: int, released: bool) -> None:
        return None

    def inbound_qos2_received(self, client_id: str, packet_id: int) -> None:
        return None

    def inbound_qos2_released(self, client_id: str, packet_id: int) -> None:
        return None

    def after_commit(self, callback: Callable[[], None]) -> None:
        callback()  # nothing is stored, so everything is as durable as it will ever be

    async def flush(self) -> None:
        return None

    async def close(self) -> None:
        return None
