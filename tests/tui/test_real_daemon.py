"""The UI against the REAL daemon (`edge-gateway run` in its own process) with a real Modbus simulator
and two real mosquitto upstream servers: actions reach the daemon and their effects show.

Also runs the real `edge-gateway tui` in tmux against it, sends keys and reads the screen.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.e2e.support import REPO, GatewayProcess, ModbusSimulatorProcess
from tests.support.mosquitto import MosquittoProcess
from tests.support.waiting import wait_until
from tests.tui.support.pilot import screen_text, wait_for, wait_text
from tui.app import GatewayTui
from tui.screens.tags import TagsScreen
from tui.settings import TuiSettings
from tui.widgets.confirm import ConfirmScreen

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]


@dataclass
class Plant:
    gateway: GatewayProcess
    simulator: ModbusSimulatorProcess
    upstreams: list[MosquittoProcess]
    config: Path


@pytest.fixture
def plant(tmp_path: Path) -> Iterator[Plant]:
    simulator = ModbusSimulatorProcess(tmp_path)
    upstreams = []
    for i in range(2):
        workdir = tmp_path / f"up{i}"
        workdir.mkdir()
        upstreams.append(MosquittoProcess(workdir=workdir).start())
    servers = "\n".join(
        f"    - {{name: site-{'ab'[i]}, host: 127.0.0.1, port: {up.port}, keepalive_s: 5}}"
        for i, up in enumerate(upstreams)
    )
    config = tmp_path / "gateway.yaml"
    config.write_text(f"""\
identity: {{group_id: Plant, edge_node_id: gw-tui}}
broker:
  listeners: [{{host: 127.0.0.1, port: 0}}]
  allow_anonymous: true
upstream:
  servers:
{servers}
devices:
  - id: skid
    protocol: modbus_tcp
    host: 127.0.0.1
    port: {simulator.port}
    poll_interval_s: 0.2
    tags:
      - {{name: temperature, address: 40001, type: float32}}
      - {{name: speed_setpoint, address: 40103, type: uint16, writable: true, min: 0, max: 3000}}
