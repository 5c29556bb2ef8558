"""The OPC UA browser: walk a server's address space, pick variables, add them as tags of a device
(through the same validate / diff / confirm / apply path as the Config screen)."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Static, Tree
from textual.widgets.tree import TreeNode

from tui._contract import c
from tui.screens import config_flow
from tui.screens._form import field, gateway_screen, text_of
from tui.viewmodel.config_edit import add_tags_to_device, opcua_tag_line
from tui.viewmodel.format import format_value


class OpcUaPane(Vertical):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("a", "pick", "Pick node", id="pick")]
    DEFAULT_CSS = """
    OpcUaPane Horizontal { height: auto; }
    OpcUaPane Input { width: 1fr; }
    OpcUaPane Tree { height: 1fr; }
    OpcUaPane #o-picked { height: auto; max-height: 4; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.picked: dict[str, c.BrowseNode] = {}
        self._loaded: set[str] = set()

    def compose(self) -> ComposeResult:
        with Horizontal():
            yield field("OPC UA device id", id="o-device", placeholder="configured device")
            yield field("or endpoint", id="o-endpoint", placeholder="opc.tcp://host:4840")
            yield Button("Browse", id="o-browse", variant="primary")
            yield Button("Add picked", id="o-add", variant="error")
        tree: Tree[c.BrowseNode | None] = Tree("Objects (i=85)", data=None, id="o-tree")
        yield tree
        yield Static("a: pick the highlighted variable as a tag", id="o-picked", markup=False)

    def _target(self) -> tuple[str | None, str | None]:
        return text_of(self, "o-device") or None, text_of(self, "o-endpoint") or None

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "o-browse":
            tree = self.query_one("#o-tree", Tree)
            tree.clear()
            self._loaded.clear()
            self.run_worker(self._expand(tree.root, "i=85"), group="browse")
        elif event.button.id == "o-add":
            if gateway_screen(self).check_action("add_tags", ()) is not True:
                self.notify("read-only: tags cannot be added", severity="warning")
                return
            self.run_worker(self._add(), exclusive=True, group="config")

    def on_tree_node_expanded(self, event: Tree.NodeExpanded[c.BrowseNode | None]) -> None:
        node = event.node.data
        if node is not None and node.node_id not in self._loaded:
            self.run_worker(self._expand(event.node, node.node_id), group="browse")

    async def _expand(self, tree_node: TreeNode[c.BrowseNode | None], node_id: str) -> None:
        device, endpoint = self._target()
        if device is None and endpoint is None:
            self.query_one("#o-picked", Static).update("give a configured OPC UA device id or an endpoint")
            return
        result = await gateway_screen(self).send(c.BrowseOpcUa(device, endpoint, node_id), "browse")
        if result is None:
            return
        self._loaded.add(node_id)
        parent = tree_node
        for child in result.children:
            label = child.display_name
            if child.node_class == "Variable":
                writable = ", writable" if child.writable else ""
                label += f" = {format_value(child.value)} ({child.data_type}{writable})"
            parent.add(label, data=child, allow_expand=child.has_children)
        parent.expand()

    def action_pick(self) -> None:
        tree = self.query_one("#o-tree", Tree)
        node = tree.cursor_node.data if tree.cursor_node is not None else None
        if node is None or node.node_class != "Variable":
            self.notify("pick a Variable node (the ones with a value)")
            return
        if node.node_id in self.picked:
            del self.picked[node.node_id]
        else:
            self.picked[node.node_id] = node
        names = ", ".join(n.display_name for n in self.picked.values()) or "none"
        self.query_one("#o-picked", Static).update(f"picked: {names}")

    async def _add(self) -> None:
        screen = gateway_screen(self)
        device, _endpoint = self._target()
        if device is None or not self.picked:
            self.notify(
                "give the device id to add to, and pick at least one variable (a)", severity="warning"
            )
            return
        doc = await screen.send(c.GetConfig(), "load configuration")
        if doc is None:
            return
        lines = [opcua_tag_line(n.display_name, n.node_id, n.writable) for n in self.picked.values()]
        try:
            new = add_tags_to_device(doc.text, device, lines)
        except ValueError as exc:
            self.notify(str(exc), severity="error")
            return
        show = self.query_one("#o-picked", Static).update
        if await config_flow.apply_text(
            screen, doc.text, new, base_sha256=doc.sha256, word=device, show=lambda ls: show("\n".join(ls))
        ):
            self.picked.clear()
