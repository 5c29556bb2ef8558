"""$SYS/broker/... statistics topics (names as mosquitto's, so existing dashboards work).

They are retained, published every ``sys_interval`` seconds, and never matched by '#' or '+' in the
first level ([MQTT-4.7.2-1], enforced by the router). Clients may not publish under $SYS.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from gateway import __version__

if TYPE_CHECKING:
    from gateway.broker.core import BrokerCore


def sys_messages(core: BrokerCore, now: float) -> Iterator[tuple[str, str]]:
    """(topic, value) pairs describing the broker right now."""
    stats = core.stats
    yield "$SYS/broker/version", f"edge-gateway {__version__}"
    yield "$SYS/broker/uptime", f"{int(now - stats.started_at)} seconds"
    yield "$SYS/broker/clients/connected", str(core.connected)
    yield "$SYS/broker/clients/total", str(len(core.sessions))
    yield "$SYS/broker/clients/disconnected", str(len(core.sessions) - core.connected)
    yield "$SYS/broker/connections/sockets", str(len(core.connections))
    yield "$SYS/broker/connections/refused", str(stats.connections_refused)
    yield "$SYS/broker/messages/received", str(stats.messages_received)
    yield "$SYS/broker/messages/sent", str(stats.messages_sent)
    yield "$SYS/broker/publish/messages/received", str(stats.publish_received)
    yield "$SYS/broker/publish/messages/sent", str(stats.publish_sent)
    yield "$SYS/broker/publish/messages/dropped", str(stats.dropped_total)
    yield "$SYS/broker/bytes/received", str(stats.bytes_received)
    yield "$SYS/broker/bytes/sent", str(stats.bytes_sent)
    yield "$SYS/broker/subscriptions/count", str(core.router.count)
    yield "$SYS/broker/retained messages/count", str(len(core.retained))
    yield "$SYS/broker/store/messages/count", str(sum(s.queued_count() for s in core.sessions.values()))
    yield "$SYS/broker/protocol_errors", str(stats.protocol_errors)
