"""Lazy browsing of an OPC UA address space: one level per call (the terminal UI's tag picker)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from drivers.opcua import _lazy as lazy


@dataclass(frozen=True, slots=True)
class BrowseEntry:
    """One child node.

    Attributes:
        node_id: the NodeId string to put in a tag spec (``ns=2;s=...``).
        browse_name: ``namespace index:name``, usable as a browse-path segment.
        display_name: the human name.
        node_class: Object, Variable, Method, ...
        data_type: for variables, the built-in type name (Double, Int32...) or the NodeId of the type.
    """

    node_id: str
    browse_name: str
    display_name: str
    node_class: str
    data_type: str | None = None

    @property
    def is_variable(self) -> bool:
        return self.node_class == "Variable"


async def browse_children(client: Any, node_id: str | None) -> list[BrowseEntry]:
    """Forward hierarchical references of ``node_id`` (default Objects), with variables' data types."""
    ua = lazy.ua()

    node = client.nodes.objects if node_id is None else client.get_node(node_id)
    if node_id is not None:
        # asyncua returns an empty list when browsing an unknown node; reading its class raises
        # BadNodeIdUnknown instead, so a typo is an error and not an empty folder.
        await node.read_node_class()
    refs = await node.get_children_descriptions()
    variables = [r for r in refs if r.NodeClass == ua.NodeClass.Variable]
    types: dict[str, str] = {}
    if variables:
        values = await client.read_attributes(
            [client.get_node(r.NodeId) for r in variables], ua.AttributeIds.DataType
        )
        for ref, dv in zip(variables, values, strict=True):
            type_id = dv.Value.Value if dv.Value is not None else None
            if isinstance(type_id, ua.NodeId):
                name = ua.ObjectIdNames.get(type_id.Identifier) if type_id.NamespaceIndex == 0 else None
                types[ref.NodeId.to_string()] = name or type_id.to_string()
    entries = []
    for ref in refs:
        nid = ref.NodeId.to_string()
        entries.append(
            BrowseEntry(
                node_id=nid,
                browse_name=f"{ref.BrowseName.NamespaceIndex}:{ref.BrowseName.Name}",
                display_name=str(ref.DisplayName.Text),
                node_class=ua.NodeClass(ref.NodeClass).name,
                data_type=types.get(nid),
            )
        )
    return entries
