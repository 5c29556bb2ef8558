# ruff: noqa: PLR0917  (hot-path calls pass positionally: keyword arguments cost time per message)
"""The per-connection protocol core: bytes in, bytes out, no I/O.

Theory of operation
-------------------
A :class:`Connection` is created by the core for each accepted socket. The shell feeds it with
``receive_data(data, now)`` and, whenever ``on_output`` fires, writes ``take_output()`` to the socket.
The states and which packets each accepts are the table ``_ALLOWED`` below:

    AWAITING_CONNECT --CONNECT--> AUTHENTICATING --auth decided--> CONNECTED --DISCONNECT/error--> CLOSED
                    \\--anything else / deadline-----------------------------------------------> CLOSED

- First byte not CONNECT: closed at once, nothing buffered (CVE-2023-0809 / T3).
- AUTHENTICATING: ``pending_auth`` holds the request; the shell obtains an
  :class:`~gateway.broker.hooks.AuthDecision` and calls ``auth_decided``; bytes arriving meanwhile are
  buffered (bounded by the maximum packet size) and processed after the CONNACK.
- Any :class:`~gateway.broker.errors.ProtocolError`: 5.0 clients get a CONNACK (before CONNACK) or a
  DISCONNECT with its reason code; 3.1.1 clients are just closed; the Will is published ([MQTT-4.13.1-1]).

What the shell must do after each call: write ``take_output()`` (batched per loop iteration), close the
socket when ``close_requested`` is set once the output is flushed, report congestion with
``set_congested``, and call ``connection_lost`` when the socket goes away. Timers (CONNECT deadline,
keep-alive) are checked by the core's ``tick`` using ``accepted_at``/``last_rx``/``keepalive_limit``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from enum import Enum
from typing import TYPE_CHECKING

from gateway.broker.codec.decode import decode_body, parse_publish
from gateway.broker.codec.encode import (
    PINGRESP_BYTES,
    encode,
    encode_ack,
    encode_publish_parts,
    publish_first_byte,
)
from gateway.broker.codec.packets import (
    Auth,
    Connack,
    Connect,
    Disconnect,
    Packet,
    Pingreq,
    Puback,
    Pubcomp,
    Pubrec,
    Pubrel,
    Subscribe,
    Unsubscribe,
)
from gateway.broker.codec.properties import NO_PROPERTIES, Properties, encode_properties
from gateway.broker.codec.stream import FrameReader
from gateway.broker.codec.wire import encode_utf8
from gateway.broker.codes import PacketType, ReasonCode, v3_connack_code
from gateway.broker.errors import ProtocolError
from gateway.broker.hooks import AuthDecision, AuthRequest, ClientIdentity
from gateway.broker.message import Message

if TYPE_CHECKING:
    from gateway.broker.core import BrokerCore
    from gateway.broker.session import Delivery, Session

log = logging.getLogger(__name__)

V5 = 5


class State(Enum):
    AWAITING_CONNECT = "awaiting CONNECT"
    AUTHENTICATING = "authenticating"
    CONNECTED = "connected"
    CLOSED = "closed"


_CLIENT_PACKETS = frozenset(
    {
        PacketType.PUBLISH,
        PacketType.PUBACK,
        PacketType.PUBREC,
        PacketType.PUBREL,
        PacketType.PUBCOMP,
        PacketType.SUBSCRIBE,
        PacketType.UNSUBSCRIBE,
        PacketType.PINGREQ,
        PacketType.DISCONNECT,
        PacketType.AUTH,
    }
)
# Which packet types each state accepts; anything else is a protocol error (T7).
_ALLOWED: dict[State, frozenset[int]] = {
    State.AWAITING_CONNECT: frozenset({PacketType.CONNECT}),
    State.AUTHENTICATING: frozenset(),
    State.CONNECTED: _CLIENT_PACKETS,
    State.CLOSED: frozenset(),
}


class Connection:
    """Protocol state of one network connection.

    Args:
        core: the broker core (router, sessions, settings, stats).
        peer_host, peer_port: the remote address; listener: the listener's name.
        now: monotonic seconds at accept.
        peer_cert_cn: CN of a verified TLS client certificate.
    """

    __slots__ = (
        "_alias_in",
        "_alias_out",
        "_buffered",
        "_clean_start",
        "_connect",
        "_core",
        "_out",
        "_out_size",
        "_reader",
        "accepted_at",
        "client_id",
        "client_max_packet",
        "client_topic_alias_max",
        "close_requested",
        "congested",
        "keepalive_limit",
        "last_rx",
        "listener",
        "on_output",
        "peer_cert_cn",
        "peer_host",
        "peer_port",
        "pending_auth",
        "request_problem_info",
        "send_window",
        "session",
        "state",
        "use_identity_as_username",
        "version",
        "will",
        "will_delay",
    )

    def __init__(
        self,
        core: BrokerCore,
        peer_host: str,
        peer_port: int,
        listener: str,
        now: float,
        peer_cert_cn: str | None = None,
        use_identity_as_username: bool = False,
    ) -> None:
        self._core = core
        self.peer_host = peer_host
        self.peer_port = peer_port
        self.listener = listener
        self.peer_cert_cn = peer_cert_cn
        self.use_identity_as_username = use_identity_as_username
        self.accepted_at = now
        self.last_rx = now
        self.state = State.AWAITING_CONNECT
        self.version = 4
        self.client_id = ""
        self.session: Session | None = None
        self.keepalive_limit = 0.0
        self._reader = FrameReader(core.limits.max_packet_size)
        self._out: list[bytes] = []
        self._out_size = 0
        self.on_output: Callable[[], None] = _nothing
        self.close_requested = False
        self.congested = False
        self.send_window = core.limits.max_inflight_messages
        self.client_max_packet = 268_435_460
        self.client_topic_alias_max = 0
        self._alias_in: dict[int, str] = {}
        self._alias_out: dict[str, int] = {}
        self.request_problem_info = True
        self.pending_auth: AuthRequest | None = None
        self.will: Message | None = None
        self.will_delay = 0
        self._buffered = bytearray()
        self._connect: Connect | None = None
        self._clean_start = True

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

    def _close(self, reason: ReasonCode | None = None, reason_string: str | None = None) -> None:
        """Request the close; 5.0 clients get a DISCONNECT with ``reason`` first."""
        if self.close_requested:
            return
        if reason is not None and self.version == V5 and self.state is State.CONNECTED:
            props = NO_PROPERTIES
            if reason_string and self.request_problem_info:
                props = Properties(reason_string=reason_string)
            self._write(encode(Disconnect(reason, props), V5))
        self.close_requested = True
        self.on_output()

    # -- input ------------------------------------------------------------------------------------------

    def receive_data(self, data: bytes, now: float) -> None:
        """Feed bytes from the socket. Never raises: protocol errors turn into a close."""
        if self.close_requested:
            return
        self._core.stats.bytes_received += len(data)
        if self.state is State.AUTHENTICATING:
            self._buffered += data
            if len(self._buffered) > 2 * self._core.limits.max_packet_size:
                self._fail(ProtocolError("too much data sent before CONNACK", ReasonCode.PACKET_TOO_LARGE))
            return
        if self.state is State.AWAITING_CONNECT and self._reader.buffered == 0 and data and data[0] != 0x10:
            log.debug(
                "%s:%d: first packet is not CONNECT (0x%02X); closing",
                self.peer_host,
                self.peer_port,
                data[0],
            )
            self.state = State.CLOSED
            self._close()
            return
        try:
            self._process(data, now)
        except ProtocolError as exc:
            self._fail(exc)

    def _process(self, data: bytes, now: float) -> None:
        handled = False
        for first, buf, start, end in self._reader.feed(data):
            handled = True
            ptype = first >> 4
            if ptype == 3 and self.state is State.CONNECTED:
                self._on_publish_frame(first, buf, start, end, now)
            elif first == 0x40 and end - start == 2 and self.session is not None:
                # PUBACK without reason code: the QoS 1 hot path skips the packet object.
                pid = (buf[start] << 8) | buf[start + 1]
                if pid == 0:
                    raise ProtocolError("PUBACK: packet identifier 0 [MQTT-2.2.1-3]")
                self.session.on_puback(pid, now)
            else:
                if ptype not in _ALLOWED[self.state]:
                    if self.state is State.AWAITING_CONNECT:
                        self.state = State.CLOSED
                        self._close()
                        return
                    raise ProtocolError(f"{_type_name(ptype)} is not allowed {self.state.value}")
                if ptype == PacketType.CONNECT:
                    self._on_connect_bytes(first, buf, start, end, now)
                else:
                    self._dispatch(decode_body(first, buf, start, end, self.version), now)
            if self.state is State.AUTHENTICATING:
                # Keep whatever follows the CONNECT until the CONNACK is out.
                self._buffered += buf[end:]
                break
            if self.close_requested:
                break
        if handled:
            self.last_rx = now

    def _fail(self, exc: ProtocolError) -> None:
        self._core.stats.protocol_errors += 1
        log.info("client %r (%s:%d): %s", self.client_id, self.peer_host, self.peer_port, exc)
        if self.state in (State.AWAITING_CONNECT, State.AUTHENTICATING) and self.version == V5:
            self._write(encode(Connack(False, exc.reason_code), V5))
        self._close(exc.reason_code, str(exc))

    def _dispatch(self, packet: Packet, now: float) -> None:
        session = self.session
        assert session is not None
        if isinstance(packet, Puback):
            session.on_puback(packet.packet_id, now)
        elif isinstance(packet, Pubrec):
            if session.on_pubrec(packet.packet_id, packet.reason_code, now):
                if packet.reason_code < 0x80:
                    self.send_pubrel(packet.packet_id)
            elif packet.reason_code < 0x80:
                self._write(
                    encode_ack(
                        6, packet.packet_id, ReasonCode.PACKET_IDENTIFIER_NOT_FOUND, version=self.version
                    )
                )
        elif isinstance(packet, Pubcomp):
            session.on_pubcomp(packet.packet_id, now)
        elif isinstance(packet, Pubrel):
            found = packet.packet_id in session.inbound_qos2
            session.inbound_qos2.discard(packet.packet_id)
            reason = 0 if found else ReasonCode.PACKET_IDENTIFIER_NOT_FOUND
            self._write(encode_ack(7, packet.packet_id, reason, version=self.version))
        elif isinstance(packet, Subscribe):
            suback, retained_for = self._core.subscribe(self, packet)
            self._write(suback)
            self._core.send_retained(session, retained_for, now)
        elif isinstance(packet, Unsubscribe):
            self._write(self._core.unsubscribe(self, packet))
        elif isinstance(packet, Pingreq):
            self._write(PINGRESP_BYTES)
        elif isinstance(packet, Disconnect):
            self._on_disconnect(packet, now)
        elif isinstance(packet, Auth):
            # Enhanced authentication is not offered (no method accepted at CONNECT), so AUTH is a violation.
            raise ProtocolError("AUTH received but no authentication method was negotiated [MQTT-4.12.0-1]")
        else:
            raise ProtocolError(f"unexpected {type(packet).__name__}")

    # -- CONNECT ----------------------------------------------------------------------------------------

    def _on_connect_bytes(self, first: int, buf: bytes, start: int, end: int, now: float) -> None:
        if buf[start : start + 6] == b"\x00\x04MQTT" and end > start + 6 and buf[start + 6] == V5:
            self.version = V5
        try:
            packet = decode_body(first, buf, start, end, self.version)
        except ProtocolError as exc:
            if exc.reason_code == ReasonCode.UNSUPPORTED_PROTOCOL_VERSION and self.version != V5:
                self._write(encode(Connack(False, v3_connack_code(exc.reason_code)), 4))
                self.state = State.CLOSED
                self._close()
                return
            raise
        assert isinstance(packet, Connect)
        self._on_connect(packet, now)

    def _refuse(self, reason: ReasonCode, why: str) -> None:
        log.info("client %r (%s:%d) refused: %s", self.client_id, self.peer_host, self.peer_port, why)
        self._core.stats.connections_refused += 1
        code = reason if self.version == V5 else v3_connack_code(reason)
        props = NO_PROPERTIES
        if self.version == V5 and self.request_problem_info:
            props = Properties(reason_string=why)
        self._write(encode(Connack(False, code, props), self.version))
        self.state = State.CLOSED
        self._close()

    def _on_connect(self, packet: Connect, now: float) -> None:
        props = packet.properties
        self.version = packet.protocol_version
        self.client_id = packet.client_id
        if props.request_problem_information == 0:
            self.request_problem_info = False
        if props.authentication_method is not None:
            self._refuse(ReasonCode.BAD_AUTHENTICATION_METHOD, "enhanced authentication is not supported")
            return
        if not packet.client_id and self.version != V5 and not packet.clean_start:
            self._refuse(
                ReasonCode.CLIENT_IDENTIFIER_NOT_VALID, "empty client id needs clean session [MQTT-3.1.3-8]"
            )
            return
        if not self._core.connection_allowed():
            self._refuse(ReasonCode.SERVER_BUSY, "maximum number of connections reached")
            return
        self._connect = packet
        self.state = State.AUTHENTICATING
        self.pending_auth = AuthRequest(
            client_id=packet.client_id,
            username=packet.username,
            password=packet.password,
            peer_cert_cn=self.peer_cert_cn,
            peer_host=self.peer_host,
            peer_port=self.peer_port,
            listener=self.listener,
            use_identity_as_username=self.use_identity_as_username,
            protocol_version=self.version,
        )

    def auth_decided(self, decision: AuthDecision, now: float) -> None:
        """The shell's answer to ``pending_auth``: send CONNACK (or refuse) and process buffered bytes."""
        packet = self._connect
        if self.state is not State.AUTHENTICATING or packet is None:
            return
        self.pending_auth = None
        if not decision.allowed:
            reason = decision.reason_code if decision.reason_code >= 0x80 else ReasonCode.NOT_AUTHORIZED
            self._refuse(ReasonCode(reason), "not authorised")
            return
        props = packet.properties
        limits = self._core.limits
        assigned = None
        if not packet.client_id:
            assigned = self.client_id = self._core.assign_client_id()
        identity = ClientIdentity(self.client_id, decision.username, decision.roles, self.peer_host)
        # Keep-alive cap, also for 3.1.1 and for keep-alive 0 (SlowITe, T11).
        keep_alive = packet.keep_alive
        effective = keep_alive if 0 < keep_alive <= limits.max_keepalive else limits.max_keepalive
        self.keepalive_limit = effective * 1.5
        if self.version == V5:
            expiry = props.session_expiry_interval or 0
            if props.receive_maximum is not None:
                self.send_window = min(self.send_window, props.receive_maximum)
            if props.maximum_packet_size is not None:
                self.client_max_packet = props.maximum_packet_size
            self.client_topic_alias_max = props.topic_alias_maximum or 0
        else:
            expiry = 0 if packet.clean_start else 0xFFFFFFFF
        capped_expiry = min(expiry, limits.max_session_expiry)
        will = packet.will
        if will is not None:
            wprops = will.properties
            self.will_delay = wprops.will_delay_interval or 0
            expires_at = None
            if wprops.message_expiry_interval is not None:
                expires_at = now + wprops.message_expiry_interval
            if wprops.will_delay_interval is not None:
                wprops = wprops.with_changes(will_delay_interval=None)
            self.will = Message(
                will.topic, will.payload, will.qos, will.retain, wprops, expires_at, self.client_id
            )
        self._clean_start = packet.clean_start
        self.state = State.CONNECTED
        session, present = self._core.open_session(self, packet.clean_start, capped_expiry, identity, now)
        self.session = session
        ack_props = NO_PROPERTIES
        if self.version == V5:
            ack_props = Properties(
                receive_maximum=limits.receive_maximum,
                maximum_packet_size=limits.max_packet_size,
                topic_alias_maximum=limits.topic_alias_maximum,
                assigned_client_identifier=assigned,
                server_keep_alive=effective if effective != keep_alive else None,
                session_expiry_interval=capped_expiry if capped_expiry != expiry else None,
                retain_available=1,
                wildcard_subscription_available=1,
                subscription_identifier_available=1,
                shared_subscription_available=1,
            )
        self._write(encode(Connack(present, 0, ack_props), self.version))
        log.debug(
            "client %r connected from %s:%d (v%d)",
            self.client_id,
            self.peer_host,
            self.peer_port,
            self.version,
        )
        session.attach(self, now)
        buffered = bytes(self._buffered)
        self._buffered.clear()
        self._connect = None
        if buffered:
            try:
                self._process(buffered, now)
            except ProtocolError as exc:
                self._fail(exc)

    # -- PUBLISH in -------------------------------------------------------------------------------------

    def _on_publish_frame(self, first: int, buf: bytes, start: int, end: int, now: float) -> None:
        topic, topic_bytes, qos, retain, _dup, pid, props, payload_start = parse_publish(
            first, buf, start, end, self.version
        )
        payload = buf[payload_start:end]
        message = self._on_publish(topic, topic_bytes, payload, qos, retain, pid, props, now)
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
                    props = NO_PROPERTIES
        if not topic:
            raise ProtocolError("PUBLISH with an empty topic and no topic alias [MQTT-3.3.2-8]")
        session = self.session
        assert session is not None
        if qos == 2 and pid in session.inbound_qos2:
            # A resend of a QoS 2 message we already routed: acknowledge, never route twice [MQTT-4.3.3-10].
            self._write(encode_ack(5, pid, version=self.version))
            return None
        if qos == 2 and len(session.inbound_qos2) >= core.limits.receive_maximum:
            raise ProtocolError(
                "more unacknowledged QoS 2 PUBLISH than Receive Maximum", ReasonCode.RECEIVE_MAXIMUM_EXCEEDED
            )
        reason = core.check_publish(self, topic)
        if reason is not None:
            if reason == ReasonCode.TOPIC_NAME_INVALID and self.version != V5:
                raise ProtocolError(f"topic {topic[:60]!r} exceeds the topic limits", reason)
            if pid is not None:
                self._write(encode_ack(3 + qos, pid, *self._ack_reason(reason), version=self.version))
            return None
        expires_at = None if props.message_expiry_interval is None else now + props.message_expiry_interval
        message = Message(topic, payload, qos, retain, props, expires_at, self.client_id, topic_bytes)
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
        if qos == 1:
            self._write(encode_ack(4, pid, *self._ack_reason(code), version=self.version))  # type: ignore[arg-type]
        else:
            if code < 0x80:
                session.inbound_qos2.add(pid)  # type: ignore[arg-type]
            self._write(encode_ack(5, pid, *self._ack_reason(code), version=self.version))  # type: ignore[arg-type]
        return None

    def _ack_reason(self, code: int) -> tuple[int, Properties]:
        """Reason code and (5.0, failures, unless the client asked for no problem information) a reason
        string for a PUBACK/PUBREC; 3.1.1 acknowledgements carry neither."""
        if self.version != V5:
            return 0, NO_PROPERTIES
        if code < 0x80 or not self.request_problem_info:
            return code, NO_PROPERTIES
        return code, Properties(reason_string=_REASON_TEXT.get(code, "refused"))

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

    # -- DISCONNECT and loss ----------------------------------------------------------------------------

    def _on_disconnect(self, packet: Disconnect, now: float) -> None:
        session = self.session
        assert session is not None
        requested = packet.properties.session_expiry_interval
        if requested is not None:
            if session.expiry_interval == 0 and requested > 0:
                raise ProtocolError("DISCONNECT sets a Session Expiry Interval after 0 [MQTT-3.14.2-2]")
            session.expiry_interval = min(requested, self._core.limits.max_session_expiry)
        if packet.reason_code != ReasonCode.DISCONNECT_WITH_WILL:
            self.will = None  # [MQTT-3.14.4-3]: a normal DISCONNECT discards the Will
        self.state = State.CLOSED
        self._close()
        self._core.connection_closed(self, now)

    def connection_lost(self, now: float) -> None:
        """The socket is gone (reset, EOF, close after error or timeout): publish the Will, detach."""
        self.state = State.CLOSED
        self.close_requested = True
        if self.session is not None:
            self._core.connection_closed(self, now)

    def connect_deadline_passed(self) -> None:
        """No complete CONNECT (or no auth decision) within the deadline after accept (T13/T14)."""
        self._core.stats.connect_timeouts += 1
        log.info("%s:%d: no CONNECT within the deadline; closing", self.peer_host, self.peer_port)
        self.state = State.CLOSED
        self._close()

    def keepalive_expired(self) -> None:
        self._core.stats.keepalive_timeouts += 1
        log.info("client %r (%s:%d): keep-alive expired", self.client_id, self.peer_host, self.peer_port)
        self._close(ReasonCode.KEEP_ALIVE_TIMEOUT)

    def taken_over(self) -> None:
        """Another connection took this client id ([MQTT-3.1.4-3]); 5.0 clients are told 0x8E."""
        self._close(ReasonCode.SESSION_TAKEN_OVER)

    def shutdown(self) -> None:
        self._close(ReasonCode.SERVER_SHUTTING_DOWN)

    def disconnect_slow_consumer(self) -> None:
        self._core.stats.slow_consumers_disconnected += 1
        log.info(
            "client %r (%s:%d): output buffer full, disconnecting",
            self.client_id,
            self.peer_host,
            self.peer_port,
        )
        self._close(ReasonCode.QUOTA_EXCEEDED)


_REASON_TEXT: dict[int, str] = {
    ReasonCode.NOT_AUTHORIZED: "not authorised to publish to this topic",
    ReasonCode.TOPIC_NAME_INVALID: "topic exceeds the broker's topic length or level limits",
    ReasonCode.QUOTA_EXCEEDED: "retained message store is full",
}


def _nothing() -> None:
    return None


def _type_name(ptype: int) -> str:
    try:
        return PacketType(ptype).name
    except ValueError:
        return f"packet type {ptype}"
