"""Logging of the daemon: one line per event, identifiers a technician can grep, levels per part.

Call sites attach identifiers with ``extra``::

    log.warning("read timed out after %.1f s", timeout, extra={"device": "press-1", "topic": t})

and the line carries them: ``... WARNING gateway.app: read timed out after 1.0 s [device=press-1 topic=...]``.
The recognised identifiers are :data:`FIELDS`. ``format="json"`` writes one JSON object per line
instead (for log shippers). :class:`LogRing` keeps the recent lines in memory for the control plane
(``fetch_logs`` and the live tail), bounded, with the number dropped counted.
"""

from __future__ import annotations

import collections
import json
import logging
import sys
import threading
import time
from collections.abc import Callable, Mapping
from typing import IO, Any

from gateway.control.contract import LogLine, Severity

FIELDS = ("device", "tag", "server", "client_id", "user", "topic", "command", "bd_seq", "seq", "listener")
"""Identifiers taken from a record's ``extra`` and shown with the line."""

_SEVERITY = {
    logging.DEBUG: Severity.DEBUG,
    logging.INFO: Severity.INFO,
    logging.WARNING: Severity.WARNING,
    logging.ERROR: Severity.ERROR,
    logging.CRITICAL: Severity.CRITICAL,
}


def record_fields(record: logging.LogRecord) -> dict[str, str]:
    """The identifiers a record carries, as text."""
    return {name: str(getattr(record, name)) for name in FIELDS if getattr(record, name, None) is not None}


def severity_of(levelno: int) -> Severity:
    """The contract severity of a logging level number (rounded down to a named level)."""
    for level in (logging.CRITICAL, logging.ERROR, logging.WARNING, logging.INFO):
        if levelno >= level:
            return _SEVERITY[level]
    return Severity.DEBUG


def _utc(created: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created)) + f".{int(created % 1 * 1000):03d}Z"


class TextFormatter(logging.Formatter):
    """``2026-01-01T12:00:00.000Z WARNING gateway.uplink: message [server=a client_id=b]``."""

    def format(self, record: logging.LogRecord) -> str:
        fields = record_fields(record)
        text = f"{_utc(record.created)} {record.levelname:<7} {record.name}: {record.getMessage()}"
        if fields:
            text += " [" + " ".join(f"{key}={value}" for key, value in fields.items()) + "]"
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return text


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``time``, ``level``, ``logger``, ``message``, identifiers, ``exception``."""

    def format(self, record: logging.LogRecord) -> str:
        document: dict[str, Any] = {
            "time": _utc(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            **record_fields(record),
        }
        if record.exc_info:
            document["exception"] = self.formatException(record.exc_info)
        return json.dumps(document, ensure_ascii=False)


class LogRing(logging.Handler):
    """Keeps the last ``capacity`` log lines for the control plane; thread-safe (logging may come from
    driver threads).

    ``listener``, when set, is called with each new :class:`LogLine` from the thread that logged it;
    it must only hand the line over (e.g. ``loop.call_soon_threadsafe``), never block.
    """

    def __init__(self, capacity: int = 5000, level: int = logging.DEBUG) -> None:
        super().__init__(level)
        self._lines: collections.deque[LogLine] = collections.deque(maxlen=capacity)
        self._guard = threading.Lock()
        self.listener: Callable[[LogLine], None] | None = None
        self.total = 0

    def emit(self, record: logging.LogRecord) -> None:
        line = LogLine(
            int(record.created * 1000),
            severity_of(record.levelno),
            record.name,
            record.getMessage(),
            record_fields(record),
        )
        with self._guard:
            self._lines.append(line)
            self.total += 1
        listener = self.listener
        if listener is not None:
            listener(line)

    def recent(
        self, limit: int, min_severity: Severity = Severity.DEBUG, logger_prefix: str = ""
    ) -> list[LogLine]:
        """The newest ``limit`` lines at or above ``min_severity`` from loggers starting with the prefix."""
        order = list(Severity)
        floor = order.index(min_severity)
        with self._guard:
            lines = list(self._lines)
        chosen = [
            line
            for line in lines
            if order.index(line.severity) >= floor and line.logger.startswith(logger_prefix)
        ]
        return chosen[-limit:] if limit > 0 else []


def configure_logging(
    level: str = "info",
    fmt: str = "text",
    levels: Mapping[str, str] | None = None,
    *,
    stream: IO[str] | None = None,
    ring: LogRing | None = None,
) -> None:
    """Replace the root logger's handlers: one stream handler (text or JSON) plus ``ring`` if given.

    Args:
        level: default level name (debug, info, warning, error).
        fmt: ``text`` or ``json``.
        levels: per-logger level names (``{"gateway.uplink": "debug"}``).
        stream: where lines go (standard error by default, which systemd's journal keeps).
        ring: an in-memory ring for the control plane; it sees every record the root lets through.
    """
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root.addHandler(handler)
    if ring is not None:
        root.addHandler(ring)
    root.setLevel(level.upper())
    for name, component_level in (levels or {}).items():
        logging.getLogger(name).setLevel(component_level.upper())
    # Third-party libraries log every packet at DEBUG/INFO; keep them quiet unless asked for by name.
    for noisy in ("asyncua", "pymodbus"):
        if levels is None or noisy not in levels:
            logging.getLogger(noisy).setLevel(logging.WARNING)
