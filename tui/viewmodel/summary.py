"""Key/value summaries for the Overview, Uplink, Store and Broker screens, and the link banner.

Each function returns ``[(label, Cell), ...]``; a label of ``""`` continues the previous line.
Every status line ends with its age, so "ok" is never shown without "as of when".
"""

from __future__ import annotations

from tui._contract import DeviceHealth, c
from tui.viewmodel.badges import SESSION, STORE, Cell, primary_host
from tui.viewmodel.format import (
    age_s,
    eta_s,
    format_age,
    format_bytes,
    format_clock,
    format_count,
    format_datetime,
)
from tui.viewmodel.model import GatewayModel

Line = tuple[str, Cell]


def link_banner(model: GatewayModel, now_ms: int) -> Cell | None:
    """The red line at the top when the data cannot be trusted, or None when all is well."""
    if model.protocol_problem:
        return Cell(model.protocol_problem, "bold white on red")
    link = model.link
    if link.state == "down":
        since = format_age(age_s(now_ms, link.since_ms))
        return Cell(
            f"NOT CONNECTED ({since}): {link.reason}. {link.next_step}. "
            f"Retrying every {link.retry_in_s:.0f}s; data shown is stale.",
            "bold white on red",
        )
    if link.state == "connecting" and link.attempt > 0 and model.daemon is None:
        return Cell(f"connecting to {link.address} (attempt {link.attempt})...", "bold black on yellow")
    if model.daemon is not None and not model.daemon.message.online:
        when = format_clock(model.daemon.received_ms)
        return Cell(
            f"GATEWAY DAEMON OFFLINE since {when} UTC (its MQTT will): last data shown, marked stale. "
            "Check `systemctl status edge-gateway`.",
            "bold white on red",
        )
    return None


def _age_cell(model: GatewayModel, ts_ms: int, now_ms: int) -> Cell:
    stale = model.is_stale(ts_ms, now_ms)
    text = f"as of {format_age(age_s(now_ms, ts_ms))} ago"
    return Cell(f"{text} (STALE)" if stale else text, "bold yellow" if stale else "bright_black")


def gateway_lines(model: GatewayModel, now_ms: int) -> list[Line]:
    if model.gateway is None:
        return [("gateway", Cell("no status yet", "magenta"))]
    g = model.gateway.message
    reload = g.last_reload
    if reload is None:
        reload_cell = Cell("not loaded yet", "magenta")
    else:
        word = "ok" if reload.ok else "FAILED"
        reload_cell = Cell(
            f"{word} ({reload.source}, {format_age(age_s(now_ms, reload.at_ms))} ago): {reload.message}",
            "green" if reload.ok else "bold red",
        )
    return [
        ("edge node", Cell(f"{g.group_id}/{g.edge_node_id}" + (" (demo)" if g.demo else ""), "bold")),
        ("version", Cell(f"{g.version} on {g.hostname or '?'}")),
        ("uptime", Cell(f"{format_age(g.uptime_s)} (since {format_datetime(g.started_at_ms)})")),
        ("config", Cell(g.config_file or "built-in demo")),
        ("last reload", reload_cell),
        ("", _age_cell(model, g.timestamp_ms, now_ms)),
    ]


def uplink_lines(model: GatewayModel, now_ms: int) -> list[Line]:
    if model.uplink is None:
        return [("uplink", Cell("no status yet", "magenta"))]
    u = model.uplink.message
    lines: list[Line] = [
        ("active server", Cell(u.active_server or "none", "bold" if u.active_server else "bold red")),
        ("session", SESSION[u.session_state]),
        ("bdSeq / seq", Cell(f"{u.bd_seq} / {'-' if u.seq is None else u.seq}")),
        ("sessions/rebirths", Cell(f"{u.births} / {u.rebirths}, {u.failover_count} failovers")),
    ]
    if u.primary_host is not None:
        ph = u.primary_host
        badge = primary_host(ph.online)
        seen = ""
        if ph.received_at_ms is not None:
            seen = f", STATE {format_age(age_s(now_ms, ph.received_at_ms))} ago"
        lines.append(("primary host", Cell(f"{ph.host_id}: {badge.text}{seen}", badge.style)))
    lines.append(("", _age_cell(model, u.timestamp_ms, now_ms)))
    return lines


