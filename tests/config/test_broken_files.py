"""T58: configuration errors fail closed and loudly: exit status != 0, one `file:line: key: reason`
line per problem, every problem in one run. Run through the real command in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

BASE = """\
identity:
  group_id: G
  edge_node_id: E
broker:
  listeners:
    - {host: 127.0.0.1, port: 1883}
  allow_anonymous: true
"""


def check(
    tmp_path: Path, text: str, *extra: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "gateway.yaml"
    path.write_text(text)
    return subprocess.run(
        [sys.executable, "-m", "gateway.cli", "check-config", str(path), *extra],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **(env or {})},
    )


def problem_lines(result: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in result.stderr.splitlines() if not line.startswith(("error:", "  hint:"))]


def test_invalid_yaml_names_the_line(tmp_path: Path) -> None:
    result = check(tmp_path, BASE + "devices:\n  - id: x\n   protocol: [oops\n")
    assert result.returncode == 2
    [line] = problem_lines(result)
    assert line.startswith(f"{tmp_path / 'gateway.yaml'}:10:") and "invalid YAML" in line


def test_unknown_key_suggests_the_right_one(tmp_path: Path) -> None:
    result = check(
        tmp_path, BASE.replace("  edge_node_id: E\n", "  edge_node_id: E\n  primary_host: scada\n")
    )
    assert result.returncode == 2
    [line] = problem_lines(result)
    assert line.endswith(
        "gateway.yaml:4: identity.primary_host: unknown key; did you mean 'primary_host_id'?"
    )


@pytest.mark.parametrize(
    ("snippet", "key", "reason"),
    [
        (
            "upstream:\n  servers:\n    - {host: h, port: 70000}\n",
            "upstream.servers[0].port",
            "70000 is out of range, expected 1..65535",
        ),
        (
            "  limits: {max_keepalive: 0}\n",
            "broker.limits.max_keepalive",
            "0 is out of range, expected 1..65535",
        ),
        (
            "devices:\n  - id: d\n    protocol: modbus_tcp\n    host: h\n    tags:\n"
            "      - {name: t, address: 40001, type: string, length: 600}\n",
            "devices[0].tags[0].length",
            "needs 300 registers, more than the 125 one read may fetch",
        ),
    ],
    ids=["port-70000", "max-keepalive-0", "modbus-count-300"],
)
def test_out_of_range_values(tmp_path: Path, snippet: str, key: str, reason: str) -> None:
    result = check(tmp_path, BASE + snippet)
    assert result.returncode == 2
    [line] = problem_lines(result)
    assert f": {key}: {reason}" in line
    assert line.split(":")[1].isdigit(), "every problem names its line"


def test_missing_certificate_and_key_files(tmp_path: Path) -> None:
    text = BASE.replace(
        "    - {host: 127.0.0.1, port: 1883}\n",
        "    - {host: 127.0.0.1, port: 8883, tls: {certfile: missing.pem, keyfile: missing.key}}\n",
    )
    result = check(tmp_path, text)
    assert result.returncode == 2
    lines = problem_lines(result)
    assert len(lines) == 2
    assert f"broker.listeners[0].tls.certfile: {tmp_path / 'missing.pem'} does not exist" in lines[0]
    assert f"broker.listeners[0].tls.keyfile: {tmp_path / 'missing.key'} does not exist" in lines[1]


def test_password_file_that_is_a_directory(tmp_path: Path) -> None:
    (tmp_path / "secrets").mkdir()
    text = BASE + "upstream:\n  servers:\n    - {host: h, username: u, password_file: secrets}\n"
    result = check(tmp_path, text)
    assert result.returncode == 2
    [line] = problem_lines(result)
    assert "upstream.servers[0].password_file:" in line and "is a directory" in line


def test_broker_password_file_that_is_a_directory(tmp_path: Path) -> None:
    (tmp_path / "passwd").mkdir()
    text = BASE.replace("  allow_anonymous: true\n", "  password_file: passwd\n")
    result = check(tmp_path, text)
    assert result.returncode == 2
    [line] = problem_lines(result)
    assert "broker.password_file:" in line and "is a directory, expected a file" in line


def test_listeners_on_the_same_port_twice(tmp_path: Path) -> None:
    text = BASE.replace("    - {host: 127.0.0.1, port: 1883}\n", "    - {host: 127.0.0.1, port: 1883}\n" * 2)
    result = check(tmp_path, text)
    assert result.returncode == 2
    [line] = problem_lines(result)
    assert (
        "gateway.yaml:7: broker.listeners[1].port: 127.0.0.1:1883 is already used by broker.listeners[0]"
        in line
    )


def test_no_fallback_to_an_open_anonymous_broker(tmp_path: Path) -> None:
    result = check(tmp_path, BASE.replace("  allow_anonymous: true\n", ""))
    assert result.returncode == 2
    assert "broker.password_file: missing: with allow_anonymous false no client could log in" in result.stderr


def test_every_problem_is_reported_in_one_run(tmp_path: Path) -> None:
    (tmp_path / "secrets").mkdir()
    text = """\
