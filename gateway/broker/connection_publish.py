# ruff: noqa: PLR0917  (hot-path calls pass positionally: keyword arguments cost time per message)
"""Incoming PUBLISH of a connection: topic aliases, QoS 2 duplicate detection and Receive Maximum,
limits and ACL, routing, and the acknowledgement with its 5.0 reason code and reason string."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, cast

from gateway.broker.codec.decode import parse_publish
from gateway.broker.codec.encode import (
    encode_ack,
)
from gateway.broker.codec.properties import NO_PROPERTIES, Properties
from gateway.broker.codec.wire import encode_utf8
from gateway.broker.codes import ReasonCode
from gateway.broker.connection_fields import ConnectionFields
from gateway.broker.connection_state import State
from gateway.broker.errors import ProtocolError
from gateway.broker.message import Message

if TYPE_CHECKING:
    from gateway.broker.connection import Connection

log = logging.getLogger(__name__)

V5 = 5


class InboundPublishMixin(ConnectionFields):
    """Mixin of :class:`~gateway.broker.connection.Connection`; see its module docstring."""

    # -- PUBLISH in -------------------------------------------------------------------------------------

    def _on_publish_frame(self, first: int, buf: bytes, start: int, end: int, now: float) -> None:
        topic, topic_bytes, qos, retain, dup, pid, props, payload_start = parse_publish(
            first, buf, start, end, self.version
        )
        payload = buf[payload_start:end]
        message = self._on_publish(topic, topic_bytes, payload, qos, retain, pid, props, now, dup)
        if message is None:
            return
        if props is NO_PROPERTIES:
            # The PUBLISH as received (QoS 0, retain 0, no properties) is byte for byte what a subscriber of
            # the same protocol level gets: share it instead of re-encoding (minimal RL encoding is enforced).
            length = end - start
            header = 2 if length < 128 else 3 if length < 16_384 else 4 if length < 2_097_152 else 5
            frame = buf[start - header : end] if start - header > 0 or end < len(buf) else buf
            if self.version == V5:
                message.enc_qos0_v5 = frame
            else:
                message.enc_qos0_v4 = frame
        self._core.publish(message, now)

    def _on_publish(
        self,
        topic: str,
        topic_bytes: bytes,
        payload: bytes,
        qos: int,
        retain: bool,
        pid: int | None,
        props: Properties,
        now: float,
        dup: bool = False,
    ) -> Message | None:
        """Validate and route (QoS 1/2 and retained) or return the Message for the caller to route (QoS 0
        not retained, so it can attach the received bytes first). Sends the acknowledgement."""
        core = self._core
        core.stats.publish_received += 1
        if self.version == V5 and props is not NO_PROPERTIES:
            if props.subscription_identifiers:
                raise ProtocolError("PUBLISH from a client with a Subscription Identifier [MQTT-3.3.4-6]")
            alias = props.topic_alias
            if alias is not None:
                if alias == 0 or alias > core.limits.topic_alias_maximum:
                    raise ProtocolError(
                        f"topic alias {alias} outside 1..{core.limits.topic_alias_maximum}",
                        ReasonCode.TOPIC_ALIAS_INVALID,
                    )
                if topic:
                    self._alias_in[alias] = topic
                else:
                    known = self._alias_in.get(alias)
                    if known is None:
                        raise ProtocolError(f"unknown topic alias {alias} with an empty topic [MQTT-3.3.2-8]")
                    topic = known
                    topic_bytes = encode_utf8(topic)
                props = props.with_changes(topic_alias=None)
                if props == NO_PROPERTIES:
                    props = NO_PROPERTIES  # the shared instance: later ``is NO_PROPERTIES`` fast paths apply
        if not topic:
            raise ProtocolError("PUBLISH with an empty topic and no topic alias [MQTT-3.3.2-8]")
        session = self.session
        assert session is not None
        if qos == 2 and pid in session.inbound_qos2:
            if dup or pid not in session.inbound_restored:
                # A resend of a QoS 2 message we already routed: acknowledge, never route twice
                # [MQTT-4.3.3-10].
                self._send_ack(encode_ack(5, pid, version=self.version))
                return None
            # A packet id restored from the store, now on a PUBLISH without DUP: a client reuses an id only
            # after PUBCOMP and sets DUP on every resend [MQTT-3.3.1-1], so this is a new message and the
            # stored id is stale (its PUBREL was handled in the last write-behind window before a crash).
            session.inbound_qos2.discard(pid)
            session.inbound_restored.discard(pid)
        if qos == 2 and len(session.inbound_qos2) >= core.limits.receive_maximum:
            raise ProtocolError(
                "more unacknowledged QoS 2 PUBLISH than Receive Maximum", ReasonCode.RECEIVE_MAXIMUM_EXCEEDED
            )
        reason = core.check_publish(cast("Connection", self), topic)
        if reason is not None:
            if reason == ReasonCode.TOPIC_NAME_INVALID and self.version != V5:
                raise ProtocolError(f"topic {topic[:60]!r} exceeds the topic limits", reason)
            if pid is not None:
                self._send_ack(encode_ack(3 + qos, pid, *self._ack_reason(reason), version=self.version))
            return None
        expires_at = None if props.message_expiry_interval is None else now + props.message_expiry_interval
        user = session.identity.username
        message = Message(topic, payload, qos, retain, props, expires_at, self.client_id, topic_bytes, user)
        if qos == 0 and not retain:
            return message
        matched = core.publish(message, now)
        if qos == 0:
            return None
        if matched < 0:
            code = ReasonCode.QUOTA_EXCEEDED if self.version == V5 else 0
        elif matched == 0 and self.version == V5:
            code = ReasonCode.NO_MATCHING_SUBSCRIBERS
        else:
            code = 0
        assert pid is not None
        if qos == 1:
            self._send_ack(encode_ack(4, pid, *self._ack_reason(code), version=self.version))
        else:
            if code < 0x80:
                session.inbound_qos2.add(pid)
                if session.persistent:
                    # Duplicate detection must survive a restart too [MQTT-4.4.0-1]; handed over before the
                    # PUBREC, so it is as durable as that acknowledgement.
                    core.persistence.inbound_qos2_received(session.client_id, pid)
            self._send_ack(encode_ack(5, pid, *self._ack_reason(code), version=self.version))
        return None

    def _send_ack(self, data: bytes) -> None:
        """Send a PUBACK/PUBREC: at once, or (``durable_ack``) once the store has committed every change
        handed over so far, this PUBLISH's included. Every acknowledgement of the connection takes the same
        path, so they keep the order of the PUBLISH packets [MQTT-4.6.0-2]."""
        if not self._core.settings.durable_ack:
            self._write(data)
            return

        def committed() -> None:
            if not self.close_requested and self.state is State.CONNECTED:
                self._write(data)

        self._core.persistence.after_commit(committed)

    def _ack_reason(self, code: int) -> tuple[int, Properties]:
        """Reason code and (5.0, failures, unless the client asked for no problem information) a reason
        string for a PUBACK/PUBREC; 3.1.1 acknowledgements carry neither."""
        if self.version != V5:
            return 0, NO_PROPERTIES
        if code < 0x80 or not self.request_problem_info:
            return code, NO_PROPERTIES
        return code, Properties(reason_string=_REASON_TEXT.get(code, "refused"))


_REASON_TEXT: dict[int, str] = {
    ReasonCode.NOT_AUTHORIZED: "not authorised to publish to this topic",
    ReasonCode.TOPIC_NAME_INVALID: "topic exceeds the broker's topic length or level limits",
    ReasonCode.QUOTA_EXCEEDED: "retained message store is full",
}
