"""The typed configuration model: one frozen dataclass per section, a description under every field.

The file is YAML; each section below is a top-level key. Defaults are safe on a plant floor: the
embedded broker listens on loopback only and refuses anonymous clients, everything is bounded, and
nothing is written outside ``data_dir``. Relative paths are relative to the configuration file.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType
from typing import Annotated

from gateway.config._types import (
    Count,
    NonEmpty,
    Port,
    PortOrZero,
    Range,
    Seconds,
    Secret,
    SparkplugId,
)
from gateway.config.devices import DeviceConfig


class StateFormat(StrEnum):
    """Which Primary Host STATE form to follow (sparkplug-b-edge-node.md §9)."""

    V3 = "v3"  # spBv1.0/STATE/<host id>, JSON {"online", "timestamp"} (Sparkplug 3.0)
    V2_2 = "v2_2"  # STATE/<host id>, "ONLINE"/"OFFLINE" (Sparkplug 2.2 hosts)
    BOTH = "both"


@dataclass(frozen=True, slots=True)
class IdentityConfig:
    """Who this gateway is in the Sparkplug namespace.

    Attributes:
        group_id: the Sparkplug group id (first topic level after ``spBv1.0``).
        edge_node_id: the Sparkplug edge node id; ``group_id/edge_node_id`` must be unique everywhere.
        primary_host_id: the Primary Host Application whose STATE gates births; ``null`` = none.
        state_format: which STATE form the primary host publishes.
        primary_host_timeout_s: move to the next server when no online STATE arrives within this.
    """

    group_id: SparkplugId
    edge_node_id: SparkplugId
    primary_host_id: SparkplugId | None = None
    state_format: StateFormat = StateFormat.V3
    primary_host_timeout_s: Seconds = 30.0


@dataclass(frozen=True, slots=True)
class ListenerTlsConfig:
    """TLS of one listener of the embedded broker.

    Attributes:
        certfile: server certificate chain (PEM).
        keyfile: private key of ``certfile`` (PEM).
        cafile: CA bundle to verify client certificates.
        require_certificate: refuse clients without a certificate signed by ``cafile``.
        use_identity_as_username: the client certificate's Common Name is the MQTT user name (no
            password); needs ``require_certificate: true``. The ACL file's rules for that user apply.
        handshake_timeout_s: seconds a TLS handshake may take after accept (a slow handshake holds a
            connection slot; asyncio's own default is 60 s).
    """

    certfile: Path
    keyfile: Path
    cafile: Path | None = None
    require_certificate: bool = False
    use_identity_as_username: bool = False
    handshake_timeout_s: Seconds = 5.0


@dataclass(frozen=True, slots=True)
class ListenerConfig:
    """One listener of the embedded broker.

    Attributes:
        name: a name for logs and the control plane (defaults to ``host:port``).
        host: address to bind; loopback unless you mean to expose the broker.
        port: TCP port; 0 asks the system for a free one (printed at start).
        tls: TLS settings; ``null`` = plain TCP.
    """

    name: str = ""
    host: str = "127.0.0.1"
    port: PortOrZero = 1883
    tls: ListenerTlsConfig | None = None


class QueueOverflowPolicy(StrEnum):
    """What a full per-session queue of the embedded broker does with one more message (counted in $SYS)."""

    DROP_OLDEST = "drop_oldest"  # keeps the freshest plant data
    DROP_NEWEST = "drop_newest"  # keeps the earliest


@dataclass(frozen=True, slots=True)
class BrokerLimitsConfig:
    """Limits of the embedded broker: they keep it serving honest clients under load or attack.

    Attributes:
        max_connections: client connections in total; more get CONNACK "server busy".
        max_connections_per_source: connections from one IP address; more are closed before CONNECT.
        connection_rate: new connections per second from one IP address (token bucket refill rate).
        connection_burst: new connections from one IP address allowed at once (token bucket size).
        max_keepalive: cap on a client's keep-alive, seconds (>= 1); MQTT 5 clients are told the cap.
        max_packet_size: largest MQTT packet accepted, bytes (announced to MQTT 5 clients).
        receive_maximum: unacknowledged QoS 1/2 PUBLISH a client may send at once (announced in CONNACK).
        max_inflight_messages: unacknowledged QoS 1/2 messages sent to one client.
        max_queued_messages: messages queued per session beyond the in-flight window.
        max_queued_bytes: payload bytes queued per session.
        queue_overflow: what a full session queue does with one more message.
        queue_qos0_offline: queue QoS 0 messages for offline persistent sessions too.
        max_topic_length: characters in a topic name or filter.
        max_topic_levels: levels in a topic name or filter.
        max_subscriptions_per_client: subscriptions one session may hold (more: SUBACK "quota exceeded").
        max_retained_messages: retained messages held in total.
        max_retained_bytes: retained payload bytes held in total.
        output_buffer_bytes: bytes buffered towards one client before its QoS 0 messages are dropped; at
            twice this the client is disconnected. At least ``max_packet_size`` / 2, so one packet fits.
        topic_alias_maximum: topic aliases an MQTT 5 client may define towards the broker (0 = none).
        max_session_expiry_s: cap on a session's expiry interval, seconds; MQTT 3.1.1 persistent
            sessions expire after this too.
        connect_timeout_s: seconds from accept to a complete CONNECT, however slowly it arrives.
    """

    max_connections: Count = 10_000
    max_connections_per_source: Count = 1_000
    connection_rate: Annotated[float, Range(0, None, exclusive_low=True)] = 500.0
    connection_burst: Count = 200
    max_keepalive: Annotated[int, Range(1, 65535)] = 300
    max_packet_size: Annotated[int, Range(64, 268_435_455)] = 1_048_576
    receive_maximum: Annotated[int, Range(1, 65535)] = 100
    max_inflight_messages: Annotated[int, Range(1, 65535)] = 100
    max_queued_messages: Count = 1_000
    max_queued_bytes: Count = 16_777_216
    queue_overflow: QueueOverflowPolicy = QueueOverflowPolicy.DROP_OLDEST
    queue_qos0_offline: bool = False
    max_topic_length: Annotated[int, Range(1, 65535)] = 65_535
    max_topic_levels: Count = 128
    max_subscriptions_per_client: Count = 1_000
    max_retained_messages: Count = 100_000
    max_retained_bytes: Count = 64 * 1_048_576
    output_buffer_bytes: Annotated[int, Range(1024, None)] = 1_048_576
    topic_alias_maximum: Annotated[int, Range(0, 65535)] = 10
    max_session_expiry_s: Annotated[int, Range(0, 4_294_967_295)] = 7 * 24 * 3600
    connect_timeout_s: Seconds = 5.0


class PersistenceRecovery(StrEnum):
    """What the embedded broker does at start with a corrupt store or one of another schema version."""

    MOVE_ASIDE = "move_aside"  # rename it, start empty, raise an alarm (the gateway keeps running)
    REFUSE = "refuse"  # refuse to start (someone must look at the file)


@dataclass(frozen=True, slots=True)
class BrokerPersistenceConfig:
    """Retained messages and persistent sessions of the embedded broker, in SQLite under ``data_dir/broker``.

    Attributes:
        enabled: keep them across restarts; false = in memory only (lost on every restart).
        recovery: what to do at start with a corrupt store or one of another schema version.
        commit_interval_s: seconds between commits; a kill -9 may lose up to this much of what was not
            acknowledged durably (see ``durable_ack``).
        queue_size: changes waiting for the writer thread before publishers are slowed down.
    """

    enabled: bool = True
    recovery: PersistenceRecovery = PersistenceRecovery.MOVE_ASIDE
    commit_interval_s: Annotated[float, Range(0.001, 10)] = 0.05
    queue_size: Count = 20_000


@dataclass(frozen=True, slots=True)
class BrokerConfig:
    """The embedded MQTT broker (local HMIs, scripts and the terminal UI connect to it).

    Attributes:
        enabled: run the embedded broker.
        listeners: where it listens.
        allow_anonymous: accept clients without credentials (the demo does; a plant should not).
        password_file: users and password hashes (``edge-gateway passwd``).
        acl_file: access rules; only users with the admin role may send control commands.
        limits: resource limits.
        persistence: retained messages and persistent sessions on disk.
        durable_ack: acknowledge a QoS 1/2 PUBLISH only once the store has committed it (nothing
            acknowledged is lost on kill -9 or power loss; up to ``commit_interval_s`` more latency).
        sys_interval_s: seconds between ``$SYS`` statistics updates; 0 disables ``$SYS``.
        response_information: prefix of the MQTT 5 Response Information given to a client that asks
            (the client id is appended); ``null`` = never given.
    """

    enabled: bool = True
    listeners: tuple[ListenerConfig, ...] = (ListenerConfig(),)
    allow_anonymous: bool = False
    password_file: Path | None = None
    acl_file: Path | None = None
    limits: BrokerLimitsConfig = field(default_factory=BrokerLimitsConfig)
    persistence: BrokerPersistenceConfig = field(default_factory=BrokerPersistenceConfig)
    durable_ack: bool = False
    sys_interval_s: Annotated[float, Range(0, None)] = 10.0
    response_information: str | None = None


class MqttVersion(StrEnum):
    """MQTT protocol version of an upstream connection."""

    V311 = "3.1.1"
    V5 = "5"


@dataclass(frozen=True, slots=True)
class UpstreamTlsConfig:
    """TLS towards an upstream server.

    Attributes:
        cafile: CA bundle that signs the server certificate; ``null`` = the system's CAs.
        certfile: client certificate for mutual TLS.
        keyfile: private key of ``certfile``.
        server_name: the name to verify in the server certificate; ``null`` = ``host``.
        verify: verify the server certificate (turn off only on a test bench).
    """

    cafile: Path | None = None
    certfile: Path | None = None
    keyfile: Path | None = None
    server_name: str | None = None
    verify: bool = True


@dataclass(frozen=True, slots=True)
class UpstreamServerConfig:
    """One upstream MQTT server; the list order is the failover order.

    Attributes:
        name: a name for logs and the control plane (defaults to ``host:port``).
        host: host name or address.
        port: TCP port (1883 plain, 8883 TLS by convention).
        mqtt_version: ``"3.1.1"`` or ``"5"``.
        client_id: MQTT client id; ``null`` = the edge node id. Must be unique on that server.
        keepalive_s: MQTT keep-alive in seconds (hosts see an ungraceful death after 1.5x this).
        username: user name; ``null`` = none.
        password: the password (``password_env: NAME`` or ``password_file: PATH``; inline discouraged).
        tls: TLS settings; ``null`` = plain TCP.
    """

    host: NonEmpty
    name: str = ""
    port: Port = 1883
    mqtt_version: MqttVersion = MqttVersion.V5
    client_id: str | None = None
    keepalive_s: Annotated[int, Range(1, 65535)] = 30
    username: str | None = None
    password: Secret | None = None
    tls: UpstreamTlsConfig | None = None

    @property
    def label(self) -> str:
        return self.name or f"{self.host}:{self.port}"


@dataclass(frozen=True, slots=True)
class UpstreamConfig:
    """The uplink: the ordered server list and how to move between them.

    Attributes:
        servers: upstream servers in failover order; empty = no uplink (local broker only).
        connect_timeout_s: seconds for TCP + TLS + CONNACK before trying the next server.
        backoff_initial_s: first delay after a failed round of all servers.
        backoff_max_s: largest delay between rounds.
    """

    servers: tuple[UpstreamServerConfig, ...] = ()
    connect_timeout_s: Seconds = 10.0
    backoff_initial_s: Seconds = 1.0
    backoff_max_s: Seconds = 60.0


class BridgeDirection(StrEnum):
    """Which way a bridge rule copies messages."""

    OUT = "out"  # local broker -> active upstream server
    IN = "in"  # active upstream server -> local broker
    BOTH = "both"


@dataclass(frozen=True, slots=True)
class BridgeRule:
    """Copy chosen topics between the embedded broker and the active upstream server (as mosquitto's
    ``topic`` bridge lines).

    Attributes:
        topic: topic filter, relative to the prefixes (``sensors/#``).
        direction: ``out``, ``in`` or ``both``.
        qos: QoS used for the copies, 0 or 1.
        local_prefix: prefix on the local side (``plant/``).
        remote_prefix: prefix on the upstream side (``site1/gw-01/``).
    """

    topic: NonEmpty
    direction: BridgeDirection = BridgeDirection.OUT
    qos: Annotated[int, Range(0, 1)] = 0
    local_prefix: str = ""
    remote_prefix: str = ""


class DropPolicy(StrEnum):
    """What the store does when full (the oldest data goes: the newest matters more on a plant)."""

    DROP_OLDEST = "drop_oldest"


@dataclass(frozen=True, slots=True)
class StoreConfig:
    """Store-and-forward: what is kept while no upstream server (or primary host) is available.

    Attributes:
        enabled: keep data in the SQLite store in ``data_dir`` (survives restarts); when false, in
            memory only (lost on restart).
        max_bytes: bytes kept at most; past it the oldest are dropped (counted).
        drop_policy: which data goes when full: ``drop_oldest``.
        drain_rate_per_s: samples per second replayed once back online (live data keeps flowing).
    """

    enabled: bool = True
    max_bytes: Count = 512 * 1024 * 1024
    drop_policy: DropPolicy = DropPolicy.DROP_OLDEST
    drain_rate_per_s: Annotated[float, Range(0, None, exclusive_low=True)] = 500.0


class LogLevel(StrEnum):
    """Log level names."""

    DEBUG = "debug"
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


class LogFormat(StrEnum):
    """Log line format."""

    TEXT = "text"  # one readable line per event
    JSON = "json"  # one JSON object per line (for log shippers)


@dataclass(frozen=True, slots=True)
class LoggingConfig:
    """Logging (to standard error; systemd's journal keeps it).

    Attributes:
        level: the default level.
        format: ``text`` or ``json``.
        levels: levels per component, by logger name (``gateway.uplink: debug``, ``drivers.modbus: warning``).
    """

    level: LogLevel = LogLevel.INFO
    format: LogFormat = LogFormat.TEXT
    levels: Mapping[str, LogLevel] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True, slots=True)
class ControlConfig:
    """The control plane on the embedded broker (``$GW/v1/...``), used by the terminal UI.

    Attributes:
        enabled: publish status and accept commands.
        log_lines: recent log lines kept in memory for ``fetch_logs``.
    """

    enabled: bool = True
    log_lines: Annotated[int, Range(100, 100_000)] = 5_000


@dataclass(frozen=True, slots=True)
class GatewayConfig:
    """The whole configuration file.

    Attributes:
        identity: Sparkplug identity and primary host.
        broker: the embedded MQTT broker.
        upstream: upstream servers and failover.
        devices: southbound devices and their tags.
        bridge: topics copied between the embedded broker and upstream.
        store: store-and-forward limits.
        data_dir: where durable state lives (store database, broker persistence, bdSeq).
        logging: log levels and format.
        control: the control plane for the terminal UI.
    """

    identity: IdentityConfig
    broker: BrokerConfig = field(default_factory=BrokerConfig)
    upstream: UpstreamConfig = field(default_factory=UpstreamConfig)
    devices: tuple[DeviceConfig, ...] = ()
    bridge: tuple[BridgeRule, ...] = ()
    store: StoreConfig = field(default_factory=StoreConfig)
    data_dir: Path = Path("/var/lib/edge-gateway")
    logging: LoggingConfig = field(default_factory=LoggingConfig)
    control: ControlConfig = field(default_factory=ControlConfig)
