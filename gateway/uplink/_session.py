"""What runs on a connection: the session protocol the supervisor drives, and a forwarding session.

The supervisor (``Uplink``) owns connecting, failover and switch records; a *session* owns what happens
on one healthy connection. The daemon's Sparkplug edge-node session implements :class:`UplinkSession`
around the sans-I/O core in ``sparkplug/`` (Will = NDEATH with the next bdSeq, subscriptions before
births, STATE gate, births, then ``Forwarder.attach`` and historical replay). :class:`ForwardingSession`
is the session for plain MQTT (bridge rules) and the tests: subscriptions, an optional primary-host gate,
then the forwarder.

Sequence for every connection (supervisor -> session):

1. ``await will(server)`` before CONNECT (a new bdSeq per CONNECT for Sparkplug, persisted first);
2. ``run(link, info, online)`` after CONNACK; the session calls ``online()`` once it is healthy (births
   done), which ends the measured switch; ``run`` returns a :class:`Leave` when the session wants to
   move on, and is cancelled when the link dies;
3. before an intentional DISCONNECT: ``await quiesce(timeout)`` (stop publishing, wait for in-flight
   acknowledgements), then ``farewell()`` (Sparkplug: NDEATH, published at QoS 1 and acked);
4. ``offline()`` after the connection is gone, whatever the cause, also after a failed CONNECT
   (detach the forwarder; Sparkplug: ``Disconnected``).

``on_message`` is called for every inbound PUBLISH, in wire order, on the event loop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from gateway.uplink._config import ServerSettings
from gateway.uplink._failover import SwitchReason
from gateway.uplink._forwarder import Forwarder
from gateway.uplink._link import PahoLink
from gateway.uplink._link_types import ConnectionInfo, InboundMessage, WillMessage
from gateway.uplink._primary_host import HostVerdict, PrimaryHostGate

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Leave:
    """The session wants to end this connection and move to another server."""

    reason: SwitchReason
    detail: str = ""


class UplinkSession(Protocol):
    async def will(self, server: ServerSettings) -> WillMessage | None: ...

    def on_message(self, message: InboundMessage) -> None: ...

    async def run(self, link: PahoLink, info: ConnectionInfo, online: Callable[[], None]) -> Leave: ...

    async def quiesce(self, timeout: float) -> None: ...

    def farewell(self) -> WillMessage | None: ...

    def offline(self) -> None: ...


class ForwardingSession:
    """Forward through ``forwarder`` while the connection is healthy.

    Args:
        forwarder: attached when healthy, detached when the connection ends.
        subscriptions: ``(filter, qos)`` to subscribe to after CONNACK (bridge rules' downlink).
        on_inbound: called for inbound messages that are not STATE (bridge downlink).
        primary_host: a gate; when given, healthy = its STATE says online (3.0 §9/§10), and a valid
            offline makes us leave for the next server.
        primary_host_timeout: seconds to wait for an online STATE before moving on.
    """

    def __init__(
        self,
        forwarder: Forwarder,
        *,
        subscriptions: Sequence[tuple[str, int]] = (),
        on_inbound: Callable[[InboundMessage], None] | None = None,
        primary_host: PrimaryHostGate | None = None,
        primary_host_timeout: float = 30.0,
    ) -> None:
        self._forwarder = forwarder
        self._subscriptions = list(subscriptions)
        self._on_inbound = on_inbound
        self._gate = primary_host
        self._host_timeout = primary_host_timeout
        self._server = ""
        self._host_online = asyncio.Event()
        self._host_offline = asyncio.Event()

    async def will(self, server: ServerSettings) -> WillMessage | None:
        return None

    def on_message(self, message: InboundMessage) -> None:
        if self._gate is not None and message.topic in self._gate.topics:
            verdict = self._gate.feed(self._server, message.topic, message.payload)
            if verdict is HostVerdict.ONLINE:
                self._host_offline.clear()
                self._host_online.set()
            elif verdict is HostVerdict.OFFLINE:
                self._host_online.clear()
                self._host_offline.set()
            return
        if self._on_inbound is not None:
            self._on_inbound(message)

    async def run(self, link: PahoLink, info: ConnectionInfo, online: Callable[[], None]) -> Leave:
        self._server = link.server.name
        self._host_online.clear()
        self._host_offline.clear()
        filters = list(self._subscriptions)
        if self._gate is not None:
            filters += [(topic, 1) for topic in self._gate.topics]
        if filters:
            await link.subscribe(filters)  # SUBACK before anything else, like NCMD before NBIRTH
        if self._gate is not None:
            leave = await self._wait_for_host()
            if leave is not None:
                return leave
        online()
        self._forwarder.attach(link, info.receive_maximum)
        if self._gate is not None:
            await self._host_offline.wait()
            return Leave(SwitchReason.PRIMARY_HOST_OFFLINE, f"STATE of {self._gate.host_id} says offline")
        # Nothing else in this session ends a connection: the supervisor cancels us when it does.
        await asyncio.Event().wait()
        raise AssertionError("unreachable: only cancellation ends the wait above")

    async def _wait_for_host(self) -> Leave | None:
        assert self._gate is not None
        online = asyncio.ensure_future(self._host_online.wait())
        offline = asyncio.ensure_future(self._host_offline.wait())
        try:
            done, _ = await asyncio.wait(
                {online, offline}, timeout=self._host_timeout, return_when="FIRST_COMPLETED"
            )
        finally:
            online.cancel()
            offline.cancel()
        if offline in done:
            return Leave(SwitchReason.PRIMARY_HOST_OFFLINE, f"STATE of {self._gate.host_id} says offline")
        if online not in done:
            return Leave(
                SwitchReason.PRIMARY_HOST_TIMEOUT, f"no online STATE of {self._gate.host_id} in time"
            )
        return None

    async def quiesce(self, timeout: float) -> None:
        await self._forwarder.quiesce(timeout)

    def farewell(self) -> WillMessage | None:
        return None

    def offline(self) -> None:
        self._forwarder.detach()
