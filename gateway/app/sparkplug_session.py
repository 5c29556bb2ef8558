"""The Sparkplug edge-node session on an uplink connection: the shell around ``sparkplug.EdgeNode``.

Implements ``gateway.uplink.UplinkSession`` (see its module docstring for the call sequence) and
carries out the core's outputs (see ``sparkplug.edge_node``, "What the shell must do"):

- ``will(server)``: ``ConnectStarting`` -> ``PersistBdSeq`` written durably (BdSeqStore, fsync) BEFORE
  CONNECT, then the NDEATH Will [topics-nbirth-bdseq-increment];
- ``run``: ``Connected`` -> SUBSCRIBE NCMD, DCMD/+, STATE and wait for every SUBACK -> ``Subscribed``
  -> births (or wait for the primary host); ``online()`` once born; ``Tick`` at ``next_deadline``;
  returns a ``Leave`` when the core says ``Disconnect``/``NextServer`` (offline STATE, host timeout,
  NCMD Next Server, Reboot);
- ``farewell``: the NDEATH to publish (QoS 1, acked) before an intentional DISCONNECT; when the
  supervisor itself leaves (stop, failover command), ``Shutdown`` makes the core produce it;
- ``offline``: ``Disconnected``.

Device news from the daemon (``metrics_changed``, ``device_online``, ``device_offline``) and NCMD/DCMD
writes go through :meth:`feed`, on the event loop, so every output is carried out in order on one
connection [payloads-sequence-num-incrementing]. Samples the core cannot publish (not born, host
offline) go to the :class:`~gateway.app.history.HistoryBuffer` and are replayed as historical DATA after
the next births, paced by ``drain_rate``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from drivers import utc_ms
from gateway.app.history import History, HistoryChunk
from gateway.uplink import (
    ConnectionInfo,
    InboundMessage,
    Leave,
    LinkError,
    PahoLink,
    ServerSettings,
    SwitchReason,
    WillMessage,
)
from sparkplug import (
    BdSeqStore,
    Connected,
    ConnectStarting,
    DataType,
    Disconnect,
    Disconnected,
    EdgeNode,
    Event,
    FlushHistory,
    MessageReceived,
    MessageType,
    Metric,
    NextServer,
    Notice,
    Output,
    Payload,
    PersistBdSeq,
    Publish,
    PublishHistorical,
    Reboot,
    SessionState,
    SetScanRate,
    SetWill,
    Shutdown,
    SparkplugError,
    StoreForLater,
    Subscribe,
    Subscribed,
    Tick,
    WriteMetric,
    decode_legacy_state,
    decode_state,
    encode_payload,
)

log = logging.getLogger(__name__)

HISTORY_BATCH = 50
"""Entries taken from the history per drain step (samples in memory, stored messages on disk)."""

WriteHandler = Callable[[WriteMetric], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class HostStateSeen:
    """The last STATE of the primary host received: its values, when, and on which server."""

    online: bool
    timestamp_ms: int | None
    received_at_ms: int
    server: str | None


@dataclass(frozen=True, slots=True)
class SessionCounters:
    """published: messages handed to the client; dropped: Publish outputs without a link;
    births: NBIRTHs; last_seq: the seq of the last message, or None."""

    published: int
    dropped: int
    births: int
    last_seq: int | None


class SparkplugSession:
    """The edge-node session. Args:
    node: the core (constructed with the bdSeq loaded from ``bd_seq_store``).
    bd_seq_store: where ``PersistBdSeq`` goes.
    history: where ``StoreForLater`` goes.
    on_write: carries out a ``WriteMetric`` (DCMD/NCMD write); reports the new value itself.
    on_scan_rate: applies ``SetScanRate`` (ms) to the devices.
    on_reboot: called after the session left for a ``Reboot``.
    drain_rate: historical samples per second at most.
    """

    def __init__(
        self,
        node: EdgeNode,
        bd_seq_store: BdSeqStore,
        history: History,
        *,
        on_write: WriteHandler,
        on_scan_rate: Callable[[int], None] | None = None,
        on_reboot: Callable[[], None] | None = None,
        drain_rate: float = 500.0,
    ) -> None:
        self.node = node
        self._bd_seq_store = bd_seq_store
        self._history = history
        self._on_write = on_write
        self._on_scan_rate = on_scan_rate
        self._on_reboot = on_reboot
        self._drain_rate = drain_rate
        self._link: PahoLink | None = None
        self._leave: asyncio.Future[Leave] | None = None
        self._wake = asyncio.Event()
        self._ndeath: WillMessage | None = None
        self._reboot = False
        self._drain: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._subscriptions: list[tuple[str, int]] = []
        self._published = 0
        self._dropped = 0
        self._births = 0
        self._last_seq: int | None = None
        self.server: str | None = None
        self.host_state: HostStateSeen | None = None

    # ---- UplinkSession --------------------------------------------------------------------------------

    async def will(self, server: ServerSettings) -> WillMessage | None:
        self._ndeath = None
        self.server = server.name
        if self.node.state is not SessionState.DISCONNECTED:
            self.feed(Disconnected())  # the previous connection ended without us hearing of it
        will: WillMessage | None = None
        for output in self.node.handle(ConnectStarting(server.name), utc_ms()):
            if isinstance(output, PersistBdSeq):
                # Durable (fsync, in a worker thread) BEFORE the CONNECT that carries this bdSeq's Will.
                await asyncio.to_thread(self._bd_seq_store.save, output.next_bd_seq)
            elif isinstance(output, SetWill):
                will = WillMessage(output.topic, output.payload, output.qos, output.retain)
        return will

    def on_message(self, message: InboundMessage) -> None:
        self._note_state(message)
        self.feed(MessageReceived(message.topic, message.payload))

    def _note_state(self, message: InboundMessage) -> None:
        """Remember the primary host's last STATE as seen (for the control plane; the core decides)."""
        if not message.topic.startswith(("spBv1.0/STATE/", "STATE/")):
            return
        legacy = message.topic.startswith("STATE/")
        try:
            state = decode_legacy_state(message.payload) if legacy else decode_state(message.payload)
        except SparkplugError as exc:
            log.warning("malformed STATE on %s: %s", message.topic, exc, extra={"topic": message.topic})
            return
        self.host_state = HostStateSeen(state.online, state.timestamp, utc_ms(), self.server)

    async def run(self, link: PahoLink, info: ConnectionInfo, online: Callable[[], None]) -> Leave:
        loop = asyncio.get_running_loop()
        self._link = link
        self._leave = loop.create_future()
        self._subscriptions = []
        self.feed(Connected())
        await link.subscribe(
            self._subscriptions
        )  # every SUBACK before births [message-flow-edge-node-ncmd-subscribe]
        self.feed(Subscribed())
        announced = False
        while True:
            if not announced and self.node.state is SessionState.ONLINE:
                announced = True
                online()
            if self._leave.done():
                return self._leave.result()
            deadline = self.node.next_deadline()
            timeout = None if deadline is None else max(0.0, (deadline - utc_ms()) / 1000)
            self._wake.clear()
            waiter = asyncio.ensure_future(self._wake.wait())
            try:
                waiting: set[asyncio.Future[Any]] = {waiter, self._leave}
                await asyncio.wait(waiting, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
            finally:
                waiter.cancel()
            if deadline is not None and utc_ms() >= deadline:
                self.feed(Tick())

    async def quiesce(self, timeout: float) -> None:
        await self._stop_drain()

    def farewell(self) -> WillMessage | None:
        if self._ndeath is None and self.node.state in (
            SessionState.SUBSCRIBING,
            SessionState.WAITING_FOR_HOST,
            SessionState.ONLINE,
        ):
            self.feed(Shutdown())
        ndeath, self._ndeath = self._ndeath, None
        return ndeath

    def offline(self) -> None:
        self._link = None
        if self.node.state is not SessionState.DISCONNECTED:
            self.feed(Disconnected())
        if self._drain is not None:
            self._drain.cancel()
            self._drain = None
        if self._reboot and self._on_reboot is not None:
            self._reboot = False
            self._on_reboot()

    # ---- events from the daemon -----------------------------------------------------------------------

    def feed(self, event: Event) -> None:
        """Hand one event to the core and carry out its outputs (on the event loop)."""
        self._execute(self.node.handle(event, utc_ms()))

    def request_rebirth(self) -> None:
        """What NCMD ``Node Control/Rebirth`` = true does (for the control plane's ``rebirth``)."""
        topic = f"spBv1.0/{self.node.config.group_id}/NCMD/{self.node.config.edge_node_id}"
        payload = Payload(
            timestamp=utc_ms(),
            metrics=(Metric(name="Node Control/Rebirth", datatype=DataType.Boolean, value=True),),
        )
        self.feed(MessageReceived(topic, encode_payload(payload)))

    def counters(self) -> SessionCounters:
        return SessionCounters(self._published, self._dropped, self._births, self._last_seq)

    async def close(self) -> None:
        """Stop background work (drain, pending writes)."""
        await self._stop_drain()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # ---- outputs --------------------------------------------------------------------------------------

    def _execute(self, outputs: list[Output]) -> None:
        for output in outputs:
            if isinstance(output, Publish):
                self._publish(output)
            elif isinstance(output, Subscribe):
                self._subscriptions.append((output.topic_filter, output.qos))
            elif isinstance(output, StoreForLater):
                self._history.store(output.device_id, output.samples)
            elif isinstance(output, FlushHistory):
                self._start_drain()
            elif isinstance(output, WriteMetric):
                self._spawn(self._on_write(output), f"write {output.device_id}/{output.name}")
            elif isinstance(output, SetScanRate):
                if self._on_scan_rate is not None:
                    self._on_scan_rate(output.rate_ms)
            elif isinstance(output, Disconnect | NextServer):
                self._leave_with(output)
            elif isinstance(output, Reboot):
                self._reboot = True
            elif isinstance(output, Notice):
                # ignored commands, refused writes, stale STATE: worth a technician's attention
                log.warning("sparkplug: %s", output.message, extra={"server": self.server})
            elif isinstance(output, PersistBdSeq):
                self._bd_seq_store.save(output.next_bd_seq)
            elif isinstance(output, SetWill):
                log.error("unexpected SetWill outside ConnectStarting: ignored")

    def _publish(self, output: Publish) -> None:
        if output.message_type is MessageType.NDEATH:
            # Sent by the link just before DISCONNECT, at QoS 1, waiting for the PUBACK (farewell).
            self._ndeath = WillMessage(output.topic, output.payload, output.qos, output.retain)
            return
        link = self._link
        if link is None or not link.is_open:
            self._dropped += 1
            return
        try:
            link.publish(output.topic, output.payload, output.qos, output.retain)
        except LinkError as error:
            self._dropped += 1
            log.warning("publish failed: %s", error, extra={"topic": output.topic, "server": self.server})
            return
        self._published += 1
        if output.message_type is MessageType.NBIRTH:
            self._births += 1
            log.info(
                "NBIRTH bdSeq %s", self.node.bd_seq, extra={"server": self.server, "bd_seq": self.node.bd_seq}
            )
        if output.seq is not None:
            self._last_seq = output.seq

    def _leave_with(self, output: Disconnect | NextServer) -> None:
        if self._leave is None or self._leave.done():
            return
        reason = output.reason
        if "offline" in reason:
            kind = SwitchReason.PRIMARY_HOST_OFFLINE
        elif "primary host" in reason:
            kind = SwitchReason.PRIMARY_HOST_TIMEOUT
        else:
            kind = SwitchReason.NEXT_SERVER
        self._leave.set_result(Leave(kind, reason))
        self._wake.set()

    def _born(self) -> bool:
        return self.node.state is SessionState.ONLINE

    def _spawn(self, work: Awaitable[None], what: str) -> None:
        async def guarded() -> None:
            try:
                await work
            except Exception:
                # Top of a short task: log with context; the device's counters show the failure.
                log.exception("%s failed", what)

        task = asyncio.ensure_future(guarded())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ---- historical drain -----------------------------------------------------------------------------

    def _start_drain(self) -> None:
        if self._drain is None or self._drain.done():
            self._drain = asyncio.ensure_future(self._drain_history())

    async def _stop_drain(self) -> None:
        if self._drain is not None:
            self._drain.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._drain
            self._drain = None

    async def _drain_history(self) -> None:
        """Replay stored samples as is_historical DATA, at most ``drain_rate`` samples/s (§11 rule 5).

        Chunks are acknowledged to the history once handed to the client; chunks not sent (the session
        ended, or this task was cancelled) are requeued so the next session sends them.
        """
        reset = getattr(self._history, "reset", None)
        if callable(reset):
            reset()  # a new session: read from the oldest stored sample again
        while self._born():
            chunks = await self._history.take(HISTORY_BATCH)
            if not chunks:
                return
            sent: list[HistoryChunk] = []
            try:
                for chunk in chunks:
                    if not self._born():
                        break
                    try:
                        self.feed(PublishHistorical(chunk.device_id, chunk.samples))
                    except SparkplugError as exc:
                        log.warning("historical samples dropped: %s", exc, extra={"device": chunk.device_id})
                    sent.append(chunk)
            finally:
                self._history.ack(sent)
                self._history.requeue(chunks[len(sent) :])
            count = sum(len(chunk.samples) for chunk in sent)
            await asyncio.sleep(count / self._drain_rate if count else 0)