identity:
  group_id: G/bad
  edge_node_id: E
  primary_host: x
broker:
  listeners:
    - {port: 1883}
    - {port: 1883}
    - {port: 70000}
  allow_anonymous: true
  limits: {max_keepalive: 0}
upstream:
  servers:
    - {host: h, username: u, password_file: secrets}
    - {host: h2, username: u, password_env: NOT_SET_ANYWHERE}
devices:
  - id: pump
    protocol: modbus_tcp
    host: 10.0.0.1
    tags:
      - {name: a, address: 40001, type: floot}
      - {name: b, address: 30001, type: uint16, writable: true}
      - {name: b, address: 40010, type: string, length: 600}
  - id: pump
    protocol: s7
"""
    result = check(tmp_path, text)
    assert result.returncode == 2
    lines = problem_lines(result)
    expected_keys = [
        "identity.group_id",
        "identity.primary_host",
        "broker.listeners[1].port",
        "broker.listeners[2].port",
        "broker.limits.max_keepalive",
        "upstream.servers[0].password_file",
        "upstream.servers[1].password_env",
        "devices[0].tags[0].type",
        "devices[0].tags[1].writable",
        "devices[0].tags[2].name",
        "devices[0].tags[2].length",
        "devices[1].protocol",
    ]
    for key in expected_keys:
        assert any(f": {key}: " in line for line in lines), f"{key} not reported in:\n{result.stderr}"
    assert len(lines) == len(expected_keys), result.stderr
    assert f"the configuration has {len(expected_keys)} problems" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("setup", "reason"),
    [
        ("missing", "no such file"),
        ("directory", "is a directory, expected a YAML file"),
        ("binary", "not UTF-8 text"),
    ],
)
def test_unreadable_configuration_file(tmp_path: Path, setup: str, reason: str) -> None:
    path = tmp_path / "gateway.yaml"
    if setup == "directory":
        path.mkdir()
    elif setup == "binary":
        path.write_bytes(b"identity:\n  group_id: \xff\xfe\n")
    result = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "check-config", str(path)],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert reason in result.stderr


def test_show_effective_masks_secrets_and_names_origins(tmp_path: Path) -> None:
    text = BASE + "upstream:\n  servers:\n    - {host: h, username: u, password_env: UPSTREAM_PW}\n"
    result = check(tmp_path, text, "--show-effective", env={"UPSTREAM_PW": "hunter2-very-secret"})
    assert result.returncode == 0, result.stderr
    assert "hunter2-very-secret" not in result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert any(
        line.startswith("upstream.servers[0].password") and "***" in line and "(env:UPSTREAM_PW)" in line
        for line in lines
    )
    assert any(line.startswith("identity.group_id") and "gateway.yaml:2)" in line for line in lines)
    assert any(line.startswith("store.max_bytes") and "(default)" in line for line in lines)


def test_valid_but_risky_settings_are_warned_about(tmp_path: Path) -> None:
    text = BASE.replace("{host: 127.0.0.1, port: 1883}", "{host: 0.0.0.0, port: 1883}")
    result = check(tmp_path, text)
    assert result.returncode == 0
    assert "warning: broker.acl_file is not set" in result.stderr
    assert "warning: broker.allow_anonymous is true on a listener reachable from the network" in result.stderr
