"""Copies of the Sparkplug traffic with the upstream servers, on the embedded broker, for the terminal UI.

When the daemon publishes to an upstream broker, nothing of it passes through the embedded broker, so
the UI's traffic screen (which subscribes there) would stay empty. :class:`RelayedSession` wraps the
uplink's session: every PUBLISH the edge node queues on the upstream link (births, deaths, live and
historical data) and every Sparkplug message it receives (NCMD, DCMD, STATE) is handed to
:class:`SparkplugRelay`, which republishes it on the embedded broker under
``$GW/v1/sparkplug/<sent|received>/<server>/<Sparkplug topic>`` (the contract's
:func:`~gateway.control.contract.sparkplug_relay_topic`), payload unchanged, QoS 0, not retained.

What it costs the uplink, and why it cannot hurt it:

- A copy is made only while a client subscribes to its relay topic (``Broker.has_subscribers``: a
  dictionary look-up in the router's match cache); otherwise the cost is building one topic string.
- It is done after the upstream PUBLISH was queued (``PahoLink.publish`` returned), or after the
  session handled the inbound message, so it never delays them.
- It is rate-limited by two token buckets, one second deep: ``SPARKPLUG_RELAY_MAX_PER_S`` messages and
  ``SPARKPLUG_RELAY_MAX_BYTES_PER_S`` payload bytes. The excess is dropped and counted
  (:attr:`SparkplugRelay.dropped`, shown as ``UplinkStatus.relay_dropped``), never queued.
- A failure to copy (the broker stopping, a bug) is logged and counted; it never reaches the uplink.
- The embedded broker's own slow-consumer policy applies to the watcher: QoS 0 to a congested client
  is dropped there, so a slow UI cannot build up memory.

The daemon does not wrap the session when Sparkplug goes to the embedded broker itself (no upstream
server configured): those messages are on ``spBv1.0/#`` there already.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, cast

from gateway.broker import Broker, BrokerNotRunning, LocalProtocolError
from gateway.control import contract as c
from gateway.uplink import (
    ConnectionInfo,
    InboundMessage,
    Leave,
    PahoLink,
    ServerSettings,
    UplinkSession,
    WillMessage,
)

log = logging.getLogger(__name__)

AckCallback = Callable[[bool], None]
"""``PahoLink.publish``'s ``on_ack`` (called with whether the server accepted the message)."""

_SPARKPLUG_PREFIXES = ("spBv1.0/", "STATE/")


class SparkplugRelay:
    """Republishes Sparkplug messages on the relay topics, within the contract's rate limits.

    Args:
        broker: the embedded broker (publish on its loop).
        clock: monotonic seconds (injectable for the rate-limit tests).
        max_per_s, max_bytes_per_s: the two buckets' rates (and depths: one second's worth).
    """

    def __init__(
        self,
        broker: Broker,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_per_s: int = c.SPARKPLUG_RELAY_MAX_PER_S,
        max_bytes_per_s: int = c.SPARKPLUG_RELAY_MAX_BYTES_PER_S,
    ) -> None:
        self._broker = broker
        self._clock = clock
        self._max_per_s = float(max_per_s)
        self._max_bytes_per_s = float(max_bytes_per_s)
        self._tokens = self._max_per_s
        self._byte_tokens = self._max_bytes_per_s
        self._refilled_at = clock()
        self.relayed = 0
        self.dropped = 0
        self.failures = 0

    def copy(self, direction: c.RelayDirection, server: str, topic: str, payload: bytes) -> None:
        """Copy one message if someone watches its relay topic and the buckets allow. Never raises."""
        self.copy_to(prefix(direction, server), topic, payload)

    def copy_to(self, relay_prefix: str, topic: str, payload: bytes) -> None:
        """:meth:`copy` with the topic prefix made once by :func:`prefix` (the per-message path: no enum
        or tuple hashing per message). Never raises."""
        try:
            relay_topic = relay_prefix + topic
            broker = self._broker
            if not broker.has_subscribers(relay_topic):
                return
            if not self._take(len(payload)):
                self.dropped += 1
                return
            broker.publish(relay_topic, payload, qos=0, retain=False)
            self.relayed += 1
        except (BrokerNotRunning, LocalProtocolError) as exc:
            # the broker is stopping, or the topic is too long for it: this copy is lost, nothing else
            self.failures += 1
            log.debug("sparkplug relay: %s not copied: %s", topic, exc)
        except Exception:
            # Top of a best-effort side path called from the uplink's publish: a bug here must cost the
            # copy, never the upstream message. Logged with its traceback the first time, then counted.
            self.failures += 1
            if self.failures == 1:
                log.exception("sparkplug relay failed on %s (further failures are only counted)", topic)

    def _take(self, size: int) -> bool:
        now = self._clock()
        elapsed = now - self._refilled_at
        if elapsed > 0:
            self._refilled_at = now
            self._tokens = min(self._max_per_s, self._tokens + elapsed * self._max_per_s)
            self._byte_tokens = min(
                self._max_bytes_per_s, self._byte_tokens + elapsed * self._max_bytes_per_s
            )
        if self._tokens < 1.0 or self._byte_tokens < size:
            return False
        self._tokens -= 1.0
        self._byte_tokens -= size
        return True


