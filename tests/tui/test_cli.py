"""`edge-gateway tui` options: every unusable combination is refused in plain words before any UI."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from gateway.cli import build_parser
from gateway.commands.tui import settings_from_args
from gateway.errors import UserFacingError

REPO = Path(__file__).resolve().parents[2]


def settings(*argv: str):  # type: ignore[no-untyped-def]
    return settings_from_args(build_parser().parse_args(["tui", *argv]))


def test_defaults_and_full_options(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    s = settings()
    assert (s.host, s.port, s.tls, s.read_only, s.username, s.password) == (
        "127.0.0.1",
        1883,
        False,
        False,
        None,
        None,
    )
    assert settings("--tls").port == 8883
    pem = tmp_path / "ca.pem"
    pem.write_text("x")
    monkeypatch.setenv("TECH_PW", "s3cret")
    s = settings(
        "--host",
        "gw",
        "--port",
        "1884",
        "--username",
        "tech",
        "--password-env",
        "TECH_PW",
        "--tls",
        "--cafile",
        str(pem),
        "--cert",
        str(pem),
        "--key",
        str(pem),
        "--read-only",
    )
    assert (s.host, s.port, s.username, s.password, s.tls, s.read_only) == (
        "gw",
        1884,
        "tech",
        "s3cret",
        True,
        True,
    )
    assert s.cafile == str(pem) and s.certfile == str(pem) and s.keyfile == str(pem)
    assert "s3cret" not in repr(s)  # the password never shows in logs or tracebacks


def test_environment_twins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EDGE_GATEWAY_TUI_HOST", "10.1.2.3")
    monkeypatch.setenv("EDGE_GATEWAY_TUI_PORT", "11883")
    monkeypatch.setenv("EDGE_GATEWAY_TUI_READ_ONLY", "1")
    s = settings()
    assert (s.host, s.port, s.read_only) == ("10.1.2.3", 11883, True)


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (
            ["--username", "u", "--password-env", "SURELY_UNSET_VAR_42"],
            "SURELY_UNSET_VAR_42: that environment",
        ),
        (["--password-env", "HOME"], "--password-env needs --username"),
        (["--cafile", "/nonexistent.pem", "--tls"], "--cafile /nonexistent.pem: no such file"),
        (["--port", "70000"], "--port 70000: expected 1..65535"),
        (["--redraw-hz", "0"], "--redraw-hz 0.0"),
    ],
)
def test_unusable_options_are_refused(argv: list[str], words: str) -> None:
    with pytest.raises(UserFacingError, match=words.replace("(", r"\(").replace(".", r"\.")):
        settings(*argv)


def test_tls_files_need_tls_and_cert_needs_key(tmp_path: Path) -> None:
    pem = tmp_path / "c.pem"
    pem.write_text("x")
    with pytest.raises(UserFacingError, match="--cafile needs --tls"):
        settings("--cafile", str(pem))
    with pytest.raises(UserFacingError, match="--cert and --key go together"):
        settings("--tls", "--cert", str(pem))


def test_the_command_prints_one_readable_error_without_a_traceback() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "gateway.cli",
            "tui",
            "--username",
            "u",
            "--password-env",
            "SURELY_UNSET_VAR_42",
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=30,
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr.startswith("error: --password-env SURELY_UNSET_VAR_42")
    assert "hint: export SURELY_UNSET_VAR_42=" in result.stderr and "Traceback" not in result.stderr
