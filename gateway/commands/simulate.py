"""``edge-gateway simulate modbus|opcua``: run a simulated device until interrupted.

    edge-gateway simulate modbus [--host H] [--port P] [--unit-id N] [--extra-tags N]
    edge-gateway simulate opcua  [--host H] [--port P] [--extra-tags N] [--security none,sign,sign_encrypt]
                                 [--cert-dir DIR] [--user NAME:PASSWORD]

The first line on stdout is one JSON object with the simulator kind, the host and the bound port
(``--port 0``, the default, picks a free port), so scripts and benchmarks can read it; ``--describe``
adds one JSON line per tag (name, address or NodeId, type, unit, writable). Logs go to stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from gateway.errors import StartupError


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "simulate",
        help="run a simulated Modbus TCP device or OPC UA server",
        description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("kind", choices=["modbus", "opcua"], help="which simulator")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument(
        "--port", type=int, default=0, help="port; 0 picks a free one and prints it (default)"
    )
    parser.add_argument("--unit-id", type=int, default=1, help="Modbus unit id answered (default 1)")
    parser.add_argument("--extra-tags", type=int, default=0, help="extra generated tags for load tests")
    parser.add_argument("--update-interval", type=float, default=0.1, help="seconds between value updates")
    parser.add_argument(
        "--security",
        default="none",
        help="OPC UA endpoints to offer, comma separated: none, sign, sign_encrypt",
    )
    parser.add_argument(
        "--cert-dir", type=Path, help="OPC UA server certificate directory (generated if empty)"
    )
    parser.add_argument(
        "--user",
        action="append",
        default=[],
        metavar="NAME:PASSWORD",
        help="OPC UA user (repeatable); without it anonymous access is allowed",
    )
    parser.add_argument("--describe", action="store_true", help="print one JSON line per tag after the port")
    parser.set_defaults(func=run)


def run(args: Any) -> int:
    import asyncio

    if not 0 <= args.port <= 65535:
        raise StartupError(f"--port {args.port} is outside 0..65535")
    if args.extra_tags < 0 or args.update_interval <= 0:
        raise StartupError("--extra-tags must be >= 0 and --update-interval > 0")
    security = [s.strip() for s in args.security.split(",") if s.strip()]
    unknown = [s for s in security if s not in ("none", "sign", "sign_encrypt")]
    if unknown:
        raise StartupError(
            f"--security: unknown endpoint kind(s) {unknown}", hint="use none, sign, sign_encrypt"
        )
    if any(s != "none" for s in security) and args.cert_dir is None:
        raise StartupError("--security sign/sign_encrypt needs --cert-dir for the server certificate")
    users: dict[str, str] | None = None
    for item in args.user:
        name, sep, password = item.partition(":")
        if not sep or not name:
            raise StartupError(f"--user {item!r}: expected NAME:PASSWORD")
        users = (users or {}) | {name: password}
    import logging

    if not args.debug:
        # asyncua logs its whole address-space build at INFO; keep the terminal readable.
        logging.getLogger("asyncua").setLevel(logging.WARNING)
    asyncio.run(_serve(args, security, users))
    return 0


async def _serve(args: Any, security: list[str], users: dict[str, str] | None) -> None:
    import asyncio
    import signal

    from drivers.simulators import ModbusSimulator, OpcUaSimulator

    sim: Any
    if args.kind == "modbus":
        sim = ModbusSimulator(
            args.host,
            args.port,
            unit_id=args.unit_id,
            extra_tags=args.extra_tags,
            update_interval=args.update_interval,
        )
    else:
        sim = OpcUaSimulator(
            args.host,
            args.port,
            extra_variables=args.extra_tags,
            update_interval=args.update_interval,
            security=security,
            cert_dir=args.cert_dir,
            users=users,
            freeze_heap=True,  # this process is the simulator's alone (see OpcUaSimulator)
        )
    try:
        await sim.start()
    except (OSError, RuntimeError) as exc:  # pymodbus reports a failed bind as RuntimeError
        raise StartupError(
            f"cannot listen on {args.host}:{args.port}: {exc}",
            hint="choose another --port, or 0 for a free one",
        ) from exc
    line: dict[str, object] = {"simulator": args.kind, "host": args.host, "port": sim.port}
    if args.kind == "opcua":
        line["endpoint"] = sim.endpoint
    print(json.dumps(line), flush=True)
    if args.describe:
        for tag in sim.describe():
            print(json.dumps(tag), flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await sim.stop()
    print(f"{args.kind} simulator stopped", file=sys.stderr)
