"""Status snapshots the daemon publishes as retained messages.

Conventions for every shape here:
- Times are UTC milliseconds since the epoch (``*_ms``); durations are seconds (``*_s``) or
  milliseconds when named ``*_ms`` and not a point in time (``rtt_ms``). ``None`` means "never" or
  "unknown", never zero.
- Every snapshot has ``timestamp_ms``, the time it was taken, so a client can show its age.
- Sequences are tuples (the dataclasses are frozen); counters only grow while the daemon runs.
- Within a schema version, new fields may be added with a default; decoders ignore unknown fields.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import ClassVar

TagScalar = bool | int | float | str | None
"""A tag value on the wire: JSON scalar (``None`` when the value is unknown or null)."""


class ServerState(StrEnum):
    """Connection state of one upstream MQTT server."""

    IDLE = "idle"  # not the active server, not being tried
    CONNECTING = "connecting"
    CONNECTED = "connected"
    BACKOFF = "backoff"  # waiting before the next attempt
    FAILED = "failed"  # last attempt failed; see last_error


class SessionState(StrEnum):
    """The Sparkplug edge-node session on the active server (sparkplug-b-edge-node.md §4)."""

    DISCONNECTED = "disconnected"
    CONNECTED = "connected"
    WAIT_PRIMARY = "wait_primary"
    ONLINE = "online"


class DeviceHealth(StrEnum):
    """How a southbound device is doing."""

    OK = "ok"
    DEGRADED = "degraded"  # some reads fail, or polls are late
    DOWN = "down"  # no contact; its Sparkplug device is dead (DDEATH)
    DISABLED = "disabled"  # disabled by configuration or by a command
    UNKNOWN = "unknown"  # not polled yet


class Quality(StrEnum):
    """Quality of one tag value."""

    GOOD = "good"
    BAD = "bad"
    UNCERTAIN = "uncertain"
    STALE = "stale"  # the device stopped answering; the value is the last one known


class StoreMode(StrEnum):
    """What store-and-forward is doing."""

    LIVE = "live"  # publishing straight upstream, nothing stored
    STORING = "storing"  # upstream unavailable: writing to the store
    DRAINING = "draining"  # upstream back: sending stored data as historical


@dataclass(frozen=True, slots=True)
class DaemonState:
    """Liveness of the daemon (retained).

    ``online: true`` while it runs; ``online: false`` is published first thing on a clean stop. The
    embedded broker lives in the daemon's process, so when the daemon dies its clients lose the
    connection itself: a client treats a lost connection, or a state older than the heartbeat of the
    status topics, as "daemon not running".

    Attributes:
        online: true while the daemon runs; false in the Will and on a clean shutdown.
        timestamp_ms: when the daemon published this (for the Will: when it connected).
        version: the daemon's version string.
        pid: the daemon's process id.
    """

    KIND: ClassVar[str] = "daemon_state"
    online: bool
    timestamp_ms: int
    version: str
    pid: int


@dataclass(frozen=True, slots=True)
class ReloadResult:
    """The outcome of the last configuration load or reload.

    Attributes:
        at_ms: when it was attempted.
        ok: whether the new configuration was applied.
        source: what triggered it: "startup", "sighup" or "command".
        message: one line for people ("applied: 2 devices changed" or the first problem).
        problems: every problem found, one line each (``file:line: key: reason``); empty when ok.
        security_reloaded: the embedded broker's password and ACL files: ``true`` re-read and in force,
            ``false`` one was invalid and the previous users and ACL stay in force (``ok`` is then
            false too), ``null`` not re-read (none configured, or the configuration was invalid).
        security_message: one line about the password and ACL files (the error when they were kept),
            or ``null``.
    """

    KIND: ClassVar[str] = "reload_result"
    at_ms: int
    ok: bool
    source: str
    message: str
    problems: tuple[str, ...] = ()
    security_reloaded: bool | None = None
    security_message: str | None = None


@dataclass(frozen=True, slots=True)
class GatewayStatus:
    """Identity and health of the gateway as a whole.

    Attributes:
        timestamp_ms: when this snapshot was taken.
        group_id: Sparkplug group id.
        edge_node_id: Sparkplug edge node id.
        version: the daemon's version string.
        started_at_ms: when the daemon started.
        uptime_s: seconds since start.
        config_file: the configuration file in use, or ``None`` for the built-in demo.
        last_reload: the outcome of the last load or reload, or ``None`` before the first.
        hostname: the machine's host name.
        demo: true when running the built-in demo.
    """

    KIND: ClassVar[str] = "gateway_status"
    timestamp_ms: int
    group_id: str
    edge_node_id: str
    version: str
    started_at_ms: int
    uptime_s: float
    config_file: str | None
    last_reload: ReloadResult | None
    hostname: str = ""
    demo: bool = False


@dataclass(frozen=True, slots=True)
class ServerStatus:
    """One upstream MQTT server of the ordered list.

    Attributes:
        name: the server's name from the configuration.
        host: host name or address.
        port: TCP port.
        tls: whether the connection uses TLS.
        mqtt_version: "3.1.1" or "5".
        state: connection state.
        active: true for the server the edge node is (or is trying to be) connected to.
        health: short reasons for the state, in plain words ("connection refused", "no PINGRESP for 45 s").
        last_error: the last error in plain words, or ``None``.
        last_error_at_ms: when it happened.
        connected_since_ms: when the current connection was established, or ``None``.
        backoff_until_ms: when the next attempt is due while in backoff, or ``None``.
        rtt_ms: the last measured round trip (PINGREQ to PINGRESP), or ``None``.
        connect_count: successful connections since start.
        failure_count: failed attempts and lost connections since start.
    """

    KIND: ClassVar[str] = "server_status"
    name: str
    host: str
    port: int
    tls: bool
    mqtt_version: str
    state: ServerState
    active: bool
    health: tuple[str, ...] = ()
    last_error: str | None = None
    last_error_at_ms: int | None = None
    connected_since_ms: int | None = None
    backoff_until_ms: int | None = None
    rtt_ms: float | None = None
    connect_count: int = 0
    failure_count: int = 0


@dataclass(frozen=True, slots=True)
class SwitchRecord:
    """One move of the edge node from one upstream server to another.

    Attributes:
        at_ms: when the switch started (the old session ended).
        from_server: the server left, or ``None`` at start-up.
        to_server: the server connected to.
        reason: why, in plain words ("primary host offline (STATE)", "connection lost", ...).
        duration_ms: from leaving the old server to NBIRTH on the new one, or ``None`` while in progress.
    """

    KIND: ClassVar[str] = "switch_record"
    at_ms: int
    from_server: str | None
    to_server: str
    reason: str
    duration_ms: int | None


@dataclass(frozen=True, slots=True)
class PrimaryHostStatus:
    """The Sparkplug Primary Host Application as seen on the active server (spec §9).

    Attributes:
        host_id: the configured primary host id.
        online: the last valid STATE's ``online`` value, or ``None`` when none was seen yet.
        state_timestamp_ms: the ``timestamp`` of that STATE message, or ``None``.
        received_at_ms: when the daemon received it, or ``None``.
        state_format: which STATE form is followed: "v3", "v2_2" or "both".
    """

    KIND: ClassVar[str] = "primary_host_status"
    host_id: str
    online: bool | None
    state_timestamp_ms: int | None
    received_at_ms: int | None
    state_format: str = "v3"


@dataclass(frozen=True, slots=True)
class UplinkStatus:
    """The upstream side: servers, which one is active, and the Sparkplug session on it.

    Attributes:
        timestamp_ms: when this snapshot was taken.
        servers: the ordered server list, in configuration order.
        active_server: name of the active server, or ``None`` when none is.
        session_state: the Sparkplug edge-node session state.
        bd_seq: the bdSeq of the current (or last) MQTT connection.
        seq: the last Sparkplug ``seq`` sent (0..255), or ``None`` before the first NBIRTH.
        primary_host: the primary host, or ``None`` when none is configured.
        switches: recent server switches, oldest first (bounded).
        failover_count: server switches since start.
        births: connections on which a Sparkplug session ran since start (rebirths are not counted).
        rebirths: NBIRTHs since start that were not the first of their connection (a host's NCMD
            ``Node Control/Rebirth`` or the ``rebirth`` command); 0 from daemons before this field.
        relayed: Sparkplug messages sent to or received from upstream servers that were copied to the
            ``sparkplug/...`` relay topics since start (only while a client subscribes to them).
        relay_dropped: copies not made because of the relay's rate limit (``SPARKPLUG_RELAY_MAX_PER_S``,
            ``SPARKPLUG_RELAY_MAX_BYTES_PER_S``) since start; the uplink itself lost nothing.
    """

    KIND: ClassVar[str] = "uplink_status"
    timestamp_ms: int
    servers: tuple[ServerStatus, ...]
    active_server: str | None
    session_state: SessionState
    bd_seq: int
    seq: int | None
    primary_host: PrimaryHostStatus | None
    switches: tuple[SwitchRecord, ...] = ()
    failover_count: int = 0
    births: int = 0
    rebirths: int = 0
    relayed: int = 0
    relay_dropped: int = 0


@dataclass(frozen=True, slots=True)
class DeviceStatus:
    """One southbound device (a Sparkplug device of this edge node).

    Attributes:
        timestamp_ms: when this snapshot was taken.
        device_id: the Sparkplug device id.
        protocol: "modbus_tcp", "modbus_rtu" or "opcua".
        endpoint: where it is ("10.0.0.5:502 unit 1", "/dev/ttyUSB0 unit 3", "opc.tcp://plc:4840").
        enabled: false when disabled by configuration or command.
        health: how it is doing.
        born: whether its DBIRTH is current upstream (false after DDEATH).
        tag_count: number of configured tags.
        poll_interval_ms: the configured poll interval.
        last_poll_ms: when the last poll finished (good or bad), or ``None``.
        last_good_poll_ms: when the last fully good poll finished, or ``None``.
        polls: polls since start.
        errors: failed reads since start.
        timeouts: reads that timed out since start.
        consecutive_errors: failed polls in a row (0 when the last poll was good).
        last_error: the last error in plain words ("timeout after 1.0 s reading holding 0-9"), or ``None``.
        last_error_at_ms: when it happened.
        response_ms_p50: median read time over the recent window, or ``None``.
        response_ms_p99: 99th percentile read time over the recent window, or ``None``.
    """

    KIND: ClassVar[str] = "device_status"
    timestamp_ms: int
    device_id: str
    protocol: str
    endpoint: str
    enabled: bool
    health: DeviceHealth
    born: bool
    tag_count: int
    poll_interval_ms: int
    last_poll_ms: int | None = None
    last_good_poll_ms: int | None = None
    polls: int = 0
    errors: int = 0
    timeouts: int = 0
    consecutive_errors: int = 0
    last_error: str | None = None
    last_error_at_ms: int | None = None
    response_ms_p50: float | None = None
    response_ms_p99: float | None = None


@dataclass(frozen=True, slots=True)
class TagValue:
    """The live value of one tag.

    Attributes:
        name: the tag (Sparkplug metric) name, a ``/`` path.
        value: the value, or ``None`` when unknown.
        quality: quality of the value.
        timestamp_ms: when the value was sampled at the device (not when it was sent).
        datatype: the Sparkplug data type name ("Int16", "Float", "Boolean", "String", ...).
        writable: whether DCMD and the write_tag command may write it.
        unit: engineering unit, or "".
    """

    KIND: ClassVar[str] = "tag_value"
    name: str
    value: TagScalar
    quality: Quality
    timestamp_ms: int
    datatype: str
    writable: bool = False
    unit: str = ""


@dataclass(frozen=True, slots=True)
class TagSnapshot:
    """All tags of one device (retained; replaced at most every few seconds).

    Attributes:
        timestamp_ms: when this snapshot was taken.
        device_id: the device.
        tags: every tag of the device, in configuration order.
    """

    KIND: ClassVar[str] = "tag_snapshot"
    timestamp_ms: int
    device_id: str
    tags: tuple[TagValue, ...]


@dataclass(frozen=True, slots=True)
class TagChanges:
    """The tags of one device that changed since the last batch (not retained; at most 2 Hz).

    Attributes:
        timestamp_ms: when this batch was cut.
        device_id: the device.
        changes: the latest value of each tag that changed, in configuration order.
        dropped: values overwritten inside the batch window (a tag changed more than once).
        pending: changed tags left for the next batches (at most ``TAG_CHANGES_MAX_VALUES`` values go
            in one batch); 0 when this batch holds every change.
    """

    KIND: ClassVar[str] = "tag_changes"
    timestamp_ms: int
    device_id: str
    changes: tuple[TagValue, ...]
    dropped: int = 0
    pending: int = 0


@dataclass(frozen=True, slots=True)
class StoreStatus:
    """Store-and-forward: what is waiting to go upstream.

    Attributes:
        timestamp_ms: when this snapshot was taken.
        mode: live, storing or draining.
        depth: messages waiting.
        bytes: payload bytes waiting.
        oldest_age_s: age of the oldest waiting message, or ``None`` when empty.
        drain_rate_per_s: messages sent from the store per second (recent average).
        write_rate_per_s: messages written to the store per second (recent average).
        dropped: messages dropped since start because the store was full.
        drop_policy: what happens when full ("drop_oldest" or "drop_newest").
        capacity_messages: the configured message limit (0 = none: the store is capped by bytes).
        capacity_bytes: the configured byte limit.
        db_bytes: size of the database file on disk.
    """

    KIND: ClassVar[str] = "store_status"
    timestamp_ms: int
    mode: StoreMode
    depth: int
    bytes: int
    oldest_age_s: float | None
    drain_rate_per_s: float = 0.0
    write_rate_per_s: float = 0.0
    dropped: int = 0
    drop_policy: str = "drop_oldest"
    capacity_messages: int = 0
    capacity_bytes: int = 0
    db_bytes: int = 0


@dataclass(frozen=True, slots=True)
class ListenerStatus:
    """One listener of the embedded broker.

    Attributes:
        name: the listener's name from the configuration.
        host: the bound address.
        port: the bound port (read back from the socket).
        tls: whether it is a TLS listener.
    """

    KIND: ClassVar[str] = "listener_status"
    name: str
    host: str
    port: int
    tls: bool


@dataclass(frozen=True, slots=True)
class SubscriptionInfo:
    """One subscription of a client of the embedded broker (MQTT 5.0 §3.8.3.1 options).

    Attributes:
        topic_filter: the filter as subscribed, with any ``$share/<group>/`` prefix.
        qos: the maximum QoS granted (0, 1 or 2).
        no_local: MQTT 5 No Local: the client's own messages are not sent back to it.
        retain_as_published: MQTT 5 Retain As Published: the retain flag is forwarded as published.
        retain_handling: MQTT 5 Retain Handling: 0 retained messages at every subscribe, 1 only at a
            new subscription, 2 never.
    """

    KIND: ClassVar[str] = "subscription_info"
    topic_filter: str
    qos: int
    no_local: bool = False
    retain_as_published: bool = False
    retain_handling: int = 0


@dataclass(frozen=True, slots=True)
class ClientInfo:
    """One client connected to the embedded broker.

    Attributes:
        client_id: the MQTT client id.
        username: the authenticated user, or ``None``.
        address: the peer address as "host:port".
        protocol: "3.1.1" or "5".
        keep_alive_s: the keep-alive the client asked for.
        subscriptions: number of subscriptions.
        inflight: QoS 1/2 messages in flight to it.
        queued: messages queued for it.
        connected_at_ms: when it connected.
        subscription_filters: its subscriptions in the order made (at most
            ``BROKER_CLIENT_SUBSCRIPTIONS_LIMIT`` per client and ``BROKER_SUBSCRIPTIONS_LIMIT`` over all
            clients; ``subscriptions`` is the true number); empty from daemons before this field.
    """

    KIND: ClassVar[str] = "client_info"
    client_id: str
    username: str | None
    address: str
    protocol: str
    keep_alive_s: int
    subscriptions: int = 0
    inflight: int = 0
    queued: int = 0
    connected_at_ms: int | None = None
    subscription_filters: tuple[SubscriptionInfo, ...] = ()


@dataclass(frozen=True, slots=True)
class RetainedInfo:
    """One retained message held by the embedded broker (its payload is not included).

    Attributes:
        topic: the topic it is retained on.
        bytes: payload size in bytes.
        qos: the QoS it was published with.
        since_ms: when the daemon first saw this message retained (set or replaced; for messages
            restored from the broker's store at start, the daemon's start), so ``now - since_ms`` is
            its age as far as this daemon knows; ``null`` when unknown.
    """

    KIND: ClassVar[str] = "retained_info"
    topic: str
    bytes: int
    qos: int
    since_ms: int | None = None


@dataclass(frozen=True, slots=True)
class BrokerStatus:
    """The embedded broker.

    Attributes:
        timestamp_ms: when this snapshot was taken.
        listeners: the bound listeners.
        client_count: connected clients.
        clients: the connected clients (at most 200; ``client_count`` is the true number).
        subscription_count: subscriptions over all clients.
        retained_count: retained messages held.
        messages_in: PUBLISH packets received since start.
        messages_out: PUBLISH packets sent since start.
        bytes_in: bytes received since start.
        bytes_out: bytes sent since start.
        dropped: messages dropped since start (full queues, oversize).
        sys: the broker's ``$SYS``-style figures by name (load averages, uptime, ...).
        retained: retained messages, oldest topic first (at most ``BROKER_RETAINED_LIMIT``;
            ``retained_count`` is the true number); empty from daemons before this field.
    """

    KIND: ClassVar[str] = "broker_status"
    timestamp_ms: int
    listeners: tuple[ListenerStatus, ...]
    client_count: int
    clients: tuple[ClientInfo, ...] = ()
    subscription_count: int = 0
    retained_count: int = 0
    messages_in: int = 0
    messages_out: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    dropped: int = 0
    sys: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))
    retained: tuple[RetainedInfo, ...] = ()
