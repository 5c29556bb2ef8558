"""The one door from the UI to the control-plane contract (``gateway.control.contract``).

Every UI module imports the contract through here, so a contract change (or a request the UI still
needs from it, listed below) touches one file. Nothing here does I/O.

Small additions the UI keeps for itself until the contract has them:

- :func:`is_plant_affecting`: reads ``COMMANDS[name].plant_affecting`` for any request object.
- :data:`STATUS_STALE_AFTER_S`: a status snapshot older than two heartbeats is stale.
"""

from __future__ import annotations

from gateway.control import contract as c
from gateway.control.contract import (
    COMMANDS,
    STATUS_HEARTBEAT_S,
    BrokerStatus,
    CommandFailed,
    CommandName,
    CommandOk,
    ContractError,
    DaemonState,
    DeviceHealth,
    DeviceStatus,
    Event,
    GatewayStatus,
    LogBatch,
    Quality,
    RecentEvents,
    Request,
    Response,
    SchemaMismatchError,
    ServerState,
    Severity,
    StoreMode,
    StoreStatus,
    TagChanges,
    TagScalar,
    TagSnapshot,
    TagValue,
    TopicKind,
    UplinkStatus,
)

STATUS_STALE_AFTER_S = 2 * STATUS_HEARTBEAT_S
"""A status snapshot is published at least every STATUS_HEARTBEAT_S; two missed heartbeats = stale."""

STATUS_SUBSCRIPTIONS: tuple[str, ...] = (
    c.STATE_TOPIC,
    f"{c.ROOT}/status/#",
    f"{c.ROOT}/tags/#",
    f"{c.ROOT}/events/#",  # '#' also matches the parent level: events and events/recent
    c.LOGS_TOPIC,
)
"""What the UI subscribes to: everything the daemon publishes, but not other clients' commands."""

SPARKPLUG_FILTER = "spBv1.0/#"
"""Sparkplug B traffic on the embedded broker, for the traffic screen."""


def is_plant_affecting(request: Request) -> bool:
    """Whether ``request`` changes the plant or the gateway (the UI confirms first)."""
    return COMMANDS[request.COMMAND].plant_affecting


__all__ = [
    "COMMANDS",
    "SPARKPLUG_FILTER",
    "STATUS_STALE_AFTER_S",
    "STATUS_SUBSCRIPTIONS",
    "BrokerStatus",
    "CommandFailed",
    "CommandName",
    "CommandOk",
    "ContractError",
    "DaemonState",
    "DeviceHealth",
    "DeviceStatus",
    "Event",
    "GatewayStatus",
    "LogBatch",
    "Quality",
    "RecentEvents",
    "Request",
    "Response",
    "SchemaMismatchError",
    "ServerState",
    "Severity",
    "StoreMode",
    "StoreStatus",
    "TagChanges",
    "TagScalar",
    "TagSnapshot",
    "TagValue",
    "TopicKind",
    "UplinkStatus",
    "c",
    "is_plant_affecting",
]
