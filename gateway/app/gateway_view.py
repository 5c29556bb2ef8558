"""The daemon as the control plane sees it (:class:`gateway.control.view.GatewayView`): snapshots in
contract types, and the commands carried out on the running parts."""

from __future__ import annotations

import dataclasses
import hashlib
import socket
import time
import types
from typing import TYPE_CHECKING

import drivers
from gateway import __version__
from gateway.app import probes
from gateway.app.broker_view import BrokerLists
from gateway.app.daemon import STORE_FILE
from gateway.app.observed_node import ObservedEdgeNode
from gateway.config import ConfigError, load_config_text
from gateway.config.devices import ModbusDeviceConfig
from gateway.control import contract as c
from gateway.control.view import CommandFailureError
from gateway.uplink import UplinkState

if TYPE_CHECKING:
    from gateway.app.daemon import Daemon

_SERVER_STATE = {
    UplinkState.CONNECTING: c.ServerState.CONNECTING,
    UplinkState.WAITING: c.ServerState.CONNECTED,
    UplinkState.ONLINE: c.ServerState.CONNECTED,
    UplinkState.BACKOFF: c.ServerState.BACKOFF,
    UplinkState.STOPPED: c.ServerState.IDLE,
}
_SESSION_STATE = {
    "disconnected": c.SessionState.DISCONNECTED,
    "connecting": c.SessionState.DISCONNECTED,
    "subscribing": c.SessionState.CONNECTED,
    "waiting_for_host": c.SessionState.WAIT_PRIMARY,
    "online": c.SessionState.ONLINE,
    "disconnecting": c.SessionState.CONNECTED,
}


