"""Running a configured broker standalone (``edge-gateway broker``) until SIGINT/SIGTERM."""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import Callable

from gateway.broker.service import Broker


async def run_standalone(broker: Broker, on_hangup: Callable[[], object] | None = None) -> None:
    """Start ``broker``, print one ``listening on HOST:PORT`` line per bound socket to stdout (scripts and
    tests read the port from it; port 0 is resolved), serve until SIGINT or SIGTERM, then stop cleanly
    (persistence flushed)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)  # before the port is printed: a script may signal at once
    if on_hangup is not None:
        # SIGHUP re-reads the broker's password and ACL files (an invalid file keeps the old ones, logged).
        loop.add_signal_handler(signal.SIGHUP, on_hangup)
    await broker.start()
    try:
        for bound_host, bound_port in broker.addresses:
            sys.stdout.write(f"listening on {bound_host}:{bound_port}\n")
        sys.stdout.flush()
        await stop.wait()
    finally:
        await broker.stop()