def store_lines(model: GatewayModel, now_ms: int) -> list[Line]:
    if model.store is None:
        return [("store", Cell("no status yet", "magenta"))]
    s = model.store.message
    eta = eta_s(s.depth, s.drain_rate_per_s, s.write_rate_per_s)
    eta_text = "empty" if s.depth == 0 else ("not shrinking" if eta is None else format_age(eta))
    capacity = f" of {format_count(s.capacity_messages)}" if s.capacity_messages else ""
    fill = ""
    if s.capacity_messages:
        fill = f" ({100 * s.depth / s.capacity_messages:.1f}% full)"
    return [
        ("mode", STORE[s.mode]),
        ("backlog", Cell(f"{format_count(s.depth)}{capacity} messages{fill}, {format_bytes(s.bytes)}")),
        ("oldest", Cell(format_age(s.oldest_age_s) if s.oldest_age_s is not None else "-")),
        ("drain / write", Cell(f"{s.drain_rate_per_s:.1f}/s out, {s.write_rate_per_s:.1f}/s in")),
        ("time to empty", Cell(eta_text, "yellow" if eta is None and s.depth else "")),
        ("dropped", Cell(f"{format_count(s.dropped)} ({s.drop_policy})", "bold red" if s.dropped else "")),
        ("database", Cell(format_bytes(s.db_bytes))),
        ("", _age_cell(model, s.timestamp_ms, now_ms)),
    ]


def broker_lines(model: GatewayModel, now_ms: int) -> list[Line]:
    if model.broker is None:
        return [("broker", Cell("no status yet", "magenta"))]
    b = model.broker.message
    listeners = ", ".join(f"{li.name} {li.host}:{li.port}{' tls' if li.tls else ''}" for li in b.listeners)
    lines: list[Line] = [
        ("listeners", Cell(listeners or "none")),
        ("clients", Cell(f"{b.client_count} connected, {b.subscription_count} subscriptions")),
        ("retained", Cell(format_count(b.retained_count))),
        ("messages", Cell(f"{format_count(b.messages_in)} in, {format_count(b.messages_out)} out")),
        ("bytes", Cell(f"{format_bytes(b.bytes_in)} in, {format_bytes(b.bytes_out)} out")),
        ("dropped", Cell(format_count(b.dropped), "bold red" if b.dropped else "")),
    ]
    for name in sorted(b.sys):
        lines.append((name, Cell(f"{b.sys[name]:g}")))
    lines.append(("", _age_cell(model, b.timestamp_ms, now_ms)))
    return lines


def device_counts(model: GatewayModel) -> Cell:
    """``"3 ok, 1 degraded, 1 DOWN, 0 disabled"``, red when any is down."""
    counts = dict.fromkeys(DeviceHealth, 0)
    for stamped in model.devices.values():
        status = stamped.message
        counts[DeviceHealth.DISABLED if not status.enabled else status.health] += 1
    text = (
        f"{counts[DeviceHealth.OK]} ok, {counts[DeviceHealth.DEGRADED]} degraded, "
        f"{counts[DeviceHealth.DOWN]} down, {counts[DeviceHealth.DISABLED]} disabled, "
        f"{model.tag_count()} tags"
    )
    style = "yellow" if counts[DeviceHealth.DEGRADED] else "green"
    if counts[DeviceHealth.DOWN]:
        style = "bold red"
    return Cell(text, style)


def problem_devices(model: GatewayModel, now_ms: int) -> list[Line]:
    """Devices that are not ok, worst first, each with its last error."""
    rank = {DeviceHealth.DOWN: 0, DeviceHealth.DEGRADED: 1, DeviceHealth.UNKNOWN: 2}
    bad = [s.message for s in model.devices.values() if s.message.enabled and s.message.health in rank]
    bad.sort(key=lambda d: (rank[d.health], d.device_id))
    lines: list[Line] = []
    for d in bad:
        err = d.last_error or "no error reported"
        when = "" if d.last_error_at_ms is None else f"{format_age(age_s(now_ms, d.last_error_at_ms))} ago: "
        lines.append((d.device_id, Cell(f"{d.health.value}: {when}{err}", "red")))
    return lines


def alarm_events(model: GatewayModel, limit: int = 5) -> list[c.Event]:
    """The last warnings and errors, newest first."""
    out: list[c.Event] = []
    for event in reversed(model.events):
        if event.severity in (c.Severity.WARNING, c.Severity.ERROR, c.Severity.CRITICAL):
            out.append(event)
            if len(out) == limit:
                break
    return out
