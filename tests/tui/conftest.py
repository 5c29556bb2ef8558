"""Fixtures of the UI tests: a contract-speaking publisher on a real mosquitto, and no cursor blink."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.mosquitto import MosquittoProcess
from tests.tui.support.contract_daemon import ContractDaemon


@pytest.fixture
def contract_daemon(mosquitto: MosquittoProcess) -> Iterator[ContractDaemon]:
    """The control plane of the sample plant on a real mosquitto (see contract_daemon.py for why)."""
    daemon = ContractDaemon(mosquitto.host, mosquitto.port).start()
    yield daemon
    daemon.stop()


@pytest.fixture(autouse=True)
def no_cursor_blink(monkeypatch: pytest.MonkeyPatch) -> None:
    """A blinking cursor makes screenshots depend on timing (pixi-browse PR #122): keep it still."""
    from textual.widgets import Input, TextArea

    monkeypatch.setattr(Input, "cursor_blink", False, raising=False)
    monkeypatch.setattr(TextArea, "cursor_blink", False, raising=False)
