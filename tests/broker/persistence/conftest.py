"""Fixtures for tests that run ``edge-gateway broker -c gateway.yaml`` as a child process."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.broker.persistence.broker_process import BrokerProcess

MakeBroker = Callable[..., BrokerProcess]


def gateway_yaml(directory: Path, broker_lines: list[str]) -> Path:
    """A minimal gateway configuration whose ``broker:`` section is ``broker_lines`` (indented by 2).

    The broker's store is ``<directory>/data/broker/broker.sqlite3`` (the daemon's layout).
    """
    config = directory / "gateway.yaml"
    config.write_text(
        "identity:\n  group_id: G\n  edge_node_id: n\n"
        f"data_dir: {directory / 'data'}\n"
        "upstream:\n  servers: []\n"
        "broker:\n" + "".join(f"  {line}\n" for line in broker_lines)
    )
    return config


def store_dir(process: BrokerProcess) -> Path:
    return process.workdir / "data" / "broker"


@pytest.fixture
def broker_process(tmp_path: Path) -> Iterator[MakeBroker]:
    made: list[BrokerProcess] = []

    def make(
        *, limits: dict[str, int] | None = None, allow_anonymous: bool = True, args: tuple[str, ...] = ()
    ) -> BrokerProcess:
        lines = [
            f"allow_anonymous: {'true' if allow_anonymous else 'false'}",
            "listeners:",
            "  - host: 127.0.0.1",
            "    port: 0",
        ]
        if limits:
            lines += ["limits:", *(f"  {key}: {value}" for key, value in limits.items())]
        process = BrokerProcess(gateway_yaml(tmp_path, lines), tmp_path, args=args)
        made.append(process)
        return process

    yield make
    for process in made:
        process.cleanup()
