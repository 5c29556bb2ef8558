"""kill -9 of the gateway-side process in the middle of an outage and in the middle of a drain.

The process (tests/uplink/_child_gateway.py) prints every value it got "accepted" for (acknowledged
upstream or committed to the store). After SIGKILL, a new process on the same store must deliver every
one of them: zero lost; duplicates are counted and reported.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.support.fault_proxy import SynBlackhole
from tests.support.waiting import wait_until
from tests.uplink.harness import CountingSubscriber

REPO = Path(__file__).resolve().parents[2]


class ChildGateway:
    def __init__(self, db: Path, start: int, count: int, drain_rate: float, ports: list[int]) -> None:
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.uplink._child_gateway",
                str(db),
                str(start),
                str(count),
                str(drain_rate),
                *map(str, ports),
            ],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        self.accepted: set[int] = set()
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for raw in self.process.stdout:
            line = raw.decode(errors="replace").strip()
            if line.startswith("accepted "):
                self.accepted.add(int(line.split()[1]))
            else:
                self.lines.append(line)

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)
        self._reader.join(timeout=10)
        assert self.process.stdout is not None
        self.process.stdout.close()


@pytest.fixture
def counter():
    counting = CountingSubscriber()
    yield counting
    counting.close()


@pytest.mark.timeout(90)
def test_kill_9_mid_outage_then_restart_delivers_everything_accepted(
    mosquitto_factory, counter, tmp_path
) -> None:
    db = tmp_path / "sf.db"
    hole = SynBlackhole()  # the only upstream is unreachable: an outage
    try:
        child = ChildGateway(db, 0, 5000, 5000, [hole.port])
        wait_until(
            lambda: len(child.accepted) >= 1000,
            timeout=30,
            message=lambda: f"accepted values, output {child.lines[-5:]}",
        )
        child.kill()
    finally:
        hole.close()
    accepted = set(child.accepted)
    broker = mosquitto_factory()
    counter.watch(broker)
    restarted = ChildGateway(db, 10**6, 0, 5000, [broker.port])
    try:
        wait_until(
            lambda: accepted <= counter.received(),
            timeout=30,
            message=lambda: f"{len(accepted - counter.received())} lost",
        )
    finally:
        restarted.kill()
    print(f"accepted {len(accepted)}, received {len(counter.values)}, duplicates {counter.duplicates()}")


@pytest.mark.slow
@pytest.mark.timeout(90)
def test_kill_9_mid_drain_then_restart_delivers_everything_accepted(
    mosquitto_factory, counter, tmp_path
) -> None:
    db = tmp_path / "sf.db"
    hole = SynBlackhole()
    try:
        child = ChildGateway(db, 0, 2000, 300, [hole.port])
        wait_until(
            lambda: len(child.accepted) == 2000,
            timeout=30,
            message=lambda: f"production, output {child.lines[-5:]}",
        )
        child.kill()
    finally:
        hole.close()
    accepted = set(child.accepted)
    assert len(accepted) == 2000
    broker = mosquitto_factory()
    counter.watch(broker)
    # A slow drain (300 messages/s): kill it when about a third has arrived.
    draining = ChildGateway(db, 10**6, 0, 300, [broker.port])
    try:
        wait_until(lambda: len(counter.received()) >= 600, timeout=30, message="the drain to start")
        assert len(counter.received()) < len(accepted), "the drain finished before the kill: test is void"
    finally:
        draining.kill()
    final = ChildGateway(db, 10**6, 0, 5000, [broker.port])
    try:
        wait_until(
            lambda: accepted <= counter.received(),
            timeout=30,
            message=lambda: f"{len(accepted - counter.received())} lost",
        )
    finally:
        final.kill()
    print(f"accepted {len(accepted)}, received {len(counter.values)}, duplicates {counter.duplicates()}")


@pytest.mark.slow
@pytest.mark.timeout(90)
def test_power_loss_by_wal_truncation_delivers_the_surviving_prefix(
    mosquitto_factory, counter, tmp_path
) -> None:
    import random
    import shutil
    import sqlite3

    db = tmp_path / "sf.db"
    hole = SynBlackhole()
    try:
        child = ChildGateway(db, 0, 2000, 5000, [hole.port])
        wait_until(
            lambda: len(child.accepted) == 2000, timeout=30, message=lambda: f"output {child.lines[-5:]}"
        )
        child.kill()  # the store stays un-checkpointed: the data is in the -wal
    finally:
        hole.close()
    wal = db.with_name("sf.db-wal")
    cut = random.Random(31).randrange(wal.stat().st_size // 4, wal.stat().st_size)
    copy_dir = tmp_path / "after-power-loss"
    copy_dir.mkdir()
    shutil.copy(db, copy_dir / "sf.db")
    (copy_dir / "sf.db-wal").write_bytes(wal.read_bytes()[:cut])
    conn = sqlite3.connect(copy_dir / "sf.db")
    surviving = [int(p) for (p,) in conn.execute("SELECT payload FROM messages ORDER BY id")]
    conn.close()
    assert surviving == list(range(len(surviving)))  # a prefix of what was committed, nothing torn
    broker = mosquitto_factory()
    counter.watch(broker)
    restarted = ChildGateway(copy_dir / "sf.db", 10**6, 0, 5000, [broker.port])
    try:
        wait_until(
            lambda: set(surviving) <= counter.received(), timeout=30, message="the surviving prefix upstream"
        )
    finally:
        restarted.kill()
    print(f"accepted 2000, survived the cut {len(surviving)}, received {len(counter.values)}")
