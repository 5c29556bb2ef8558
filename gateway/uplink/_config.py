"""Settings of the uplink: the ordered server list and the failover policy (frozen, validated on creation)."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from pathlib import Path


class MqttVersion(enum.IntEnum):
    """The protocol level byte of CONNECT."""

    V311 = 4
    V5 = 5


@dataclass(frozen=True, slots=True)
class TlsSettings:
    """TLS towards one server.

    Attributes:
        ca_file: CA bundle to verify the server; ``None`` = the system's default CAs.
        cert_file: client certificate (PEM) for mutual TLS, or ``None``.
        key_file: its private key (PEM), or ``None`` (then the key is inside ``cert_file``).
        check_hostname: verify that the certificate names the host. Turn off only for lab setups.
    """

    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    check_hostname: bool = True


@dataclass(frozen=True, slots=True)
class ServerSettings:
    """One upstream MQTT server.

    Attributes:
        name: how logs and the terminal UI call it (defaults to ``host:port``).
        host, port: where it listens.
        client_id: unique per gateway; a duplicate makes the broker kick the other connection (its Will
            then fires: a spurious NDEATH).
        version: MQTT 3.1.1 or 5.0.
        keepalive: seconds; a silent server is detected within 1.5x this (our own probe, see ``_link``).
        username, password: optional credentials (the password is never logged).
        tls: ``None`` for plain TCP.
    """

    host: str
    port: int = 1883
    client_id: str = "edge-gateway"
    version: MqttVersion = MqttVersion.V311
    keepalive: int = 30
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    tls: TlsSettings | None = None
    name: str = ""

    def __post_init__(self) -> None:
        if not 0 < self.port < 65536:
            raise ValueError(f"server {self.host}: port must be 1..65535, got {self.port}")
        if not 1 <= self.keepalive <= 65535:
            raise ValueError(
                f"server {self.host}:{self.port}: keepalive must be 1..65535 s, got {self.keepalive}"
            )
        if not self.client_id:
            raise ValueError(f"server {self.host}:{self.port}: client_id must not be empty")
        if not self.name:
            object.__setattr__(self, "name", f"{self.host}:{self.port}")


@dataclass(frozen=True, slots=True)
class FailoverSettings:
    """How the uplink moves between servers.

    Attributes:
        connect_timeout: seconds for TCP connect (+TLS) and, separately, for the CONNACK.
        backoff_initial, backoff_max: jittered exponential backoff between failed attempts, in seconds.
            A full round over the list without success doubles the delay, up to ``backoff_max``.
        backoff_jitter: fraction of the delay drawn at random (0.5 = between 50 % and 100 %).
        credentials_backoff: delay before retrying a server that rejected our credentials.
        hold_down: seconds the preferred (first) server must stay reachable before we fail back to it;
            ``None`` = never fail back (Sparkplug TCK behaviour, §10).
        ack_timeout: seconds a PUBACK/SUBACK/UNSUBACK may take before the link counts as dead;
            ``None`` = half the keep-alive.
        probe_interval: seconds between our keep-alive probes; ``None`` = half the keep-alive. Together
            with ``ack_timeout`` this bounds detection of a silent server by one keep-alive (< 1.5x).
        failback_probe_interval: seconds between TCP reachability probes of the preferred server.
    """

    connect_timeout: float = 5.0
    backoff_initial: float = 0.5
    backoff_max: float = 30.0
    backoff_jitter: float = 0.5
    credentials_backoff: float = 30.0
    hold_down: float | None = 60.0
    ack_timeout: float | None = None
    probe_interval: float | None = None
    failback_probe_interval: float = 2.0

    def __post_init__(self) -> None:
        if self.connect_timeout <= 0:
            raise ValueError(f"connect_timeout must be > 0 s, got {self.connect_timeout}")
        if not 0 < self.backoff_initial <= self.backoff_max:
            raise ValueError("backoff_initial must be > 0 and <= backoff_max")
        if not 0 <= self.backoff_jitter <= 1:
            raise ValueError(f"backoff_jitter must be within 0..1, got {self.backoff_jitter}")

    def probe_interval_for(self, keepalive: float) -> float:
        return self.probe_interval if self.probe_interval is not None else keepalive / 2

    def ack_timeout_for(self, keepalive: float) -> float:
        return self.ack_timeout if self.ack_timeout is not None else keepalive / 2
