"""CONNECT handling of a connection: version detection, refusal with the right CONNACK code per version,
the authentication hand-off to the shell, keep-alive cap, session open and CONNACK properties."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, cast

from gateway.broker.codec.decode import decode_body
from gateway.broker.codec.encode import (
    encode,
)
from gateway.broker.codec.packets import (
    Connack,
    Connect,
)
from gateway.broker.codec.properties import NO_PROPERTIES, Properties
from gateway.broker.codes import ReasonCode, v3_connack_code
from gateway.broker.connection_fields import ConnectionFields
from gateway.broker.connection_state import State
from gateway.broker.errors import ProtocolError
from gateway.broker.hooks import AuthDecision, AuthRequest, ClientIdentity
from gateway.broker.message import Message

if TYPE_CHECKING:
    from gateway.broker.connection import Connection

log = logging.getLogger(__name__)

V5 = 5


class ConnectMixin(ConnectionFields):
    """Mixin of :class:`~gateway.broker.connection.Connection`; see its module docstring."""

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

    def _response_information(self, packet: Connect) -> str | None:
        """Response Information for CONNACK: only when the client set Request Response Information to 1
        and a prefix is configured; the server may always send none [MQTT-3.1.2-28]. The client's id is
        appended, so each client gets its own response topic root (``<prefix><client id>/``)."""
        prefix = self._core.settings.response_information
        if prefix is None or packet.properties.request_response_information != 1:
            return None
        return f"{prefix}{self.client_id}/"

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
                will.topic,
                will.payload,
                will.qos,
                will.retain,
                wprops,
                expires_at,
                self.client_id,
                None,
                identity.username,
            )
        self._clean_start = packet.clean_start
        self.state = State.CONNECTED
        session, present = self._core.open_session(
            cast("Connection", self), packet.clean_start, capped_expiry, identity, now
        )
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
                response_information=self._response_information(packet),
            )
        self._write(encode(Connack(present, 0, ack_props), self.version))
        log.debug(
            "client %r connected from %s:%d (v%d)",
            self.client_id,
            self.peer_host,
            self.peer_port,
            self.version,
        )
        session.attach(cast("Connection", self), now)
        buffered = bytes(self._buffered)
        self._buffered.clear()
        self._connect = None
        if buffered:
            try:
                self._process(buffered, now)
            except ProtocolError as exc:
                self._fail(exc)
