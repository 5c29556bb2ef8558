"""Fixtures for tests that run the broker as a child process with a data directory."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.broker.persistence.broker_process import BrokerProcess

MakeBroker = Callable[..., BrokerProcess]


@pytest.fixture
def broker_process(tmp_path: Path) -> Iterator[MakeBroker]:
    made: list[BrokerProcess] = []

    def make(extra: str = "", *, allow_anonymous: bool = True) -> BrokerProcess:
        config = tmp_path / "broker.toml"
        config.write_text(
            "[broker]\n"
            f"allow_anonymous = {'true' if allow_anonymous else 'false'}\n"
            'data_dir = "data"\n'
            'listeners = [ { host = "127.0.0.1", port = 0 } ]\n' + extra
        )
        process = BrokerProcess(config, tmp_path)
        made.append(process)
        return process

    yield make
    for process in made:
        process.cleanup()
