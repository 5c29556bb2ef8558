"""Keys of the broker screen on the contract publisher: tab moves to the retained table, ``s`` sorts
the focused table only, ``/`` filters both, ``y`` copies the selected client id, filter or topic."""

from __future__ import annotations

from typing import Any

import pytest

from tests.tui.support.contract_daemon import ContractDaemon
from tests.tui.support.pilot import wait_for
from tui.app import GatewayTui
from tui.screens.broker import BrokerScreen
from tui.settings import TuiSettings


def _keys(app: GatewayTui, table_id: str) -> list[str]:
    table: Any = app.screen.query_one(table_id)
    return [str(key.value) for key in table.rows]


async def test_tab_sort_filter_and_copy(
    contract_daemon: ContractDaemon, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = GatewayTui(
        TuiSettings(host=contract_daemon.host, port=contract_daemon.port, client_id="tui-broker-keys")
    )
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: app.attachment.model.broker is not None, "broker status")
        await pilot.press("6")
        await wait_for(pilot, lambda: isinstance(app.screen, BrokerScreen), "broker screen")
        await wait_for(pilot, lambda: len(_keys(app, "#retained")) == 3, "retained rows")
        natural = _keys(app, "#retained")
        clients = _keys(app, "#clients")
        assert natural == ["$GW/v1/state", "plant/line1/setpoint", "spBv1.0/STATE/scada-1"]

        await pilot.press("tab")  # the retained table
        await wait_for(pilot, lambda: app.screen.query_one("#retained").has_focus, "retained focused")
        await pilot.press("s", "s")  # by topic, then by size: 5 B, 41 B, 96 B
        await wait_for(
            pilot,
            lambda: (
                _keys(app, "#retained") == ["plant/line1/setpoint", "spBv1.0/STATE/scada-1", "$GW/v1/state"]
            ),
            "retained sorted by size",
        )
        assert _keys(app, "#clients") == clients  # the other table keeps its order
        copied: list[str] = []
        monkeypatch.setattr(app, "copy_to_clipboard", copied.append)  # no terminal clipboard in a test
        await pilot.press("y")
        # the cursor stayed on its row through the sort: "$GW/v1/state", now the last
        await wait_for(pilot, lambda: copied == ["$GW/v1/state"], f"topic copied (have {copied})")

        await pilot.press("slash", *"alarms", "enter")
        await wait_for(pilot, lambda: _keys(app, "#retained") == [], "no retained topic matches")
        await wait_for(pilot, lambda: len(_keys(app, "#clients")) == 2, "hmi-line-1 and its alarms filter")
        assert _keys(app, "#clients")[0] == "c:hmi-line-1"
