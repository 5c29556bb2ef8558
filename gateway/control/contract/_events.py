"""Events and log lines: the non-retained streams, plus the retained ring of recent events.

An event is something a technician should notice (a device went down, the uplink switched server,
a command was executed, a reload failed). Log lines are the daemon's log, one record per line, for the
live tail; the ``fetch_logs`` command returns older lines on request.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import ClassVar


class Severity(StrEnum):
    """Severity of an event or log line, named after the Python logging levels."""

    DEBUG = "debug"
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"
    CRITICAL = "critical"


def _empty() -> Mapping[str, str]:
    return MappingProxyType({})


@dataclass(frozen=True, slots=True)
class Event:
    """Something that happened in the gateway.

    Attributes:
        timestamp_ms: when it happened.
        severity: how much it matters.
        source: the part it came from: "uplink", "device", "store", "broker", "config", "command", "gateway".
        kind: a stable machine name ("device_down", "server_switch", "command", "reload_failed", ...).
        message: one line for people.
        details: identifiers as text (device, server, client_id, topic, ...).
    """

    KIND: ClassVar[str] = "event"
    timestamp_ms: int
    severity: Severity
    source: str
    kind: str
    message: str
    details: Mapping[str, str] = field(default_factory=_empty)


@dataclass(frozen=True, slots=True)
class RecentEvents:
    """The retained ring of the last events, so a client that attaches late has context.

    Attributes:
        timestamp_ms: when this ring was published.
        events: the most recent events, oldest first (at most :data:`RECENT_EVENTS_LIMIT`).
    """

    KIND: ClassVar[str] = "recent_events"
    timestamp_ms: int
    events: tuple[Event, ...]


@dataclass(frozen=True, slots=True)
class LogLine:
    """One record of the daemon's log.

    Attributes:
        timestamp_ms: when it was logged.
        severity: its level.
        logger: the logger name ("gateway.uplink", "drivers.modbus", ...).
        message: the formatted message.
        fields: identifiers attached to the record (device, server, client_id, topic).
    """

    KIND: ClassVar[str] = "log_line"
    timestamp_ms: int
    severity: Severity
    logger: str
    message: str
    fields: Mapping[str, str] = field(default_factory=_empty)


@dataclass(frozen=True, slots=True)
class LogBatch:
    """Log lines published together (the live tail is batched, at most 2 batches per second).

    Attributes:
        timestamp_ms: when the batch was cut.
        lines: the lines, oldest first.
        dropped: lines not published because the tail was over its rate limit.
    """

    KIND: ClassVar[str] = "log_batch"
    timestamp_ms: int
    lines: tuple[LogLine, ...]
    dropped: int = 0
