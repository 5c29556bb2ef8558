"""The embedded broker as the uplink's bridge sees it (``gateway.uplink.LocalBus``).

No Local, as the LocalBus contract requires: the broker delivers in-process publishes to in-process
subscribers synchronously, inside ``Broker.publish``; while our own ``publish_local`` runs, deliveries
to our subscriptions are skipped, so a message that came down from upstream never goes back up.
"""

from __future__ import annotations

from collections.abc import Callable

from gateway.broker import Broker, BrokerMessage
from gateway.uplink import LocalMessage


class BrokerLocalBus:
    """Adapts :class:`gateway.broker.Broker` (running) to ``LocalBus``."""

    def __init__(self, broker: Broker) -> None:
        self._broker = broker
        self._publishing = False

    def publish_local(self, topic: str, payload: bytes, qos: int, retain: bool) -> None:
        self._publishing = True
        try:
            self._broker.publish(topic, payload, qos=qos, retain=retain)
        finally:
            self._publishing = False

    def subscribe_local(self, topic_filter: str, qos: int, callback: Callable[[LocalMessage], None]) -> None:
        def deliver(message: BrokerMessage) -> None:
            if not self._publishing:
                callback(LocalMessage(message.topic, message.payload, message.qos, message.retain))

        self._broker.subscribe(topic_filter, deliver, qos=qos)
