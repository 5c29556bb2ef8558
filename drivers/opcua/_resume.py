"""Keeping a subscription across a session re-activation: TransferSubscriptions, then Republish.

Why not asyncua's ``Subscription.restore()``: its gap filling asks for Republish of one sequence
number after another until the server answers Bad_MessageNotAvailable, but asyncua 2.1's own server
answers an unavailable number with an empty NotificationMessage and status Good (OPC 10000-4,
5.13.6 requires Bad_MessageNotAvailable), so ``restore()`` never returns against it. Here only the
numbers the server lists as available (TransferResult.availableSequenceNumbers, 5.13.7) and that we
have not received yet are requested, each once.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import time
from typing import Any

from drivers._aio import within
from drivers.errors import from_opcua
from drivers.opcua import _lazy as lazy
from drivers.opcua._spec import OpcUaServer

log = logging.getLogger(__name__)


class Restored(enum.Enum):
    TRANSFERRED = "transferred"  # the same subscription, kept by the server
    RECREATED = "recreated"  # the server could not transfer it: a new one, same client handles


async def restore_subscription(sub: Any, server: OpcUaServer) -> tuple[Restored, int]:
    """Transfer ``sub`` (an asyncua ``Subscription``) to the re-activated session and republish the
    notifications lost on the wire; returns how it was restored and how many messages were
    republished. Each request has the server's request timeout, the whole its session timeout.

    Raises:
        DeviceError: even recreating the subscription failed (the caller opens a new session).
    """
    try:
        return await within(
            max(server.session_timeout, server.request_timeout), _restore(sub, server.request_timeout)
        )
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # translated in one place
        raise from_opcua(exc, server.name, None) from exc


async def _restore(sub: Any, request_timeout: float) -> tuple[Restored, int]:
    ua = lazy.ua()
    from asyncua.ua.uaerrors import UaStatusCodeError

    session = sub.server
    params = ua.TransferSubscriptionsParameters()
    params.SubscriptionIds = [sub.subscription_id]
    params.SendInitialValues = False
    try:
        results = await within(request_timeout, session.transfer_subscriptions(params))
    except UaStatusCodeError:  # BadServiceUnsupported and the like: recreate
        results = []
    if not results or not results[0].StatusCode.is_good():
        await within(request_timeout * 2, sub.recreate())
        return Restored.RECREATED, 0
    # asyncua routes publish responses by subscription id; re-register ours (as restore() does)
    session._subscription_callbacks[sub.subscription_id] = sub.publish_callback
    received = sub.last_sequence_number or 0
    republished = 0
    for seq in sorted(int(n) for n in results[0].AvailableSequenceNumbers or [] if int(n) > received):
        try:
            message = await within(request_timeout, session.republish(sub.subscription_id, seq))
        except UaStatusCodeError:  # BadMessageNotAvailable: the server dropped it meanwhile
            continue
        if message.NotificationData:
            await sub.publish_callback(ua.PublishResult(sub.subscription_id, NotificationMessage=message))
            republished += 1
    sub.last_publish_at = time.monotonic()
    return Restored.TRANSFERRED, republished


async def delete_quietly(sub: Any) -> None:
    """Delete a broken subscription, best effort (the server may have dropped it already)."""
    try:
        await within(2.0, sub.delete())
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # the subscription is already broken; deleting is best effort
        log.debug("deleting a stale subscription failed: %r", exc)
