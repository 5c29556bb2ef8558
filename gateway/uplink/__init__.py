"""The uplink: connections to upstream MQTT servers, failover, store-and-forward, bridging.

Public surface, as the daemon wires it (each module's docstring states the contract):

- :class:`Uplink` (``_uplink``): the failover supervisor; ``run()`` task, ``stop()``,
  ``request_next_server()``, ``status()`` -> :class:`UplinkStatus` with :class:`SwitchRecord` history.
- :class:`UplinkSession` (protocol) and :class:`ForwardingSession`: what runs on a healthy connection;
  the Sparkplug edge-node session implements the protocol around the ``sparkplug`` core.
- :class:`Forwarder`: live publishing + store-and-forward through a :class:`Backlog` (``MessageStore``
  satisfies it), paced drain (:class:`DrainPacing`), ``status()`` -> :class:`ForwarderStatus`.
- :class:`SparkplugSession`: the edge-node session (``sparkplug.EdgeNode`` shell): ``metrics_changed``,
  ``device_online``, ``device_offline``; it installs its replay encoder on the forwarder.
- :class:`Bridge` with :class:`BridgeRule`: plain MQTT topics between a :class:`LocalBus` and upstream.
- :class:`PahoLink`: one connection (paho in its own thread, our dead-link watchdog).
- settings: :class:`ServerSettings`, :class:`TlsSettings`, :class:`FailoverSettings`, :class:`MqttVersion`.

Wiring, as the daemon does it (inside its event loop)::

    store = MessageStore(data_dir / "store-and-forward.sqlite3", limits=StoreLimits(...))
    await store.open()                                   # never raises for a bad file: see status()
    forwarder = Forwarder(store, pacing=DrainPacing(...))    # MessageStore satisfies Backlog
    bdseq = BdSeqStore(data_dir / "bdseq")
    node = EdgeNode(edge_config, next_bd_seq=bdseq.load())
    bridge = Bridge(rules, local_bus, forwarder)         # local_bus: the embedded broker's LocalBus adapter
    session = SparkplugSession(node, forwarder, bdseq, on_action=apply_write_or_reboot,
                               extra_subscriptions=bridge.upstream_subscriptions(),
                               on_inbound=bridge.on_upstream)
    uplink = Uplink(servers, session, failover, on_switch=publish_switch_to_control_plane)
    bridge.start()
    task = asyncio.create_task(uplink.run())
    ...  session.metrics_changed(device_id, samples)   # from the tag model; await the future to be durable
    ...  await uplink.stop(); await task; await forwarder.aclose(); await store.close()
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
from gateway.uplink._bridge import (
    Bridge,
    BridgeRule,
    BridgeStatus,
    Direction,
    LocalBus,
    LocalMessage,
    RetainPolicy,
    topic_matches,
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
from gateway.uplink._link import PahoLink
from gateway.uplink._link_types import ConnectionInfo, InboundMessage, WillMessage
from gateway.uplink._pacing import DrainPacer, DrainPacing
from gateway.uplink._primary_host import HostVerdict, PrimaryHostGate
from gateway.uplink._session import ForwardingSession, Leave, UplinkSession
from gateway.uplink._sparkplug_session import SparkplugSession
from gateway.uplink._uplink import Uplink, UplinkState, UplinkStatus

__all__ = [
    "Backlog",
    "BacklogRecord",
    "Bridge",
    "BridgeRule",
    "BridgeRuleError",
    "BridgeStatus",
    "ConnectRefusedError",
    "ConnectTimeoutError",
    "ConnectionInfo",
    "CredentialsRejectedError",
    "Delivery",
    "Direction",
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
    "LocalBus",
    "LocalMessage",
    "MqttVersion",
    "OutboundMessage",
    "PahoLink",
    "PrimaryHostGate",
    "Publisher",
    "RecordKind",
    "ReplayDeferredError",
    "ReplayEncoder",
    "ReplayPublish",
    "RetainPolicy",
    "ServerSettings",
    "SparkplugSession",
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
    "topic_matches",
]
