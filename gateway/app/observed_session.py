"""A thin wrapper around the uplink's Sparkplug session that remembers what the control plane shows
and the session keeps to itself: the last STATE of the primary host (as received), and how many
connections were made. Every ``UplinkSession`` call is delegated unchanged."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from drivers import utc_ms
from gateway.uplink import (
    ConnectionInfo,
    InboundMessage,
    Leave,
    PahoLink,
    ServerSettings,
    SparkplugSession,
    WillMessage,
)
from sparkplug import (
    DataType,
    EdgeNode,
    Metric,
    Payload,
    SparkplugError,
    decode_legacy_state,
    decode_state,
    encode_payload,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class HostStateSeen:
    """The last STATE of the primary host received: its values, when, and on which server."""

    online: bool
    timestamp_ms: int | None
    received_at_ms: int
    server: str | None


class ObservedSession:
    """``UplinkSession`` = ``inner`` + the observations above."""

    def __init__(self, inner: SparkplugSession) -> None:
        self.inner = inner
        self.host_state: HostStateSeen | None = None
        self.server: str | None = None
        self.sessions = 0

    @property
    def node(self) -> EdgeNode:
        return self.inner.node

    def request_rebirth(self) -> None:
        """What NCMD ``Node Control/Rebirth`` = true does (the control plane's ``rebirth``), fed through
        the session's own inbound path so the core handles it exactly like a host's request."""
        config = self.inner.node.config
        payload = Payload(
            timestamp=utc_ms(),
            metrics=(Metric(name="Node Control/Rebirth", datatype=DataType.Boolean, value=True),),
        )
        topic = f"spBv1.0/{config.group_id}/NCMD/{config.edge_node_id}"
        self.inner.on_message(InboundMessage(topic, encode_payload(payload), 0, False))

    async def will(self, server: ServerSettings) -> WillMessage | None:
        self.server = server.name
        return await self.inner.will(server)

    def on_message(self, message: InboundMessage) -> None:
        if message.topic.startswith(("spBv1.0/STATE/", "STATE/")):
            legacy = message.topic.startswith("STATE/")
            try:
                state = decode_legacy_state(message.payload) if legacy else decode_state(message.payload)
            except SparkplugError as exc:
                log.warning("malformed STATE on %s: %s", message.topic, exc, extra={"topic": message.topic})
            else:
                self.host_state = HostStateSeen(state.online, state.timestamp, utc_ms(), self.server)
        self.inner.on_message(message)

    async def run(self, link: PahoLink, info: ConnectionInfo, online: Callable[[], None]) -> Leave:
        self.sessions += 1
        return await self.inner.run(link, info, online)

    async def quiesce(self, timeout: float) -> None:
        await self.inner.quiesce(timeout)

    def farewell(self) -> WillMessage | None:
        return self.inner.farewell()

    def offline(self) -> None:
        self.inner.offline()