def prefix(direction: c.RelayDirection, server: str) -> str:
    """``$GW/v1/sparkplug/<direction>/<server level>/`` (the contract builds the topic; "x" is cut off)."""
    return c.sparkplug_relay_topic(direction, server, "x")[:-1]


class RelayLink:
    """The upstream link as the session sees it: ``publish`` also hands the message to the relay once it
    was queued; everything else is the link's own (attributes are looked up on it)."""

    def __init__(self, link: PahoLink, relay: SparkplugRelay, server: str) -> None:
        self._link = link
        self._relay = relay
        self._prefix = prefix(c.RelayDirection.SENT, server)

    def publish(
        self,
        topic: str,
        payload: bytes,
        qos: int = 0,
        retain: bool = False,
        on_ack: AckCallback | None = None,
    ) -> int:
        mid = self._link.publish(topic, payload, qos, retain, on_ack)  # raises: nothing sent, nothing copied
        self._relay.copy_to(self._prefix, topic, payload)
        return mid

    @property
    def write_pending(self) -> bool:
        # spelled out: the forwarder's flow control recognises the link by this attribute
        return self._link.write_pending

    @property
    def is_open(self) -> bool:
        return self._link.is_open

    def __getattr__(self, name: str) -> Any:
        return getattr(self._link, name)


class RelayedSession:
    """``UplinkSession`` = ``inner`` + copies of its Sparkplug traffic to ``relay``."""

    def __init__(self, inner: UplinkSession, relay: SparkplugRelay) -> None:
        self.inner = inner
        self.relay = relay
        self._server = ""
        self._received_prefix = prefix(c.RelayDirection.RECEIVED, "")

    async def will(self, server: ServerSettings) -> WillMessage | None:
        self._server = server.name
        self._received_prefix = prefix(c.RelayDirection.RECEIVED, server.name)
        return await self.inner.will(server)

    def on_message(self, message: InboundMessage) -> None:
        self.inner.on_message(message)
        if message.topic.startswith(_SPARKPLUG_PREFIXES):
            self.relay.copy_to(self._received_prefix, message.topic, message.payload)

    async def run(self, link: PahoLink, info: ConnectionInfo, online: Callable[[], None]) -> Leave:
        # RelayLink offers what the session and the forwarder use of a PahoLink (publish, write_pending,
        # is_open, and the rest by delegation); it is not a subclass, so the type is asserted here.
        tapped = cast(PahoLink, RelayLink(link, self.relay, self._server))
        return await self.inner.run(tapped, info, online)

    async def quiesce(self, timeout: float) -> None:
        await self.inner.quiesce(timeout)

    def farewell(self) -> WillMessage | None:
        """The NDEATH the supervisor is about to publish (and wait for) is copied as sent."""
        farewell = self.inner.farewell()
        if farewell is not None:
            self.relay.copy(c.RelayDirection.SENT, self._server, farewell.topic, farewell.payload)
        return farewell

    def offline(self) -> None:
        self.inner.offline()
