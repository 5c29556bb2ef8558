"""Resolving tags to nodes: NodeIds parsed locally, browse paths translated in one service call."""

from __future__ import annotations

import asyncio
from typing import Any

from drivers._types import Quality, Sample, utc_ms
from drivers.errors import DeviceError, ErrorKind, from_opcua
from drivers.opcua._spec import OpcUaServer, OpcUaTag


async def resolve_tags(client: Any, server: OpcUaServer) -> tuple[dict[str, Any], list[Sample]]:
    """The node of every tag that resolves, and a BAD sample for every tag that does not.

    Browse paths (relative to the Objects folder) go in one TranslateBrowsePathsToNodeIds call
    (OPC 10000-4, 5.8.4) however many tags use them. A connection failure raises (translated).
    """
    nodes: dict[str, Any] = {}
    bad: list[Sample] = []

    def refuse(tag: OpcUaTag, error: DeviceError) -> None:
        if error.hint is None:
            error = DeviceError(
                server.name,
                error.kind,
                error.detail,
                address=tag.address,
                code=error.code,
                hint="check the NodeId or browse path",
            )
        bad.append(Sample(tag.name, None, Quality.BAD, utc_ms(), error, tag.unit))

    by_path = [t for t in server.tags if t.node_id is None]
    for tag in server.tags:
        if tag.node_id is None:
            continue
        try:
            nodes[tag.name] = client.get_node(tag.node_id)
        except Exception as exc:  # a NodeId string asyncua cannot parse: this tag only
            refuse(tag, from_opcua(exc, server.name, tag.address))
    if not by_path:
        return nodes, bad
    paths = [str(t.browse_path).split("/") for t in by_path]
    try:
        found = await client.nodes.objects.get_children_by_path(paths, raise_on_partial_error=False)
    except asyncio.CancelledError:
        raise
    except (ConnectionError, OSError, TimeoutError) as exc:
        raise from_opcua(exc, server.name, None) from exc
    except Exception as exc:  # a malformed path segment: every browse-path tag is refused with it
        error = from_opcua(exc, server.name, None)
        for tag in by_path:
            refuse(tag, error.at(tag.address))
        return nodes, bad
    for tag, targets in zip(by_path, found, strict=True):
        if targets:
            nodes[tag.name] = targets[0]
        else:
            refuse(
                tag,
                DeviceError(
                    server.name,
                    ErrorKind.EXCEPTION,
                    "the browse path does not lead to a node (BadNoMatch)",
                    address=tag.address,
                ),
            )
    return nodes, bad
