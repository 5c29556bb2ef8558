"""``edge-gateway run [-c FILE]``: run the gateway daemon (with no file: the built-in demo).

The demo starts the embedded broker on loopback (its port is printed), a simulated Modbus device in the
same process, and publishes Sparkplug to the embedded broker, so ``edge-gateway sniff`` and the terminal
UI show live data at once. SIGTERM stops cleanly (NDEATH first, exit 0); SIGHUP reloads the file.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "run", help="run the gateway (no file: the built-in demo)", description=__doc__
    )
    parser.add_argument("-c", "--config", type=Path, help="the YAML configuration file")
    parser.add_argument(
        "--port",
        type=int,
        default=1883,
        help="demo only: embedded broker port (0 = any free port; default 1883)",
    )
    parser.add_argument(
        "--data-dir", type=Path, help="demo only: where durable state goes (default: a temp dir)"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from gateway.app.main import run_daemon

    # uvloop is not used yet: the broker's protocol asserts asyncio.Transport, which uvloop's transports
    # are not (gateway/broker/server.py); switch when the broker accepts any transport.
    code: int = asyncio.run(run_daemon(args.config, broker_port=args.port, data_dir=args.data_dir))
    return code
