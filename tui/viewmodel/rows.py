"""Table rows for each screen: a row key and its cells, computed from the model and ``now_ms``."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from tui._contract import DeviceStatus, Event, c
from tui.viewmodel.badges import HEALTH, QUALITY, SERVER, SEVERITY, Cell, at_least
from tui.viewmodel.filtering import RowFilter
from tui.viewmodel.format import (
    age_s,
    format_age,
    format_bytes,
    format_clock,
    format_duration_ms,
    format_value,
)
from tui.viewmodel.model import GatewayModel, TagEntry

DEVICE_COLUMNS = ("device", "proto", "health", "last good poll", "errors", "p50/p99 ms", "last error")
TAG_COLUMNS = ("tag", "value", "quality", "sampled (UTC)", "age", "type", "W")
SERVER_COLUMNS = ("", "server", "address", "state", "connected", "rtt", "fails", "health / last error")
SWITCH_COLUMNS = ("at (UTC)", "from", "to", "took", "reason")
CLIENT_COLUMNS = ("client id", "user", "address", "proto", "subs", "inflight", "queued", "since")
EVENT_COLUMNS = ("time (UTC)", "level", "source", "message")


@dataclass(frozen=True, slots=True)
class Row:
    """One table row: a stable key (used for in-place cell updates) and its cells."""

    key: str
    cells: tuple[Cell, ...]


def _dim(cells: Iterable[Cell], stale: bool) -> tuple[Cell, ...]:
    if not stale:
        return tuple(cells)
    return tuple(Cell(cell.text, f"{cell.style} dim".strip()) for cell in cells)


def device_row(status: DeviceStatus, now_ms: int, stale: bool) -> Row:
    """One device: health as a word, the age of its last good poll, counters and its last error."""
    health = HEALTH[status.health] if status.enabled else HEALTH[c.DeviceHealth.DISABLED]
    p50 = "-" if status.response_ms_p50 is None else f"{status.response_ms_p50:.0f}"
    p99 = "-" if status.response_ms_p99 is None else f"{status.response_ms_p99:.0f}"
    last_error = status.last_error or ""
    if status.last_error and status.last_error_at_ms is not None:
        last_error = f"{format_age(age_s(now_ms, status.last_error_at_ms))} ago: {status.last_error}"
    cells = (
        Cell(status.device_id, "bold"),
        Cell(status.protocol),
        health,
        Cell(format_age(age_s(now_ms, status.last_good_poll_ms))),
        Cell(f"{status.errors} ({status.timeouts} t/o)", "red" if status.consecutive_errors else ""),
        Cell(f"{p50}/{p99}"),
        Cell(last_error, "red" if status.consecutive_errors else "bright_black"),
    )
    return Row(status.device_id, _dim(cells, stale))


def device_rows(model: GatewayModel, now_ms: int, row_filter: RowFilter) -> list[Row]:
    rows = []
    for device_id in sorted(model.devices):
        stamped = model.devices[device_id]
        status = stamped.message
        if not row_filter.matches(device_id, status.protocol, status.endpoint, status.health.value):
            continue
        rows.append(device_row(status, now_ms, model.is_stale(status.timestamp_ms, now_ms)))
    return rows


def tag_cells(entry: TagEntry, now_ms: int, stale: bool) -> tuple[Cell, ...]:
    """The cells of one tag row (the screens update these in place when the tag changes)."""
    quality = QUALITY[entry.quality]
    cells = (
        Cell(entry.name),
        Cell(format_value(entry.value, entry.unit), "bold" if entry.quality is c.Quality.GOOD else ""),
        quality,
        Cell(format_clock(entry.timestamp_ms, millis=True)),
        Cell(format_age(age_s(now_ms, entry.timestamp_ms))),
        Cell(entry.datatype),
        Cell("W" if entry.writable else ""),
    )
    return _dim(cells, stale)


def tag_key(device_id: str, name: str) -> str:
    return f"{device_id}\x1f{name}"


def tag_keys(model: GatewayModel, device_id: str | None, row_filter: RowFilter) -> list[tuple[str, str]]:
    """The (device, tag) pairs shown, in device then configuration order, filtered."""
    devices = [device_id] if device_id is not None else sorted(model.tags)
    out = []
    for dev in devices:
        for name in model.tags.get(dev, {}):
            if row_filter.matches(name, dev):
                out.append((dev, name))
    return out


def server_rows(model: GatewayModel, now_ms: int) -> list[Row]:
    if model.uplink is None:
        return []
    up = model.uplink.message
    stale = model.is_stale(up.timestamp_ms, now_ms)
    rows = []
    for server in up.servers:
        state = SERVER[server.state]
        if server.state is c.ServerState.BACKOFF and server.backoff_until_ms is not None:
            state = Cell(f"backoff {format_age(age_s(server.backoff_until_ms, now_ms))}", state.style)
        why = "; ".join(server.health)
        if server.last_error:
            when = format_age(age_s(now_ms, server.last_error_at_ms))
            why = f"{why}; {when} ago: {server.last_error}" if why else f"{when} ago: {server.last_error}"
        cells = (
            Cell("*" if server.active else "", "bold green"),
            Cell(server.name, "bold" if server.active else ""),
            Cell(f"{server.host}:{server.port}{' tls' if server.tls else ''}"),
            state,
            Cell(format_age(age_s(now_ms, server.connected_since_ms))),
            Cell("-" if server.rtt_ms is None else f"{server.rtt_ms:.0f} ms"),
            Cell(str(server.failure_count)),
            Cell(why),
        )
        rows.append(Row(server.name, _dim(cells, stale)))
    return rows


def switch_rows(model: GatewayModel) -> list[Row]:
    if model.uplink is None:
        return []
    rows = []
    for i, sw in enumerate(reversed(model.uplink.message.switches)):
        cells = (
            Cell(format_clock(sw.at_ms)),
            Cell(sw.from_server or "(start)"),
            Cell(sw.to_server),
            Cell(format_duration_ms(sw.duration_ms)),
            Cell(sw.reason),
        )
        rows.append(Row(f"{sw.at_ms}-{i}", cells))
    return rows


def client_rows(model: GatewayModel, now_ms: int, row_filter: RowFilter) -> list[Row]:
    if model.broker is None:
        return []
    rows = []
    for cl in model.broker.message.clients:
        if not row_filter.matches(cl.client_id, cl.username or "", cl.address):
            continue
        cells = (
            Cell(cl.client_id, "bold"),
            Cell(cl.username or "-"),
            Cell(cl.address),
            Cell(cl.protocol),
            Cell(str(cl.subscriptions)),
            Cell(str(cl.inflight)),
            Cell(str(cl.queued), "yellow" if cl.queued else ""),
            Cell(format_age(age_s(now_ms, cl.connected_at_ms))),
        )
        rows.append(Row(cl.client_id, cells))
    return rows


def event_cells(event: Event) -> tuple[Cell, ...]:
    details = " ".join(f"{k}={v}" for k, v in event.details.items())
    message = f"{event.message}  [{details}]" if details else event.message
    return (
        Cell(format_clock(event.timestamp_ms, millis=True)),
        SEVERITY[event.severity],
        Cell(event.source),
        Cell(message),
    )


def event_matches(event: Event, floor: c.Severity, row_filter: RowFilter) -> bool:
    return at_least(event.severity, floor) and row_filter.matches(
        event.message, event.source, event.kind, *event.details.values()
    )


def log_line_text(line: c.LogLine) -> tuple[Cell, ...]:
    return (
        Cell(format_clock(line.timestamp_ms, millis=True)),
        SEVERITY[line.severity],
        Cell(line.logger),
        Cell(line.message),
    )


def store_bytes_text(n: int) -> str:
    return format_bytes(n)
