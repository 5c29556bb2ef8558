"""The embedded MQTT broker (MQTT 3.1.1 and 5.0 on the same listener).

Public surface (what the rest of the gateway and the other broker parts use)
---------------------------------------------------------------------------
- :class:`BrokerSettings` (``settings.py``): listeners (host default 127.0.0.1, port 0 = any, optional
  :class:`TlsSettings`), ``allow_anonymous`` (default False), ``password_file``, ``acl_file``, ``data_dir``,
  :class:`BrokerLimits`, ``sys_interval``. Frozen dataclasses; the config loader builds them.
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
  start; retained set/clear, session saved/removed, message queued/acknowledged; flush; close). Defaults:
  anonymous by ``allow_anonymous``, allow-all authorizer (None), in-memory persistence.

Inside
------
``codec/`` (sans-I/O packets), ``connection.py`` (per-connection protocol core), ``session.py``,
``router.py``, ``retained.py``, ``core.py`` (routing, wills, expiry, limits, timers), ``sys_topics.py``,
``server.py`` (asyncio shell), ``service.py`` (this API). Errors: ``errors.py``.
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
