"""Creating a subscription's monitored items, with a second try without the deadband filter.

A server may refuse a percent deadband (OPC 10000-4, 7.22.2: Bad_MonitoredItemFilterUnsupported,
Bad_FilterNotAllowed when the node has no EURange, Bad_DeadbandFilterInvalid). Such an item is created
again without a filter; the driver's client-side percent deadband (:mod:`drivers.opcua._deadband`)
then does the filtering. Other refusals (unknown NodeId...) make the tag BAD.
"""

from __future__ import annotations

from typing import Any

from drivers._types import Quality, Sample, utc_ms
from drivers.errors import DeviceError, ErrorKind
from drivers.opcua import _lazy as lazy
from drivers.opcua._requests import monitored_item_request
from drivers.opcua._spec import DeadbandKind, OpcUaServer, OpcUaTag


async def create_items(
    sub: Any, server: OpcUaServer, tags: list[OpcUaTag], targets: dict[str, tuple[Any, int]]
) -> tuple[list[Sample], list[str]]:
    """Create one monitored item per tag (``targets``: tag name -> (NodeId, client handle)).

    Returns the BAD samples of refused tags and the names of the tags whose percent deadband the
    server refused (created again without a filter).
    """
    ua = lazy.ua()
    interval = server.effective_publishing_interval()
    requests = [monitored_item_request(t, *targets[t.name], publishing_interval=interval) for t in tags]
    results = await sub.create_monitored_items(requests)
    refused = [(t, r) for t, r in zip(tags, results, strict=True) if isinstance(r, ua.StatusCode)]
    retry = [t for t, _ in refused if t.deadband is not None and t.deadband[0] is DeadbandKind.PERCENT]
    if retry:
        again = [
            monitored_item_request(t, *targets[t.name], publishing_interval=interval, with_filter=False)
            for t in retry
        ]
        second = dict(zip([t.name for t in retry], await sub.create_monitored_items(again), strict=True))
        refused = [(t, second.get(t.name, r)) for t, r in refused]
        refused = [(t, r) for t, r in refused if isinstance(r, ua.StatusCode)]
    bad = []
    for tag, status in refused:
        error = DeviceError(
            server.name,
            ErrorKind.EXCEPTION,
            f"monitored item refused: {status.name}",
            address=tag.address,
            code=int(status.value),
            hint="check the NodeId or browse path",
        )
        bad.append(Sample(tag.name, None, Quality.BAD, utc_ms(), error, tag.unit))
    refused_names = {t.name for t, _ in refused}
    return bad, [t.name for t in retry if t.name not in refused_names]
