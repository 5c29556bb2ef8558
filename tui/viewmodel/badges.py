"""Short words with a style for states: the colour helps, the word carries the meaning.

Styles are Rich style strings; a ``dim`` is added by the caller when data is stale.
"""

from __future__ import annotations

from typing import NamedTuple

from tui._contract import DeviceHealth, Quality, ServerState, Severity, StoreMode, c


class Cell(NamedTuple):
    """One piece of text and its Rich style."""

    text: str
    style: str = ""


HEALTH: dict[DeviceHealth, Cell] = {
    DeviceHealth.OK: Cell("ok", "green"),
    DeviceHealth.DEGRADED: Cell("degraded", "yellow"),
    DeviceHealth.DOWN: Cell("DOWN", "bold red"),
    DeviceHealth.DISABLED: Cell("disabled", "bright_black"),
    DeviceHealth.UNKNOWN: Cell("unknown", "magenta"),
}

QUALITY: dict[Quality, Cell] = {
    Quality.GOOD: Cell("good", "green"),
    Quality.BAD: Cell("BAD", "bold red"),
    Quality.UNCERTAIN: Cell("uncertain", "yellow"),
    Quality.STALE: Cell("stale", "bright_black"),
}

SERVER: dict[ServerState, Cell] = {
    ServerState.IDLE: Cell("idle", "bright_black"),
    ServerState.CONNECTING: Cell("connecting", "yellow"),
    ServerState.CONNECTED: Cell("connected", "green"),
    ServerState.BACKOFF: Cell("backoff", "yellow"),
    ServerState.FAILED: Cell("FAILED", "bold red"),
}

SESSION: dict[c.SessionState, Cell] = {
    c.SessionState.DISCONNECTED: Cell("disconnected", "bold red"),
    c.SessionState.CONNECTED: Cell("connected", "yellow"),
    c.SessionState.WAIT_PRIMARY: Cell("waiting for primary host", "yellow"),
    c.SessionState.ONLINE: Cell("online", "green"),
}

STORE: dict[StoreMode, Cell] = {
    StoreMode.LIVE: Cell("live", "green"),
    StoreMode.STORING: Cell("STORING", "bold yellow"),
    StoreMode.DRAINING: Cell("draining", "cyan"),
}

SEVERITY: dict[Severity, Cell] = {
    Severity.DEBUG: Cell("debug", "bright_black"),
    Severity.INFO: Cell("info", ""),
    Severity.WARNING: Cell("warning", "yellow"),
    Severity.ERROR: Cell("ERROR", "bold red"),
    Severity.CRITICAL: Cell("CRITICAL", "bold white on red"),
}

SEVERITY_ORDER: tuple[Severity, ...] = tuple(Severity)
"""Severities from the least to the most serious (the order of the enum)."""


def at_least(severity: Severity, floor: Severity) -> bool:
    """Whether ``severity`` is ``floor`` or more serious."""
    return SEVERITY_ORDER.index(severity) >= SEVERITY_ORDER.index(floor)


def primary_host(online: bool | None) -> Cell:
    """The primary host's STATE as a badge: online, OFFLINE or unknown (no STATE seen yet)."""
    if online is None:
        return Cell("unknown (no STATE yet)", "magenta")
    return Cell("online", "green") if online else Cell("OFFLINE", "bold red")
