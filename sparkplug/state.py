"""Primary Host STATE payloads (§9): the 3.0 JSON form and the 2.2 ``ONLINE``/``OFFLINE`` strings.

3.0: topic ``spBv1.0/STATE/<host_id>``, payload UTF-8 JSON ``{"online": <bool>, "timestamp": <ms>}``,
published by the host with QoS 1 and retain true (its Will carries ``online: false`` and the same
timestamp as its birth). 2.2: topic ``STATE/<host_id>``, payload ``ONLINE`` or ``OFFLINE``, no timestamp.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from sparkplug.errors import SparkplugDecodeError


@dataclass(frozen=True, slots=True)
class HostState:
    """A decoded STATE message. ``timestamp`` is None for the 2.2 form (no timestamp on the wire)."""

    online: bool
    timestamp: int | None


def encode_state(online: bool, timestamp: int) -> bytes:
    """The 3.0 JSON payload, compact, keys in the spec's order."""
    return json.dumps({"online": online, "timestamp": timestamp}, separators=(",", ":")).encode("utf-8")


def encode_legacy_state(online: bool) -> bytes:
    """The 2.2 payload: ``ONLINE`` or ``OFFLINE``."""
    return b"ONLINE" if online else b"OFFLINE"


def decode_state(payload: bytes) -> HostState:
    """Decode a 3.0 STATE payload; raises SparkplugDecodeError unless it is the JSON object of §9."""
    try:
        document = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise SparkplugDecodeError(f"STATE payload is not UTF-8 JSON: {exc}; got {payload[:80]!r}") from None
    if not isinstance(document, dict):
        raise SparkplugDecodeError(f"STATE payload must be a JSON object, got {payload[:80]!r}")
    online = document.get("online")
    timestamp = document.get("timestamp")
    if not isinstance(online, bool):
        raise SparkplugDecodeError(f"STATE payload needs a boolean 'online', got {online!r}")
    if isinstance(timestamp, bool) or not isinstance(timestamp, int) or timestamp < 0:
        raise SparkplugDecodeError(
            f"STATE payload needs a non-negative integer 'timestamp' (ms), got {timestamp!r}"
        )
    return HostState(online, timestamp)


def decode_legacy_state(payload: bytes) -> HostState:
    """Decode a 2.2 STATE payload (``ONLINE``/``OFFLINE``, case-sensitive as in the 2.2 text)."""
    text = payload.strip()
    if text == b"ONLINE":
        return HostState(True, None)
    if text == b"OFFLINE":
        return HostState(False, None)
    raise SparkplugDecodeError(f"2.2 STATE payload must be ONLINE or OFFLINE, got {payload[:80]!r}")
