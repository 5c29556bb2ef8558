"""The edge-node session states and their transition table (theory of operation: sparkplug.edge_node).

:data:`TRANSITIONS` is the authority: ``EdgeNode._go(trigger)`` looks the next state up here, and a
(state, trigger) pair that is missing is a caller bug (:class:`~sparkplug.errors.EdgeNodeUsageError`).
"""

from __future__ import annotations

from enum import Enum


class SessionState(Enum):
    DISCONNECTED = "disconnected"  # no MQTT connection
    CONNECTING = "connecting"  # CONNECT with our Will sent, waiting for CONNACK
    SUBSCRIBING = "subscribing"  # CONNACK in, waiting for every SUBACK
    WAITING_FOR_HOST = "waiting_for_host"  # subscribed; primary host not seen online yet (§9)
    ONLINE = "online"  # NBIRTH and DBIRTHs out; DATA flows
    DISCONNECTING = "disconnecting"  # we asked the shell to disconnect; waiting for Disconnected


class Trigger(Enum):
    CONNECT = "connect"
    CONNACK = "connack"
    WAIT_FOR_HOST = "wait_for_host"
    BIRTH = "birth"
    LEAVE = "leave"
    LOST = "lost"


_S = SessionState
#: (state, trigger) -> next state. Anything missing is illegal and raises EdgeNodeUsageError.
TRANSITIONS: dict[tuple[SessionState, Trigger], SessionState] = {
    (_S.DISCONNECTED, Trigger.CONNECT): _S.CONNECTING,
    (_S.CONNECTING, Trigger.CONNACK): _S.SUBSCRIBING,
    (_S.SUBSCRIBING, Trigger.WAIT_FOR_HOST): _S.WAITING_FOR_HOST,
    (_S.SUBSCRIBING, Trigger.BIRTH): _S.ONLINE,
    (_S.WAITING_FOR_HOST, Trigger.BIRTH): _S.ONLINE,
    (_S.ONLINE, Trigger.BIRTH): _S.ONLINE,  # rebirth
    **{(state, Trigger.LEAVE): _S.DISCONNECTING for state in (_S.CONNECTING, _S.SUBSCRIBING)},
    **{(state, Trigger.LEAVE): _S.DISCONNECTING for state in (_S.WAITING_FOR_HOST, _S.ONLINE)},
    **{(state, Trigger.LOST): _S.DISCONNECTED for state in SessionState},
}

CONNECTED_STATES = frozenset({_S.SUBSCRIBING, _S.WAITING_FOR_HOST, _S.ONLINE})
