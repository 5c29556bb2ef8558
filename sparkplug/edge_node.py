"""The Sparkplug B edge-node lifecycle as a core without I/O (Sparkplug 3.0, digest §3-§12).

Theory of operation
===================
:class:`EdgeNode` is a state machine. The shell (our uplink) feeds it events with the current time in
UTC milliseconds, ``node.handle(event, now)``, and carries out the outputs it returns, in order. The
core owns no socket, no task, no clock and no file. Sessions run like this::

    DISCONNECTED --ConnectStarting--> CONNECTING        outputs PersistBdSeq(next), SetWill(NDEATH, bdSeq=N)
    CONNECTING   --Connected--------> SUBSCRIBING       outputs Subscribe NCMD, DCMD/+, STATE (QoS 1)
    SUBSCRIBING  --Subscribed-------> ONLINE            no primary host, or its online STATE already seen:
                                                        NBIRTH (seq 0, bdSeq N), DBIRTH per online device,
                                                        FlushHistory
                 --Subscribed-------> WAITING_FOR_HOST  primary host configured, not seen online yet
    WAITING_FOR_HOST --valid online STATE--> ONLINE     births as above
    ONLINE --MetricsChanged--> ONLINE                   NDATA/DDATA by exception (deadbands), one seq counter
    ONLINE --NCMD Rebirth--> ONLINE                     NBIRTH (seq 0, same bdSeq) + DBIRTHs (debounced)
    ONLINE --valid offline STATE | Next Server | Reboot | Shutdown--> DISCONNECTING
                                                        Publish NDEATH (QoS 1), Disconnect, then
                                                        NextServer / Reboot as the case may be
    WAITING_FOR_HOST --valid offline STATE | host timeout--> DISCONNECTING   Disconnect, NextServer
    any --Disconnected--> DISCONNECTED                  (the broker sends our Will if it was not clean)

The table :data:`TRANSITIONS` (in ``sparkplug/_edge_states.py``, re-exported here) is the authority for
state changes; an event that is not legal in the current state raises
:class:`~sparkplug.errors.EdgeNodeUsageError` (a bug in the shell). Metric and device events are legal
in every state: while the node is not born, changes come back as ``StoreForLater``.

What the core guarantees (with the TCK assertion ids it obeys)
--------------------------------------------------------------
- bdSeq goes up by one, mod 256, for every CONNECT, and the new "next" value is returned as
  ``PersistBdSeq`` before the Will (`topics-nbirth-bdseq-increment`); NBIRTH repeats the Will's bdSeq,
  also on rebirth (`payloads-nbirth-bdseq-repeat`). NDEATH has bdSeq (Int64) only, no seq.
- NBIRTH is the first message of a session, seq 0, with ``Node Control/Rebirth`` = false and no alias;
  DBIRTHs follow before any DATA; one seq counter for node and devices, 255 -> 0.
- Births wait for SUBACK, and for a valid online STATE when a primary host is configured; STATE validity
  uses ``>=`` on timestamps with memory per (server, host) across reconnects (§9).
- Aliases are stable for the life of the object, unique across node and devices, never on Rebirth.
- DATA carries only metrics of the current birth, alias only when aliases are on, no datatype unless
  ``datatype_in_data``; live metrics sorted by timestamp.

What the shell must do
----------------------
- Load the next bdSeq from :class:`sparkplug.bdseq_store.BdSeqStore` and pass it to the constructor.
- Before each CONNECT: ``handle(ConnectStarting(server_key))``; write ``PersistBdSeq`` durably, then
  connect with Clean Session/Clean Start (session expiry 0) and the ``SetWill`` Will (QoS 1, no retain).
- After CONNACK: ``Connected``; make the ``Subscribe`` outputs; when every SUBACK is in: ``Subscribed``.
- Feed every message on those subscriptions as ``MessageReceived``; feed ``Disconnected`` when the
  connection is gone for any reason: lost, refused, a CONNECT that never got its CONNACK, or closed
  after carrying out a ``Disconnect``. Only then may the next ``ConnectStarting`` come.
- Publish ``Publish`` outputs in order, on one connection. For a QoS 1 NDEATH, wait for the PUBACK before
  carrying out the ``Disconnect`` that follows (MQTT 5: DISCONNECT reason 0x04 so the Will still goes).
- Own the server list: on ``NextServer`` pick the next one (wrap around); on connection loss retry with
  backoff (policy is the shell's). ``Reboot``: restart after disconnecting.
- Call ``Tick`` at :meth:`EdgeNode.next_deadline` (rebirth debounce, primary-host timeout).
- Keep ``StoreForLater`` samples (store-and-forward); on ``FlushHistory`` (after every birth, rebirths
  included) drain them, rate-limited, as ``PublishHistorical`` events (one device per event). A
  ``PublishHistorical`` that arrives while the node is not born comes back as ``StoreForLater``.
- Carry out ``WriteMetric`` / ``SetScanRate`` and report the new values as ``MetricsChanged``
  (Scan Rate is reported by the core itself). Log ``Notice`` messages.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sparkplug._edge_births import control_metric, dbirth_metrics, historical_batches, nbirth_metrics
from sparkplug._edge_incoming import on_message
from sparkplug._edge_states import TRANSITIONS, SessionState, Trigger
from sparkplug._host_state import PrimaryHostTracker
from sparkplug._metric_table import MetricTable
from sparkplug.codec import encode_payload
from sparkplug.datatypes import DataType
from sparkplug.edge_types import (
    BD_SEQ,
    Connected,
    ConnectStarting,
    DeviceOffline,
    DeviceOnline,
    Disconnect,
    Disconnected,
    EdgeNodeConfig,
    Event,
    FlushHistory,
    MessageReceived,
    MetricsChanged,
    NextServer,
    Notice,
    Output,
    PersistBdSeq,
    Publish,
    PublishHistorical,
    SetWill,
    Shutdown,
    StoreForLater,
    Subscribe,
    Subscribed,
    Tick,
)
from sparkplug.errors import EdgeNodeUsageError
from sparkplug.model import Metric, MetricValue, Payload
from sparkplug.topics import MessageType, build_topic, validate_id

__all__ = ["TRANSITIONS", "EdgeNode", "SessionState", "Trigger"]


class EdgeNode:
    """The edge-node core. See the module docstring for the contract.

    Args:
        config: ids, metrics and options.
        next_bd_seq: the bdSeq to use for the next CONNECT, as loaded from the persistent store.
    """

    def __init__(self, config: EdgeNodeConfig, *, next_bd_seq: int = 0) -> None:
        if not 0 <= next_bd_seq <= 255:
            raise EdgeNodeUsageError(f"next_bd_seq must be 0..255, got {next_bd_seq}")
        self.config = config
        self._state = SessionState.DISCONNECTED
        self._next_bd_seq = next_bd_seq
        self._bd_seq: int | None = None
        self._will = b""
        self._server = ""
        self._seq = 0
        self._table = MetricTable()
        self._table.declare(None, config.node_metrics)
        self._online_devices: set[str] = set()
        self._born_devices: set[str] = set()
        self._host = (
            PrimaryHostTracker(config.primary_host_id, config.state_format)
            if config.primary_host_id
            else None
        )
        self._host_online = False
        self._host_deadline: int | None = None
        self._last_requested_rebirth: int | None = None
        self._pending_rebirth_at: int | None = None
        self._scan_rate = config.scan_rate_ms
        self._node_topic = {t: build_topic(t, config.group_id, config.edge_node_id) for t in _NODE_TYPES}
        self._handlers: dict[type, Callable[[Any, int], list[Output]]] = {
            ConnectStarting: self._on_connect_starting,
            Connected: self._on_connected,
            Subscribed: self._on_subscribed,
            MessageReceived: lambda event, now: on_message(self, event, now),
            MetricsChanged: self._on_metrics_changed,
            DeviceOnline: self._on_device_online,
            DeviceOffline: self._on_device_offline,
            PublishHistorical: self._on_historical,
            Tick: self._on_tick,
            Shutdown: self._on_shutdown,
            Disconnected: self._on_disconnected,
        }

    # ------------------------------------------------------------------------------------ public API

    @property
    def state(self) -> SessionState:
        return self._state

    @property
    def bd_seq(self) -> int | None:
        """The bdSeq of the current (or last) connection; None before the first ConnectStarting."""
        return self._bd_seq

    @property
    def next_bd_seq(self) -> int:
        return self._next_bd_seq

    @property
    def is_born(self) -> bool:
        """True while NBIRTH is out in this session (DATA may be published)."""
        return self._state is SessionState.ONLINE

    @property
    def online_devices(self) -> frozenset[str]:
        return frozenset(self._online_devices)

    def alias_of(self, device_id: str | None, name: str) -> int | None:
        """The alias used for a declared metric (None if unknown or aliases are off)."""
        return self._table.allocated_alias(device_id, name) if self.config.use_aliases else None

    def handle(self, event: Event, now: int) -> list[Output]:
        """Feed one event at ``now`` (UTC ms); returns the outputs to carry out, in order.

        Raises:
            EdgeNodeUsageError: the event is illegal in the current state, or names an undeclared
                device/metric; nothing was changed.
            SparkplugEncodeError: a sample's value does not fit its metric's datatype; nothing was changed.
        """
        handler = self._handlers.get(type(event))
        if handler is None:
            raise EdgeNodeUsageError(f"unknown event {event!r}")
        return handler(event, now)

    def next_deadline(self) -> int | None:
        """When the shell should send the next :class:`Tick` (UTC ms), or None if nothing is pending."""
        deadlines = []
        if self._state is SessionState.ONLINE and self._pending_rebirth_at is not None:
            deadlines.append(self._pending_rebirth_at)
        if self._state is SessionState.WAITING_FOR_HOST and self._host_deadline is not None:
            deadlines.append(self._host_deadline)
        return min(deadlines) if deadlines else None

    # ------------------------------------------------------------------------------------ transitions

    def _go(self, trigger: Trigger) -> None:
        target = TRANSITIONS.get((self._state, trigger))
        if target is None:
            raise EdgeNodeUsageError(f"{trigger.value} is not allowed in state {self._state.value}")
        self._state = target

    def _on_connect_starting(self, event: ConnectStarting, now: int) -> list[Output]:
        self._go(Trigger.CONNECT)
        bd_seq = self._next_bd_seq
        self._bd_seq = bd_seq
        self._next_bd_seq = (bd_seq + 1) % 256
        self._server = event.server
        # NDEATH: exactly one metric bdSeq (Int64, long_value), no seq (`topics-ndeath-payload`, `-seq`).
        death = Payload(timestamp=now, metrics=(Metric(name=BD_SEQ, datatype=DataType.Int64, value=bd_seq),))
        self._will = encode_payload(death)
        topic = self._node_topic[MessageType.NDEATH]
        return [PersistBdSeq(self._next_bd_seq), SetWill(topic, self._will, bd_seq)]

    def _on_connected(self, event: Connected, now: int) -> list[Output]:
        self._go(Trigger.CONNACK)
        self._host_online = False
        cfg = self.config
        outputs: list[Output] = [
            Subscribe(self._node_topic[MessageType.NCMD], 1),  # message-flow-edge-node-ncmd-subscribe
            Subscribe(
                f"spBv1.0/{cfg.group_id}/DCMD/{cfg.edge_node_id}/+", 1
            ),  # message-flow-device-dcmd-subscribe
        ]
        if self._host is not None:
            outputs.extend(Subscribe(topic, 1) for topic in self._host.topics())
        return outputs

    def _on_subscribed(self, event: Subscribed, now: int) -> list[Output]:
        if self._state is not SessionState.SUBSCRIBING:
            raise EdgeNodeUsageError(f"Subscribed is not allowed in state {self._state.value}")
        if self._host is None or self._host_online:
            return self._births(now)
        # message-flow-edge-node-birth-publish-phid-wait: no birth before a valid online STATE.
        self._go(Trigger.WAIT_FOR_HOST)
        timeout = self.config.primary_host_timeout_ms
        self._host_deadline = None if timeout is None else now + timeout
        return []

    def _on_disconnected(self, event: Disconnected, now: int) -> list[Output]:
        self._go(Trigger.LOST)
        self._born_devices.clear()
        self._host_online = False
        self._host_deadline = None
        self._pending_rebirth_at = None
        return []

    def _on_shutdown(self, event: Shutdown, now: int) -> list[Output]:
        if self._state in (SessionState.DISCONNECTED, SessionState.DISCONNECTING):
            return []
        return self._leave(now, "shutdown")

    def _on_tick(self, event: Tick, now: int) -> list[Output]:
        if (
            self._state is SessionState.ONLINE
            and self._pending_rebirth_at is not None
            and now >= self._pending_rebirth_at
        ):
            self._pending_rebirth_at = None
            self._last_requested_rebirth = now
            return self._births(now)
        if (
            self._state is SessionState.WAITING_FOR_HOST
            and self._host_deadline is not None
            and now >= self._host_deadline
        ):
            reason = f"primary host {self.config.primary_host_id!r} not online within the timeout"
            return [Notice(reason), *self._leave(now, reason), NextServer(reason)]
        return []

    def _leave(self, now: int, reason: str) -> list[Output]:
        """NDEATH if born (operational-behavior-edge-node-intentional-disconnect-ndeath), then Disconnect."""
        born = self._state is SessionState.ONLINE
        self._go(Trigger.LEAVE)
        self._born_devices.clear()
        self._pending_rebirth_at = None
        outputs: list[Output] = []
        if born:
            outputs.append(
                Publish(self._node_topic[MessageType.NDEATH], self._will, 1, False, MessageType.NDEATH)
            )
        outputs.append(Disconnect(reason))
        return outputs

    # ------------------------------------------------------------------------------------ births

    def _next_seq(self) -> int:
        seq = self._seq
        self._seq = (seq + 1) % 256  # payloads-sequence-num-incrementing: 255 -> 0
        return seq

    def _births(self, now: int) -> list[Output]:
        """NBIRTH (seq 0), a DBIRTH per online device, FlushHistory (principles-birth-certificates-order)."""
        self._go(Trigger.BIRTH)
        self._host_deadline = None
        self._seq = 0
        self._born_devices.clear()
        outputs: list[Output] = [self._nbirth(now)]
        for device_id in sorted(self._online_devices):
            outputs.append(self._dbirth(device_id, now))
        outputs.append(FlushHistory())
        return outputs

    def _control(self, name: str, datatype: DataType, value: MetricValue, now: int) -> Metric:
        return control_metric(self._table, self.config, name, datatype, value, now)

    def _nbirth(self, now: int) -> Publish:
        assert self._bd_seq is not None
        metrics = nbirth_metrics(self._table, self.config, self._bd_seq, self._scan_rate, now)
        seq = self._next_seq()
        payload = encode_payload(
            Payload(timestamp=now, metrics=tuple(metrics), seq=seq),
            uint32_in_long_value=self.config.uint32_in_long_value,
        )
        return Publish(self._node_topic[MessageType.NBIRTH], payload, 0, False, MessageType.NBIRTH, None, seq)

    def _dbirth(self, device_id: str, now: int) -> Publish:
        metrics = dbirth_metrics(self._table, self.config, device_id, now)
        self._born_devices.add(device_id)
        return self._device_message(MessageType.DBIRTH, device_id, metrics, now, include_datatype=True)

    def _device_message(
        self,
        kind: MessageType,
        device_id: str | None,
        metrics: list[Metric],
        now: int,
        include_datatype: bool,
    ) -> Publish:
        cfg = self.config
        seq = self._next_seq()
        payload = encode_payload(
            Payload(timestamp=now, metrics=tuple(metrics), seq=seq),
            include_datatype=include_datatype,
            uint32_in_long_value=cfg.uint32_in_long_value,
        )
        if device_id is None:
            topic = self._node_topic[kind]
        else:
            topic = build_topic(kind, cfg.group_id, cfg.edge_node_id, device_id)
        return Publish(topic, payload, 0, False, kind, device_id, seq)

    def _data(self, device_id: str | None, metrics: list[Metric], now: int) -> Publish:
        kind = MessageType.NDATA if device_id is None else MessageType.DDATA
        return self._device_message(kind, device_id, metrics, now, self.config.datatype_in_data)

    def _can_publish(self, device_id: str | None) -> bool:
        return self._state is SessionState.ONLINE and (device_id is None or device_id in self._born_devices)

    # ------------------------------------------------------------------------------------ metrics and devices

    def _on_metrics_changed(self, event: MetricsChanged, now: int) -> list[Output]:
        owner = event.device_id
        states = self._table.validate(owner, event.samples)  # raises before any change
        # Live metrics in chronological order (operational-behavior-data-publish-nbirth-order).
        pairs = sorted(zip(states, event.samples, strict=True), key=lambda pair: pair[1].timestamp)
        report = [(state, sample) for state, sample in pairs if self._table.apply(state, sample)]
        if not report:
            return []
        use_aliases = self.config.use_aliases
        if self._can_publish(owner):
            return [
                self._data(
                    owner, [self._table.data_metric(s, sample, use_aliases) for s, sample in report], now
                )
            ]
        for state, sample in report:
            self._table.mark_published(state, sample.value, sample.quality)
        return [StoreForLater(owner, tuple(sample for _, sample in report))]

    def _on_device_online(self, event: DeviceOnline, now: int) -> list[Output]:
        device_id = validate_id(event.device_id, "device_id")
        old_specs = self._table.specs(device_id) if self._table.has_owner(device_id) else None
        was_born = device_id in self._born_devices and self._state is SessionState.ONLINE
        if was_born and old_specs == event.metrics:
            # Same metric set, still born: the samples are ordinary changes.
            return self._on_metrics_changed(MetricsChanged(device_id, event.samples), now)
        self._table.declare(device_id, event.metrics)
        try:
            states = self._table.validate(device_id, event.samples)
        except (EdgeNodeUsageError, ValueError):
            if old_specs is not None:
                self._table.declare(device_id, old_specs)
            raise
        for state, sample in zip(states, event.samples, strict=True):
            self._table.apply(state, sample)
        self._online_devices.add(device_id)
        if self._state is not SessionState.ONLINE:
            return []
        outputs: list[Output] = []
        if was_born:
            # New metric set mid-session: DDEATH then a new DBIRTH (sparkplug issue #540).
            outputs.append(
                self._device_message(MessageType.DDEATH, device_id, [], now, include_datatype=False)
            )
        outputs.append(self._dbirth(device_id, now))
        return outputs

    def _on_device_offline(self, event: DeviceOffline, now: int) -> list[Output]:
        device_id = event.device_id
        if device_id not in self._online_devices:
            return [Notice(f"device {device_id!r} went offline but was not online")]
        self._online_devices.discard(device_id)
        if device_id not in self._born_devices or self._state is not SessionState.ONLINE:
            self._born_devices.discard(device_id)
            return []
        self._born_devices.discard(device_id)
        # operational-behavior-device-ddeath: payload timestamp + seq, no metrics needed.
        return [self._device_message(MessageType.DDEATH, device_id, [], now, include_datatype=False)]

    def _on_historical(self, event: PublishHistorical, now: int) -> list[Output]:
        owner = event.device_id
        if self._state is not SessionState.ONLINE:
            return [StoreForLater(owner, event.samples)]
        where = "the node" if owner is None else f"device {owner!r}"
        if not self._can_publish(owner):
            return [
                Notice(
                    f"dropped {len(event.samples)} historical samples of {where}: not in the current birth"
                )
            ]
        batches, dropped = historical_batches(self._table, owner, event.samples, self.config)
        outputs: list[Output] = []
        if dropped:
            outputs.append(
                Notice(f"dropped {dropped} historical samples of {where}: metric not in the current birth")
            )
        outputs.extend(self._data(owner, metrics, now) for metrics in batches)
        return outputs

    # ------------------------------------------------------------------------------------ incoming messages


_NODE_TYPES = (MessageType.NBIRTH, MessageType.NDEATH, MessageType.NDATA, MessageType.NCMD)
