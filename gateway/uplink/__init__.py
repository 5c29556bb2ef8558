"""The uplink: connections to upstream MQTT servers, failover, store-and-forward, bridging.

Public surface, as the daemon wires it (each module's docstring states the contract):

- :class:`Uplink` (``_uplink``): the failover supervisor; ``run()`` task, ``stop()``,
  ``request_next_server()``, ``status()`` -> :class:`UplinkStatus` with :class:`SwitchRecord` history.
- :class:`UplinkSession` (protocol) and :class:`ForwardingSession`: what runs on a healthy connection;
  the Sparkplug edge-node session implements the protocol around the ``sparkplug`` core.
- :class:`Forwarder`: live publishing + store-and-forward through a :class:`Backlog` (``MessageStore``
  satisfies it), paced drain (:class:`DrainPacing`), ``status()`` -> :class:`ForwarderStatus`.
- :class:`PahoLink`: one connection (paho in its own thread, our dead-link watchdog).
- settings: :class:`ServerSettings`, :class:`TlsSettings`, :class:`FailoverSettings`, :class:`MqttVersion`.
"""

from gateway.uplink._backlog import (
    Backlog,
    BacklogRecord,
    OutboundMessage,
    RecordKind,
    ReplayDeferredError,
    ReplayEncoder,
    ReplayPublish,
    replay_as_is,
)
from gateway.uplink._config import FailoverSettings, MqttVersion, ServerSettings, TlsSettings
from gateway.uplink._exceptions import (
    BridgeRuleError,
    ConnectRefusedError,
    ConnectTimeoutError,
    CredentialsRejectedError,
    LinkClosedError,
    LinkError,
    UplinkError,
)
from gateway.uplink._failover import FailoverPlan, SwitchReason, SwitchRecord
from gateway.uplink._forwarder import Delivery, Forwarder, ForwarderStatus, Publisher
from gateway.uplink._link import ConnectionInfo, InboundMessage, PahoLink, WillMessage
from gateway.uplink._pacing import DrainPacer, DrainPacing
from gateway.uplink._primary_host import HostVerdict, PrimaryHostGate
from gateway.uplink._session import ForwardingSession, Leave, UplinkSession
from gateway.uplink._uplink import Uplink, UplinkState, UplinkStatus

__all__ = [
    "Backlog",
    "BacklogRecord",
    "BridgeRuleError",
    "ConnectRefusedError",
    "ConnectTimeoutError",
    "ConnectionInfo",
    "CredentialsRejectedError",
    "Delivery",
    "DrainPacer",
    "DrainPacing",
    "FailoverPlan",
    "FailoverSettings",
    "Forwarder",
    "ForwarderStatus",
    "ForwardingSession",
    "HostVerdict",
    "InboundMessage",
    "Leave",
    "LinkClosedError",
    "LinkError",
    "MqttVersion",
    "OutboundMessage",
    "PahoLink",
    "PrimaryHostGate",
    "Publisher",
    "RecordKind",
    "ReplayDeferredError",
    "ReplayEncoder",
    "ReplayPublish",
    "ServerSettings",
    "SwitchReason",
    "SwitchRecord",
    "TlsSettings",
    "Uplink",
    "UplinkError",
    "UplinkSession",
    "UplinkState",
    "UplinkStatus",
    "WillMessage",
    "replay_as_is",
]
