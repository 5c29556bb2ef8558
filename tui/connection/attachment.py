"""One attachment to the daemon: the event source, the command channel and the model, joined.

The source (the MQTT client, or a replay of a recording) reports events from its own thread into a
thread-safe inbox and calls ``wake`` once per burst; the UI's event loop then calls :meth:`drain`,
which applies every queued event to the model and routes replies to the command channel. Bursts
coalesce: 1,000 messages/s cost one wake per drain, not one per message.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import replace
from typing import Protocol

from tui._contract import c
from tui.connection.client import ControlClient
from tui.connection.commands import CommandChannel
from tui.connection.events import LinkDown, LinkEvent, PublishRefused, Received
from tui.settings import TuiSettings
from tui.viewmodel.model import GatewayModel, decode
from tui.viewmodel.traffic_feed import TRAFFIC_PREFIXES


class Source(Protocol):
    """Where events come from: :class:`ControlClient` or :class:`tui.replay.ReplaySource`."""

    reply_topic: str

    def start(self) -> None: ...
    def stop(self, timeout: float = 2.0) -> None: ...
    @property
    def connected(self) -> bool: ...
    def publish_request(self, topic: str, payload: bytes, correlation: bytes) -> None: ...


SourceFactory = Callable[[TuiSettings, Callable[[LinkEvent], None]], Source]


class Attachment:
    """Owns the source, the command channel and the model of one UI session.

    Args:
        settings: connection settings.
        wake: called (from any thread) when the inbox goes from empty to non-empty; must be
            thread-safe (the app passes ``lambda: app.post_message(...)``).
        source_factory: builds the source with our sink; defaults to the MQTT client.
    """

    def __init__(
        self,
        settings: TuiSettings,
        wake: Callable[[], None],
        source_factory: SourceFactory | None = None,
    ) -> None:
        self.settings = settings
        self.model = GatewayModel()
        self._wake = wake
        self._inbox: deque[LinkEvent] = deque()
        self._wake_pending = False
        self.on_decoded: Callable[[float], None] | None = None  # tracing: seconds per decode
        factory: SourceFactory = source_factory or ControlClient
        self.reply_topic = c.reply_topic(settings.effective_client_id)
        self.source = factory(settings, self._sink)
        self.commands = CommandChannel(
            publish=self.source.publish_request,
            is_connected=lambda: self.source.connected,
            clock=settings.clock,
            read_only=settings.read_only,
            read_only_reason="started with --read-only" if settings.read_only else "",
        )

    def _sink(self, event: LinkEvent) -> None:
        if (
            isinstance(event, Received)
            and event.topic != self.reply_topic
            and not event.topic.startswith(TRAFFIC_PREFIXES)
        ):
            # decode here, on the source's thread: JSON + contract checks are the costly part of a
            # message, and doing them here keeps the UI loop free to answer keys
            started = time.monotonic()
            event = replace(event, decoded=decode(event.topic, event.payload))
            if self.on_decoded is not None:
                self.on_decoded(time.monotonic() - started)
        self._inbox.append(event)
        if not self._wake_pending:
            self._wake_pending = True
            self._wake()

    def start(self) -> None:
        self.source.start()

    def stop(self) -> None:
        self.source.stop()

    def drain(self, limit: int = 50_000, budget_s: float = 0.01) -> int:
        """Apply queued events for at most about ``budget_s`` seconds (the rest waits for the next
        wake, so keys queued meanwhile are handled first); returns how many were applied."""
        self._wake_pending = False
        count = 0
        reply_topic = self.source.reply_topic
        deadline = time.monotonic() + budget_s
        while self._inbox and count < limit and (count % 64 or time.monotonic() < deadline):
            event = self._inbox.popleft()
            count += 1
            if isinstance(event, Received) and event.topic == reply_topic:
                self.commands.deliver(event.correlation, event.payload)
                continue
            if isinstance(event, PublishRefused):
                self.commands.refuse(event.correlation, event.reason_code, event.reason)
                continue
            if isinstance(event, LinkDown):
                self.commands.fail_all(
                    "the link to the gateway was lost before its answer; it may or may "
                    "not have run: check the Events screen"
                )
            self.model.apply(event)
        if self._inbox and not self._wake_pending:
            self._wake_pending = True
            self._wake()
        return count
