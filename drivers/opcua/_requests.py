"""Building the subscription and monitored-item requests of a connection (pure, no I/O)."""

from __future__ import annotations

import math
from typing import Any

from drivers.opcua import _lazy as lazy
from drivers.opcua._spec import OpcUaServer, OpcUaTag


def subscription_parameters(server: OpcUaServer) -> Any:
    """CreateSubscription parameters (OPC 10000-4, 5.13.2): intervals in ms.

    The lifetime (publishing cycles without a Publish request before the server deletes the
    subscription) is at least 3 keep-alives (5.13.1.1) and long enough to outlive the session
    timeout, so a subscription survives a link outage the session survives and can be kept on
    re-activation (catalogue T54a).
    """
    ua = lazy.ua()
    interval = server.effective_publishing_interval()
    params = ua.CreateSubscriptionParameters()
    params.RequestedPublishingInterval = interval * 1000
    params.RequestedMaxKeepAliveCount = server.keepalive_count
    lifetime = math.ceil(server.session_timeout / interval)
    params.RequestedLifetimeCount = max(server.keepalive_count * 3, lifetime)
    params.MaxNotificationsPerPublish = 10000
    params.PublishingEnabled = True
    params.Priority = 0
    return params


def monitored_item_request(
    tag: OpcUaTag, node_id: Any, client_handle: int, *, publishing_interval: float, with_filter: bool = True
) -> Any:
    """One MonitoredItemCreateRequest (OPC 10000-4, 5.12.2): sampling interval (the connection's
    ``publishing_interval`` when the tag gives none), queue size discarding the oldest, optional
    deadband filter (DeadbandType 1 absolute, 2 percent of the EURange, 7.22.2) unless
    ``with_filter`` is false."""
    ua = lazy.ua()
    rv = ua.ReadValueId()
    rv.NodeId = node_id
    rv.AttributeId = ua.AttributeIds.Value
    mparams = ua.MonitoringParameters()
    mparams.ClientHandle = client_handle
    interval = tag.sampling_interval if tag.sampling_interval is not None else publishing_interval
    mparams.SamplingInterval = interval * 1000
    mparams.QueueSize = tag.queue_size
    mparams.DiscardOldest = True
    if tag.deadband is not None and with_filter:
        flt = ua.DataChangeFilter()
        flt.Trigger = ua.DataChangeTrigger.StatusValue
        flt.DeadbandType = int(tag.deadband[0])
        flt.DeadbandValue = float(tag.deadband[1])
        mparams.Filter = flt
    item = ua.MonitoredItemCreateRequest()
    item.ItemToMonitor = rv
    item.MonitoringMode = ua.MonitoringMode.Reporting
    item.RequestedParameters = mparams
    return item
