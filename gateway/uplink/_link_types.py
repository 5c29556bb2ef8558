"""Values that cross the boundary of one upstream connection (``PahoLink``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class WillMessage:
    """A Will (or any single message), e.g. the Sparkplug NDEATH with this connection's bdSeq."""

    topic: str
    payload: bytes
    qos: int = 1
    retain: bool = False


@dataclass(frozen=True, slots=True)
class ConnectionInfo:
    """What CONNACK told us.

    Attributes:
        server: ``ServerSettings.name``.
        keepalive: effective keep-alive in seconds (5.0 Server Keep Alive wins over ours).
        receive_maximum: how many QoS>0 PUBLISHes may be unacknowledged (5.0; 65535 on 3.1.1).
        session_present: the CONNACK flag (always false for us: clean session).
    """

    server: str
    keepalive: int
    receive_maximum: int
    session_present: bool


@dataclass(frozen=True, slots=True)
class InboundMessage:
    topic: str
    payload: bytes
    qos: int
    retain: bool


AckCallback = Callable[[bool], None]
"""Called on the loop when a QoS>0 publish is acknowledged; the argument is ``True`` if the server
accepted it (5.0 PUBACK reason < 0x80), ``False`` if it refused it."""
