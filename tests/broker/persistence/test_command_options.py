"""``edge-gateway broker -c FILE`` applies the store options of the configuration file: ``durable_ack``
(PUBACK only once the message is on disk) and ``persistence.recovery`` (refuse a corrupt store)."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.broker.persistence.broker_process import BrokerProcess
from tests.broker.persistence.conftest import gateway_yaml
from tests.broker.persistence.sync_paho import SyncClient

FILES = Path(__file__).parent / "files"
LISTENER = ["allow_anonymous: true", "listeners:", "  - host: 127.0.0.1", "    port: 0"]


def rows_on_disk(store: Path) -> int:
    """Count queued rows with another connection, as a process reading the file after a crash would."""
    connection = sqlite3.connect(f"file:{store}?mode=ro", uri=True)
    try:
        return int(connection.execute("SELECT count(*) FROM queued").fetchone()[0])
    finally:
        connection.close()


@pytest.mark.timeout(120)
def test_durable_ack_from_the_configuration_file_acknowledges_only_what_is_on_disk(tmp_path: Path) -> None:
    broker = BrokerProcess(gateway_yaml(tmp_path, [*LISTENER, "durable_ack: true"]), tmp_path)
    broker.start()
    try:
        sub = SyncClient("offline")
        sub.connect(broker.port, clean=True, session_expiry=3600)
        sub.subscribe("d/#", 1)
        sub.disconnect()
        pub = SyncClient("pub")
        pub.connect(broker.port)
        store = tmp_path / "data" / "broker" / "broker.sqlite3"
        for batch in range(5):
            mids = [pub.publish(f"d/{batch}", str(n).encode(), 1) for n in range(20)]
            pub.wait_acked(mids, timeout=60)
            # Read right after the PUBACKs, without waiting: with durable_ack they are committed already.
            assert rows_on_disk(store) == 20 * (batch + 1)
        pub.disconnect()
    finally:
        broker.stop()
    assert "Traceback" not in broker.log


@pytest.mark.timeout(120)
def test_recovery_refuse_from_the_configuration_file_stops_start_up_and_keeps_the_file(
    tmp_path: Path,
) -> None:
    config = gateway_yaml(tmp_path, [*LISTENER, "persistence:", "  recovery: refuse"])
    data = tmp_path / "data" / "broker"
    data.mkdir(parents=True, mode=0o700)
    shutil.copyfile(FILES / "zero-filled.sqlite3", data / "broker.sqlite3")
    result = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "broker", "-c", str(config)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=100,  # a deadline for a loaded machine, not a speed
        check=False,
    )
    assert result.returncode != 0 and "broker.sqlite3" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert (data / "broker.sqlite3").read_bytes() == (FILES / "zero-filled.sqlite3").read_bytes()
    assert not list(data.glob("broker.sqlite3.corrupt-*")), "refuse never renames"
