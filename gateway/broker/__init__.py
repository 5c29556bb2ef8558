"""The embedded MQTT broker (MQTT 3.1.1 and 5.0 on the same listener).

Public surface (what the rest of the gateway and the other broker parts use)
---------------------------------------------------------------------------
- :class:`BrokerSettings` (``settings.py``): listeners (host default 127.0.0.1, port 0 = any, optional
  :class:`TlsSettings`), ``allow_anonymous`` (default False), ``password_file``, ``acl_file``, ``data_dir``,
  :class:`BrokerLimits`, ``sys_interval``, ``durable_ack``, ``response_information``. Frozen dataclasses;
  the config loader builds them.
- :class:`Broker` (``service.py``), used from a running event loop::

      broker = Broker(settings, authenticator=..., authorizer=..., persistence=...)
      await broker.start()                  # loads persistence, binds, starts timers; StartupError on failure
      broker.ports                          # bound ports, port 0 resolved
      broker.publish("gw/status", b"ok", qos=1, retain=True)        # in-process, no TCP, no ACL on publish
      handle = broker.subscribe("spBv1.0/#", callback)              # callback(BrokerMessage) on the loop
      handle.unsubscribe()
      broker.stats                          # counters (also under $SYS)
      await broker.stop()                   # 5.0 clients get DISCONNECT 0x8B; persistence flushed and closed

- Hooks (``hooks.py``, typing.Protocol) implemented by ``gateway.broker.auth`` and
  ``gateway.broker.persistence``:
  :class:`Authenticator` (AuthRequest -> AuthDecision, may be awaitable), :class:`Authorizer`
  (ClientIdentity, Action publish|subscribe|receive, topic -> bool), :class:`BrokerPersistence` (load at
  start; retained set/clear, session saved/removed, message queued/in flight/acknowledged, inbound QoS 2
  received/released, after_commit; flush; close). Defaults:
  anonymous by ``allow_anonymous``, allow-all authorizer (None), in-memory persistence.

Policies (stated here once; each is counted in ``Broker.stats`` and under ``$SYS``)
--------------------------------------------------------------------------------
- Session queues: at most ``limits.max_queued_messages`` / ``max_queued_bytes`` beyond the in-flight window;
  when full ``limits.queue_overflow`` drops the oldest queued (default) or the arriving message.
- QoS 0 to a client whose output buffer is above ``limits.output_buffer_bytes`` is dropped; at twice that
  the client is disconnected. QoS 0 is not queued for offline sessions unless ``queue_qos0_offline``.
- A message larger than a 5.0 client's Maximum Packet Size is not sent to that client [MQTT-3.1.2-25].
- More than 1024 User Properties in one packet: refused with 0x83 (parse-cost DoS guard).
- Inbound QoS 2 is routed at PUBLISH (method A) and de-duplicated by packet id until PUBREL.
- Wills: published on keep-alive expiry, network loss, protocol error, takeover, and DISCONNECT 0x04; not on a
  normal DISCONNECT nor on a clean broker stop; after the Will Delay Interval or at session end, whichever is
  first; cancelled when the client resumes its session (clean start 0) in time.
- 3.1.1 keep-alive above ``max_keepalive`` (or 0) is accepted and enforced as ``max_keepalive``; 5.0 clients
  are told the cap as Server Keep Alive.
- Persistence is write-behind: PUBACK/PUBREC is sent once the message is handed to BrokerPersistence;
  with ``BrokerSettings.durable_ack`` only after the store committed it (``after_commit``), so nothing
  acknowledged is lost on kill -9. Messages restored after a restart are sent with DUP set, since they may
  have reached the client before. The QoS 2 in-flight state is persisted [MQTT-4.4.0-1]: outgoing packet
  ids (PUBLISH resent with the same id, PUBREL resent once PUBRECed; the stored row goes at PUBCOMP) and
  incoming packet ids awaiting PUBREL (duplicates still detected after a restart).
- Retained messages carry their publisher's identity (client id, user name) and are served only while
  that publisher may still publish to the topic (re-checked on every serve: an ACL reload applies, T21).
- 5.0 Request Response Information gets ``<response_information><client id>/`` in CONNACK when
  ``BrokerSettings.response_information`` is set (default None: none is sent [MQTT-3.1.2-28]).

Inside
------
``codec/`` (sans-I/O packets), ``connection*.py`` (per-connection protocol core: state table, CONNECT,
inbound PUBLISH, output), ``session.py``, ``router.py``, ``retained.py``, ``core*.py`` (routing, wills,
expiry, limits, timers; subscriptions; restore), ``sys_topics.py``, ``server.py`` (asyncio shell),
``service.py`` (this API), ``runner.py`` (standalone command). Errors: ``errors.py``.
"""

from gateway.broker.errors import (
    BrokerError,
    BrokerNotRunning,
    LocalProtocolError,
    MalformedPacket,
    ProtocolError,
)
from gateway.broker.hooks import (
    Action,
    AuthDecision,
    Authenticator,
    Authorizer,
    AuthRequest,
    BrokerPersistence,
    ClientIdentity,
    PersistedState,
    QueuedMessage,
    StoredMessage,
    StoredSession,
    StoredSubscription,
)
from gateway.broker.local import BrokerMessage
from gateway.broker.service import Broker, LocalSubscription
from gateway.broker.settings import BrokerLimits, BrokerSettings, ListenerSettings, QueueOverflow, TlsSettings

__all__ = [
    "Action",
    "AuthDecision",
    "AuthRequest",
    "Authenticator",
    "Authorizer",
    "Broker",
    "BrokerError",
    "BrokerLimits",
    "BrokerMessage",
    "BrokerNotRunning",
    "BrokerPersistence",
    "BrokerSettings",
    "ClientIdentity",
    "ListenerSettings",
    "LocalProtocolError",
    "LocalSubscription",
    "MalformedPacket",
    "PersistedState",
    "ProtocolError",
    "QueueOverflow",
    "QueuedMessage",
    "StoredMessage",
    "StoredSession",
    "StoredSubscription",
    "TlsSettings",
]
