"""The daemon: starts the parts in order, keeps them wired, reloads, and stops cleanly.

Start order: data directory -> embedded broker (ports printed) -> store-and-forward (SQLite) and the
uplink's forwarder -> Sparkplug edge node (``gateway.uplink.SparkplugSession``), bridge rules, uplink
-> devices -> control plane. Stop order (SIGTERM): uplink (NDEATH published and acknowledged, then
DISCONNECT) -> devices -> forwarder and store (committed, closed) -> broker (persistence flushed);
the control plane says "offline" first.

With no upstream server configured, the edge node publishes to the embedded broker itself over a real
loopback MQTT connection (its Will carries NDEATH exactly as upstream would), logging in with the
internal credentials of :mod:`gateway.app.internal_auth`.

Reload (SIGHUP, or the control plane's ``reload_config``/``apply_config``): the file is validated in
full first; an invalid file changes nothing (the last good configuration keeps running). A valid one
applies changes of devices and tags without touching the upstream connection: removed devices get
DDEATH, changed ones DDEATH then a DBIRTH with their new metrics, new ones a DBIRTH once they answer.
Changes of identity, broker, upstream or store need a restart; the reload result says which.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import drivers
from gateway import __version__
from gateway.app import convert
from gateway.app.devices import DeviceHost
from gateway.app.internal_auth import ControlAuthorizer, InternalAuthenticator
from gateway.app.local_bus import BrokerLocalBus
from gateway.app.node_metrics import NodeMetrics
from gateway.app.observed_node import ObservedEdgeNode
from gateway.app.observed_session import ObservedSession
from gateway.app.sparkplug_relay import RelayedSession, SparkplugRelay
from gateway.broker import Broker, BrokerMessage, BrokerNotRunning, LocalProtocolError
from gateway.broker.auth import Security
from gateway.config import LoadedConfig
from gateway.config.devices import DeviceConfig
from gateway.control import contract as c
from gateway.control.commands import CommandHandler
from gateway.control.publisher import StatusPublisher
from gateway.errors import StartupError
from gateway.logging_setup import LogRing
from gateway.store import MessageStore, StoreLimits
from gateway.uplink import Bridge, DrainPacing, Forwarder, SparkplugSession, Uplink, UplinkSession
from sparkplug import (
    BdSeqStore,
    MetricSpec,
    Notice,
    Output,
    Reboot,
    Sample,
    SetScanRate,
    SparkplugError,
    WriteMetric,
)

log = logging.getLogger(__name__)

STOP_TIMEOUT_S = 5.0
STORE_FILE = "store-and-forward.sqlite3"
OFFLINE_GRACE_S = 0.1
NODE_METRICS_INTERVAL_S = 5.0


class Daemon:
    """One running gateway. ``start()``, then ``stop()``; ``reload(source)`` in between.

    Args:
        loaded: a validated configuration.
        log_ring: the in-memory log (for ``fetch_logs`` and the live tail), or ``None``.
        demo: this is the built-in demo (shown in the gateway status).
        announce: where the bound addresses are told (stdout by the CLI).
    """

    def __init__(
        self,
        loaded: LoadedConfig,
        *,
        log_ring: LogRing | None = None,
        demo: bool = False,
        announce: Callable[[str], None] = print,
    ) -> None:
        self.loaded = loaded
        self.config = loaded.config
        self.demo = demo
        self.log_ring = log_ring
        self._announce = announce
        self.started_at_ms = drivers.utc_ms()
        self._started_mono = time.monotonic()
        self.broker: Broker | None = None
        self.authorizer: ControlAuthorizer | None = None
        self.security: Security | None = None  # the broker's password/ACL files, when configured
        self.session: ObservedSession | None = None
        self.uplink: Uplink | None = None
        self.relay: SparkplugRelay | None = None  # copies of the upstream Sparkplug traffic for the UI
        self.message_store: MessageStore | None = None
        self.forwarder: Forwarder | None = None
        self.bridge: Bridge | None = None
        self.oldest_stored_ms: int | None = None
        self.devices: dict[str, DeviceHost] = {}
        self.publisher: StatusPublisher | None = None
        self.commands: CommandHandler | None = None
        self.node_metrics: NodeMetrics | None = None
        self.last_reload = c.ReloadResult(self.started_at_ms, True, "startup", "configuration loaded")
        self.reboot_requested = False
        self.stopped = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._writes: set[asyncio.Task[None]] = set()
        self._reload_lock = asyncio.Lock()

    # ---- lifecycle ------------------------------------------------------------------------------------

    async def start(self) -> None:
        """Start every part; raises StartupError (nothing left running) when one cannot start."""
        try:
            await self._start()
        except BaseException:
            await self.stop()
            raise

    async def _start(self) -> None:
        cfg = self.config
        data_dir = cfg.data_dir
        try:
            data_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StartupError(
                f"data directory {data_dir}: {exc.strerror or exc}",
                hint="create it and give the gateway's user write access, or set data_dir",
            ) from None
        if cfg.broker.enabled:
            await self._start_broker(data_dir)
        await self._open_store(data_dir)
        await self._start_sparkplug(data_dir)
        for device in cfg.devices:
            await self.add_device(device)
        if self.broker is not None and cfg.control.enabled:
            self._start_control()
        self._tasks.append(asyncio.create_task(self._node_metrics_loop(), name="node-metrics"))
        log.info(
            "gateway %s/%s running: %d device(s), %d upstream server(s)",
            cfg.identity.group_id,
            cfg.identity.edge_node_id,
            len(cfg.devices),
            len(cfg.upstream.servers),
        )

    async def _start_broker(self, data_dir: Path) -> None:
        """The embedded broker with its security hooks and persistence. A bad password or ACL file
        (``SecurityFileError``), a bad store (``StoreUnusableError``) and a port in use reach the user
        as the broker's own StartupErrors, with their hints: nothing here wraps them."""
        from gateway.broker.auth import build_security
        from gateway.broker.hooks import AnonymousAuthenticator, Authenticator, BrokerPersistence

        broker_cfg = self.config.broker
        settings = convert.broker_settings(broker_cfg, data_dir / "broker")
        inner_auth: Authenticator = AnonymousAuthenticator(settings.allow_anonymous)
        inner_acl = None
        if (
            settings.password_file is not None
            or settings.acl_file is not None
            or convert.uses_certificate_identity(broker_cfg)
        ):
            self.security = build_security(settings)  # raises SecurityFileError (a StartupError)
            inner_auth, inner_acl = self.security.authenticator, self.security.authorizer
        persistence: BrokerPersistence | None = None
        if settings.data_dir is not None:
            from gateway.broker.persistence import Recovery, SqlitePersistence

            try:
                settings.data_dir.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StartupError(
                    f"broker data directory {settings.data_dir}: {exc.strerror or exc}",
                    hint="give the gateway's user write access to data_dir, "
                    "or set broker.persistence.enabled: false",
                ) from None
            stored = broker_cfg.persistence
            persistence = SqlitePersistence(
                settings.data_dir,
                recovery=Recovery(stored.recovery.value),
                commit_interval=stored.commit_interval_s,
                queue_size=stored.queue_size,
            )
        authenticator = InternalAuthenticator(inner_auth, convert.INTERNAL_CLIENT_ID)
        self.authorizer = ControlAuthorizer(inner_acl, convert.INTERNAL_CLIENT_ID)
        self._internal = authenticator
        self.broker = Broker(
            settings, authenticator=authenticator, authorizer=self.authorizer, persistence=persistence
        )
        await self.broker.start()  # StartupError: store unusable, port in use
        for host, port in self.broker.addresses:
            self._announce(f"broker listening on {host}:{port}")

    async def _open_store(self, data_dir: Path) -> None:
        """Store-and-forward: SQLite in the data directory (``store.enabled``), else in memory only.
        A bad file degrades to memory and says so in the store status (never refuses to start)."""
        store_cfg = self.config.store
        limits = StoreLimits(max_bytes=store_cfg.max_bytes, max_age_s=None)
        path = data_dir / STORE_FILE if store_cfg.enabled else None
        self.message_store = MessageStore(path, limits=limits)
        status = await self.message_store.open()
        rate = store_cfg.drain_rate_per_s
        pacing = DrainPacing(max_messages_per_s=rate, min_messages_per_s=min(50.0, rate))
        self.forwarder = Forwarder(self.message_store, pacing=pacing)
        log.info(
            "store-and-forward %s: %d message(s) kept from before",
            status.path or "(in memory)",
            status.messages,
        )

    async def _start_sparkplug(self, data_dir: Path) -> None:
        cfg = self.config
        store = BdSeqStore(data_dir / "bdseq")
        try:
            next_bd_seq = store.load()
        except SparkplugError as exc:
            raise StartupError(str(exc), hint="delete the file to restart bdSeq at 0") from None
        self.node_metrics = NodeMetrics()
        intervals = [device.poll_interval_s for device in cfg.devices]
        scan_rate_ms = int(min(intervals) * 1000) if intervals else None
        node = ObservedEdgeNode(
            convert.edge_node_config(cfg.identity, self.node_metrics.specs, scan_rate_ms),
            next_bd_seq=next_bd_seq,
        )
        assert self.forwarder is not None
        if cfg.bridge and self.broker is not None:
            rules = [convert.bridge_rule(rule) for rule in cfg.bridge]
            self.bridge = Bridge(rules, BrokerLocalBus(self.broker), self.forwarder)
        inner = SparkplugSession(
            node,
            self.forwarder,
            store,
            on_action=self._on_action,
            extra_subscriptions=self.bridge.upstream_subscriptions() if self.bridge else (),
            on_inbound=self.bridge.on_upstream if self.bridge else None,
        )
        self.session = ObservedSession(inner)
        if self.bridge is not None:
            self.bridge.start()
        servers = [convert.server_settings(s, cfg.identity) for s in cfg.upstream.servers]
        if not servers:
            plain = (
                [
                    port
                    for (host, port), listener in zip(
                        self.broker.addresses, cfg.broker.listeners, strict=False
                    )
                    if listener.tls is None
                ]
                if self.broker is not None
                else []
            )
            if not plain:
                log.warning("no upstream server and no plain embedded listener: Sparkplug is not published")
                return
            servers = [convert.local_server(plain[0], cfg.identity, self._internal.password)]
        uplink_session: UplinkSession = self.session
        if cfg.upstream.servers and self.broker is not None:
            self.relay = SparkplugRelay(self.broker)
            uplink_session = RelayedSession(self.session, self.relay)
        self.uplink = Uplink(
            servers, uplink_session, convert.failover_settings(cfg.upstream), on_switch=self._on_switch
        )
        self._tasks.append(asyncio.create_task(self.uplink.run(), name="uplink"))

    def _start_control(self) -> None:
        assert self.broker is not None
        from gateway.app.gateway_view import DaemonView

        broker = self.broker
        view = DaemonView(self)

        def publish(topic: str, payload: bytes, qos: int, retain: bool) -> None:
            broker.publish(topic, payload, qos=qos, retain=retain)

        self.publisher = StatusPublisher(
            view, publish, version=__version__, pid=os.getpid(), listening=broker.has_subscribers
        )
        self.commands = CommandHandler(view, self._reply, on_event=self.publisher.event)
        broker.subscribe(c.COMMAND_FILTER, self._on_command)
        self.publisher.start()
        if self.log_ring is not None:
            loop = asyncio.get_running_loop()
            publisher = self.publisher

            def tail(line: c.LogLine) -> None:
                # Called from whichever thread logged: hand the line to the loop, never block.
                with contextlib.suppress(RuntimeError):  # the loop is closing
                    loop.call_soon_threadsafe(publisher.log_line, line)

            self.log_ring.listener = tail
        self._tasks.append(asyncio.create_task(self.publisher.run(), name="control-publisher"))

    async def stop(self) -> None:
        """Clean shutdown: NDEATH, devices stopped, control plane offline, broker flushed. Idempotent."""
        if self.stopped.is_set():
            return
        if self.publisher is not None and self.broker is not None:
            # Say "offline" first: clients see it while the rest stops (NDEATH, devices, store).
            try:
                self.publisher.stop()
            except Exception:  # a broken snapshot must not block the shutdown; say so
                log.exception("publishing the final control-plane state failed")
        if self.uplink is not None:
            await self.uplink.stop()
        uplink_task = next((t for t in self._tasks if t.get_name() == "uplink"), None)
        if uplink_task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(uplink_task), STOP_TIMEOUT_S)
            except TimeoutError:
                log.warning("the uplink did not stop within %.0f s: closing anyway", STOP_TIMEOUT_S)
        for host in list(self.devices.values()):
            await host.stop()
        for task in list(self._writes):
            task.cancel()
        if self.forwarder is not None:
            await self.forwarder.aclose()
        if self.message_store is not None:
            await self.message_store.close()  # commits what is pending: the store is flushed
        if self.commands is not None:
            await self.commands.close()
        if self.log_ring is not None:
            self.log_ring.listener = None
        if self.publisher is not None and self.broker is not None:
            # broker.stop() aborts client connections at once (gateway/broker/service.py), dropping what
            # is still queued: the offline state went out first; a bounded moment for the last writes.
            await asyncio.sleep(OFFLINE_GRACE_S)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            try:
                await task
            except asyncio.CancelledError:
                pass
            except Exception:  # a task that had already failed: say which, then go on stopping
                log.exception("task %s had failed", task.get_name())
        if self.broker is not None:
            await self.broker.stop()
        self.stopped.set()
        log.info("gateway stopped")

    # ---- devices ----------------------------------------------------------------------------------------

    async def add_device(self, device: DeviceConfig) -> None:
        """Run one configured device (StartupError when its driver refuses the spec)."""
        host = DeviceHost(device, self, self.config.data_dir)
        self.devices[device.id] = host
        try:
            await host.start()
        except drivers.DriverConfigError as exc:
            # the configuration check mirrors the drivers' rules; if one slips through, say which device
            raise StartupError(
                f"device {device.id}: {exc}", hint="fix the device in the configuration"
            ) from None

    def device_online(
        self, device_id: str, metrics: tuple[MetricSpec, ...], samples: tuple[Sample, ...]
    ) -> None:
        if self.session is not None:
            self._guard(device_id, "DeviceOnline", lambda s: s.device_online(device_id, metrics, samples))

    def device_offline(self, device_id: str) -> None:
        if self.session is not None:
            self._guard(device_id, "DeviceOffline", lambda s: s.device_offline(device_id))

    def samples(self, device_id: str, samples: tuple[Sample, ...]) -> None:
        if self.session is not None:
            self._guard(device_id, "MetricsChanged", lambda s: s.metrics_changed(device_id, samples))

    def tags_changed(self, device_id: str, names: Sequence[str]) -> None:
        if self.publisher is not None:
            self.publisher.tag_names_changed(device_id, names)

    def wants_tag_changes(self, device_id: str) -> bool:
        return self.publisher is not None and self.publisher.wants_tag_changes(device_id)

    def device_event(self, device_id: str, severity: c.Severity, kind: str, message: str) -> None:
        self.event(severity, "device", kind, message, device=device_id)

    def _guard(self, device_id: str | None, what: str, call: Callable[[SparkplugSession], object]) -> None:
        assert self.session is not None
        try:
            call(self.session.inner)
        except SparkplugError as exc:
            log.warning("sparkplug refused %s: %s", what, exc, extra={"device": device_id})

    def _on_action(self, output: Output) -> None:
        """The core's actions, from the uplink's Sparkplug session (on the loop)."""
        if isinstance(output, WriteMetric):
            task = asyncio.create_task(self._on_sparkplug_write(output), name=f"write-{output.name}")
            self._writes.add(task)
            task.add_done_callback(self._writes.discard)
        elif isinstance(output, SetScanRate):
            self._on_scan_rate(output.rate_ms)
        elif isinstance(output, Reboot):
            log.warning("Node Control/Reboot: the gateway restarts after NDEATH")
            self.reboot_requested = True
        elif isinstance(output, Notice):
            # ignored commands, refused writes, stale STATE: worth a technician's attention
            log.warning("sparkplug: %s", output.message)

    async def _on_sparkplug_write(self, write: WriteMetric) -> None:
        """DCMD (or NCMD) write: only writable tags, range-checked; the new value is reported back."""
        if write.device_id is None or write.device_id not in self.devices:
            log.warning(
                "DCMD for an unknown device or node metric %r refused",
                write.name,
                extra={"device": write.device_id},
            )
            return
        value = write.value
        if not (value is None or isinstance(value, bool | int | float | str)):
            log.warning(
                "DCMD value of type %s refused", type(value).__name__, extra={"device": write.device_id}
            )
            return
        await self.devices[write.device_id].write(write.name, value, "Sparkplug DCMD")

    def _on_scan_rate(self, rate_ms: int) -> None:
        """Node Control/Scan Rate: every device polls its default group at the new rate."""
        log.info("Node Control/Scan Rate: devices now poll every %d ms", rate_ms)

        async def apply() -> None:
            for host in list(self.devices.values()):
                await host.set_poll_interval(rate_ms / 1000)

        task = asyncio.create_task(apply(), name="scan-rate")
        self._tasks.append(task)

    # ---- uplink and control ----------------------------------------------------------------------------

    def _on_switch(self, record: object) -> None:
        to_server = getattr(record, "to_server", "?")
        reason = getattr(getattr(record, "reason", None), "value", "?")
        self.event(
            c.Severity.WARNING,
            "uplink",
            "server_switch",
            f"uplink now on {to_server} ({reason})",
            server=str(to_server),
        )

    def event(self, severity: c.Severity, source: str, kind: str, message: str, **details: str) -> None:
        if self.publisher is not None:
            self.publisher.event(c.Event(drivers.utc_ms(), severity, source, kind, message, details))

    def _on_command(self, message: BrokerMessage) -> None:
        assert self.commands is not None
        sender = self.authorizer.last_sender if self.authorizer is not None else None
        who = sender.describe() if sender is not None else "an unknown client"
        props = message.properties
        self.commands.handle(
            message.topic, message.payload, props.response_topic, props.correlation_data, who
        )

    def _reply(self, topic: str, payload: bytes, correlation: bytes | None) -> None:
        if self.broker is None:
            return
        from gateway.broker.codec.properties import NO_PROPERTIES

        properties = (
            NO_PROPERTIES if correlation is None else NO_PROPERTIES.with_changes(correlation_data=correlation)
        )
        try:
            self.broker.publish(topic, payload, qos=1, retain=False, properties=properties)
        except (LocalProtocolError, BrokerNotRunning) as exc:  # an invalid reply topic, or stopping
            log.warning("cannot answer on %r: %s", topic, exc, extra={"topic": topic})

    async def _node_metrics_loop(self) -> None:
        while True:
            if self.message_store is not None:
                rows = await self.message_store.read_after(0, limit=1)
                self.oldest_stored_ms = rows[0].created_ms if rows else None
            if self.node_metrics is not None and self.session is not None:
                samples = self.node_metrics.samples(self)
                self._guard(None, "node metrics", functools.partial(_node_changed, samples=samples))
            await asyncio.sleep(NODE_METRICS_INTERVAL_S)

    # ---- reload -----------------------------------------------------------------------------------------

    async def reload(self, source: str) -> c.ReloadResult:
        """Reload from the file; an invalid file changes nothing (the last good configuration stays)."""
        async with self._reload_lock:
            result = await self._reload(source)
            self.last_reload = result
            severity = c.Severity.INFO if result.ok else c.Severity.ERROR
            self.event(severity, "config", "reload" if result.ok else "reload_failed", result.message)
            return result

    async def _reload(self, source: str) -> c.ReloadResult:
        from gateway.app.reload import reload_from_file

        return await reload_from_file(self, source)


def _node_changed(session: SparkplugSession, samples: tuple[Sample, ...]) -> object:
    return session.metrics_changed(None, samples)
