"""The embedded broker's clients (with their subscription filters) and retained messages, in contract
types, for :meth:`gateway.app.gateway_view.DaemonView.broker_status`.

The status publisher asks for the broker snapshot on every tick (10 per second) and publishes it at most
once per ``STATUS_INTERVAL_S``, so the lists are rebuilt at most that often and the same tuples are
handed out in between: comparing an unchanged snapshot is then an identity check, not thousands of
field comparisons. Sizes are capped by the contract's limits (``BROKER_CLIENTS_LIMIT``,
``BROKER_CLIENT_SUBSCRIPTIONS_LIMIT``, ``BROKER_SUBSCRIPTIONS_LIMIT``, ``BROKER_RETAINED_LIMIT``).

The broker does not stamp retained messages with a time, so the age shown is from when this daemon
first saw each one: a retained message is recognised by its payload object (the broker stores a new one
for every retained PUBLISH, even with equal bytes), and ``since_ms`` restarts when it changes. Messages
restored from the broker's store at start are dated at the first snapshot.
"""

from __future__ import annotations

from collections.abc import Callable

from gateway.broker import Broker
from gateway.broker.service import ClientSnapshot
from gateway.control import contract as c


class BrokerLists:
    """Builds :attr:`BrokerStatus.clients` and :attr:`BrokerStatus.retained`; time is passed in.

    Args:
        refresh_s: how long built lists are reused.
        subscriptions_limit: subscriptions listed over all clients.
    """

    def __init__(
        self, refresh_s: float = c.STATUS_INTERVAL_S, subscriptions_limit: int = c.BROKER_SUBSCRIPTIONS_LIMIT
    ) -> None:
        self._refresh_s = refresh_s
        self._subscriptions_limit = subscriptions_limit
        self._built_at = -1e18
        self._clients: tuple[c.ClientInfo, ...] = ()
        self._retained: tuple[c.RetainedInfo, ...] = ()
        self._seen: dict[str, tuple[bytes, int]] = {}  # topic -> (payload object, first seen UTC ms)

    def lists(
        self, broker: Broker, now: float, wall_ms: Callable[[], int]
    ) -> tuple[tuple[c.ClientInfo, ...], tuple[c.RetainedInfo, ...]]:
        """(clients, retained) as of at most ``refresh_s`` before ``now`` (monotonic seconds)."""
        if now - self._built_at >= self._refresh_s:
            self._built_at = now
            self._clients = self._build_clients(broker)
            self._retained = self._build_retained(broker, wall_ms())
        return self._clients, self._retained

    def _build_clients(self, broker: Broker) -> tuple[c.ClientInfo, ...]:
        budget = self._subscriptions_limit
        out = []
        for snap in broker.clients(c.BROKER_CLIENTS_LIMIT, c.BROKER_CLIENT_SUBSCRIPTIONS_LIMIT):
            count = min(len(snap.subscriptions), max(0, budget))
            budget -= count
            out.append(_client_info(snap, count))
        return tuple(out)

    def _build_retained(self, broker: Broker, now_ms: int) -> tuple[c.RetainedInfo, ...]:
        seen: dict[str, tuple[bytes, int]] = {}
        out = []
        for message in broker.retained(c.BROKER_RETAINED_LIMIT):
            previous = self._seen.get(message.topic)
            same = previous is not None and previous[0] is message.payload
            since = previous[1] if previous is not None and same else now_ms
            # the payload object is kept only to recognise the message: the broker holds it anyway
            seen[message.topic] = (message.payload, since)
            out.append(c.RetainedInfo(message.topic, len(message.payload), message.qos, since))
        self._seen = seen  # topics no longer retained (or no longer listed) are forgotten
        return tuple(out)


def _client_info(snap: ClientSnapshot, count: int) -> c.ClientInfo:
    """One client, with its first ``count`` subscriptions listed."""
    filters = tuple(
        c.SubscriptionInfo(s.topic_filter, s.qos, s.no_local, s.retain_as_published, s.retain_handling)
        for s in snap.subscriptions[:count]
    )
    return c.ClientInfo(
        client_id=snap.client_id,
        username=snap.username,
        address=f"{snap.peer_host}:{snap.peer_port}",
        protocol="5" if snap.version == 5 else "3.1.1",
        keep_alive_s=snap.keep_alive_s,
        subscriptions=snap.subscription_count,
        inflight=snap.inflight,
        queued=snap.queued,
        connected_at_ms=int(snap.connected_at * 1000),
        subscription_filters=filters,
    )
