"""Exceptions of the embedded broker.

    BrokerError                      base of everything raised by gateway.broker
     +-- ProtocolError               the peer broke MQTT; carries the reason code to send back
     |    +-- MalformedPacket        bytes that cannot be a valid packet (0x81)
     |    +-- PacketTooLarge         a packet above the negotiated Maximum Packet Size (0x95)
     +-- LocalProtocolError          we were asked to encode or do something illegal (a bug on our side)
     +-- BrokerNotRunning            the in-process API was used before start() or after stop()

A :class:`ProtocolError` leaves the connection that raised it in a terminal state: the protocol core sends
the DISCONNECT (5.0) or just closes (3.1.1), and the session's Will is published as for a network loss
([MQTT-4.13.1-1]). Mirrors h11's RemoteProtocolError / LocalProtocolError split.
"""

from __future__ import annotations

from gateway.broker.codes import ReasonCode


class BrokerError(Exception):
    """Base class of the broker's exceptions."""


class ProtocolError(BrokerError):
    """The peer broke the protocol.

    Args:
        message: what was wrong and where (packet type, field).
        reason_code: the MQTT 5.0 reason code to put in the DISCONNECT or CONNACK.
    """

    def __init__(self, message: str, reason_code: ReasonCode = ReasonCode.PROTOCOL_ERROR) -> None:
        super().__init__(message)
        self.reason_code = reason_code


class MalformedPacket(ProtocolError):  # noqa: N818 (names from the MQTT spec / test catalogue)
    """The bytes cannot be a valid packet: bad lengths, flags, UTF-8, property ids or duplicates."""

    def __init__(self, message: str) -> None:
        super().__init__(message, ReasonCode.MALFORMED_PACKET)


class PacketTooLarge(ProtocolError):  # noqa: N818 (names from the MQTT spec / test catalogue)
    """A packet whose Remaining Length exceeds the Maximum Packet Size we announced."""

    def __init__(self, message: str) -> None:
        super().__init__(message, ReasonCode.PACKET_TOO_LARGE)


class LocalProtocolError(BrokerError):
    """We were asked to encode an invalid packet or to break the protocol ourselves."""


class BrokerNotRunning(BrokerError):  # noqa: N818 (names from the MQTT spec / test catalogue)
    """The in-process API was called while the broker is not started."""
