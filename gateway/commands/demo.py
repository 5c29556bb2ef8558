"""``edge-gateway demo``: the built-in demo daemon and the terminal UI together, for a first look.

The daemon (``edge-gateway run`` without a file: embedded broker, simulated Modbus device and OPC UA
server, Sparkplug to the embedded broker) runs as a child process; the UI runs in this terminal and is
attached to it. Quitting the UI stops the demo daemon. ``--no-ui`` keeps only the daemon (Ctrl-C stops
it), e.g. to attach ``edge-gateway tui --port PORT`` from another terminal.
"""

from __future__ import annotations

import argparse
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from gateway.errors import StartupError

START_TIMEOUT_S = 60.0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "demo", help="run the demo daemon and the terminal UI together", description=__doc__
    )
    parser.add_argument("--port", type=int, default=0, help="embedded broker port (default: any free port)")
    parser.add_argument("--data-dir", type=Path, help="where the demo keeps its state (default: a temp dir)")
    parser.add_argument("--no-ui", action="store_true", help="run only the daemon")
    parser.set_defaults(func=run)


def _start_daemon(args: argparse.Namespace) -> tuple[subprocess.Popen[str], int]:
    command = [sys.executable, "-m", "gateway.cli", "run", "--port", str(args.port)]
    if args.data_dir is not None:
        command += ["--data-dir", str(args.data_dir)]
    log = Path(args.log)
    with log.open("w") as stderr:
        daemon = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=stderr, text=True)
    assert daemon.stdout is not None
    deadline = time.monotonic() + START_TIMEOUT_S
    port = 0
    for line in daemon.stdout:  # the daemon prints its bound port, then "gateway running"
        sys.stdout.write(line)
        match = re.search(r"broker listening on [\d.]+:(\d+)", line)
        if match and not port:
            port = int(match.group(1))
        if "gateway running" in line:
            return daemon, port
        if time.monotonic() > deadline:
            break
    daemon.kill()
    daemon.wait()
    raise StartupError(f"the demo daemon did not start; its log is {log}", hint=f"read {log}")


def run(args: argparse.Namespace) -> int:
    import tempfile

    args.log = str(Path(tempfile.gettempdir()) / "edge-gateway-demo.log")

    def interrupted(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt  # SIGTERM: stop the daemon child too (the finally below)

    signal.signal(signal.SIGTERM, interrupted)
    daemon, port = _start_daemon(args)
    print(f"demo daemon running (pid {daemon.pid}); its log: {args.log}")
    print(f"attach another terminal UI with: edge-gateway tui --port {port}")
    try:
        if args.no_ui:
            daemon.wait()
        else:
            from tui import TuiSettings, run_tui

            run_tui(TuiSettings(host="127.0.0.1", port=port))
    except KeyboardInterrupt:
        pass
    finally:
        if daemon.poll() is None:
            daemon.send_signal(signal.SIGTERM)
            try:
                daemon.wait(15)
            except subprocess.TimeoutExpired:
                daemon.kill()
                daemon.wait()
        if daemon.stdout is not None:
            daemon.stdout.close()
    return 0
