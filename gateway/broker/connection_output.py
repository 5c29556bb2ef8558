# ruff: noqa: PLR0917  (hot-path calls pass positionally: keyword arguments cost time per message)
"""Outgoing side of a connection: the output queue, congestion, and PUBLISH encoding (shared QoS 0
bytes, packet ids, outbound topic aliases [MQTT-3.3.2-9], the client's Maximum Packet Size)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from gateway.broker.codec.encode import (
    encode_ack,
    encode_publish_parts,
    publish_first_byte,
)
from gateway.broker.codec.properties import encode_properties
from gateway.broker.connection_fields import ConnectionFields
from gateway.broker.message import Message

if TYPE_CHECKING:
    from gateway.broker.session import Delivery

log = logging.getLogger(__name__)

V5 = 5


class OutputMixin(ConnectionFields):
    """Mixin of :class:`~gateway.broker.connection.Connection`; see its module docstring."""

    # -- output -----------------------------------------------------------------------------------------

    def _write(self, data: bytes) -> None:
        out = self._out
        out.append(data)
        self._out_size += len(data)
        if len(out) == 1:
            self.on_output()

    def take_output(self) -> list[bytes]:
        """Everything queued for the socket since the last call, in order."""
        out = self._out
        if not out:
            return out
        self._out = []
        self._core.stats.bytes_sent += self._out_size
        self._out_size = 0
        return out

    @property
    def has_output(self) -> bool:
        return bool(self._out)

    def set_congested(self, congested: bool, now: float) -> None:
        """The shell's output buffer crossed its high (True) or low (False) water mark."""
        self.congested = congested
        if not congested and self.session is not None:
            self.session.pump(now)

    # -- PUBLISH out ------------------------------------------------------------------------------------

    def send_qos0(self, message: Message, retain: bool, sub_ids: tuple[int, ...], now: float) -> None:
        """Send a QoS 0 message, or drop it (counted) if this client is congested. The plain case (retain 0,
        no subscription identifier, no alias, no expiry) shares one encoding per protocol level."""
        stats = self._core.stats
        if self.congested:
            stats.dropped_qos0 += 1
            return
        if retain or sub_ids or self.client_topic_alias_max or message.expires_at is not None:
            data = self._encode_publish(message, 0, retain, False, None, sub_ids, now)
        elif self.version == V5:
            cached = message.enc_qos0_v5
            if cached is None:
                cached = message.enc_qos0_v5 = self._encode_publish(message, 0, False, False, None, (), now)
            data = cached
        else:
            cached = message.enc_qos0_v4
            if cached is None:
                cached = message.enc_qos0_v4 = self._encode_publish(message, 0, False, False, None, (), now)
            data = cached
        if len(data) > self.client_max_packet:
            stats.dropped_too_large += 1
            return
        stats.publish_sent += 1
        self._write(data)

    def send_publish(self, delivery: Delivery, dup: bool, now: float) -> bool:
        """Send a QoS 1/2 delivery with its packet id; False if too large for this client."""
        data = self._encode_publish(
            delivery.message, delivery.qos, delivery.retain, dup, delivery.pid, delivery.sub_ids, now
        )
        if len(data) > self.client_max_packet:
            self._core.stats.dropped_too_large += 1
            return False
        self._core.stats.publish_sent += 1
        self._write(data)
        return True

    def send_pubrel(self, pid: int) -> None:
        self._write(encode_ack(6, pid, version=self.version))

    def _encode_publish(
        self,
        message: Message,
        qos: int,
        retain: bool,
        dup: bool,
        pid: int | None,
        sub_ids: tuple[int, ...],
        now: float,
    ) -> bytes:
        first = publish_first_byte(qos, retain, dup)
        if self.version != V5:
            return encode_publish_parts(first, message.topic_bytes, pid, None, message.payload)
        if self.client_topic_alias_max:
            return self._encode_with_alias(first, message, pid, sub_ids, now)
        return encode_publish_parts(
            first, message.topic_bytes, pid, message.props_bytes(now, sub_ids), message.payload
        )

    def _encode_with_alias(
        self, first: int, message: Message, pid: int | None, sub_ids: tuple[int, ...], now: float
    ) -> bytes:
        """Outbound topic aliases up to the client's Topic Alias Maximum [MQTT-3.3.2-9]."""
        aliases = self._alias_out
        alias = aliases.get(message.topic)
        topic_bytes = message.topic_bytes
        if alias is not None:
            topic_bytes = b"\x00\x00"
        elif len(aliases) < self.client_topic_alias_max:
            alias = aliases[message.topic] = len(aliases) + 1
        if alias is None:
            return encode_publish_parts(
                first, topic_bytes, pid, message.props_bytes(now, sub_ids), message.payload
            )
        props = message.forward_properties(now, sub_ids).with_changes(topic_alias=alias)
        return encode_publish_parts(first, topic_bytes, pid, encode_properties(props), message.payload)
