"""The connection state machine as data: the states and which packet types each accepts (T7).

AWAITING_CONNECT --CONNECT--> AUTHENTICATING --auth decided--> CONNECTED --DISCONNECT/error--> CLOSED
"""

from __future__ import annotations

from enum import Enum

from gateway.broker.codes import PacketType


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
