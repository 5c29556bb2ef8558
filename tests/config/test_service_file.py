"""config/edge-gateway.service starts, reloads and stops the daemon with commands that exist."""

from __future__ import annotations

import configparser
import shlex
from pathlib import Path

from gateway.cli import build_parser

SERVICE = Path(__file__).resolve().parents[2] / "config" / "edge-gateway.service"


def _service() -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser(strict=False, delimiters=("=",))
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # systemd keys are case-sensitive
    parser.read(SERVICE)
    return parser


def test_exec_lines_parse_as_our_commands() -> None:
    service = _service()["Service"]
    cli = build_parser()
    for key in ("ExecStartPre", "ExecStart"):
        argv = shlex.split(service[key])
        assert argv[0].endswith("/edge-gateway")
        args = cli.parse_args(argv[1:])  # raises SystemExit on an unknown option
        assert args.command in ("check-config", "run")
    assert "run" in service["ExecStart"] and "-c" in shlex.split(service["ExecStart"])


def test_stop_and_reload_use_the_signals_the_daemon_handles() -> None:
    service = _service()["Service"]
    assert service["KillSignal"] == "SIGTERM"
    assert "-HUP" in service["ExecReload"]
    assert int(service["TimeoutStopSec"]) >= 10
    assert service["StateDirectory"] == "edge-gateway"
    assert "dialout" in service["SupplementaryGroups"]
