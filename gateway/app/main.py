"""Running the daemon until a signal: SIGTERM/SIGINT stop it cleanly (exit 0), SIGHUP reloads.

Used by ``edge-gateway run`` (and ``demo``). The configuration is validated before anything starts
(an invalid file: the error listing every problem, exit 2, nothing started). Logging is configured from
the file's ``logging`` section, with an in-memory ring for the control plane.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import signal
import sys
import tempfile
from pathlib import Path

from gateway.config import LoadedConfig, load_config
from gateway.logging_setup import LogRing, configure_logging

log = logging.getLogger(__name__)


def _say(text: str) -> None:
    # The lines scripts and tests read (bound ports); flushed at once.
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def _say_demo_hints(address: tuple[str, int]) -> None:
    # The demo's broker is on loopback and takes anonymous clients (docs/demo.md): no credentials needed.
    host, port = address
    _say(f"demo: watch the Sparkplug traffic: edge-gateway sniff --host {host} --port {port}")
    _say(f"demo: or the terminal UI: edge-gateway tui --host {host} --port {port}")
    _say("demo: births are not retained: a late client sees them after a rebirth (TUI or NCMD)")


async def run_daemon(
    config_file: Path | None, *, broker_port: int = 1883, data_dir: Path | None = None
) -> int:
    """Run until SIGTERM/SIGINT; returns the exit status (0 after a clean stop)."""
    from gateway.app.daemon import Daemon

    demo = None
    loaded: LoadedConfig
    if config_file is None:
        from gateway.app.demo import start_demo

        directory = data_dir or Path(tempfile.mkdtemp(prefix="edge-gateway-demo-"))
        demo, loaded = await start_demo(broker_port, directory)
        _say(f"demo: simulated Modbus device on 127.0.0.1:{demo.modbus.port}")
        _say(f"demo: simulated OPC UA server at {demo.opcua.endpoint}")
    else:
        loaded = load_config(config_file)  # ConfigError: printed by the CLI, exit 2
    logging_cfg = loaded.config.logging
    ring = LogRing(loaded.config.control.log_lines)
    configure_logging(
        logging_cfg.level.value,
        logging_cfg.format.value,
        {name: level.value for name, level in logging_cfg.levels.items()},
        ring=ring,
    )
    daemon = Daemon(loaded, log_ring=ring, demo=config_file is None, announce=_say)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    reloads: set[asyncio.Task[object]] = set()

    def on_hangup() -> None:
        task = loop.create_task(daemon.reload("sighup"))
        reloads.add(task)
        task.add_done_callback(reloads.discard)

    loop.add_signal_handler(signal.SIGHUP, on_hangup)
    try:
        await daemon.start()
        # Start-up leaves tens of thousands of long-lived objects (asyncua's type tables, the demo's
        # simulated address space: ~540,000) that every full collection would walk again, stalling the
        # loop 40-300 ms (benchmarks/README.md, drivers). Frozen, they are still freed by reference
        # counting; only cycles among them are never collected.
        gc.freeze()
        _say("gateway running (SIGTERM or Ctrl-C stops it, SIGHUP reloads the configuration)")
        if demo is not None and daemon.broker is not None and daemon.broker.addresses:
            _say_demo_hints(daemon.broker.addresses[0])
        while not stop.is_set() and not daemon.reboot_requested:
            waiter = asyncio.ensure_future(stop.wait())
            await asyncio.wait({waiter}, timeout=1.0)
            waiter.cancel()
    finally:
        log.info("stopping")
        await daemon.stop()
        if demo is not None:
            await demo.stop()
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            loop.remove_signal_handler(sig)
    if daemon.reboot_requested:
        # Node Control/Reboot: NDEATH was sent; start again as a fresh process with the same arguments.
        log.warning("Node Control/Reboot: restarting the gateway process")
        os.execv(sys.executable, [sys.executable, "-m", "gateway.cli", *sys.argv[1:]])
    return 0
