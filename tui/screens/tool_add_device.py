"""Add a Modbus TCP device and its tags through a form; applied via validate / diff / confirm."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Static, TextArea

from tui._contract import c
from tui.screens import config_flow
from tui.screens._form import choice, choice_of, field, gateway_screen, int_of, text_of
from tui.viewmodel.config_edit import ModbusDeviceForm, add_modbus_device, form_problems, parse_tag_lines

TAGS_HELP = "tags, one a line: name address type [unit] [w]   e.g.  temperature 40001 float32 degC"


class AddDevicePane(Vertical):
    DEFAULT_CSS = """
    AddDevicePane Horizontal { height: auto; }
    AddDevicePane Input, AddDevicePane Select { width: 1fr; }
    AddDevicePane TextArea { height: 1fr; min-height: 4; }
    AddDevicePane #a-result { height: auto; max-height: 6; }
    """

    def compose(self) -> ComposeResult:
        with Horizontal():
            yield field("device id", id="a-id")
            yield field("host", id="a-host")
            yield field("port", "502", id="a-port")
            yield field("unit", "1", id="a-unit")
        with Horizontal():
            yield field("poll interval s", "1.0", id="a-poll")
            yield choice("byte order", [o.value for o in c.ByteOrder], "ABCD", id="a-order")
            yield Button("Check and apply", id="a-apply", variant="error")
        yield Static(TAGS_HELP, markup=False)
        yield TextArea("", id="a-tags")
        yield Static("", id="a-result", markup=False)

    def form(self) -> tuple[ModbusDeviceForm | None, list[str]]:
        problems: list[str] = []
        port = int_of(self, "a-port", "port", problems)
        unit = int_of(self, "a-unit", "unit", problems)
        try:
            poll = float(text_of(self, "a-poll"))
        except ValueError:
            problems.append(f"poll interval: {text_of(self, 'a-poll')!r} is not a number")
            poll = 1.0
        tags, tag_problems = parse_tag_lines(self.query_one("#a-tags", TextArea).text)
        problems += tag_problems
        form = ModbusDeviceForm(
            text_of(self, "a-id"),
            text_of(self, "a-host"),
            port,
            unit,
            poll,
            choice_of(self, "a-order"),
            tuple(tags),
        )
        problems += form_problems(form)
        return (None if problems else form), problems

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id != "a-apply":
            return
        event.stop()
        if gateway_screen(self).check_action("add_device", ()) is not True:
            self.notify("read-only: devices cannot be added", severity="warning")
            return
        self.run_worker(self._apply(), exclusive=True, group="config")

    def show(self, lines: list[str]) -> None:
        self.query_one("#a-result", Static).update("\n".join(lines))

    async def _apply(self) -> None:
        form, problems = self.form()
        if form is None:
            self.show(problems)
            return
        screen = gateway_screen(self)
        doc = await screen.send(c.GetConfig(), "load configuration")
        if doc is None:
            return
        if any(s.message.device_id == form.device_id for s in screen.model.devices.values()):
            self.show([f"device id {form.device_id!r} is already in use"])
            return
        new = add_modbus_device(doc.text, form)
        await config_flow.apply_text(
            screen, doc.text, new, base_sha256=doc.sha256, word=form.device_id, show=self.show
        )
