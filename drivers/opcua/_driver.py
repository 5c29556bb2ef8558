"""``OpcUaDriver``: subscriptions with a polling fallback, a staleness watchdog and reconnects.

Theory of operation
-------------------
One supervisor task per server runs: open a session (:func:`open_session`), resolve every tag to a
node (NodeId or browse path; a tag that does not resolve is BAD and the others go on), create one
subscription with a monitored item per subscribed tag, then watch:

- every ``watchdog_interval`` it reads the server state (i=2259). A failure means the link or the
  session is gone (network outage, server restart, session expiry): every tag is emitted BAD with
  the error (the gap is visible in the sample stream). The driver then first tries to re-activate
  the *same* session on a new SecureChannel (OPC 10000-4, 5.6.3; catalogue T54a), retrying while
  the link is down for up to the server's revised session timeout; on success the subscription is
  kept with TransferSubscriptions and the notifications lost on the wire are fetched with Republish
  (:mod:`drivers.opcua._resume`; recreated when the server cannot transfer it). Only when
  re-activation fails (BadSessionIdInvalid: the session expired or the server restarted; or the
  session timeout passed) is the session dropped and a new one opened
  after a backoff delay, with a *new* subscription (catalogue T53, T54b). The old subscription is
  not carried over then, so the server never holds duplicates from us.
- when the subscription has sent no publish response (data or keep-alive) for
  keepalive_count x publishing_interval x stale_margin, its tags are emitted STALE with their last
  value and it is deleted and recreated (catalogue T56). After ``fallback_after`` consecutive stale
  recreations, the connection switches to polling for good (servers whose subscriptions misbehave).
- polled tags are read with one Read service call per ``poll_interval``.

Each publish response's data changes are handed over as one list (:mod:`drivers.opcua._subscription`,
a bounded queue that drops the oldest response) and emitted as one batch of samples, with the
server's source timestamps kept. The publishing interval defaults to the fastest sampling interval
of the subscribed tags (:meth:`OpcUaServer.effective_publishing_interval`).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from typing import Any

from drivers._aio import cancel_and_wait, within
from drivers._backoff import Backoff
from drivers._types import (
    DeviceHealth,
    DriverHealth,
    DriverState,
    Quality,
    Sample,
    Value,
    WriteResult,
    WriteStatus,
    utc_ms,
)
from drivers.base import Driver
from drivers.errors import DeviceError, ErrorKind, from_opcua
from drivers.opcua import _lazy as lazy
from drivers.opcua._browse import BrowseEntry, browse_children
from drivers.opcua._deadband import PercentDeadband, load_ranges
from drivers.opcua._items import create_items
from drivers.opcua._requests import subscription_parameters
from drivers.opcua._resolve import resolve_tags
from drivers.opcua._resume import Restored, delete_quietly, restore_subscription
from drivers.opcua._session import close_quietly, open_session, reactivate_session
from drivers.opcua._spec import DeadbandKind, OpcUaServer, OpcUaTag, TagMode, validate_server
from drivers.opcua._subscription import create_batch_subscription, revised_publishing_interval
from drivers.opcua._values import check_write_value, sample_from

log = logging.getLogger(__name__)

_HANDLE_BASE = 1_000_000  # our client handles, far from asyncua's own counter (starts at 200)


class OpcUaDriver(Driver):
    """Reads and writes the tags of one OPC UA server.

    Args:
        name: the driver's name (health, logs).
        server: the connection and its tags; validated at construction
            (:class:`~drivers.DriverConfigError` lists every problem).
        queue_size: bound of the sample queue, in batches.
    """

    def __init__(self, name: str, server: OpcUaServer, *, queue_size: int = 4096) -> None:
        super().__init__(name, queue_size=queue_size)
        validate_server(server)
        self.server = server
        self._tags = {t.name: t for t in server.tags}
        self._handles = {_HANDLE_BASE + i: t for i, t in enumerate(server.tags)}
        self._last: dict[str, Value] = {}
        self.deadband = PercentDeadband(
            {
                t.name: t.deadband[1]
                for t in server.tags
                if t.deadband and t.deadband[0] is DeadbandKind.PERCENT
            }
        )  # applied client-side too; see drivers.opcua._deadband
        self.deadband_refused: list[str] = []  # tags whose percent deadband the server refused
        self._nodes: dict[str, Any] = {}
        self._types: dict[str, str] = {}
        self._client: Any = None
        self._subscription: Any = None  # the current one (for its granted interval and drop count)
        self._task: asyncio.Task[None] | None = None
        self._backoff = Backoff(initial=server.backoff_initial, maximum=server.backoff_max)
        self._state = DriverState.STOPPED
        self._connected = asyncio.Event()
        self.polling_fallback = False
        self.last_error: DeviceError | None = None
        self.session_id: str | None = None
        self.requests = 0
        self.errors = 0
        self.timeouts = 0
        self.connects = 0
        self.connection_losses = 0
        self.subscriptions_created = 0
        self.reactivation_attempts = 0  # ActivateSession of the old session on a new channel, tried
        self.reactivations = 0  # ... and succeeded (the same session resumed, catalogue T54a)
        self.subscription_transfers = 0  # subscriptions kept across a re-activation
        self.republished = 0  # notification messages lost on the wire and fetched with Republish
        self.stale_events = 0
        self.notifications = 0
        self._latency_sum = 0.0  # round trips of the watchdog's liveness reads
        self._latency_n = 0
        self._latency_max = 0.0
        # asyncua logs every publish result at INFO (formatting whole payloads); keep it quiet
        # unless someone configured it on purpose.
        asyncua_log = logging.getLogger("asyncua")
        if asyncua_log.level == logging.NOTSET:
            asyncua_log.setLevel(logging.WARNING)

    # ---------------------------------------------------------------- lifecycle
    def tag_names(self) -> list[str]:
        return list(self._tags)

    async def start(self) -> None:
        if self._task is None:
            self._state = DriverState.CONNECTING
            self._task = asyncio.create_task(self._supervise(), name=f"opcua:{self.server.name}")

    async def stop(self) -> None:
        if self._task is not None:
            await cancel_and_wait([self._task])
            self._task = None
        self._queue.close()
        self._state = DriverState.STOPPED

    async def wait_connected(self, timeout: float) -> None:
        """Wait until a session is up (for callers that need the browse API right away)."""
        await within(timeout, self._connected.wait())

    async def _supervise(self) -> None:
        while True:
            client = None
            try:
                client = await open_session(self.server)
                self._client = client
                self.connects += 1
                # a fingerprint of the session's authentication token (the token itself is a secret)
                session = getattr(client.uaclient, "session", None)
                token = str(getattr(session, "authentication_token", "") or "")
                self.session_id = hashlib.sha256(token.encode()).hexdigest()[:12] if token else None
                self._backoff.reset()
                await self._run_session(client)
            except asyncio.CancelledError:
                if client is not None:
                    await close_quietly(client)
                raise
            except DeviceError as exc:
                self._failed(exc)
            except Exception as exc:  # top of a long-lived task: log with context, count, retry
                log.exception("%s: session loop failed", self.server.name)
                self._failed(from_opcua(exc, self.server.name, None))
            self._client = None
            self._connected.clear()
            if client is not None:
                await close_quietly(client)
            delay = self._backoff.next_delay()
            log.warning("%s: %s; reconnecting in %.1f s", self.server.name, self.last_error, delay)
            await asyncio.sleep(delay)
            self._state = DriverState.CONNECTING

    def _failed(self, exc: DeviceError) -> None:
        self.errors += 1
        if exc.kind is ErrorKind.TIMEOUT:
            self.timeouts += 1
        if self._state in (DriverState.RUNNING, DriverState.DEGRADED):
            self.connection_losses += 1
        self.last_error = exc
        self._state = DriverState.FAILED
        ts = utc_ms()
        self._emit([Sample(t.name, None, Quality.BAD, ts, exc, t.unit) for t in self.server.tags])

    # ---------------------------------------------------------------- session
    async def _run_session(self, client: Any) -> None:
        nodes = await self._resolve(client)
        self._nodes = nodes
        await load_ranges(self.deadband, nodes)
        subscribed = [t for t in self.server.tags if t.name in nodes and t.mode is TagMode.SUBSCRIBE]
        polled = [t for t in self.server.tags if t.name in nodes and t.mode is TagMode.POLL]
        if self.polling_fallback:
            polled, subscribed = polled + subscribed, []
        sub = None
        consumer: asyncio.Task[None] | None = None
        poller = asyncio.create_task(self._poll(client, polled), name=f"opcua-poll:{self.server.name}")
        consecutive_stale = 0
        try:
            if subscribed:
                sub = await self._try_subscribe(client, subscribed)
                if sub is None:  # the server refused: poll everything on this connection
                    await cancel_and_wait([poller])
                    polled, subscribed = polled + subscribed, []
                    poller = asyncio.create_task(self._poll(client, polled))
                else:
                    consumer = asyncio.create_task(self._consume(sub), name=f"opcua-sub:{self.server.name}")
            self._state = DriverState.DEGRADED if len(nodes) < len(self._tags) else DriverState.RUNNING
            self._connected.set()
            while True:
                await asyncio.sleep(self.server.watchdog_interval)
                try:
                    await self._check_alive(client)
                except DeviceError as lost:
                    self._failed(lost)  # the gap is marked BAD while the link is down
                    await self._reactivate(client, sub)  # raises when a new session is needed
                    degraded = len(nodes) < len(self._tags)
                    self._state = DriverState.DEGRADED if degraded else DriverState.RUNNING
                    consecutive_stale = 0
                    continue
                if sub is None or not sub.is_stale(self.server.stale_margin):
                    if sub is not None and sub.last_publish_at is not None:
                        consecutive_stale = 0
                    continue
                consecutive_stale += 1
                self.stale_events += 1
                self._mark_stale(subscribed)
                if consumer is not None:
                    consumer.cancel()
                await delete_quietly(sub)
                sub = None
                if consecutive_stale >= self.server.fallback_after:
                    log.warning(
                        "%s: subscription stale %d times in a row; switching to polling",
                        self.server.name,
                        consecutive_stale,
                    )
                    self.polling_fallback = True
                    poller.cancel()
                    polled, subscribed = polled + subscribed, []
                    poller = asyncio.create_task(self._poll(client, polled))
                    continue
                log.warning("%s: subscription stale; recreating it", self.server.name)
                sub = await self._subscribe(client, subscribed)
                consumer = asyncio.create_task(self._consume(sub))
        finally:
            await cancel_and_wait([poller] if consumer is None else [poller, consumer])

    async def _reactivate(self, client: Any, sub: Any) -> None:
        """Resume the session on a new SecureChannel, then restore ``sub``.

        Retries while the link is down (TIMEOUT/IO) until the server's revised session timeout has
        passed since the loss (the server has dropped the session by then). Raises the last
        :class:`DeviceError` when a new session is needed.
        """
        deadline = time.monotonic() + float(client.session_timeout) / 1000
        backoff = Backoff(initial=self.server.backoff_initial, maximum=self.server.backoff_max)
        while True:
            self.reactivation_attempts += 1
            try:
                await reactivate_session(client, self.server)
                break
            except DeviceError as exc:
                self.last_error = exc
                delay = backoff.next_delay()
                if exc.kind not in (ErrorKind.TIMEOUT, ErrorKind.IO) or time.monotonic() + delay > deadline:
                    log.warning("%s: re-activation failed (%s); opening a new session", self.server.name, exc)
                    raise
                log.info("%s: re-activation: %s; retrying in %.1f s", self.server.name, exc, delay)
                await asyncio.sleep(delay)
        if sub is not None:
            how, republished = await restore_subscription(sub, self.server)
            self.republished += republished
            if how is Restored.TRANSFERRED:
                self.subscription_transfers += 1
            else:
                self.subscriptions_created += 1
        self.reactivations += 1
        log.info("%s: session re-activated on a new secure channel", self.server.name)

    async def _check_alive(self, client: Any) -> None:
        ua = lazy.ua()

        self.requests += 1
        started = time.monotonic()
        try:
            node = client.get_node(ua.NodeId(ua.ObjectIds.Server_ServerStatus_State))
            await within(self.server.request_timeout, node.read_value())
            elapsed = time.monotonic() - started
            self._latency_sum += elapsed
            self._latency_n += 1
            self._latency_max = max(self._latency_max, elapsed)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # any failure of the liveness read means the session is unusable
            raise from_opcua(exc, self.server.name, "Server.ServerStatus.State") from exc

    async def _resolve(self, client: Any) -> dict[str, Any]:
        nodes, bad = await resolve_tags(client, self.server)
        if bad:
            self._emit(bad)
        return nodes

    async def _try_subscribe(self, client: Any, tags: list[OpcUaTag]) -> Any:
        """A subscription, or ``None`` (and polling from now on) when the server refuses to create
        one (BadTooManySubscriptions, BadServiceUnsupported...). Connection failures propagate."""
        try:
            return await self._subscribe(client, tags)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # translated in one place; only a refusal falls back to polling
            error = from_opcua(exc, self.server.name, None)
            if error.kind is not ErrorKind.EXCEPTION:
                raise error from exc
            log.warning(
                "%s: the server refused a subscription (%s); polling instead", self.server.name, error
            )
            self.last_error = error
            self.polling_fallback = True
            return None

    async def _subscribe(self, client: Any, tags: list[OpcUaTag]) -> Any:
        sub = await create_batch_subscription(client, subscription_parameters(self.server))
        self._subscription = sub
        self.subscriptions_created += 1
        handle_of = {t.name: h for h, t in self._handles.items()}
        targets = {t.name: (self._nodes[t.name].nodeid, handle_of[t.name]) for t in tags}
        bad, unfiltered = await create_items(sub, self.server, tags, targets)
        for name in unfiltered:
            log.info(
                "%s: %s: percent deadband refused by the server; filtering client-side",
                self.server.name,
                name,
            )
        self.deadband_refused = sorted(set(self.deadband_refused) | set(unfiltered))
        if bad:
            self._emit(bad)
        return sub

    async def _consume(self, sub: Any) -> None:
        """Turn each publish response's notifications (one list, see
        :mod:`drivers.opcua._subscription`) into one batch of samples."""
        queue: asyncio.Queue[list[Any] | None] = sub._event_queue
        while True:
            items = await queue.get()
            if items is None:  # the subscription was deleted
                return
            self._emit_notifications(items)

    def _emit_notifications(self, items: list[Any]) -> None:
        device = self.server.name
        handles = self._handles
        last = self._last
        batch = []
        for item in items:
            tag = handles.get(item.ClientHandle)
            if tag is None:
                continue  # not one of ours (cannot happen with our handles; asyncua logs these)
            sample = sample_from(tag, device, item.Value)
            if sample.quality is not Quality.BAD:
                last[tag.name] = sample.value
            batch.append(sample)
        self.notifications += len(batch)
        deadband = self.deadband
        self._emit([s for s in batch if deadband.passes(s)] if deadband.active else batch)

    @property
    def publishing_interval_granted(self) -> float | None:
        """The publishing interval the server granted the current subscription, seconds."""
        sub = self._subscription
        return None if sub is None else revised_publishing_interval(sub)

    @property
    def notifications_dropped(self) -> int:
        """Notifications of the current subscription dropped because the consumer fell behind
        (the hand-over queue holds MAX_QUEUED_RESPONSES publish responses)."""
        sub = self._subscription
        return 0 if sub is None else int(sub.dropped)

    async def _poll(self, client: Any, tags: list[OpcUaTag]) -> None:
        if not tags:
            return
        nodes = [self._nodes[t.name] for t in tags]
        while True:
            self.requests += 1
            try:
                values = await within(self.server.request_timeout, client.read_attributes(nodes))
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the watchdog decides about the session; here only the tags
                self.errors += 1
                error = from_opcua(exc, self.server.name, None)
                self._emit([Sample(t.name, None, Quality.BAD, utc_ms(), error, t.unit) for t in tags])
            else:
                batch = [sample_from(t, self.server.name, dv) for t, dv in zip(tags, values, strict=True)]
                for s in batch:
                    if s.quality is not Quality.BAD:
                        self._last[s.tag] = s.value
                self._emit([s for s in batch if self.deadband.passes(s)])
            await asyncio.sleep(self.server.poll_interval)

    def _mark_stale(self, tags: list[OpcUaTag]) -> None:
        error = DeviceError(
            self.server.name,
            ErrorKind.STALE,
            "the subscription sent no publish response within its keep-alive time",
            hint="the server may be overloaded; the subscription is being recreated",
        )
        ts = utc_ms()
        self._emit([Sample(t.name, self._last.get(t.name), Quality.STALE, ts, error, t.unit) for t in tags])

    # ------------------------------------------------------------------ write
    async def write(self, tag: str, value: Value) -> WriteResult:
        ua = lazy.ua()

        spec = self._tags.get(tag)
        if spec is None:
            return WriteResult(tag, WriteStatus.REJECTED, reason=f"unknown tag {tag!r}")
        if not spec.writable:
            return WriteResult(
                tag, WriteStatus.REJECTED, reason=f"tag {tag!r} is not writable (set writable)"
            )
        client, node = self._client, self._nodes.get(tag)
        if client is None or node is None:
            error = self.last_error or DeviceError(self.server.name, ErrorKind.IO, "not connected")
            return WriteResult(tag, WriteStatus.FAILED, error=error.at(spec.address))
        try:
            type_name = self._types.get(tag)
            if type_name is None:
                vtype = await node.read_data_type_as_variant_type()
                type_name = self._types[tag] = vtype.name
            try:
                checked = check_write_value(type_name, value)
            except ValueError as exc:
                return WriteResult(tag, WriteStatus.REJECTED, reason=f"{tag}: {exc}")
            variant = ua.Variant(checked, getattr(ua.VariantType, type_name))
            self.requests += 1
            await within(
                self.server.request_timeout,
                node.write_attribute(ua.AttributeIds.Value, ua.DataValue(variant)),
            )
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # translated in one place
            self.errors += 1
            return WriteResult(tag, WriteStatus.FAILED, error=from_opcua(exc, self.server.name, spec.address))
        return WriteResult(tag, WriteStatus.OK, value=value)

    # ----------------------------------------------------------------- browse
    async def browse(self, node_id: str | None = None) -> list[BrowseEntry]:
        """The children of ``node_id`` (default: the Objects folder), one level, via the live session.

        Raises:
            DeviceError: not connected, or the server refused the browse.
        """
        client = self._client
        if client is None:
            raise self.last_error or DeviceError(self.server.name, ErrorKind.IO, "not connected")
        try:
            return await browse_children(client, node_id)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # translated in one place
            raise from_opcua(exc, self.server.name, node_id or "Objects") from exc

    # ----------------------------------------------------------------- health
    def health(self) -> DriverHealth:
        device = DeviceHealth(
            name=self.server.name,
            state=self._state,
            last_error=self.last_error,
            requests=self.requests,
            errors=self.errors,
            timeouts=self.timeouts,
            late_replies=0,
            reconnects=max(0, self.connects - 1) + self.reactivations,
            latency_ms_avg=self._latency_sum / self._latency_n * 1000 if self._latency_n else None,
            latency_ms_max=self._latency_max * 1000 if self._latency_n else None,
        )
        return DriverHealth(
            driver=self.name,
            state=self._state,
            last_error=self.last_error,
            requests=self.requests,
            errors=self.errors,
            timeouts=self.timeouts,
            samples_out=self._queue.samples_in,
            samples_dropped=self._queue.dropped_samples,
            devices=(device,),
        )
