"""Broker counters, published under $SYS and readable in-process (``Broker.stats``)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class BrokerStats:
    """Monotonic counters since start (mutable; the core bumps them on the hot path)."""

    started_at: float = 0.0
    connections_accepted: int = 0
    connections_refused: int = 0
    """Refused before CONNECT (caps, rate) or at CONNACK (auth, busy)."""
    messages_received: int = 0
    messages_sent: int = 0
    publish_received: int = 0
    publish_sent: int = 0
    bytes_received: int = 0
    bytes_sent: int = 0
    dropped_qos0: int = 0
    """QoS 0 messages a congested client lost (its output buffer was above the limit)."""
    dropped_queue_full: int = 0
    dropped_offline_qos0: int = 0
    dropped_expired: int = 0
    dropped_too_large: int = 0
    """Messages larger than a client's Maximum Packet Size, not sent to that client [MQTT-3.1.2-25]."""
    dropped_not_authorized: int = 0
    protocol_errors: int = 0
    keepalive_timeouts: int = 0
    connect_timeouts: int = 0
    slow_consumers_disconnected: int = 0
    wills_published: int = 0
    retained_rejected: int = 0
    subscriptions_rejected: int = 0

    @property
    def dropped_total(self) -> int:
        return (
            self.dropped_qos0
            + self.dropped_queue_full
            + self.dropped_offline_qos0
            + self.dropped_expired
            + self.dropped_too_large
            + self.dropped_not_authorized
        )
