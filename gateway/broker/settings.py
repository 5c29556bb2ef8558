"""Typed settings of the embedded broker (frozen dataclasses; the config loader builds them).

Defaults are safe on a plant floor: loopback only, anonymous access refused, bounded everything.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path


@dataclass(frozen=True, slots=True)
class TlsSettings:
    """TLS for one listener."""

    certfile: Path
    """Server certificate chain (PEM)."""
    keyfile: Path
    """Private key of ``certfile`` (PEM)."""
    cafile: Path | None = None
    """CA bundle used to verify client certificates; needed when ``require_certificate`` is true."""
    require_certificate: bool = False
    """Refuse clients that do not present a certificate signed by ``cafile``."""
    use_identity_as_username: bool = False
    """Use the client certificate's Common Name as the MQTT user name (no password needed)."""
    handshake_timeout: float = 5.0
    """Seconds a TLS handshake may take after accept (asyncio's default of 60 s is a SlowITe window)."""


@dataclass(frozen=True, slots=True)
class ListenerSettings:
    """One TCP (or TLS) listener. Port 0 asks the kernel for a free port; read it back from the broker."""

    host: str = "127.0.0.1"
    """Address to bind; loopback unless configured otherwise."""
    port: int = 1883
    """TCP port; 0 = any free port."""
    tls: TlsSettings | None = None
    """TLS settings, or ``None`` for plain TCP."""
    name: str = ""
    """A name for logs and $SYS; defaults to host:port."""


class QueueOverflow(Enum):
    """What a full per-session queue does with one more message; every drop is counted in $SYS."""

    DROP_OLDEST = "drop_oldest"
    """Discard the oldest queued message (keeps the freshest plant data)."""
    DROP_NEWEST = "drop_newest"
    """Discard the arriving message (keeps the earliest)."""


@dataclass(frozen=True, slots=True)
class BrokerLimits:
    """Limits that keep the broker serving honest clients under load or attack."""

    connect_timeout: float = 5.0
    """Seconds from accept to a complete CONNECT; absolute, whatever progress was made (SlowITe, T13/T14).
    The authentication decision that follows may take ``core.AUTH_GRACE`` (30 s) more."""
    max_keepalive: int = 300
    """Cap on the client's keep-alive in seconds (also for 3.1.1 and for keep-alive 0); 5.0 clients are told
    the cap as Server Keep Alive."""
    max_connections: int = 10_000
    """Connections in total; more get CONNACK 0x89/3 (Server busy) and are closed."""
    max_connections_per_source: int = 1_000
    """Connections per source IP address; more are closed before CONNECT is read."""
    connection_rate: float = 500.0
    """New connections per second per source address (token bucket refill rate)."""
    connection_burst: int = 200
    """Token bucket size for ``connection_rate``."""
    max_packet_size: int = 1_048_576
    """Largest packet accepted (bytes, fixed header included); announced to 5.0 clients in CONNACK."""
    receive_maximum: int = 100
    """Unacknowledged QoS 1/2 PUBLISH a client may send us at once (announced in CONNACK)."""
    max_inflight_messages: int = 100
    """Unacknowledged QoS 1/2 messages we send to one client (lowered to the client's Receive Maximum)."""
    max_queued_messages: int = 1_000
    """Messages queued per session beyond the in-flight window (offline or congested)."""
    max_queued_bytes: int = 16_777_216
    """Payload bytes queued per session."""
    queue_overflow: QueueOverflow = QueueOverflow.DROP_OLDEST
    """Policy when a session queue is full."""
    queue_qos0_offline: bool = False
    """Whether QoS 0 messages are queued for offline persistent sessions (mosquitto's queue_qos0_messages)."""
    max_topic_length: int = 65_535
    """Characters in a topic name or filter."""
    max_topic_levels: int = 128
    """Levels in a topic name or filter (a deeper SUBSCRIBE gets 0x8F, a deeper PUBLISH is refused)."""
    max_subscriptions_per_client: int = 1_000
    """Subscriptions one session may hold (more get SUBACK 0x97 Quota exceeded)."""
    max_retained_messages: int = 100_000
    """Retained messages held in total; a new retained topic past the cap is refused (PUBACK 0x97)."""
    max_retained_bytes: int = 64 * 1_048_576
    """Retained payload bytes held in total."""
    output_buffer_bytes: int = 1_048_576
    """Bytes buffered towards one client before its QoS 0 messages are dropped; at twice this the client is
    disconnected."""
    topic_alias_maximum: int = 10
    """Topic aliases a 5.0 client may define towards us."""
    max_session_expiry: int = 7 * 24 * 3600
    """Cap on Session Expiry Interval (s); 3.1.1 persistent sessions expire after this too."""


@dataclass(frozen=True, slots=True)
class BrokerSettings:
    """Everything the broker needs to run."""

    listeners: tuple[ListenerSettings, ...] = (ListenerSettings(),)
    """Where to listen."""
    allow_anonymous: bool = False
    """Accept clients without credentials (the demo enables this)."""
    password_file: Path | None = None
    """Password file (``edge-gateway passwd``); read by the security hooks."""
    acl_file: Path | None = None
    """ACL rules; read by the security hooks."""
    data_dir: Path | None = None
    """Directory for retained messages and persistent sessions; ``None`` = in memory only."""
    limits: BrokerLimits = field(default_factory=BrokerLimits)
    """See :class:`BrokerLimits`."""
    sys_interval: float = 10.0
    """Seconds between $SYS statistics updates; 0 disables $SYS."""
    durable_ack: bool = False
    """Send PUBACK/PUBREC for a QoS 1/2 PUBLISH only once the store has committed everything that PUBLISH
    changed (and everything handed over before it), instead of at the hand-off: nothing acknowledged is lost
    on kill -9 or power loss, at the cost of up to one commit interval of acknowledgement latency."""
    response_information: str | None = None
    """Prefix for the 5.0 Response Information returned to a client that sets Request Response Information
    (the client's id is appended: ``<prefix><client id>/``); None: never returned [MQTT-3.1.2-28]."""
