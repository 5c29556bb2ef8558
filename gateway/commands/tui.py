"""``edge-gateway tui``: the technician's terminal UI, attached to a running gateway.

    edge-gateway tui [--host H] [--port P] [--username U] [--password-env VAR]
                     [--tls] [--cafile CA] [--cert CERT] [--key KEY] [--read-only]

It connects to the gateway's embedded MQTT broker (locally, through `ssh -L 1883:127.0.0.1:1883
GATEWAY`, or over TLS) and uses only the control plane. The password is read from the environment
variable named by --password-env, never from the command line (it would show in `ps`). Quitting the
UI leaves the gateway running. Every flag has an environment twin (EDGE_GATEWAY_TUI_HOST, ...).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from gateway.errors import UserFacingError

_ENV = "EDGE_GATEWAY_TUI_"


def _env(name: str, default: str | None = None) -> str | None:
    return os.environ.get(_ENV + name, default)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "tui",
        help="open the terminal UI on a running gateway",
        description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--host", default=_env("HOST", "127.0.0.1"), help="broker host (default 127.0.0.1)")
    parser.add_argument(
        "--port",
        type=int,
        default=int(_env("PORT", "0") or 0) or None,
        help="broker port (default 1883, or 8883 with --tls)",
    )
    parser.add_argument("--username", default=_env("USERNAME"), help="MQTT user name")
    parser.add_argument(
        "--password-env",
        metavar="VAR",
        default=_env("PASSWORD_ENV"),
        help="name of the environment variable that holds the password",
    )
    parser.add_argument("--tls", action="store_true", default=_env("TLS") == "1", help="connect with TLS")
    parser.add_argument("--cafile", type=Path, default=_env("CAFILE"), help="CA certificate(s) of the broker")
    parser.add_argument("--cert", type=Path, default=_env("CERT"), help="client certificate (mutual TLS)")
    parser.add_argument("--key", type=Path, default=_env("KEY"), help="private key of --cert")
    parser.add_argument(
        "--read-only",
        action="store_true",
        default=_env("READ_ONLY") == "1",
        help="never send commands that change the plant or the gateway",
    )
    parser.add_argument(
        "--redraw-hz",
        type=float,
        default=float(_env("REDRAW_HZ", "2") or 2),
        help="screen repaints per second at most (default 2)",
    )
    parser.set_defaults(func=run)


def settings_from_args(args: Any) -> Any:
    """Build :class:`tui.TuiSettings` from parsed arguments, checking everything first.

    Raises:
        UserFacingError: a setting cannot work (missing password variable, unreadable file, ...).
    """
    from tui.settings import TuiSettings

    password = None
    if args.password_env:
        password = os.environ.get(args.password_env)
        if password is None:
            raise UserFacingError(
                f"--password-env {args.password_env}: that environment variable is not set",
                hint=f"export {args.password_env}=... first (it keeps the password out of `ps`)",
            )
        if args.username is None:
            raise UserFacingError("--password-env needs --username", hint="add --username NAME")
    for flag, path in (("--cafile", args.cafile), ("--cert", args.cert), ("--key", args.key)):
        if path is not None and not Path(path).is_file():
            raise UserFacingError(f"{flag} {path}: no such file", hint="give the path of a PEM file")
        if path is not None and not args.tls:
            raise UserFacingError(f"{flag} needs --tls", hint="add --tls")
    if (args.cert is None) != (args.key is None):
        raise UserFacingError("--cert and --key go together", hint="give both, or neither")
    port = args.port if args.port else (8883 if args.tls else 1883)
    if not 1 <= port <= 65535:
        raise UserFacingError(f"--port {port}: expected 1..65535")
    if args.redraw_hz <= 0 or args.redraw_hz > 30:
        raise UserFacingError(f"--redraw-hz {args.redraw_hz}: expected more than 0 and at most 30")
    return TuiSettings(
        host=args.host,
        port=port,
        username=args.username,
        password=password,
        tls=args.tls,
        cafile=None if args.cafile is None else str(args.cafile),
        certfile=None if args.cert is None else str(args.cert),
        keyfile=None if args.key is None else str(args.key),
        read_only=args.read_only,
        redraw_hz=args.redraw_hz,
    )


def run(args: Any) -> int:
    from tui import run_tui

    run_tui(settings_from_args(args))
    return 0
