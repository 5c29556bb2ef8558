"""A simulated OPC UA server (a real asyncua server) with changing values and writable setpoints.

    sim = OpcUaSimulator(port=0)
    await sim.start()                 # ~1.5 s: asyncua builds its standard address space in a thread
    server = sim.opcua_server("sim")  # a drivers.opcua.OpcUaServer with every variable as a tag
    ...
    await sim.stop()

Variables live under ``Objects/<ns>:Plant`` with string NodeIds ``ns=<ns>;s=<Folder>.<Name>``, where
``<ns>`` is :attr:`OpcUaSimulator.namespace_index` (2 without security, 3 with: the application URI
takes a slot) (see
:func:`default_variables`). ``extra_variables`` adds Double sines under ``Plant/Bench`` (benchmarks).
Security: ``security`` lists the endpoints to offer (``none``, ``sign``, ``sign_encrypt``, the last
two with Basic256Sha256); the server certificate is generated into ``cert_dir`` when not given.
``users`` turns on username/password checking. Test hooks: :meth:`pause_publishing` (the session
stays up but subscriptions go silent, catalogue T56), :meth:`expire_sessions` (T54b) and
:meth:`subscription_count` (T53).

Start-up was measured at ~1.5 s on the development machine, nearly all of it asyncua filling the
standard address space (it does so in a worker thread, so the event loop stays responsive); asyncua's
``shelf_file`` cache made it slower (2.8 s), so it is not used.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from drivers._types import Value
from drivers.opcua._spec import OpcUaServer, OpcUaTag
from drivers.simulators._opcua_values import stamped as _stamped
from drivers.simulators._signals import Signal

log = logging.getLogger(__name__)

NAMESPACE = "urn:edge-gateway:simulator"
_YIELD_EVERY = 50  # writes between yields to the event loop (see OpcUaSimulator._run_updates)


@dataclass(frozen=True, slots=True)
class SimVariable:
    """One simulated variable: ``folder.name`` is its string NodeId in namespace 2."""

    folder: str
    name: str
    type_name: str  # a ua.VariantType name: Double, Float, Int32, UInt32, Boolean, String
    signal: Signal | None  # None: a setpoint, changed only by writes
    initial: Value = 0
    unit: str | None = None
    eu_range: tuple[float, float] | None = None  # an EURange property (AnalogItem, OPC 10000-8)

    def node_id(self, ns: int = 2) -> str:
        return f"ns={ns};s={self.folder}.{self.name}"

    @property
    def tag_name(self) -> str:
        return f"{self.folder}.{self.name}"


def default_variables() -> list[SimVariable]:
    return [
        SimVariable("Line1", "Temperature", "Double", Signal("sine", 5.0, 60.0, 20.0), unit="degC"),
        SimVariable(
            "Line1",
            "Pressure",
            "Double",
            Signal("random_walk", step=0.05, minimum=1.0, maximum=3.0),
            unit="bar",
        ),
        SimVariable("Line1", "Level", "Float", Signal("ramp", 100.0, 120.0), unit="%"),
        SimVariable("Line1", "Speed", "Int32", Signal("sine", 1500.0, 30.0, integer=True), unit="rpm"),
        SimVariable("Line1", "Counter", "UInt32", Signal("counter", step=2.0)),
        SimVariable("Line1", "Running", "Boolean", Signal("toggle", step=5.0)),
        SimVariable("Line1", "State", "String", Signal("text", period=20.0)),
        SimVariable("Setpoints", "Temperature", "Double", None, 21.5, "degC", (0.0, 100.0)),
        SimVariable("Setpoints", "Speed", "Int32", None, 1500, "rpm"),
        SimVariable("Setpoints", "Enable", "Boolean", None, False),
        SimVariable("Setpoints", "Recipe", "String", None, "default"),
    ]


def bench_variables(count: int) -> list[SimVariable]:
    return [
        SimVariable("Bench", f"V{i:05d}", "Double", Signal("sine", 100.0, 5.0 + i % 13)) for i in range(count)
    ]


class OpcUaSimulator:
    """An asyncua server serving :func:`default_variables` (+ ``extra_variables``).

    Args:
        host, port: where to listen; port 0 picks a free port (read :attr:`port` after start).
        extra_variables: Double sines added under Plant/Bench.
        update_interval: seconds between value updates.
        security: endpoints to offer: any of "none", "sign", "sign_encrypt".
        cert_dir: where the server certificate and key are (generated when missing).
        users: username -> password; when set, anonymous and unknown users are refused.
        accept_client: a predicate on the client certificate's DER bytes; ``None`` accepts any.
        user_certificates: DER user certificates accepted as X.509 identities; with ``users`` or this
            set, anonymous access is refused.
        max_subscriptions: refuse subscriptions beyond this many (0: a server without subscriptions).
        min_session_timeout: the shortest session timeout the server grants, seconds (asyncua's
            default is 5 s; tests of session expiry lower it).
        refuse_percent_deadband: answer monitored items with a percent deadband filter
            Bad_MonitoredItemFilterUnsupported, as servers without it do (asyncua accepts and
            ignores it).
        freeze_heap: once started, move everything alive to the garbage collector's permanent
            generation (``gc.freeze()``). asyncua's standard address space is ~540,000 objects
            that every full collection walks: 100-300 ms during which the server neither samples
            nor publishes (measured 2026-11-26), and value updates trigger one every few seconds.
            Only for a simulator that owns its process (``edge-gateway simulate``): frozen objects
            are never freed, so a test process starting many simulators would keep them all.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        extra_variables: int = 0,
        update_interval: float = 0.1,
        security: Sequence[str] = ("none",),
        cert_dir: Path | None = None,
        users: dict[str, str] | None = None,
        accept_client: Any = None,
        user_certificates: Sequence[bytes] | None = None,
        max_subscriptions: int | None = None,
        min_session_timeout: float | None = None,
        refuse_percent_deadband: bool = False,
        freeze_heap: bool = False,
    ) -> None:
        self.host = host
        self.port = port
        self.update_interval = update_interval
        self.security = tuple(security)
        self.cert_dir = cert_dir
        self.users = users
        self.accept_client = accept_client
        self.user_certificates = None if user_certificates is None else tuple(user_certificates)
        self.max_subscriptions = max_subscriptions
        self.min_session_timeout = min_session_timeout
        self.refuse_percent_deadband = refuse_percent_deadband
        self.freeze_heap = freeze_heap
        self.variables: tuple[SimVariable, ...] = tuple(
            default_variables() + bench_variables(extra_variables)
        )
        self._by_tag = {v.tag_name: v for v in self.variables}
        self._server: Any = None
        self._nodes: dict[str, Any] = {}
        self._task: asyncio.Task[None] | None = None
        self._t0 = time.monotonic()
        self.startup_seconds: float | None = None
        self.namespace_index = 2
        self.late_ticks = 0  # update ticks that overran their slot (the simulator is saturated)

    @property
    def endpoint(self) -> str:
        return f"opc.tcp://{self.host}:{self.port}/"

    @property
    def certificate_path(self) -> Path | None:
        return None if self.cert_dir is None else self.cert_dir / "server_cert.der"

    async def start(self) -> None:
        """Initialise, listen and start updating; returns with :attr:`port` bound."""
        from asyncua.server.server import Server
        from asyncua.server.user_managers import UserManager

        from drivers.opcua._lazy import ua as load_ua

        ua = load_ua()
        started = time.perf_counter()
        users = self.users
        user_certs = self.user_certificates

        class _Users(UserManager):
            def get_user(
                self,
                iserver: Any,
                username: str | None = None,
                password: str | None = None,
                certificate: Any = None,
            ) -> Any:
                from asyncua.crypto.permission_rules import User, UserRole

                if users is None and user_certs is None:
                    return User(role=UserRole.User)
                if username is not None and users is not None and users.get(username) == password:
                    return User(role=UserRole.User, name=username)
                if certificate is not None and user_certs is not None:
                    from cryptography.hazmat.primitives.serialization import Encoding

                    der = (
                        certificate
                        if isinstance(certificate, bytes)
                        else certificate.public_bytes(Encoding.DER)
                    )
                    if der in user_certs:
                        return User(role=UserRole.User, name="certificate user")
                return None

        server: Any = Server(user_manager=_Users())
        await server.init()
        if self.min_session_timeout is not None:
            server.iserver.min_session_timeout_ms = self.min_session_timeout * 1000
        if self.refuse_percent_deadband:
            _refuse_percent_deadband(server.iserver.subscription_service)
        server.set_endpoint(f"opc.tcp://{self.host}:{self.port}/")
        server.set_server_name("edge-gateway simulator")
        policies = {
            "none": ua.SecurityPolicyType.NoSecurity,
            "sign": ua.SecurityPolicyType.Basic256Sha256_Sign,
            "sign_encrypt": ua.SecurityPolicyType.Basic256Sha256_SignAndEncrypt,
        }
        server.set_security_policy([policies[s] for s in self.security])
        if users is not None or user_certs is not None:
            tokens = [ua.UserNameIdentityToken] if users is not None else []
            if user_certs is not None:
                tokens.append(ua.X509IdentityToken)
            server.set_identity_tokens(tokens)
        if any(s != "none" for s in self.security):
            await self._load_certificate(server)
        if self.accept_client is not None:
            accept = self.accept_client

            async def validate(certificate: Any, _app: Any) -> None:
                from asyncua.common.utils import ServiceError
                from cryptography.hazmat.primitives.serialization import Encoding

                if not accept(certificate.public_bytes(Encoding.DER)):
                    raise ServiceError(ua.StatusCodes.BadCertificateUntrusted)

            server.set_certificate_validator(validate)
        if self.max_subscriptions is not None:
            server.iserver.max_subscriptions = self.max_subscriptions
        idx = await server.register_namespace(NAMESPACE)
        self.namespace_index = idx
        plant = await server.nodes.objects.add_folder(ua.NodeId("Plant", idx), ua.QualifiedName("Plant", idx))
        folders: dict[str, Any] = {}
        for var in self.variables:
            folder = folders.get(var.folder)
            if folder is None:
                folder = await plant.add_folder(ua.NodeId(var.folder, idx), ua.QualifiedName(var.folder, idx))
                folders[var.folder] = folder
            vtype = getattr(ua.VariantType, var.type_name)
            initial = var.initial if var.signal is None else _initial(var)
            node = await folder.add_variable(
                ua.NodeId(f"{var.folder}.{var.name}", idx),
                ua.QualifiedName(var.name, idx),
                ua.Variant(initial, vtype),
            )
            if var.signal is None:
                await node.set_writable()
            if var.eu_range is not None:
                low, high = var.eu_range
                await node.add_property(
                    ua.NodeId(f"{var.folder}.{var.name}.EURange", idx),
                    ua.QualifiedName("EURange", 0),  # the standard property's browse name (ns 0)
                    ua.Range(Low=low, High=high),
                )
            self._nodes[var.tag_name] = node
        await server.start()
        # asyncua does not expose the listening socket; read the bound port from its asyncio server.
        self.port = int(server.bserver._server.sockets[0].getsockname()[1])
        self._server = server
        if self.freeze_heap:
            gc.collect()
            gc.freeze()
        self._task = asyncio.create_task(self._run_updates(), name="opcua-simulator-updates")
        self.startup_seconds = time.perf_counter() - started
        log.info(
            "OPC UA simulator on %s (%d variables, started in %.2f s)",
            self.endpoint,
            len(self.variables),
            self.startup_seconds,
        )

    async def _load_certificate(self, server: Any) -> None:
        from asyncua.crypto.cert_gen import setup_self_signed_certificate
        from cryptography.x509.oid import ExtendedKeyUsageOID

        if self.cert_dir is None:
            raise ValueError("a secure simulator needs cert_dir for its certificate")
        self.cert_dir.mkdir(parents=True, exist_ok=True)
        cert, key = self.cert_dir / "server_cert.der", self.cert_dir / "server_key.pem"
        await setup_self_signed_certificate(
            key,
            cert,
            "urn:edge-gateway:simulator",
            socket.gethostname(),
            [ExtendedKeyUsageOID.SERVER_AUTH],
            {},
        )
        await server.set_application_uri("urn:edge-gateway:simulator")
        await server.load_certificate(str(cert))
        await server.load_private_key(str(key))

    async def _run_updates(self) -> None:
        """Write every signal once per ``update_interval``, on a fixed schedule.

        Ticks are scheduled from the start time, not by sleeping ``update_interval`` after the
        writes (which stretched the period by the time the writes took: 1,000 variables at 0.1 s
        gave a 0.24 s period). A tick that overruns its slot is counted in :attr:`late_ticks` and
        the schedule skips ahead instead of bursting. Every ``_YIELD_EVERY`` writes the loop yields
        to the event loop: each write runs the server's data-change callbacks synchronously, so
        without yielding 1,000 writes held the server's publishing loop and sockets for the whole
        tick.
        """
        ua = self._ua()
        driven = [
            (var, self._nodes[var.tag_name].nodeid, getattr(ua.VariantType, var.type_name))
            for var in self.variables
            if var.signal is not None
        ]
        write = self._server.write_attribute_value
        period = self.update_interval
        due = time.monotonic()
        while True:
            due += period
            delay = due - time.monotonic()
            if delay < 0:
                self.late_ticks += 1
                due += period * (-delay // period + 1)  # skip the slots already missed
                delay = due - time.monotonic()
            await asyncio.sleep(delay)
            t = time.monotonic() - self._t0
            for i, (var, nodeid, vtype) in enumerate(driven, 1):
                assert var.signal is not None
                await write(nodeid, _stamped(ua, ua.Variant(_coerce(var, var.signal.value(t)), vtype)))
                if i % _YIELD_EVERY == 0:
                    await asyncio.sleep(0)

    @staticmethod
    def _ua() -> Any:
        from drivers.opcua._lazy import ua

        return ua()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._server is not None:
            await self._server.stop()
            self._server = None

    async def __aenter__(self) -> OpcUaSimulator:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # ------------------------------------------------------------------ hooks
    async def value(self, tag_name: str) -> Value:
        result: Value = await self._nodes[tag_name].read_value()
        return result

    async def set_value(self, tag_name: str, value: Value) -> None:
        ua = self._ua()
        var = self._by_tag[tag_name]
        await self._server.write_attribute_value(
            self._nodes[tag_name].nodeid,
            _stamped(ua, ua.Variant(value, getattr(ua.VariantType, var.type_name))),
        )

    async def expire_sessions(self) -> int:
        """Close every client session server-side, as a session timeout would (catalogue T54b);
        returns how many were closed. The TCP connections stay open."""
        sessions = list(self._server.iserver._external_sessions.values())
        for session in sessions:
            await session.close_session()
        return len(sessions)

    def session_count(self) -> int:
        """Client sessions the server holds (activated or kept for re-activation after a lost link)."""
        return len(self._server.iserver._external_sessions)

    def monitored_item_filters(self) -> dict[str, Any]:
        """NodeId string -> the filter each client's monitored item was created with (``None``
        without one), as the server received it."""
        filters: dict[str, Any] = {}
        for sub in self._server.iserver.subscription_service.subscriptions.values():
            for item in sub.monitored_item_srv._monitored_items.values():
                filters[item.read_value_id.NodeId.to_string()] = item.filter
        return filters

    def subscription_count(self) -> int:
        return len(self._server.iserver.subscription_service.subscriptions)

    async def pause_publishing(self) -> None:
        """Stop every subscription's publish loop while sessions stay up (catalogue T56)."""
        for sub in list(self._server.iserver.subscription_service.subscriptions.values()):
            await sub.stop()

    # ------------------------------------------------------------ description
    def opcua_server(self, name: str = "simulated-opcua", **overrides: Any) -> OpcUaServer:
        """A driver spec for this simulator with every variable as a tag (writable for setpoints)."""
        tags = tuple(
            OpcUaTag(
                v.tag_name, node_id=v.node_id(self.namespace_index), unit=v.unit, writable=v.signal is None
            )
            for v in self.variables
        )
        return OpcUaServer(name=name, endpoint=self.endpoint, tags=tags, **overrides)

    def describe(self) -> list[dict[str, object]]:
        return [
            {
                "name": v.tag_name,
                "node_id": v.node_id(self.namespace_index),
                "browse_path": f"{self.namespace_index}:Plant/{self.namespace_index}:{v.folder}/"
                f"{self.namespace_index}:{v.name}",
                "data_type": v.type_name,
                "unit": v.unit,
                "writable": v.signal is None,
                "signal": v.signal.kind if v.signal else "setpoint",
            }
            for v in self.variables
        ]


def _coerce(var: SimVariable, value: Any) -> Any:
    if var.type_name in ("Int32", "UInt32", "Int16", "UInt16", "Int64", "UInt64"):
        return int(value)
    if var.type_name in ("Double", "Float"):
        return float(value)
    return value


def _initial(var: SimVariable) -> Any:
    assert var.signal is not None
    return _coerce(var, var.signal.value(0.0))


def _refuse_percent_deadband(service: Any) -> None:
    """Make asyncua's subscription service refuse percent deadband filters item by item (the
    other items of the request are created as usual, results kept in request order)."""
    from drivers.opcua._lazy import ua as load_ua

    ua = load_ua()

    create = service.create_monitored_items

    def percent(item: Any) -> bool:
        # by field, not isinstance: the server decodes filters into its own copy of the class
        flt = item.RequestedParameters.Filter
        return bool(getattr(flt, "DeadbandType", None) == ua.DeadbandType.Percent)

    async def create_monitored_items(params: Any) -> list[Any]:
        items = list(params.ItemsToCreate)
        params.ItemsToCreate = [i for i in items if not percent(i)]
        created = iter(await create(params) if params.ItemsToCreate else [])
        results = []
        for item in items:
            if percent(item):
                refused = ua.MonitoredItemCreateResult()
                refused.StatusCode = ua.StatusCode(ua.StatusCodes.BadMonitoredItemFilterUnsupported)
                results.append(refused)
            else:
                results.append(next(created))
        return results

    service.create_monitored_items = create_monitored_items
