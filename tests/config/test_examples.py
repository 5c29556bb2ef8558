"""Every example under config/ is a valid configuration (given the files and variables it names)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import trustme

from gateway.config import load_config

CONFIG_DIR = Path(__file__).resolve().parents[2] / "config"
EXAMPLES = sorted(CONFIG_DIR.glob("*.yaml"))

# What each example expects to find beside it (secrets and certificates are never committed).
ENV = {
    "EDGE_GATEWAY_SITE_PASSWORD": "site-secret",
    "EDGE_GATEWAY_CAPPER_PASSWORD": "capper-secret",
    "EDGE_GATEWAY_UPSTREAM_PASSWORD": "upstream-secret",
}


def _prepare(tmp_path: Path, example: Path) -> Path:
    target = tmp_path / example.name
    shutil.copy(example, target)
    shutil.copy(CONFIG_DIR / "acl.toml", tmp_path / "acl.toml")
    (tmp_path / "passwd").write_text("# users: edge-gateway passwd passwd USER\n")
    (tmp_path / "upstream.secret").write_text("from-a-file\n")
    tls = tmp_path / "tls"
    tls.mkdir()
    ca = trustme.CA()
    server = ca.issue_cert("gateway.local")
    client = ca.issue_cert("boiler-house-gw")
    ca.cert_pem.write_to_path(str(tls / "site-ca.pem"))
    server.cert_chain_pems[0].write_to_path(str(tls / "gateway.pem"))
    server.private_key_pem.write_to_path(str(tls / "gateway.key"))
    client.cert_chain_pems[0].write_to_path(str(tls / "client.pem"))
    client.private_key_pem.write_to_path(str(tls / "client.key"))
    return target


def test_the_four_examples_exist() -> None:
    names = {path.name for path in EXAMPLES}
    assert {"demo.yaml", "modbus-plant.yaml", "opcua-plant.yaml", "tls-failover.yaml"} <= names


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_example_validates(example: Path, tmp_path: Path) -> None:
    loaded = load_config(_prepare(tmp_path, example), env=ENV)
    assert loaded.config.identity.edge_node_id
    assert loaded.config.devices, "every example shows at least one device"


def test_demo_example_needs_nothing_beside_it() -> None:
    loaded = load_config(CONFIG_DIR / "demo.yaml", env={})
    assert loaded.config.broker.allow_anonymous
    assert all(listener.host == "127.0.0.1" for listener in loaded.config.broker.listeners)


def test_check_config_command_accepts_an_example(tmp_path: Path) -> None:
    target = _prepare(tmp_path, CONFIG_DIR / "tls-failover.yaml")
    result = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "check-config", str(target)],
        check=False,
        capture_output=True,
        text=True,
        env={**ENV, "PATH": "/usr/bin:/bin"},
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "valid" in result.stdout and "2 upstream server(s)" in result.stdout
