"""ASCII fallback: the locale decides, and an ASCII app draws no box or block characters."""

from __future__ import annotations

import pytest

from tests.tui.support.contract_daemon import ContractDaemon
from tests.tui.support.pilot import screen_text, wait_for, wait_text
from tui.app import GatewayTui
from tui.glyphs import terminal_is_utf8
from tui.settings import TuiSettings


@pytest.mark.parametrize(
    ("environ", "utf8"),
    [
        ({"LANG": "en_GB.UTF-8"}, True),
        ({"LANG": "C.utf8"}, True),
        ({"LC_CTYPE": "de_DE.UTF-8@euro"}, True),
        ({"LC_ALL": "C", "LANG": "en_GB.UTF-8"}, False),  # LC_ALL wins
        ({"LC_ALL": "", "LC_CTYPE": "en_US.UTF-8", "LANG": "C"}, True),  # empty means unset
        ({"LANG": "en_US.ISO-8859-1"}, False),
        ({"LANG": "POSIX"}, False),
        ({}, False),  # no locale at all is C
    ],
)
def test_the_locale_decides(environ: dict[str, str], utf8: bool) -> None:
    assert terminal_is_utf8(environ) is utf8


def _non_ascii(text: str) -> set[str]:
    return {ch for ch in text if ord(ch) > 127}


@pytest.mark.timeout(90)
@pytest.mark.parametrize("ascii_only", [True, False])
async def test_ascii_app_draws_only_ascii(contract_daemon: ContractDaemon, ascii_only: bool) -> None:
    settings = TuiSettings(
        host=contract_daemon.host, port=contract_daemon.port, client_id=f"tui-a{ascii_only}"
    )
    app = GatewayTui(settings, ascii_only=ascii_only)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: len(app.attachment.model.devices) == 3, "devices")
        seen: set[str] = set()
        for key, needle in (("1", "Demo/demo-gateway"), ("3", "skid-1/setpoint"), ("8", "press-2 is down")):
            await pilot.press(key)
            await wait_text(pilot, needle)
            await pilot.pause()
            seen |= _non_ascii(screen_text(app))
        # the UTF-8 run proves the check can fail: it draws box characters
        assert (seen == set()) is ascii_only, sorted(seen)
