# ruff: noqa: PLR0917  (hot-path calls pass positionally: keyword arguments cost time per message)
"""The per-connection protocol core: bytes in, bytes out, no I/O.

Theory of operation
-------------------
A :class:`Connection` is created by the core for each accepted socket. The shell feeds it with
``receive_data(data, now)`` and, whenever ``on_output`` fires, writes ``take_output()`` to the socket.
The states and which packets each accepts are the table ``_ALLOWED`` in :mod:`.connection_state`:

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

The class is assembled from one mixin per concern: :mod:`.connection_connect` (CONNECT and the auth
hand-off), :mod:`.connection_publish` (incoming PUBLISH), :mod:`.connection_output` (output queue and
PUBLISH encoding); this module keeps framing, dispatch, DISCONNECT and the end of the connection.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from gateway.broker.codec.decode import decode_body
from gateway.broker.codec.encode import (
    PINGRESP_BYTES,
    encode,
    encode_ack,
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
from gateway.broker.codec.properties import NO_PROPERTIES, Properties
from gateway.broker.codec.stream import FrameReader
from gateway.broker.codes import PacketType, ReasonCode
from gateway.broker.connection_connect import ConnectMixin
from gateway.broker.connection_output import OutputMixin
from gateway.broker.connection_publish import InboundPublishMixin
from gateway.broker.connection_state import _ALLOWED, State
from gateway.broker.errors import ProtocolError
from gateway.broker.hooks import AuthRequest
from gateway.broker.message import Message

if TYPE_CHECKING:
    from gateway.broker.core import BrokerCore
    from gateway.broker.session import Session

log = logging.getLogger(__name__)

V5 = 5


class Connection(ConnectMixin, InboundPublishMixin, OutputMixin):
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
            if found:
                session.inbound_qos2.discard(packet.packet_id)
                session.inbound_restored.discard(packet.packet_id)
                if session.persistent:
                    self._core.persistence.inbound_qos2_released(self.client_id, packet.packet_id)
            reason = 0 if found else ReasonCode.PACKET_IDENTIFIER_NOT_FOUND
            # With durable_ack the PUBCOMP too waits for the commit: the client may reuse the packet id
            # once it has it, and a release lost in a crash would make that new message look like a resend.
            self._send_ack(encode_ack(7, packet.packet_id, reason, version=self.version))
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


def _nothing() -> None:
    return None


def _type_name(ptype: int) -> str:
    try:
        return PacketType(ptype).name
    except ValueError:
        return f"packet type {ptype}"
