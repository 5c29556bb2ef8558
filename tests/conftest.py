"""Fixtures shared by every test package.

- ``mosquitto``: a running Debian mosquitto on a free loopback port (see tests/support/mosquitto.py).
- ``mosquitto_factory``: start several (failover tests), each torn down at the end of the test.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.mosquitto import MosquittoProcess, mosquitto_binary

MosquittoFactory = Callable[..., MosquittoProcess]


@pytest.fixture
def mosquitto_factory(tmp_path: Path) -> Iterator[MosquittoFactory]:
    if mosquitto_binary() is None:
        pytest.fail("mosquitto is not installed: ./scripts/test installs it (apt-get install mosquitto)")
    started: list[MosquittoProcess] = []
    counter = itertools.count()

    def start(extra_config: list[str] | None = None, host: str = "127.0.0.1") -> MosquittoProcess:
        workdir = tmp_path / f"mosquitto-{next(counter)}"
        workdir.mkdir()
        broker = MosquittoProcess(workdir=workdir, host=host, extra_config=list(extra_config or []))
        started.append(broker)
        return broker.start()

    yield start
    for broker in started:
        broker.stop()


@pytest.fixture
def mosquitto(mosquitto_factory: MosquittoFactory) -> MosquittoProcess:
    return mosquitto_factory()
