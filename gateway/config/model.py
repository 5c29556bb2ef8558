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
    """

    certfile: Path
    keyfile: Path
    cafile: Path | None = None
    require_certificate: bool = False


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


@dataclass(frozen=True, slots=True)
class BrokerLimitsConfig:
    """Limits of the embedded broker (see gateway/broker/settings.py for all of them).

    Attributes:
        max_connections: client connections in total.
        max_keepalive: cap on a client's keep-alive, seconds (>= 1).
        max_packet_size: largest MQTT packet accepted, bytes.
        max_inflight_messages: unacknowledged QoS 1/2 messages sent to one client.
        max_queued_messages: messages queued per session beyond the in-flight window.
        max_retained_messages: retained messages held in total.
        connect_timeout_s: seconds from accept to a complete CONNECT.
    """

    max_connections: Count = 10_000
    max_keepalive: Annotated[int, Range(1, 65535)] = 300
    max_packet_size: Annotated[int, Range(64, 268_435_455)] = 1_048_576
    max_inflight_messages: Annotated[int, Range(1, 65535)] = 100
    max_queued_messages: Count = 1_000
    max_retained_messages: Count = 100_000
    connect_timeout_s: Seconds = 5.0


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
    """

    enabled: bool = True
    listeners: tuple[ListenerConfig, ...] = (ListenerConfig(),)
    allow_anonymous: bool = False
    password_file: Path | None = None
    acl_file: Path | None = None
    limits: BrokerLimitsConfig = field(default_factory=BrokerLimitsConfig)


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
