"""A subscription that hands over each publish response's data changes as one batch.

asyncua 2.1's ``Subscription`` in iterator mode turns every MonitoredItemNotification of a publish
response into two objects (``DataChangeNotif``, ``DataChangeEvent``) and one ``asyncio.Queue``
put, and the consumer then takes them out one ``get`` at a time: with 1,000 monitored items that
was about as much CPU as decoding the response itself, spent before the first sample left the
driver (measured 2026-11-26, benchmarks/README.md). This subclass overrides only
``publish_callback``: the notifications of a response go onto the queue as one list, which the
driver converts to samples in one pass. Everything else (monitored item creation, ``recreate``,
``delete`` and its end-of-stream sentinel, ``is_stale``) is asyncua's. Republished messages
(:mod:`drivers.opcua._resume`) go through the same callback.

``publish_callback`` keeps the two fields the base class maintains and the driver relies on:
``last_publish_at`` (staleness watchdog, catalogue T56) and ``last_sequence_number`` (which
messages to republish after a re-activation, T54a).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from typing import Any

from drivers.opcua import _lazy as lazy

log = logging.getLogger(__name__)

MAX_QUEUED_RESPONSES = 256  # publish responses waiting for the consumer; the oldest is dropped beyond


async def create_batch_subscription(client: Any, params: Any) -> Any:
    """Create a subscription on ``client``'s session, as ``Client.create_subscription`` does
    (including its keep-alive adjustment when the server revises the publishing interval), but of
    the batching class. Not registered with the client's own reconnect machinery: the driver stops
    that and restores subscriptions itself (:mod:`drivers.opcua._session`)."""
    sub = _batch_class()(client.uaclient.session, params)
    results = await sub.init()
    revised = client.get_subscription_revised_params(params, results)
    if revised is not None:
        await sub.update(revised)
    return sub


def revised_publishing_interval(sub: Any) -> float | None:
    """The publishing interval the server granted, seconds (``None`` before it answered)."""
    granted = getattr(sub, "revised_publishing_interval_ms", None)
    return None if granted is None else float(granted) / 1000


@functools.cache
def _batch_class() -> type:
    from asyncua.common.subscription import OverflowPolicy, Subscription

    ua = lazy.ua()

    class BatchSubscription(Subscription):
        """Queue items are lists of ``ua.MonitoredItemNotification`` (one per publish response),
        then ``None`` once deleted. ``dropped`` counts notifications lost to a full queue."""

        def __init__(self, session: Any, params: Any) -> None:
            super().__init__(
                session, params, None, queue_maxsize=MAX_QUEUED_RESPONSES, overflow=OverflowPolicy.DROP_OLDEST
            )
            self.dropped = 0
            self.revised_publishing_interval_ms: float | None = None

        async def _create(self, event: Any) -> Any:  # init() and recreate() both come here
            result = await super()._create(event)
            self.revised_publishing_interval_ms = float(result.RevisedPublishingInterval)
            return result

        async def update(self, params: Any) -> Any:
            result = await super().update(params)
            self.revised_publishing_interval_ms = float(result.RevisedPublishingInterval)
            return result

        async def publish_callback(self, publish_result: Any) -> None:
            self.last_publish_at = time.monotonic()
            message = publish_result.NotificationMessage
            if message.NotificationData is None:
                return
            self.last_sequence_number = int(message.SequenceNumber)
            items: list[Any] = []
            for notification in message.NotificationData:
                if isinstance(notification, ua.DataChangeNotification):
                    items.extend(notification.MonitoredItems)
                elif isinstance(notification, ua.StatusChangeNotification):
                    # e.g. Bad_Timeout when the server let the subscription expire; the driver's
                    # watchdog notices the silence that follows and recreates it
                    log.info("subscription %s: status change %s", self.subscription_id, notification.Status)
            if items:
                self._put(items)

        def _put(self, items: list[Any]) -> None:
            queue: Any = self._event_queue  # typed for SubEvents by asyncua; here lists of them
            try:
                queue.put_nowait(items)
            except asyncio.QueueFull:
                oldest = queue.get_nowait()
                if oldest is None:  # deleted: keep the end-of-stream mark, drop the late response
                    queue.put_nowait(None)
                    self.dropped += len(items)
                    return
                self.dropped += len(oldest)
                queue.put_nowait(items)

    return BatchSubscription
