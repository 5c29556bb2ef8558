"""How the edge-node core handles the messages it subscribed to: STATE (§9), NCMD and DCMD (§5, §8).

Functions of :class:`sparkplug.edge_node.EdgeNode` kept in their own module for size; they read and
change the node's private state exactly as its methods would, and return its outputs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sparkplug._edge_commands import (
    DeviceRebirthRequested,
    NextServerRequested,
    RebirthRequested,
    RebootRequested,
    ScanRateRequested,
    interpret_dcmd,
    interpret_ncmd,
)
from sparkplug._edge_states import CONNECTED_STATES, SessionState, Trigger
from sparkplug._host_state import Verdict
from sparkplug.codec import decode_payload
from sparkplug.datatypes import DataType
from sparkplug.edge_types import (
    SCAN_RATE,
    Disconnect,
    MessageReceived,
    NextServer,
    Notice,
    Output,
    Reboot,
    SetScanRate,
    WriteMetric,
)
from sparkplug.errors import SparkplugDecodeError, TopicError
from sparkplug.model import Metric, Payload
from sparkplug.topics import MessageType, Topic, parse_topic

if TYPE_CHECKING:
    from sparkplug.edge_node import EdgeNode


def on_message(node: EdgeNode, event: MessageReceived, now: int) -> list[Output]:
    try:
        topic = parse_topic(event.topic)
    except TopicError as exc:
        return [Notice(f"ignored message: {exc}")]
    if topic.message_type is MessageType.STATE:
        return on_state(node, topic, event.payload, now)
    cfg = node.config
    if topic.group_id != cfg.group_id or topic.edge_node_id != cfg.edge_node_id:
        return [Notice(f"ignored {event.topic}: not addressed to this edge node")]
    if topic.message_type not in (MessageType.NCMD, MessageType.DCMD):
        return [Notice(f"ignored {event.topic}: edge nodes only consume NCMD, DCMD and STATE")]
    if node._state is not SessionState.ONLINE:
        return [Notice(f"ignored {event.topic}: the node is not born ({node._state.value})")]
    try:
        payload = decode_payload(event.payload)
    except SparkplugDecodeError as exc:
        return [Notice(f"ignored {event.topic}: {exc}")]
    if topic.message_type is MessageType.NCMD:
        return on_ncmd(node, payload, now)
    assert topic.device_id is not None
    return on_dcmd(node, topic.device_id, payload, now)


def on_state(node: EdgeNode, topic: Topic, payload: bytes, now: int) -> list[Output]:
    if node._host is None:
        return [Notice(f"ignored STATE of {topic.host_id!r}: no primary host configured")]
    if node._state not in CONNECTED_STATES:
        return [Notice(f"ignored STATE of {topic.host_id!r} in state {node._state.value}")]
    judged = node._host.judge(node._server, topic, payload)
    if judged.verdict is Verdict.IGNORED:
        return [Notice(judged.reason)]
    if judged.verdict is Verdict.ONLINE:
        node._host_online = True
        if node._state is SessionState.WAITING_FOR_HOST:
            return node._births(now)
        return []
    # Valid offline: operational-behavior-edge-node-termination-host-offline; walk to the next server.
    node._host_online = False
    if node._state is SessionState.SUBSCRIBING:
        node._go(Trigger.LEAVE)
        reason = f"primary host {node._host.host_id!r} is offline ({judged.reason})"
        return [Disconnect(reason), NextServer(reason)]
    reason = f"primary host {node._host.host_id!r} is offline ({judged.reason})"
    return [*node._leave(now, reason), NextServer(reason)]


def on_ncmd(node: EdgeNode, payload: Payload, now: int) -> list[Output]:
    outputs: list[Output] = []
    for intent in interpret_ncmd(payload, node._table, node.config, node._scan_rate is not None):
        if isinstance(intent, RebirthRequested):
            outputs.extend(request_rebirth(node, now))
        elif isinstance(intent, NextServerRequested):
            reason = "NCMD Node Control/Next Server"
            return [*outputs, *node._leave(now, reason), NextServer(reason)]
        elif isinstance(intent, RebootRequested):
            return [*outputs, *node._leave(now, "NCMD Node Control/Reboot"), Reboot()]
        elif isinstance(intent, ScanRateRequested):
            node._scan_rate = intent.rate_ms
            control = node._control(SCAN_RATE, DataType.Int64, intent.rate_ms, now)
            if node.config.use_aliases:  # DATA carries the alias only (§5)
                control = Metric(
                    alias=control.alias, timestamp=now, datatype=DataType.Int64, value=intent.rate_ms
                )
            outputs.append(SetScanRate(None, intent.rate_ms))
            outputs.append(node._data(None, [control], now))
        elif isinstance(intent, (WriteMetric, Notice)):
            outputs.append(intent)
    return outputs


def on_dcmd(node: EdgeNode, device_id: str, payload: Payload, now: int) -> list[Output]:
    if device_id not in node._born_devices:
        return [Notice(f"ignored DCMD for device {device_id!r}: not born in this session")]
    outputs: list[Output] = []
    for intent in interpret_dcmd(device_id, payload, node._table, node.config):
        if isinstance(intent, DeviceRebirthRequested):
            outputs.append(node._dbirth(device_id, now))
        elif isinstance(intent, (WriteMetric, Notice)):
            outputs.append(intent)
    return outputs


def request_rebirth(node: EdgeNode, now: int) -> list[Output]:
    """Rebirth now, unless one was requested less than the debounce delay ago: then once at its end.

    The first request is never ignored (§19.15); a burst of requests yields two births at most.
    """
    last = node._last_requested_rebirth
    debounce = node.config.rebirth_debounce_ms
    if last is None or now - last >= debounce:
        node._last_requested_rebirth = now
        node._pending_rebirth_at = None
        return node._births(now)
    if node._pending_rebirth_at is None:
        node._pending_rebirth_at = last + debounce
        return [Notice(f"Rebirth request deferred to {node._pending_rebirth_at} (debounce)")]
    return []
