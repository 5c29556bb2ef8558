"""``edge-gateway broker [-c FILE] [--host H] [--port P]``: run the embedded broker on its own."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "broker",
        help="run the embedded MQTT broker standalone",
        description="Run the embedded MQTT 3.1.1/5.0 broker on its own. Prints the bound address on start.",
    )
    parser.add_argument("-c", "--config", metavar="FILE", help="configuration file (its [broker] section)")
    parser.add_argument("--host", default=None, help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=None, help="TCP port (default 1883; 0 = any free port)")
    parser.add_argument(
        "--allow-anonymous",
        action="store_true",
        help="accept clients without credentials (refused by default)",
    )
    parser.set_defaults(func=run)


class _TerminatedError(Exception):
    """SIGTERM arrived while no event-loop handler was installed (start-up or shutdown windows)."""


def _on_sigterm(signum: int, frame: object) -> None:
    raise _TerminatedError


def run(args: argparse.Namespace) -> int:
    import asyncio
    import os
    import signal

    # While the loop runs, run_standalone's loop handler takes over and stops the broker cleanly; outside
    # it, SIGTERM still ends the process without a traceback instead of killing it mid-flush.
    signal.signal(signal.SIGTERM, _on_sigterm)
    from gateway.broker.runner import run_standalone

    runner = asyncio.run
    # uvloop when installed (the 'fast' extra); EDGE_GATEWAY_NO_UVLOOP=1 forces the standard loop.
    if not os.environ.get("EDGE_GATEWAY_NO_UVLOOP"):
        try:
            import uvloop

            runner = uvloop.run
        except ImportError:
            pass
    try:
        runner(run_standalone(args.config, args.host, args.port, args.allow_anonymous))
    except _TerminatedError:
        return 0
    return 0
