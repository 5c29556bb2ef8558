"""The daemon refuses to start with the broker's own error and hint (no wrapping, no traceback) when
its password file, ACL file or persistence store cannot be used: ``edge-gateway run`` as a real process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.broker.persistence import STORE_NAME
from tests.e2e.support import REPO

pytestmark = pytest.mark.timeout(60)

CONFIG = """\
identity: {{group_id: G, edge_node_id: E}}
broker:
  listeners: [{{host: 127.0.0.1, port: 0}}]
  allow_anonymous: true
{extra}data_dir: data
"""


def run(tmp_path: Path, extra: str) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "gateway.yaml"
    path.write_text(CONFIG.format(extra=extra))
    return subprocess.run(
        [sys.executable, "-m", "gateway.cli", "run", "-c", str(path)],
        check=False,
        capture_output=True,
        text=True,
        timeout=45,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )


def test_a_corrupt_broker_store_with_recovery_refuse_stops_the_start(tmp_path: Path) -> None:
    store = tmp_path / "data" / "broker" / STORE_NAME
    store.parent.mkdir(parents=True)
    store.write_bytes(b"this is not an SQLite database" * 100)
    result = run(tmp_path, "  persistence: {recovery: refuse}\n")
    assert result.returncode != 0
    assert f"error: broker store {store}" in result.stderr, result.stderr
    assert "  hint: " in result.stderr and "Traceback" not in result.stderr
    assert store.read_bytes().startswith(b"this is not"), "refuse leaves the file where it is"


def test_a_corrupt_broker_store_is_moved_aside_by_default(tmp_path: Path) -> None:
    """The default policy keeps the gateway running: the store starts empty, the bad file is kept."""
    store = tmp_path / "data" / "broker" / STORE_NAME
    store.parent.mkdir(parents=True)
    store.write_bytes(b"this is not an SQLite database" * 100)
    path = tmp_path / "gateway.yaml"
    path.write_text(CONFIG.format(extra=""))
    from tests.e2e.support import GatewayProcess

    gateway = GatewayProcess(tmp_path, path)
    try:
        gateway.wait_running()
        assert gateway.terminate() == 0
    finally:
        gateway.kill()
    aside = [p for p in store.parent.iterdir() if p.name != STORE_NAME and p.name.startswith(STORE_NAME)]
    assert aside, list(store.parent.iterdir())


def test_a_bad_password_file_names_its_line_and_keeps_its_hint(tmp_path: Path) -> None:
    passwords = tmp_path / "passwd"
    passwords.write_text("alice-without-a-hash\n")
    passwords.chmod(0o600)
    result = run(tmp_path, f"  password_file: {passwords}\n")
    assert result.returncode != 0
    assert f"error: {passwords} cannot be used:" in result.stderr, result.stderr
    assert f"{passwords}:1:" in result.stderr
    assert "broker security files" not in result.stderr and "Traceback" not in result.stderr