class DaemonView:
    """Implements ``GatewayView`` over a :class:`~gateway.app.daemon.Daemon`."""

    def __init__(self, daemon: Daemon) -> None:
        self._d = daemon
        self._hostname = socket.gethostname()
        self._broker_lists = BrokerLists()

    # ---- snapshots --------------------------------------------------------------------------------------

    def gateway_status(self) -> c.GatewayStatus:
        d = self._d
        path = d.loaded.path
        return c.GatewayStatus(
            timestamp_ms=drivers.utc_ms(),
            group_id=d.config.identity.group_id,
            edge_node_id=d.config.identity.edge_node_id,
            version=__version__,
            started_at_ms=d.started_at_ms,
            uptime_s=round(time.monotonic() - d._started_mono, 1),
            config_file=None if path is None else str(path),
            last_reload=d.last_reload,
            hostname=self._hostname,
            demo=d.demo,
        )

    def uplink_status(self) -> c.UplinkStatus:
        d = self._d
        now = drivers.utc_ms()
        servers: list[c.ServerStatus] = []
        active = None
        switches: tuple[c.SwitchRecord, ...] = ()
        state = c.ServerState.IDLE
        if d.uplink is not None:
            status = d.uplink.status()
            active = status.server
            state = _SERVER_STATE.get(status.state, c.ServerState.IDLE)
            switches = tuple(
                c.SwitchRecord(
                    r.at_ms,
                    r.from_server,
                    r.to_server,
                    f"{r.reason.value}{': ' + r.detail if r.detail else ''}",
                    int(r.duration_s * 1000),
                )
                for r in status.switches
            )[-c.SWITCH_HISTORY_LIMIT :]
            for server in d.uplink._servers:  # the configured order
                is_active = server.name == active
                servers.append(
                    c.ServerStatus(
                        name=server.name,
                        host=server.host,
                        port=server.port,
                        tls=server.tls is not None,
                        mqtt_version="5" if int(server.version) == 5 else "3.1.1",
                        state=state if is_active else c.ServerState.IDLE,
                        active=is_active,
                        health=(status.last_error,) if is_active and status.last_error else (),
                        last_error=status.last_error or None if is_active else None,
                        connected_since_ms=status.since_ms
                        if is_active and status.state is UplinkState.ONLINE
                        else None,
                    )
                )
        node = d.session.node if d.session is not None else None
        primary = None
        if d.config.identity.primary_host_id is not None:
            seen = d.session.host_state if d.session is not None else None
            primary = c.PrimaryHostStatus(
                d.config.identity.primary_host_id,
                online=None if seen is None else seen.online,
                state_timestamp_ms=None if seen is None else seen.timestamp_ms,
                received_at_ms=None if seen is None else seen.received_at_ms,
                state_format=d.config.identity.state_format.value,
            )
        return c.UplinkStatus(
            timestamp_ms=now,
            servers=tuple(servers),
            active_server=active,
            session_state=_SESSION_STATE.get(
                node.state.value if node else "disconnected", c.SessionState.DISCONNECTED
            ),
            bd_seq=(node.bd_seq or 0) if node is not None else 0,
            seq=node.seq if isinstance(node, ObservedEdgeNode) else None,
            primary_host=primary,
            switches=switches,
            failover_count=sum(1 for s in switches if s.from_server is not None),
            births=d.session.sessions if d.session is not None else 0,
            rebirths=node.rebirths if isinstance(node, ObservedEdgeNode) else 0,
            relayed=d.relay.relayed if d.relay is not None else 0,
            relay_dropped=d.relay.dropped if d.relay is not None else 0,
        )

    def store_status(self) -> c.StoreStatus:
        d = self._d
        now = drivers.utc_ms()
        if d.message_store is None or d.forwarder is None:
            return c.StoreStatus(now, c.StoreMode.LIVE, 0, 0, None)
        status = d.message_store.status()
        forwarding = d.forwarder.status()
        depth = status.messages + status.pending
        if not forwarding.attached:
            mode = c.StoreMode.STORING
        else:
            mode = c.StoreMode.DRAINING if depth else c.StoreMode.LIVE
        path = d.config.data_dir / STORE_FILE
        oldest = d.oldest_stored_ms if depth else None
        return c.StoreStatus(
            timestamp_ms=now,
            mode=mode,
            depth=depth,
            bytes=status.bytes,
            oldest_age_s=None if oldest is None else max(0.0, (now - oldest) / 1000),
            # measured rates over the store's recent window (not the drain's pacing ceiling), so the
            # terminal UI's time-to-empty is what will really happen
            drain_rate_per_s=round(status.out_per_s, 1),
            write_rate_per_s=round(status.in_per_s, 1),
            dropped=sum(status.dropped.values()) + forwarding.dropped,
            drop_policy=d.config.store.drop_policy.value,
            capacity_messages=0,  # the store is capped by bytes (and the control plane says so)
            capacity_bytes=d.config.store.max_bytes,
            db_bytes=path.stat().st_size if status.path is not None and path.exists() else 0,
        )

    def broker_status(self) -> c.BrokerStatus:
        d = self._d
        now = drivers.utc_ms()
        if d.broker is None:
            return c.BrokerStatus(now, (), 0)
        broker = d.broker
        listeners = tuple(
            c.ListenerStatus(cfg.name or f"{host}:{port}", host, port, cfg.tls is not None)
            for (host, port), cfg in zip(broker.addresses, d.config.broker.listeners, strict=False)
        )
        core = broker.core
        clients, retained = self._broker_lists.lists(broker, time.monotonic(), drivers.utc_ms)
        stats = broker.stats
        subscriptions = sum(len(getattr(session, "subscriptions", ())) for session in core.sessions.values())
        # $SYS-style figures by their mosquitto names, from the broker's counters
        sys_figures = {
            "clients/connected": float(len(core.connections)),
            "clients/accepted": float(stats.connections_accepted),
            "clients/refused": float(stats.connections_refused),
            "messages/received": float(stats.messages_received),
            "messages/sent": float(stats.messages_sent),
            "publish/dropped": float(stats.dropped_total),
            "clients/keepalive_timeouts": float(stats.keepalive_timeouts),
            "protocol_errors": float(stats.protocol_errors),
            "wills_published": float(stats.wills_published),
        }
        return c.BrokerStatus(
            timestamp_ms=now,
            listeners=listeners,
            client_count=len(core.connections),
            clients=clients,
            subscription_count=subscriptions,
            retained_count=len(core.retained),
            messages_in=stats.publish_received,
            messages_out=stats.publish_sent,
            bytes_in=stats.bytes_received,
            bytes_out=stats.bytes_sent,
            dropped=stats.dropped_total,
            sys=types.MappingProxyType(sys_figures),
            retained=retained,
        )

    def device_ids(self) -> tuple[str, ...]:
        return tuple(self._d.devices)

    def device_status(self, device_id: str) -> c.DeviceStatus | None:
        host = self._d.devices.get(device_id)
        return None if host is None else host.status()

    def device_tags(self, device_id: str) -> tuple[c.TagValue, ...] | None:
        host = self._d.devices.get(device_id)
        return None if host is None else host.tag_values()

    def device_tag(self, device_id: str, name: str) -> c.TagValue | None:
        host = self._d.devices.get(device_id)
        return None if host is None else host.tag_value(name)

    def device_tags_version(self, device_id: str) -> int | None:
        host = self._d.devices.get(device_id)
        return None if host is None else host.tags_version

    # ---- commands ---------------------------------------------------------------------------------------

    async def failover_now(self, request: c.FailoverNow) -> c.FailoverResult:
        uplink = self._d.uplink
        if uplink is None:
            raise CommandFailureError(
                c.ErrorCode.UNAVAILABLE, "there is no uplink to fail over", "configure upstream.servers"
            )
        servers = [s.name for s in uplink._servers]
        current = uplink.status().server
        index = servers.index(current) if current in servers else -1
        uplink.request_next_server(request.reason)
        return c.FailoverResult(current, servers[(index + 1) % len(servers)])

    async def rebirth(self, request: c.Rebirth) -> c.RebirthResult:
        session = self._d.session
        if session is None or session.node.state.value != "online":
            raise CommandFailureError(
                c.ErrorCode.UNAVAILABLE,
                "the edge node is not born on any server now",
                "wait until the uplink is online",
            )
        session.request_rebirth()
        return c.RebirthResult(session.node.bd_seq or 0, tuple(sorted(session.node.online_devices)))

    async def set_device_enabled(self, request: c.SetDeviceEnabled) -> c.DeviceEnabledResult:
        host = self._host(request.device_id)
        changed = await host.set_enabled(request.enabled)
        return c.DeviceEnabledResult(request.device_id, host.enabled, changed)

    async def write_tag(self, request: c.WriteTag, who: str) -> c.WriteResult:
        host = self._host(request.device_id)
        outcome = await host.write(request.tag, request.value, who)
        if not outcome.ok:
            raise CommandFailureError(outcome.code or c.ErrorCode.DEVICE_ERROR, outcome.message)
        return c.WriteResult(
            request.device_id, request.tag, outcome.old_value, outcome.new_value, drivers.utc_ms()
        )

    async def modbus_read(self, request: c.ModbusRead) -> c.ModbusReadResult:
        host, port, unit = request.host, request.port, request.unit
        if request.device_id is not None:
            device = self._host(request.device_id).config
            if (
                not isinstance(device, ModbusDeviceConfig)
                or device.protocol != "modbus_tcp"
                or not device.host
            ):
                raise CommandFailureError(
                    c.ErrorCode.UNAVAILABLE, f"{request.device_id} is not a Modbus TCP device"
                )
            host, port, unit = device.host, device.port, device.unit
        if host is None:
            raise CommandFailureError(c.ErrorCode.BAD_REQUEST, "give device_id, or host and port")
        return await probes.modbus_read(host, port, dataclasses.replace(request, unit=unit))

    async def browse_opcua(self, request: c.BrowseOpcUa) -> c.BrowseResult:
        if request.device_id is not None:
            host = self._host(request.device_id)
            try:
                entries = await host.browse(None if request.node_id == "i=85" else request.node_id)
            except drivers.DeviceError as exc:
                raise CommandFailureError(c.ErrorCode.DEVICE_ERROR, str(exc)) from None
            return probes.browse_result(request.node_id, entries)
        if request.endpoint is None:
            raise CommandFailureError(c.ErrorCode.BAD_REQUEST, "give device_id or endpoint")
        return await probes.browse_endpoint(request.endpoint, request.node_id)

    async def get_config(self, request: c.GetConfig) -> c.ConfigDocument:
        loaded = self._d.loaded
        origins = tuple(c.ConfigOrigin(o.key_path, o.value, o.origin) for o in loaded.origins)
        return c.ConfigDocument(
            None if loaded.path is None else str(loaded.path), loaded.text, loaded.sha256, origins
        )

    async def validate_config(self, request: c.ValidateConfig) -> c.ConfigValidation:
        path = self._d.loaded.path
        try:
            load_config_text(
                request.text, label=str(path or "<text>"), base_dir=path.parent if path else None
            )
        except ConfigError as exc:
            return c.ConfigValidation(
                False, tuple(c.ConfigProblem(p.location, p.key_path, p.message) for p in exc.problems)
            )
        return c.ConfigValidation(True, ())

    async def apply_config(self, request: c.ApplyConfig) -> c.ReloadResult:
        d = self._d
        path = d.loaded.path
        if path is None:
            raise CommandFailureError(
                c.ErrorCode.UNAVAILABLE,
                "the built-in demo has no configuration file",
                "run with -c FILE to edit a configuration",
            )
        current = path.read_bytes()
        if request.base_sha256 is not None and hashlib.sha256(current).hexdigest() != request.base_sha256:
            raise CommandFailureError(
                c.ErrorCode.CONFLICT, f"{path} changed since it was read", "get_config again"
            )
        try:
            load_config_text(request.text, label=str(path), base_dir=path.parent)
        except ConfigError as exc:
            raise CommandFailureError(
                c.ErrorCode.INVALID_CONFIG,
                f"{len(exc.problems)} problem(s); nothing applied",
                "fix them and validate again",
                tuple(p.render() for p in exc.problems),
            ) from None
        temporary = path.with_name(path.name + ".new")
        temporary.write_text(request.text, encoding="utf-8")
        temporary.replace(path)  # atomic on one file system: a crash leaves the old or the new file
        return await d.reload("command")

    async def reload_config(self, request: c.ReloadConfig) -> c.ReloadResult:
        return await self._d.reload("command")

    async def fetch_logs(self, request: c.FetchLogs) -> c.LogBatch:
        ring = self._d.log_ring
        if ring is None:
            raise CommandFailureError(c.ErrorCode.UNAVAILABLE, "logs are not kept in memory in this process")
        limit = max(1, min(request.limit, c.FETCH_LOGS_MAX))
        return c.LogBatch(
            drivers.utc_ms(), tuple(ring.recent(limit, request.min_severity, request.logger_prefix))
        )

    def _host(self, device_id: str) -> "DeviceHost":  # noqa: UP037  (TYPE_CHECKING import)
        host = self._d.devices.get(device_id)
        if host is None:
            known = ", ".join(sorted(self._d.devices)) or "none"
            raise CommandFailureError(c.ErrorCode.NOT_FOUND, f"no device {device_id!r}", f"devices: {known}")
        return host


if TYPE_CHECKING:
    from gateway.app.devices import DeviceHost
