"""Typed specifications of an OPC UA connection and its tags, validated all at once."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from pathlib import Path

from drivers.errors import DriverConfigError

DEFAULT_PUBLISHING_INTERVAL = 0.5  # seconds, when no subscribed tag sets a sampling interval
MIN_DERIVED_PUBLISHING_INTERVAL = 0.05  # seconds, the floor of a publishing interval we derive


class SecurityPolicy(enum.Enum):
    """Security policies we offer (OPC 10000-7). ``value`` is the policy URI suffix."""

    NONE = "None"
    BASIC256SHA256 = "Basic256Sha256"
    AES128_SHA256_RSAOAEP = "Aes128_Sha256_RsaOaep"
    AES256_SHA256_RSAPSS = "Aes256_Sha256_RsaPss"

    @property
    def uri(self) -> str:
        return f"http://opcfoundation.org/UA/SecurityPolicy#{self.value}"


class SecurityMode(enum.IntEnum):
    """MessageSecurityMode (OPC 10000-4, 7.20); values are the wire codes."""

    NONE = 1
    SIGN = 2
    SIGN_AND_ENCRYPT = 3


class DeadbandKind(enum.IntEnum):
    """DeadbandType (OPC 10000-4, 7.22.2); values are the wire codes."""

    ABSOLUTE = 1
    PERCENT = 2


class TagMode(enum.Enum):
    SUBSCRIBE = "subscribe"  # a monitored item in the connection's subscription
    POLL = "poll"  # read every ``poll_interval`` (for servers whose subscriptions misbehave)


@dataclass(frozen=True, slots=True)
class Anonymous:
    """Anonymous identity."""


@dataclass(frozen=True, slots=True)
class UserPassword:
    username: str
    password: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class X509Identity:
    """A user certificate (DER or PEM) and its private key (PEM)."""

    certificate: Path
    private_key: Path


Identity = Anonymous | UserPassword | X509Identity


@dataclass(frozen=True, slots=True)
class OpcUaTag:
    """One OPC UA variable.

    Attributes:
        name: unique within the driver.
        node_id: a NodeId string (``ns=2;s=Line1.Temperature``, ``ns=2;i=1001``), or
        browse_path: a relative path from the Objects folder, ``"2:Plant/2:Line1/2:Temperature"``
            (namespace index:browse name per segment). Exactly one of the two.
        mode: subscribe (default) or poll.
        sampling_interval: requested sampling interval in seconds (monitored items); ``None`` = the
            connection's publishing interval; 0 = the server's fastest rate.
        queue_size: server-side queue per monitored item (1 = latest value only). With a
            publishing interval longer than the sampling interval, a queue of at least
            publishing / sampling keeps every sample (OPC 10000-4, 5.12.1.5).
        deadband: (kind, value) of a data-change filter, or ``None``.
        unit: engineering units, passed through to samples.
        writable: writes are refused unless true.
    """

    name: str
    node_id: str | None = None
    browse_path: str | None = None
    mode: TagMode = TagMode.SUBSCRIBE
    sampling_interval: float | None = None
    queue_size: int = 1
    deadband: tuple[DeadbandKind, float] | None = None
    unit: str | None = None
    writable: bool = False

    @property
    def address(self) -> str:
        return self.node_id or f"Objects/{self.browse_path}"


@dataclass(frozen=True, slots=True)
class OpcUaServer:
    """One OPC UA server connection (one session, one subscription).

    Attributes:
        name: the device name in errors and health.
        endpoint: ``opc.tcp://host:port/path``.
        tags: what to read.
        security_policy, security_mode: must match an endpoint the server offers.
        identity: anonymous, user/password or X.509.
        data_dir: where the client certificate is generated on first run (``<data_dir>/opcua/pki``).
        trust_dir: server certificates (DER/PEM) trusted for signed/encrypted connections;
            ``None`` = ``<data_dir>/opcua/pki/trusted``. Unknown server certificates are copied to
            ``<data_dir>/opcua/pki/rejected`` for an operator to inspect and move.
        publishing_interval: subscription publishing interval, seconds: how often the server sends
            the notifications it queued. ``None`` (default) = the fastest sampling interval among
            the subscribed tags (at least :data:`MIN_DERIVED_PUBLISHING_INTERVAL`), or
            :data:`DEFAULT_PUBLISHING_INTERVAL` when no tag sets one; see
            :meth:`effective_publishing_interval`.
        keepalive_count: publishing intervals without data before the server sends a keep-alive.
        poll_interval: seconds between reads of polled tags (and of all tags in fallback mode).
        stale_margin: the subscription is stale after keepalive_count x publishing_interval x margin
            without a publish response (catalogue T56).
        fallback_after: stale subscriptions recreated this many times in a row switch the
            connection to polling.
        request_timeout: seconds per service call.
        session_timeout: requested session timeout, seconds.
        watchdog_interval: seconds between liveness reads of the server state.
        backoff_initial, backoff_max: reconnect delays, seconds.
        application_uri: the client's application URI (in its certificate).
        trust_on_first_use: when the trust directory is empty, trust the first server certificate
            seen (and save it there); a later, different certificate is still refused. Off by default.
    """

    name: str
    endpoint: str
    tags: tuple[OpcUaTag, ...] = ()
    security_policy: SecurityPolicy = SecurityPolicy.NONE
    security_mode: SecurityMode = SecurityMode.NONE
    identity: Identity = field(default_factory=Anonymous)
    data_dir: Path | None = None
    trust_dir: Path | None = None
    publishing_interval: float | None = None
    keepalive_count: int = 10
    poll_interval: float = 1.0
    stale_margin: float = 1.5
    fallback_after: int = 3
    request_timeout: float = 4.0
    session_timeout: float = 60.0
    watchdog_interval: float = 1.0
    backoff_initial: float = 1.0
    backoff_max: float = 30.0
    application_uri: str = "urn:edge-gateway:opcua-client"
    trust_on_first_use: bool = False

    def effective_publishing_interval(self) -> float:
        """The publishing interval requested from the server, seconds.

        A change waits up to one sampling interval to be sampled and then up to one publishing
        interval to be sent, so a publishing interval longer than the sampling interval adds its
        length to the worst-case latency (and, with queue size 1, drops samples). By default it is
        therefore no longer than the fastest sampling interval of the subscribed tags: one publish
        response per fastest sample at most (the server sends nothing in a cycle without changes,
        apart from keep-alives). A sampling interval of 0 (the server's fastest) gives
        :data:`MIN_DERIVED_PUBLISHING_INTERVAL`, not a response per change. Tags without a
        sampling interval use the publishing interval, so with none set it is
        :data:`DEFAULT_PUBLISHING_INTERVAL`. Set ``publishing_interval`` to trade latency for
        fewer, larger publish responses.
        """
        if self.publishing_interval is not None:
            return self.publishing_interval
        sampled = [
            t.sampling_interval
            for t in self.tags
            if t.mode is TagMode.SUBSCRIBE and t.sampling_interval is not None
        ]
        if not sampled:
            return DEFAULT_PUBLISHING_INTERVAL
        return max(MIN_DERIVED_PUBLISHING_INTERVAL, min(sampled))

    def pki_dir(self) -> Path | None:
        return None if self.data_dir is None else self.data_dir / "opcua" / "pki"

    def trusted_dir(self) -> Path | None:
        if self.trust_dir is not None:
            return self.trust_dir
        pki = self.pki_dir()
        return None if pki is None else pki / "trusted"


def validate_server(server: OpcUaServer) -> None:
    """Raise :class:`DriverConfigError` listing every problem of ``server``."""
    problems: list[str] = []
    where = f"opcua ({server.name})"
    if not server.endpoint.startswith("opc.tcp://"):
        problems.append(f"{where}.endpoint: {server.endpoint!r}, expected opc.tcp://host:port[/path]")
    secure = server.security_policy is not SecurityPolicy.NONE
    if secure != (server.security_mode is not SecurityMode.NONE):
        problems.append(
            f"{where}.security_mode: {server.security_mode.name} with policy {server.security_policy.value}; "
            "policy None goes with mode None, any other policy with Sign or SignAndEncrypt"
        )
    if secure and server.data_dir is None:
        problems.append(
            f"{where}.data_dir: a secure connection needs a data directory for the client certificate"
        )
    if isinstance(server.identity, X509Identity) and not secure:
        problems.append(f"{where}.identity: an X.509 user identity needs a secure policy")
    if server.publishing_interval is not None and server.publishing_interval <= 0:
        problems.append(f"{where}.publishing_interval: {server.publishing_interval}, expected > 0 seconds")
    for label, value in (
        ("poll_interval", server.poll_interval),
        ("request_timeout", server.request_timeout),
        ("watchdog_interval", server.watchdog_interval),
    ):
        if value <= 0:
            problems.append(f"{where}.{label}: {value}, expected > 0 seconds")
    names: set[str] = set()
    for i, tag in enumerate(server.tags):
        at = f"{where}.tags[{i}] ({tag.name})"
        if tag.name in names:
            problems.append(f"{at}.name: duplicate tag name")
        names.add(tag.name)
        if (tag.node_id is None) == (tag.browse_path is None):
            problems.append(f"{at}: give exactly one of node_id and browse_path")
        if tag.queue_size < 1:
            problems.append(f"{at}.queue_size: {tag.queue_size}, expected >= 1")
        if tag.deadband is not None:
            kind, value = tag.deadband
            if value < 0 or (kind is DeadbandKind.PERCENT and value > 100):
                problems.append(f"{at}.deadband: {value}, expected >= 0 (<= 100 for percent)")
        if tag.sampling_interval is not None and tag.sampling_interval < 0:
            problems.append(f"{at}.sampling_interval: {tag.sampling_interval}, expected >= 0 seconds")
    if problems:
        raise DriverConfigError(problems)