data_dir: data
""")
    gateway = GatewayProcess(tmp_path, config)
    try:
        gateway.wait_running()
        yield Plant(gateway, simulator, upstreams, config)
    finally:
        gateway.kill()
        simulator.kill()
        for up in upstreams:
            up.stop()


def _read_holding(port: int, address: int) -> int:
    from pymodbus.client import AsyncModbusTcpClient

    async def read() -> int:
        client = AsyncModbusTcpClient("127.0.0.1", port=port, timeout=3)
        await client.connect()
        try:
            response = await client.read_holding_registers(address, count=1, device_id=1)
            return int(response.registers[0])
        finally:
            client.close()

    return asyncio.run(read())


def _app(plant: Plant, name: str) -> GatewayTui:
    return GatewayTui(TuiSettings(port=plant.gateway.broker_port, client_id=name, redraw_hz=10))


async def test_write_a_tag_and_see_the_simulator_value_change(plant: Plant) -> None:
    app = _app(plant, "tui-real-write")
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        tags = app.attachment.model.tags
        await wait_for(pilot, lambda: "speed_setpoint" in tags.get("skid", {}), "tags of skid", timeout=30)
        await pilot.press("2", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, TagsScreen), "tags screen")
        row = list(tags["skid"]).index("speed_setpoint")
        await pilot.press(*["down"] * row, "W")
        await wait_text(pilot, "New value for skid/speed_setpoint")
        await pilot.press(*"1234", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), "confirmation")
        await pilot.press("tab", *"speed_setpoint", "enter")
        await wait_for(pilot, lambda: tags["skid"]["speed_setpoint"].value == 1234, "1234 polled back", 20)
        await wait_text(pilot, "1234")
    # the simulator itself holds the value (40103 is holding register 102, zero-based)
    await asyncio.to_thread(wait_until, lambda: _read_holding(plant.simulator.port, 102) == 1234, timeout=10)


async def test_failover_moves_to_the_next_server(plant: Plant) -> None:
    app = _app(plant, "tui-real-failover")
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        model = app.attachment.model
        await wait_for(
            pilot,
            lambda: (
                model.uplink
                and model.uplink.message.active_server == "site-a"
                and model.uplink.message.session_state.value == "online"
            ),
            "online on site-a",
            timeout=30,
        )
        await pilot.press("4", "F")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), "confirmation")
        await pilot.press("tab", *"failover", "enter")
        await wait_for(
            pilot,
            lambda: model.uplink and model.uplink.message.active_server == "site-b",
            "site-b",
            timeout=30,
        )
        await wait_text(pilot, "site-a")  # the switch history row


async def test_bad_config_edit_shows_errors_and_applies_nothing(plant: Plant) -> None:
    before = plant.config.read_text()
    app = _app(plant, "tui-real-config")
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await wait_for(pilot, lambda: app.attachment.model.link.state == "up", "link", timeout=20)
        await pilot.press("9")
        await wait_for(pilot, lambda: getattr(app.screen, "document", None) is not None, "config loaded")
        await wait_for(pilot, lambda: not app.screen._loading, "no load in flight")  # type: ignore[attr-defined]
        bad = before.replace("protocol: modbus_tcp", "protocol: modbus_tpc").replace(
            "keepalive_s: 5}", "keepalive_s: -5}"
        )
        app.screen.query_one("#editor").load_text(bad)  # type: ignore[attr-defined]
        await pilot.press("A")
        await wait_text(pilot, "nothing was applied")
        text = screen_text(app)
        assert "3 problem(s) found" in text, text
        assert "devices[0].protocol" in text and "upstream.servers[1].keepalive_s" in text, text  # every one
        assert not isinstance(app.screen, ConfirmScreen)
    assert plant.config.read_text() == before


def test_real_tui_in_tmux(plant: Plant, tmp_path: Path) -> None:
    tmux = shutil.which("tmux")
    if tmux is None:
        pytest.fail("tmux is not installed: scripts/setup installs it")
    session = f"tui-{plant.gateway.proc.pid}"
    socket = str(tmp_path / "tmux.sock")  # a private tmux server: no clash with the person's own tmux
    command = (
        f"cd {REPO} && TERM=xterm-256color PYTHONPATH={REPO} {sys.executable} -m gateway.cli tui "
        f"--port {plant.gateway.broker_port}"
    )
    subprocess.run(
        [tmux, "-S", socket, "new-session", "-d", "-s", session, "-x", "100", "-y", "30", command], check=True
    )

    def pane() -> str:
        out = subprocess.run(
            [tmux, "-S", socket, "capture-pane", "-p", "-t", session],
            capture_output=True,
            text=True,
            check=False,
        )
        return out.stdout

    try:
        wait_until(
            lambda: "Plant/gw-tui" in pane() and "connected" in pane(),
            timeout=30,
            message=lambda: f"the overview in tmux:\n{pane()}",
        )
        subprocess.run([tmux, "-S", socket, "send-keys", "-t", session, "3"], check=True)
        wait_until(lambda: "skid/speed_setpoint" in pane(), timeout=15, message=lambda: f"tags:\n{pane()}")
        subprocess.run([tmux, "-S", socket, "send-keys", "-t", session, "q"], check=True)
        wait_until(
            lambda: (
                subprocess.run(
                    [tmux, "-S", socket, "has-session", "-t", session], capture_output=True, check=False
                ).returncode
                != 0
            ),
            timeout=15,
            message="the UI to quit on q",
        )
    finally:
        subprocess.run([tmux, "-S", socket, "kill-server"], capture_output=True, check=False)


async def test_every_screen_opens_and_rebirth_disable_probe_reach_the_daemon(plant: Plant) -> None:
    app = _app(plant, "tui-real-screens")
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        model = app.attachment.model
        await wait_for(
            pilot,
            lambda: model.uplink and model.uplink.message.session_state.value == "online" and model.broker,
            "online",
            timeout=30,
        )
        expected = {
            "1": "Plant/gw-tui",
            "2": "skid",
            "3": "skid/speed_setpoint",
            "4": "site-a",
            "5": "Store and forward",
            "6": "tui-real-screens",  # this UI is a client of the embedded broker
            "7": "Sparkplug messages seen",  # Sparkplug goes upstream here, not to the embedded broker
            "8": "showing info and above",
            "9": "edge_node_id: gw-tui",
            "0": "Modbus probe",
        }
        for key, needle in expected.items():
            await pilot.press(key)
            await wait_text(pilot, needle, timeout=30)
        # the probe reads the simulator through the configured device
        app.screen.query_one("#p-device").value = "skid"  # type: ignore[attr-defined]
        app.screen.query_one("#p-address").value = "102"  # type: ignore[attr-defined]
        app.screen.query_one("#p-type").value = "uint16"  # type: ignore[attr-defined]
        await pilot.click("#p-read")
        await wait_text(pilot, "registers (hex):")
        await pilot.press("4", "R")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), "rebirth confirmation")
        await pilot.press("tab", *"rebirth", "enter")
        await wait_text(pilot, "births sent")
        await wait_for(
            pilot, lambda: model.uplink and model.uplink.message.rebirths >= 1, "a rebirth counted", 20
        )
        await pilot.press("2", "E")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), "disable confirmation")
        await pilot.press("tab", *"skid", "enter")
        await wait_for(pilot, lambda: not model.devices["skid"].message.enabled, "skid disabled", 20)
        await wait_text(pilot, "disabled")
