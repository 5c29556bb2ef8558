"""Replay a recorded control-plane stream instead of connecting (snapshot tests, offline review).

A recording is JSON lines, one message each: ``{"topic": T, "retained": bool, "payload": {...}}``
where ``payload`` is the decoded JSON envelope (or ``null`` for an empty payload); binary payloads
(Sparkplug protobuf) are ``"payload_b64": "..."`` instead. Re-encoding on
load keeps recordings readable and diffable. Every line is checked with the contract when the model
applies it, so a recording made for another schema version shows the mismatch banner.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from pathlib import Path

from tui.connection.events import LinkEvent, LinkUp, Received
from tui.errors import SettingsError
from tui.settings import TuiSettings


def load_recording(path: Path) -> list[tuple[str, bytes, bool]]:
    """Read a recording: ``(topic, payload bytes, retained)`` per line.

    Raises:
        SettingsError: the file is missing or a line is not a recording line (the line is named).
    """
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SettingsError(f"cannot read the recording {path}: {exc.strerror}") from None
    out = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            topic, retained = item["topic"], bool(item.get("retained", False))
            if "payload_b64" in item:
                data = base64.b64decode(item["payload_b64"], validate=True)
            else:
                payload = item["payload"]
                data = b"" if payload is None else json.dumps(payload, separators=(",", ":")).encode()
        except (ValueError, KeyError, TypeError, binascii.Error) as exc:
            raise SettingsError(f"{path}:{number}: not a recording line ({exc})") from None
        out.append((str(topic), data, retained))
    return out


def dump_recording(messages: Sequence[tuple[str, bytes, bool]]) -> str:
    """The JSON-lines text of a recording (the inverse of :func:`load_recording`)."""
    lines = []
    for topic, payload, retained in messages:
        item: dict[str, object] = {"topic": topic, "retained": retained}
        try:
            item["payload"] = json.loads(payload) if payload else None
        except ValueError:  # not JSON (a Sparkplug payload): keep the bytes
            item["payload_b64"] = base64.b64encode(payload).decode()
        lines.append(json.dumps(item, sort_keys=True))
    return "\n".join(lines) + "\n"


class ReplaySource:
    """A source that reports a link up and then every recorded message, once, at start."""

    def __init__(
        self,
        messages: Sequence[tuple[str, bytes, bool]],
        settings: TuiSettings,
        sink: Callable[[LinkEvent], None],
    ) -> None:
        self._messages = list(messages)
        self._settings = settings
        self._sink = sink
        self.reply_topic = "$GW/v1/reply/replay"
        self._started = False

    def start(self) -> None:
        now = self._settings.clock()
        self._sink(LinkUp(f"replay of {len(self._messages)} messages", now))
        for topic, payload, retained in self._messages:
            self._sink(Received(topic, payload, retained, now))
        self._started = True

    def stop(self, timeout: float = 2.0) -> None:
        self._started = False

    @property
    def connected(self) -> bool:
        return False  # a replay sends nothing: commands say "not connected"

    def publish_request(self, topic: str, payload: bytes, correlation: bytes) -> None:
        raise AssertionError("a replay never publishes: CommandChannel checks `connected` first")

    @staticmethod
    def factory(
        messages: Sequence[tuple[str, bytes, bool]],
    ) -> Callable[[TuiSettings, Callable[[LinkEvent], None]], ReplaySource]:
        return lambda settings, sink: ReplaySource(messages, settings, sink)
