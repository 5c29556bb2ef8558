"""In-process subscribers: the gateway's own parts receive messages through a callback, without TCP."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from gateway.broker.codec.properties import NO_PROPERTIES, Properties
from gateway.broker.hooks import ClientIdentity
from gateway.broker.message import Message

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class BrokerMessage:
    """A message as an in-process subscriber sees it."""

    topic: str
    payload: bytes
    qos: int
    retain: bool
    properties: Properties = NO_PROPERTIES


MessageCallback = Callable[[BrokerMessage], None]


class LocalSubscriber:
    """One :meth:`Broker.subscribe` registration; routed like a session that is always online.

    The callback runs on the event loop, inside the routing pass of the publisher: it must be quick and
    must not block (hand work to a queue or task). An exception in it is logged and counted, and does not
    disturb delivery to the other subscribers.
    """

    __slots__ = ("callback", "client_id", "errors", "identity", "topic_filter")

    def __init__(self, client_id: str, topic_filter: str, callback: MessageCallback) -> None:
        self.client_id = client_id
        self.topic_filter = topic_filter
        self.callback = callback
        self.identity = ClientIdentity(client_id, None, internal=True)
        self.errors = 0

    @property
    def online(self) -> bool:
        return True

    def deliver(
        self,
        message: Message,
        qos: int,
        retain: bool,
        sub_ids: tuple[int, ...],
        now: float,
    ) -> None:
        props = message.forward_properties(now) if message.expires_at is not None else message.properties
        try:
            self.callback(BrokerMessage(message.topic, message.payload, qos, retain, props))
        except Exception:
            # The top of a foreign callback: log with context, count, keep routing to the others.
            self.errors += 1
            log.exception(
                "local subscriber %s (%s) failed on %r", self.client_id, self.topic_filter, message.topic
            )
