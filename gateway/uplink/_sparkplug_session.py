"""The Sparkplug edge-node session: the shell around ``sparkplug.EdgeNode`` on an uplink connection.

It implements :class:`~gateway.uplink._session.UplinkSession` and carries out the core's outputs, in
order, on the event loop (see the "What the shell must do" list in ``sparkplug.edge_node``):

=====================  ==============================================================================
core output            what this shell does
=====================  ==============================================================================
PersistBdSeq           ``BdSeqStore.save`` in a worker thread, BEFORE the CONNECT (``will()`` awaits it)
SetWill                the Will of the next CONNECT
Subscribe              one SUBSCRIBE with every filter; ``Subscribed`` once the SUBACK is in
Publish NBIRTH/DBIRTH/ straight on the link at QoS 0, in order (births must precede any DATA)
  DDEATH
Publish NDATA/DDATA    through the :class:`Forwarder` (QoS ``data_qos``), with the samples as the stored
                       form, so an undelivered message is replayed as history, never lost
Publish NDEATH         kept as the farewell: the supervisor publishes it at QoS 1, waits for the PUBACK,
                       then DISCONNECTs (5.0: reason 0x04)
Disconnect/NextServer  ``run()`` returns a :class:`Leave` and the supervisor moves to the next server
FlushHistory           the session is healthy: ``online()``, ``Forwarder.attach``; the drain replays the
                       backlog through :meth:`replay` as ``PublishHistorical`` (historical payloads,
                       separate from live data, current seq and aliases)
StoreForLater          into the backlog (``Forwarder.store``)
WriteMetric, SetScanRate, Reboot, Notice
                       handed to ``on_action`` (the daemon applies writes and scan rates, restarts on
                       Reboot); Notice is also logged
=====================  ==============================================================================

``Tick`` is fed at ``EdgeNode.next_deadline()`` while a connection runs (rebirth debounce, primary-host
timeout). Inbound messages are fed as ``MessageReceived``.

Live Sparkplug DATA is QoS 0 by the spec (§2); with ``data_qos=0`` samples published in the window
between a silent link death and its detection (at most one keep-alive) cannot be acknowledged and are not
replayed. ``data_qos=1`` (non-standard, proposed in sparkplug issue #610) closes that window: every DATA
message is acknowledged or replayed as history.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence

from gateway.uplink._backlog import (
    BacklogRecord,
    OutboundMessage,
    RecordKind,
    ReplayDeferredError,
    ReplayPublish,
    replay_as_is,
)
from gateway.uplink._config import ServerSettings
from gateway.uplink._failover import SwitchReason
from gateway.uplink._forwarder import Delivery, Forwarder
from gateway.uplink._link import PahoLink
from gateway.uplink._link_types import ConnectionInfo, InboundMessage, WillMessage
from gateway.uplink._session import Leave
from gateway.uplink._sparkplug_records import decode_samples, encode_samples
from sparkplug import (
    BdSeqStore,
    Connected,
    ConnectStarting,
    DataType,
    DeviceOffline,
    DeviceOnline,
    Disconnect,
    Disconnected,
    EdgeNode,
    Event,
    FlushHistory,
    MessageReceived,
    MessageType,
    MetricsChanged,
    MetricSpec,
    Notice,
    Output,
    PersistBdSeq,
    Publish,
    PublishHistorical,
    Sample,
    SessionState,
    SetWill,
    Shutdown,
    SparkplugError,
    StoreForLater,
    Subscribe,
    Subscribed,
    Tick,
    build_topic,
    parse_topic,
)

log = logging.getLogger(__name__)


def _utc_ms() -> int:
    return time.time_ns() // 1_000_000


class SparkplugSession:
    """Args:
    node: the edge-node core, built with the next bdSeq loaded from ``bdseq_store``.
    forwarder: live DATA and store-and-forward; the session installs :meth:`replay` as its encoder.
    bdseq_store: where ``PersistBdSeq`` goes before each CONNECT.
    data_qos: QoS of live NDATA/DDATA (0 per the spec; 1 for acknowledged delivery).
    on_action: receives WriteMetric, SetScanRate, Reboot and Notice outputs, on the loop.
    extra_subscriptions: more ``(filter, qos)`` to subscribe to with the core's (bridge ``in`` rules).
    on_inbound: receives inbound messages outside ``spBv1.0/`` and ``STATE/`` (the bridge).
    clock_ms: UTC ms (injectable).
    """

    def __init__(
        self,
        node: EdgeNode,
        forwarder: Forwarder,
        bdseq_store: BdSeqStore,
        *,
        data_qos: int = 0,
        on_action: Callable[[Output], None] | None = None,
        extra_subscriptions: Sequence[tuple[str, int]] = (),
        on_inbound: Callable[[InboundMessage], None] | None = None,
        clock_ms: Callable[[], int] = _utc_ms,
    ) -> None:
        self._extra_subscriptions = list(extra_subscriptions)
        self._on_inbound = on_inbound
        self._node = node
        self._forwarder = forwarder
        self._bdseq_store = bdseq_store
        self._data_qos = data_qos
        self._on_action = on_action
        self._clock_ms = clock_ms
        self._datatypes: dict[str | None, dict[str, DataType]] = {
            None: {spec.name: spec.datatype for spec in node.config.node_metrics}
        }
        self._link: PahoLink | None = None
        self._info: ConnectionInfo | None = None
        self._online: Callable[[], None] | None = None
        self._farewell: WillMessage | None = None
        self._leave: Leave | None = None
        self._wake = asyncio.Event()
        forwarder.set_replay(self.replay)

    @property
    def node(self) -> EdgeNode:
        return self._node

    # -- producers (the daemon) -------------------------------------------------------------------------

    def metrics_changed(
        self, device_id: str | None, samples: Sequence[Sample]
    ) -> asyncio.Future[Delivery] | None:
        """New samples of the node or a device. Returns the delivery future of the message they went into
        (live DATA or the backlog), or ``None`` when report-by-exception filtered them all out.

        Raises:
            sparkplug.SparkplugError: the device or a metric was not declared, or a value does not fit.
        """
        return self._feed_data(MetricsChanged(device_id, tuple(samples)), device_id, samples)

    def device_online(
        self, device_id: str, metrics: Sequence[MetricSpec], samples: Sequence[Sample] = ()
    ) -> asyncio.Future[Delivery] | None:
        self._datatypes[device_id] = {spec.name: spec.datatype for spec in metrics}
        return self._feed_data(DeviceOnline(device_id, tuple(metrics), tuple(samples)), device_id, samples)

    def device_offline(self, device_id: str) -> None:
        self._carry_out(self._handle(DeviceOffline(device_id)))

    def _feed_data(
        self, event: Event, device_id: str | None, samples: Sequence[Sample]
    ) -> asyncio.Future[Delivery] | None:
        outputs = self._node.handle(event, self._clock_ms())
        return self._carry_out(outputs, samples_of=(device_id, samples))

    # -- UplinkSession ------------------------------------------------------------------------------------

    async def will(self, server: ServerSettings) -> WillMessage | None:
        if self._node.state is not SessionState.DISCONNECTED:
            self._handle(Disconnected())
        will: WillMessage | None = None
        for output in self._handle(ConnectStarting(server.name)):
            if isinstance(output, PersistBdSeq):
                # Durably BEFORE the CONNECT (topics-nbirth-bdseq-increment); fsync, so off the loop.
                await asyncio.to_thread(self._bdseq_store.save, output.next_bd_seq)
            elif isinstance(output, SetWill):
                will = WillMessage(output.topic, output.payload, output.qos, output.retain)
        return will

    def on_message(self, message: InboundMessage) -> None:
        if self._on_inbound is not None and not message.topic.startswith(("spBv1.0/", "STATE/")):
            self._on_inbound(message)
            return
        try:
            outputs = self._handle(MessageReceived(message.topic, message.payload))
        except SparkplugError as error:
            log.error("Sparkplug core refused a message on %s: %s", message.topic, error)
            return
        self._carry_out(outputs)

    async def run(self, link: PahoLink, info: ConnectionInfo, online: Callable[[], None]) -> Leave:
        self._link, self._info, self._online = link, info, online
        self._farewell, self._leave = None, None
        self._wake.clear()
        subscriptions = [o for o in self._handle(Connected()) if isinstance(o, Subscribe)]
        filters = [(s.topic_filter, s.qos) for s in subscriptions] + self._extra_subscriptions
        if filters:
            # NCMD/DCMD/STATE confirmed before any birth (digest §19.4).
            await link.subscribe(filters)
        self._carry_out(self._handle(Subscribed()))
        while (leave := self._pending_leave()) is None:
            deadline = self._node.next_deadline()
            timeout = None if deadline is None else max(0.0, (deadline - self._clock_ms()) / 1000)
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), timeout)
            except TimeoutError:
                self._carry_out(self._handle(Tick()))
        return leave

    def _pending_leave(self) -> Leave | None:
        return self._leave

    async def quiesce(self, timeout: float) -> None:
        await self._forwarder.quiesce(timeout)

    def farewell(self) -> WillMessage | None:
        if self._farewell is None and self._node.state not in (
            SessionState.DISCONNECTED,
            SessionState.DISCONNECTING,
        ):
            self._carry_out(self._handle(Shutdown()))  # NDEATH if born (the supervisor is leaving)
        farewell, self._farewell = self._farewell, None
        return farewell

    def offline(self) -> None:
        self._forwarder.detach()
        self._link, self._info, self._online = None, None, None
        if self._node.state is not SessionState.DISCONNECTED:
            self._handle(Disconnected())

    # -- replay of the backlog ----------------------------------------------------------------------------

    def replay(self, record: BacklogRecord) -> Sequence[ReplayPublish]:
        """The forwarder's replay encoder: stored samples -> historical NDATA/DDATA of this session."""
        if record.kind != RecordKind.SPARKPLUG:
            return replay_as_is(record)
        if not self._node.is_born:
            raise ReplayDeferredError("the edge node is not born")
        try:
            device_id = parse_topic(record.topic).device_id
            samples = decode_samples(record.payload)
        except SparkplugError as error:
            log.error(
                "dropping unreadable stored Sparkplug record %d (%s): %s", record.id, record.topic, error
            )
            return ()
        publishes: list[ReplayPublish] = []
        for output in self._handle(PublishHistorical(device_id, samples)):
            if isinstance(output, Publish):
                publishes.append(ReplayPublish(output.topic, output.payload, output.retain))
            elif isinstance(output, StoreForLater):
                raise ReplayDeferredError("the edge node is not born")
            elif isinstance(output, Notice):
                log.warning("replay of record %d: %s", record.id, output.message)
        return publishes

    # -- carrying out outputs -------------------------------------------------------------------------------

    def _handle(self, event: Event) -> list[Output]:
        return self._node.handle(event, self._clock_ms())

    def _carry_out(
        self, outputs: Sequence[Output], samples_of: tuple[str | None, Sequence[Sample]] | None = None
    ) -> asyncio.Future[Delivery] | None:
        delivery: asyncio.Future[Delivery] | None = None
        for output in outputs:
            if isinstance(output, Publish):
                delivery = self._publish(output, samples_of) or delivery
            elif isinstance(output, StoreForLater):
                delivery = self._forwarder.store(self._record(output.device_id, output.samples))
            elif isinstance(output, FlushHistory):
                self._healthy()
            elif isinstance(output, Disconnect):
                self._leave = Leave(_reason_of(output.reason), output.reason)
                self._wake.set()
            elif isinstance(output, Notice):
                log.info("sparkplug: %s", output.message)
                self._act(output)
            elif not isinstance(output, Subscribe | SetWill | PersistBdSeq):
                self._act(output)  # WriteMetric, SetScanRate, Reboot; NextServer follows a Disconnect
        self._wake.set()  # the deadline may have changed
        return delivery

    def _publish(
        self, output: Publish, samples_of: tuple[str | None, Sequence[Sample]] | None
    ) -> asyncio.Future[Delivery] | None:
        if output.message_type is MessageType.NDEATH:
            self._farewell = WillMessage(output.topic, output.payload, 1, False)
            return None
        if output.message_type in (MessageType.NDATA, MessageType.DDATA):
            stored = None
            created = self._clock_ms()
            if samples_of is not None and samples_of[1]:
                device_id, samples = samples_of
                stored = self._record(device_id, samples).payload
                created = min(sample.timestamp for sample in samples)
            message = OutboundMessage(
                output.topic, output.payload, self._data_qos, False, RecordKind.SPARKPLUG, created, stored
            )
            return self._forwarder.publish(message)
        # Births and DDEATH: straight on the link, before anything else of the session.
        if self._link is not None and self._link.is_open:
            self._link.publish(output.topic, output.payload, output.qos, output.retain)
        return None

    def _record(self, device_id: str | None, samples: Sequence[Sample]) -> OutboundMessage:
        config = self._node.config
        kind = MessageType.NDATA if device_id is None else MessageType.DDATA
        topic = build_topic(kind, config.group_id, config.edge_node_id, device_id)
        payload = encode_samples(samples, self._datatypes.get(device_id, {}))
        created = min((s.timestamp for s in samples), default=self._clock_ms())
        return OutboundMessage(topic, payload, self._data_qos, False, RecordKind.SPARKPLUG, created)

    def _healthy(self) -> None:
        if self._link is None or self._info is None:
            return
        if self._online is not None:
            self._online()
            self._online = None  # a rebirth is not a new switch
        self._forwarder.attach(self._link, self._info.receive_maximum)

    def _act(self, output: Output) -> None:
        if self._on_action is not None:
            self._on_action(output)


def _reason_of(text: str) -> SwitchReason:
    lowered = text.lower()
    if "not online within" in lowered:
        return SwitchReason.PRIMARY_HOST_TIMEOUT
    if "offline" in lowered:
        return SwitchReason.PRIMARY_HOST_OFFLINE
    if "next server" in lowered:
        return SwitchReason.NEXT_SERVER
    return SwitchReason.SESSION_ERROR
