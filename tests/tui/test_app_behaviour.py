"""The UI driven with the Pilot, attached over real MQTT to a real mosquitto.

Why not the daemon itself here: these tests pin the UI's behaviour against exactly what the contract
promises (ContractDaemon builds every message and response with the contract module and answers
real MQTT 5 requests), including cases the demo daemon cannot produce on demand (a device down, a
second upstream server, a user without the admin role). The same actions against the real demo
daemon are in test_real_daemon.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.control import contract as c
from tests.conftest import MosquittoFactory
from tests.support.mosquitto import MosquittoProcess
from tests.tui.support.contract_daemon import ContractDaemon
from tests.tui.support.pilot import screen_text, wait_for, wait_text
from tests.tui.test_connection import secured_broker
from tui.app import GatewayTui
from tui.screens.tags import TagsScreen
from tui.settings import TuiSettings
from tui.widgets.confirm import ConfirmScreen

pytestmark = pytest.mark.timeout(90)


def make_app(daemon: ContractDaemon, **kw: object) -> GatewayTui:
    settings = TuiSettings(host=daemon.host, port=daemon.port, redraw_hz=10, **kw)  # type: ignore[arg-type]
    return GatewayTui(settings)


async def test_every_screen_opens_and_shows_its_data(contract_daemon: ContractDaemon) -> None:
    app = make_app(contract_daemon, client_id="tui-screens")
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: app.attachment.model.uplink and app.attachment.model.broker, "status")
        expected = {
            "1": "Demo/demo-gateway",
            "2": "DOWN",
            "3": "skid-1/setpoint",
            "4": "primary host offline (STATE)",
            "5": "draining",
            "6": "hmi-line-1",
            "7": "Sparkplug messages seen",
            "8": "press-2 is down",
            "9": "edge_node_id: demo-gateway",
            "0": "Modbus probe",
        }
        for key, needle in expected.items():
            await pilot.press(key)
            await wait_text(pilot, needle)


async def test_write_needs_the_typed_tag_name_and_a_stray_enter_cancels(
    contract_daemon: ContractDaemon,
) -> None:
    app = make_app(contract_daemon, client_id="tui-write")
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await wait_for(pilot, lambda: len(app.attachment.model.devices) == 3, "devices")
        await pilot.press("2", "down", "down", "enter")  # line-1, press-2, skid-1 -> its tags
        await wait_for(pilot, lambda: isinstance(app.screen, TagsScreen), "tags of skid-1")
        await pilot.press("down", "down", "W")  # temperature, level, setpoint
        await wait_text(pilot, "New value for skid-1/setpoint")
        await pilot.press(*"55", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the confirmation")
        await pilot.press("enter")  # focus starts on Cancel: a stray Enter cancels
        await wait_text(pilot, "cancelled, nothing sent")
        assert contract_daemon.requests == []
        await pilot.press("W", *"55", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the confirmation again")
        assert "40 degC" in screen_text(app) and "55 degC" in screen_text(app)  # old -> new shown
        await pilot.press("tab", *"setpoin", "enter")  # a wrong word does not pass
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("t", "enter")
        await wait_for(
            pilot, lambda: app.attachment.model.tags["skid-1"]["setpoint"].value == 55.0, "new value"
        )
        await wait_text(pilot, "40 -> 55 (read back)")
    assert [name for name, _ in contract_daemon.requests] == ["write_tag"]


async def test_read_only_greys_plant_actions_and_never_sends(contract_daemon: ContractDaemon) -> None:
    app = make_app(contract_daemon, client_id="tui-readonly", read_only=True)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: app.attachment.model.uplink, "status")
        await pilot.press("4")
        await wait_text(pilot, "READ-ONLY: started with")
        assert app.read_only_reason == "started with --read-only"
        assert app.screen.check_action("failover", ()) is None  # visible, greyed
        await pilot.press("F", "R")
        assert not isinstance(app.screen, ConfirmScreen)
        await pilot.press("2")
        assert app.screen.check_action("toggle_enabled", ()) is None
    assert contract_daemon.requests == []


async def test_failover_changes_the_active_server(contract_daemon: ContractDaemon) -> None:
    app = make_app(contract_daemon, client_id="tui-failover")
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await wait_for(pilot, lambda: app.attachment.model.uplink, "uplink status")
        await pilot.press("4", "F")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), "confirmation")
        await pilot.press("tab", *"failover", "enter")
        await wait_text(pilot, "leaving site-a for site-b")
        uplink = app.attachment.model
        await wait_for(
            pilot, lambda: uplink.uplink and uplink.uplink.message.active_server == "site-b", "site-b"
        )


async def test_bad_config_shows_every_error_and_applies_nothing(contract_daemon: ContractDaemon) -> None:
    app = make_app(contract_daemon, client_id="tui-config")
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await pilot.press("9")
        await wait_text(pilot, "edge_node_id: demo-gateway")
        await wait_for(pilot, lambda: getattr(app.screen, "document", None) is not None, "config loaded")
        await wait_for(pilot, lambda: not app.screen._loading, "no load in flight")  # type: ignore[attr-defined]
        editor = app.screen.query_one("#editor")
        bad = contract_daemon.config_text.replace("modbus_tcp", "modbus_tpc").replace("40011", "forty")
        editor.load_text(bad)  # type: ignore[attr-defined]
        await pilot.press("A")
        await wait_text(pilot, "devices[0].protocol: found 'modbus_tpc'")
        text = screen_text(app)
        assert "devices[0].tags[1].address: found 'forty', expected an integer" in text
        assert "nothing was applied" in text
        assert not isinstance(app.screen, ConfirmScreen)
    assert "apply_config" not in [name for name, _ in contract_daemon.requests]
    assert "modbus_tpc" not in contract_daemon.config_text


async def test_offline_banner_keeps_last_data_and_reconnects(
    contract_daemon: ContractDaemon, mosquitto: MosquittoProcess
) -> None:
    app = make_app(contract_daemon, client_id="tui-offline", keepalive_s=2)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_text(pilot, "edge-pi-7")
        mosquitto.kill()
        await wait_text(pilot, "NOT CONNECTED")
        text = screen_text(app)
        assert f"connection refused on 127.0.0.1:{mosquitto.port}" in text or "lost the connection" in text
        assert "STALE" in text and "edge-pi-7" in text  # the last data stays, marked stale
        mosquitto.restart()
        await wait_for(pilot, lambda: app.attachment.model.link.state == "up", "reconnected", timeout=20)


async def test_daemon_offline_state_shows_a_banner(contract_daemon: ContractDaemon) -> None:
    app = make_app(contract_daemon, client_id="tui-daemon-off")
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: app.attachment.model.gateway, "status")
        contract_daemon.go_offline()
        await wait_text(pilot, "GATEWAY DAEMON OFFLINE")


async def test_modbus_probe_shows_every_byte_order(contract_daemon: ContractDaemon) -> None:
    app = make_app(contract_daemon, client_id="tui-probe")
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: app.attachment.model.link.state == "up", "link")
        await pilot.press("0")
        await wait_text(pilot, "Modbus probe")
        app.screen.query_one("#p-device").value = "skid-1"  # type: ignore[attr-defined]
        app.screen.query_one("#p-address").value = "40001"  # type: ignore[attr-defined]
        await pilot.click("#p-read")
        await wait_text(pilot, "registers (hex): 41AC 0000")
        text = screen_text(app)
        assert "float32 ABCD = 21.5" in text
        for order in ("ABCD", "CDAB", "BADC", "DCBA"):
            assert order in text
    sent = [r for name, r in contract_daemon.requests if name == "modbus_read"]
    assert sent == [c.ModbusRead(40001, c.ModbusType.FLOAT32, device_id="skid-1", port=502)]


async def test_add_a_modbus_device_through_the_form(contract_daemon: ContractDaemon) -> None:
    app = make_app(contract_daemon, client_id="tui-add-device")
    async with app.run_test(size=(100, 34), notifications=True) as pilot:
        await wait_for(pilot, lambda: app.attachment.model.link.state == "up", "link")
        await pilot.press("0")
        await wait_text(pilot, "Add Modbus device")
        app.screen.query_one("#tools").active = "add-device"  # type: ignore[attr-defined]
        await pilot.pause()
        for field_id, value in (("#a-id", "boiler-3"), ("#a-host", "10.0.0.9"), ("#a-unit", "2")):
            app.screen.query_one(field_id).value = value  # type: ignore[attr-defined]
        app.screen.query_one("#a-tags").load_text(  # type: ignore[attr-defined]
            "inlet_temp 40001 float32 degC\nrun 1 bool w\nbroken line here too many words x\n"
        )
        await pilot.click("#a-apply")
        await wait_text(pilot, "line 3: expected `name address type [unit] [w]`")
        assert not isinstance(app.screen, ConfirmScreen)
        app.screen.query_one("#a-tags").load_text("inlet_temp 40001 float32 degC\nrun 1 bool w\n")  # type: ignore[attr-defined]
        # Press the button itself: the error toast from the first attempt may still cover it, and a
        # click there would only dismiss the toast.
        app.screen.query_one("#a-apply").press()  # type: ignore[attr-defined]
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the diff to confirm")
        await wait_text(pilot, '+  - id: "boiler-3"')
        await pilot.press("tab", *"boiler-3", "enter")
        await wait_text(pilot, "configuration applied")
    assert 'id: "boiler-3"' in contract_daemon.config_text
    assert "inlet_temp" in contract_daemon.config_text and "skid-1" in contract_daemon.config_text


async def test_opcua_browser_adds_picked_nodes_as_tags(contract_daemon: ContractDaemon) -> None:
    app = make_app(contract_daemon, client_id="tui-opcua")
    async with app.run_test(size=(100, 34), notifications=True) as pilot:
        await wait_for(pilot, lambda: app.attachment.model.link.state == "up", "link")
        await pilot.press("0")
        app.screen.query_one("#tools").active = "opcua"  # type: ignore[attr-defined]
        await pilot.pause()
        app.screen.query_one("#o-device").value = "line-1"  # type: ignore[attr-defined]
        await pilot.click("#o-browse")
        await wait_text(pilot, "Line1")
        tree = app.screen.query_one("#o-tree")
        tree.focus()
        await pilot.press("down", "space")  # Line1, expand: browses ns=2;s=Line1
        await wait_text(pilot, "SpeedSetpoint = 1200")
        await pilot.press("down", "down", "a")  # Temperature, SpeedSetpoint
        await wait_text(pilot, "picked: SpeedSetpoint")
        await pilot.click("#o-add")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the diff to confirm")
        await pilot.press("tab", *"line-1", "enter")
        await wait_text(pilot, "configuration applied")
    assert '{name: "SpeedSetpoint", node_id: "ns=2;s=Line1.SpeedSetpoint", writable: true}' in (
        contract_daemon.config_text
    )


async def test_keys_filter_help_palette_pause_and_level(contract_daemon: ContractDaemon) -> None:
    app = make_app(contract_daemon, client_id="tui-keys")
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: len(app.attachment.model.devices) == 3, "devices")
        await pilot.press("2", "slash", *"press")
        await wait_for(pilot, lambda: app.screen.query_one("#devices").row_count == 1, "filtered to press-2")
        await pilot.press("escape")  # clears the filter
        await wait_for(pilot, lambda: app.screen.query_one("#devices").row_count == 3, "filter cleared")
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: app.screen.query("HelpPanel"), "the help panel")
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: not app.screen.query("HelpPanel"), "help closed")
        await pilot.press("8", "l", "l")  # info -> warning -> error
        await wait_text(pilot, "showing error and above")
        text = screen_text(app)
        assert "press-2 is down" in text and "switched site-b -> site-a" not in text
        await pilot.press("7", "space")
        await wait_text(pilot, "PAUSED")
        await pilot.press("colon")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "CommandPalette", "the command palette")


def test_no_binding_clashes_with_tmux_or_screen_prefixes() -> None:
    from textual.binding import Binding

    from tui.app import SCREENS, GatewayTui

    classes: list[type] = [GatewayTui, *(cls for *_rest, cls in SCREENS)]
    keys = []
    for cls in classes:
        for binding in cls.BINDINGS:
            if isinstance(binding, Binding):
                keys += binding.key.split(",")
    assert keys and not {"ctrl+a", "ctrl+b"} & set(keys)
    assert {str(n) for n in range(10)} <= set(keys)


async def test_command_log_and_log_backfill(contract_daemon: ContractDaemon) -> None:
    app = make_app(contract_daemon, client_id="tui-cmdlog")
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: app.attachment.model.link.state == "up", "link")
        await pilot.press("8")  # the live tail began after the daemon's last batch: fetched instead
        await wait_text(pilot, "NBIRTH sent on site-a (bdSeq 3)")
        await pilot.press("at")
        await wait_text(pilot, "fetch_logs")
        assert "ok" in screen_text(app)
        await pilot.press("escape")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "EventsScreen", "back to events")
    assert [name for name, _ in contract_daemon.requests] == ["fetch_logs"]


async def test_rebirth_and_disable_a_device(contract_daemon: ContractDaemon) -> None:
    app = make_app(contract_daemon, client_id="tui-rebirth")
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await wait_for(pilot, lambda: len(app.attachment.model.devices) == 3, "devices")
        await pilot.press("4", "R")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), "rebirth confirmation")
        await pilot.press("tab", *"rebirth", "enter")
        await wait_text(pilot, "births sent (bdSeq 3) for 3 devices")
        await pilot.press("2", "down", "E")  # line-1, press-2
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), "disable confirmation")
        assert "Disable device press-2?" in screen_text(app)
        await pilot.press("tab", *"press-2", "enter")
        devices = app.attachment.model.devices
        await wait_for(pilot, lambda: not devices["press-2"].message.enabled, "press-2 disabled")
        await wait_text(pilot, "press-2 is disabled")
    assert [name for name, _ in contract_daemon.requests] == ["rebirth", "set_device_enabled"]


async def test_not_authorized_turns_the_app_read_only_with_one_line(
    mosquitto_factory: MosquittoFactory, tmp_path: Path
) -> None:
    broker = secured_broker(mosquitto_factory, tmp_path)
    daemon = ContractDaemon(broker.host, broker.port)
    daemon.client.username_pw_set("daemon", "pw")
    daemon.start()
    try:
        settings = TuiSettings(
            host=broker.host, port=broker.port, username="operator", password="pw", client_id="tui-viewer-app"
        )
        app = GatewayTui(settings)
        async with app.run_test(size=(100, 30), notifications=True) as pilot:
            await wait_for(pilot, lambda: app.attachment.model.uplink, "status as a viewer")
            await pilot.press("4", "F")
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), "confirmation")
            await pilot.press("tab", *"failover", "enter")
            await wait_text(pilot, "READ-ONLY: this user may not send commands")
            assert app.screen.check_action("failover", ()) is None
            await pilot.press("F")
            assert not isinstance(app.screen, ConfirmScreen)
    finally:
        daemon.stop()
    assert daemon.requests == []


async def test_sort_copy_and_screen_keys_while_typing(contract_daemon: ContractDaemon) -> None:
    from textual.widgets import DataTable, Input

    app = make_app(contract_daemon, client_id="tui-sort")
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await wait_for(pilot, lambda: len(app.attachment.model.devices) == 3, "devices")
        await pilot.press("2")
        table = app.screen.query_one("#devices", DataTable)

        def order() -> list[str]:
            return [str(k.value) for k in table.rows]

        await wait_for(pilot, lambda: order() == ["line-1", "press-2", "skid-1"], "natural order")
        await pilot.press("s", "s")  # device, then proto: modbus_tcp before opcua
        await wait_for(pilot, lambda: order() == ["press-2", "skid-1", "line-1"], "sorted by proto")
        await wait_text(pilot, "sorted by proto")
        await pilot.press("y")
        assert app.clipboard == order()[table.cursor_row]

        await pilot.press("3")
        await wait_text(pilot, "line-1/Running  true")  # the first tag in natural order
        await pilot.press("y")
        assert app.clipboard == "true"
        await pilot.press("s", "s")  # tag, then value: numbers by value, booleans after
        await pilot.press("home")
        await wait_text(pilot, "skid-1/temperature  21.5 degC")
        await pilot.press("y")
        assert app.clipboard == "21.5 degC"

        await pilot.press("slash", *"12")  # digits go into the filter field...
        await wait_for(pilot, lambda: app.screen.query_one("FilterBar", Input).value == "12", "typed")
        assert type(app.screen).__name__ == "TagsScreen"
        await pilot.press("f4")  # ...while F-keys and alt+digit still switch screens
        await wait_for(pilot, lambda: type(app.screen).__name__ == "UplinkScreen", "F4: uplink")
        await pilot.press("alt+6")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "BrokerScreen", "alt+6: broker")
