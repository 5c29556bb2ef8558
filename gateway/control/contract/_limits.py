"""Rates and sizes both sides can rely on, so a busy plant cannot flood a client.

The daemon enforces these; clients may use them to decide when data is stale (a status older than
twice its period means the daemon stopped publishing it).
"""

from __future__ import annotations

TAG_CHANGES_MIN_INTERVAL_S = 0.5
"""At most one :class:`TagChanges` batch per device per this many seconds (<= 2 Hz)."""

TAG_CHANGES_MAX_VALUES = 500
"""At most this many tag values in one :class:`TagChanges` batch (so <= 1,000 values/s per device). A busier
device's other changes stay pending, the latest value per tag, and go out in its next batches, those
waiting longest first; :attr:`TagChanges.pending` says how many are still waiting."""

TAG_SNAPSHOT_INTERVAL_S = 5.0
"""A device's retained :class:`TagSnapshot` is refreshed at most this often (and on birth)."""

STATUS_INTERVAL_S = 1.0
"""Gateway, uplink, store, broker and device snapshots: at most once per this many seconds each,
and at least once per :data:`STATUS_HEARTBEAT_S` even when nothing changed."""

STATUS_HEARTBEAT_S = 10.0
"""Every status snapshot is republished at least this often, so its age tells liveness."""

LOG_BATCH_MIN_INTERVAL_S = 0.5
"""At most one :class:`LogBatch` per this many seconds."""

LOG_BATCH_MAX_LINES = 200
"""At most this many lines per :class:`LogBatch`; the rest are counted in ``dropped``."""

RECENT_EVENTS_LIMIT = 50
"""Events kept in the retained :class:`RecentEvents` ring."""

SWITCH_HISTORY_LIMIT = 20
"""Server switches kept in :attr:`UplinkStatus.switches`."""

BROKER_CLIENTS_LIMIT = 200
"""Clients listed in :attr:`BrokerStatus.clients`."""

BROKER_CLIENT_SUBSCRIPTIONS_LIMIT = 20
"""Subscriptions listed per client in :attr:`ClientInfo.subscription_filters`."""

BROKER_SUBSCRIPTIONS_LIMIT = 1000
"""Subscriptions listed over all clients of one :class:`BrokerStatus` (clients listed after the budget is
spent show none; their ``subscriptions`` count stays true)."""

BROKER_RETAINED_LIMIT = 200
"""Retained messages listed in :attr:`BrokerStatus.retained`."""

SPARKPLUG_RELAY_MAX_PER_S = 200
"""At most this many Sparkplug messages per second are copied to the relay topics (bucket one second
deep); the excess is counted in :attr:`UplinkStatus.relay_dropped`, never delayed."""

SPARKPLUG_RELAY_MAX_BYTES_PER_S = 1024 * 1024
"""At most this many payload bytes per second are copied to the relay topics (bucket one second deep)."""

BROWSE_CHILDREN_LIMIT = 1000
"""Children returned by one ``browse_opcua`` command."""

FETCH_LOGS_MAX = 5000
"""Largest ``limit`` of ``fetch_logs``."""
