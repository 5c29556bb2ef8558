"""Benchmark: responsiveness of the terminal UI while 10,000 tags change 1,000 times a second.

The real `edge-gateway tui` runs attached over MQTT to a real mosquitto on which this script publishes
the control plane with the contract module: 100 devices of 100 tags (retained TagSnapshots), then
TagChanges batches at --rate changes/s (each device every 0.5 s, as the daemon batches them). On the
Tags screen the script presses Down and waits for the detail line of the newly selected tag
(``<key>  <value>``; the tag's row in the list starts with the key too, but padded with spaces).

Two ways to see the screen (--terminal):
  pty (default)  the UI runs on a pseudo-terminal owned by this script; its output is read as it is
                 written (a thread blocked in select): key written -> bytes naming the tag. No
                 polling; resolution one thread wake-up.
  tmux           a real terminal emulator; `tmux capture-pane` is polled, each look costing a tmux
                 client process (reported as look_ms, the method's resolution; it adds tmux's own
                 redraw and the looks' CPU on a small machine).
The UI also measures itself (tui/trace.py, EDGE_GATEWAY_TUI_TRACE): app_* figures are from the
key's arrival in Textual's input thread to the first screen update handed to the driver after it;
loop_lag_* is how late a 10 ms heartbeat on the UI loop ran (loop busy, no CPU, or no GIL);
decode_* is the decoding on the MQTT thread. --sched prefixes the UI's command ('chrt -f 10', 'nice
-n -10'; root) to tell CPU starvation apart from the UI's own work. The reference, measured in the
same run, is the same key with no changes flowing. CPU (user+system, share of one core) and RSS of
the UI process come from psutil, over a window that includes the key presses.

    .venv/bin/python benchmarks/tui.py [--tags 10000] [--rate 1000] [--keys 60] [--cpu-seconds 10]
        [--terminal pty|tmux] [--sched 'chrt -f 10'] [--trace-out trace.jsonl] [--no-trace]

One JSON line per figure. The machine may be shared with other work: figures are noisy.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import pty
import random
import re
import select
import shlex
import shutil
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
from pathlib import Path
from typing import Any, ClassVar

import paho.mqtt.client as mqtt
import psutil
from paho.mqtt.enums import CallbackAPIVersion

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gateway.control import contract as c  # noqa: E402

T_DEVICES = 100
POLL_S = 0.002  # between two capture-pane looks


def start_mosquitto(workdir: Path) -> tuple[subprocess.Popen[bytes], int]:
    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    for _ in range(5):
        with __import__("socket").socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        conf = workdir / "mosquitto.conf"
        conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\nmax_queued_messages 0\n")
        proc = subprocess.Popen(
            [binary, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                __import__("socket").create_connection(("127.0.0.1", port), 0.2).close()
                return proc, port
            except OSError:
                time.sleep(0.02)
        proc.kill()
    raise SystemExit("mosquitto did not start")


class Publisher:
    """Publishes the control plane of a large plant, built with the contract module."""

    def __init__(self, port: int, tags: int) -> None:
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-daemon")
        self.client.max_queued_messages_set(0)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        self.per_device = tags // T_DEVICES
        self.devices = [f"dev{i:03d}" for i in range(T_DEVICES)]
        self.stop = threading.Event()
        self.sent_changes = 0
        self.rng = random.Random(7)

    def now(self) -> int:
        return time.time_ns() // 1_000_000

    def tag(self, name: str, value: float, now: int) -> c.TagValue:
        return c.TagValue(name, value, c.Quality.GOOD, now, "Float", unit="bar")

    def publish_snapshots(self) -> None:
        now = self.now()
        pub = self.client.publish
        pub(c.STATE_TOPIC, c.encode_message(c.DaemonState(True, now, "bench", os.getpid())), 1, True)
        status = c.GatewayStatus(now, "Bench", "bench-gw", "bench", now, 0.0, None, None)
        pub(c.GATEWAY_TOPIC, c.encode_message(status), 1, True)
        for dev in self.devices:
            tags = tuple(self.tag(f"t{j:03d}", 0.0, now) for j in range(self.per_device))
            info = pub(c.tags_topic(dev), c.encode_message(c.TagSnapshot(now, dev, tags)), 1, True)
        info.wait_for_publish(10)

    def run_changes(self, rate: int) -> None:
        """Each device publishes a batch every 0.5 s (spread evenly); rate/2 changes per 0.5 s total."""
        per_batch = max(1, rate // (2 * T_DEVICES))
        interval = 0.5 / T_DEVICES
        next_at = time.monotonic()
        i = 0
        while not self.stop.is_set():
            dev = self.devices[i % T_DEVICES]
            now = self.now()
            names = self.rng.sample(range(self.per_device), per_batch)
            changes = tuple(self.tag(f"t{j:03d}", self.rng.uniform(0, 100), now) for j in sorted(names))
            self.client.publish(c.tag_changes_topic(dev), c.encode_message(c.TagChanges(now, dev, changes)))
            self.sent_changes += per_batch
            i += 1
            next_at += interval
            delay = next_at - time.monotonic()
            if delay > 0:
                self.stop.wait(delay)

    def close(self) -> None:
        self.stop.set()
        self.client.disconnect()
        self.client.loop_stop()


class Terminal:
    """The real UI in a private tmux server."""

    def __init__(self, port: int, workdir: Path, sched: str = "", trace: bool = True) -> None:
        self.socket = str(workdir / "tmux.sock")
        self.session = "bench"
        self.trace = workdir / "trace.jsonl"
        self.looks = 0
        self.look_s = 0.0
        trace_file = self.trace if trace else ""
        command = (
            f"exec env TERM=xterm-256color PYTHONPATH={ROOT} EDGE_GATEWAY_TUI_TRACE={trace_file} "
            f"{sched} {sys.executable} -m gateway.cli tui --port {port}"
        )
        self.tmux("new-session", "-d", "-s", self.session, "-x", "120", "-y", "40", command)
        pid = int(self.tmux("display", "-p", "-t", self.session, "#{pane_pid}").strip())
        self.process = psutil.Process(pid)

    def tmux(self, *args: str) -> str:
        out = subprocess.run(["tmux", "-S", self.socket, *args], capture_output=True, text=True, check=True)
        return out.stdout

    def screen(self) -> str:
        started = time.monotonic()
        text = self.tmux("capture-pane", "-p", "-t", self.session)
        self.looks += 1
        self.look_s += time.monotonic() - started
        return text

    def trace_lines(self) -> list[dict[str, Any]]:
        """What the UI traced about itself (tui/trace.py), in order."""
        if not self.trace.exists():
            return []
        return [json.loads(line) for line in self.trace.read_text().splitlines() if line.strip()]

    def shows(self, needle: str | re.Pattern[str]) -> bool:
        text = self.screen()
        return bool(needle.search(text)) if isinstance(needle, re.Pattern) else needle in text

    def wait(self, needle: str | re.Pattern[str], timeout: float = 30.0) -> float:
        started = time.monotonic()
        while not self.shows(needle):
            if time.monotonic() - started > timeout:
                raise SystemExit(f"{needle!r} not on screen after {timeout} s:\n{self.screen()}")
            time.sleep(POLL_S)  # leave the CPU to the UI: the machine has 2 cores
        return time.monotonic() - started

    def key(self, key: str) -> None:
        self.tmux("send-keys", "-t", self.session, key)

    def close(self) -> None:
        subprocess.run(["tmux", "-S", self.socket, "kill-server"], capture_output=True, check=False)


class PtyTerminal:
    """The real UI on a pseudo-terminal owned by this script: keys are written to the master side
    and the UI's output is read as it is written (a reader thread blocked in select), so the
    latency is key write -> the bytes naming the new tag, with no terminal emulator or polling in
    between (resolution: one thread wake-up). The output is matched raw: Textual writes a changed
    line as one run of text, which contains the detail line's plain text."""

    KEYS: ClassVar[dict[str, bytes]] = {"Down": b"\x1b[B"}

    def __init__(self, port: int, workdir: Path, sched: str = "", trace: bool = True) -> None:
        self.trace = workdir / "trace.jsonl"
        self.looks, self.look_s = 0, 0.0  # no polling: kept for the common reporting
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
        env = {
            **os.environ,
            "TERM": "xterm-256color",
            "PYTHONPATH": str(ROOT),
            "EDGE_GATEWAY_TUI_TRACE": str(self.trace) if trace else "",
        }
        argv = [*shlex.split(sched), sys.executable, "-m", "gateway.cli", "tui", "--port", str(port)]
        self.proc = subprocess.Popen(
            argv, stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True
        )
        os.close(slave)
        self.master = master
        self.process = psutil.Process(self.proc.pid)
        self._buffer = ""
        self._mark = 0
        self._changed = threading.Condition()
        self._closed = False
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        decoder = __import__("codecs").getincrementaldecoder("utf-8")("replace")
        while not self._closed:
            ready, _, _ = select.select([self.master], [], [], 0.2)
            if not ready:
                continue
            try:
                data = os.read(self.master, 65536)
            except OSError:
                return
            if not data:
                return
            with self._changed:
                self._buffer += decoder.decode(data)
                if len(self._buffer) > 4_000_000:  # keep memory bounded: drop what was looked at
                    cut = min(self._mark, len(self._buffer) - 1_000_000)
                    self._buffer, self._mark = self._buffer[cut:], self._mark - cut
                self._changed.notify_all()

    def key(self, key: str) -> None:
        with self._changed:
            self._mark = len(self._buffer)  # only output written after the key counts
        os.write(self.master, self.KEYS.get(key, key.encode()))

    def wait(self, needle: str | re.Pattern[str], timeout: float = 30.0) -> float:
        started = time.monotonic()
        deadline = started + timeout
        with self._changed:
            while True:
                text = self._buffer[max(0, self._mark - 200) :]
                if needle.search(text) if isinstance(needle, re.Pattern) else needle in text:
                    return time.monotonic() - started
                if not self._changed.wait(deadline - time.monotonic()) and time.monotonic() > deadline:
                    raise SystemExit(
                        f"{needle!r} not written after {timeout} s; output ends with:\n"
                        f"{self._buffer[-3000:]!r}"
                    )

    def trace_lines(self) -> list[dict[str, Any]]:
        if not self.trace.exists():
            return []
        return [json.loads(line) for line in self.trace.read_text().splitlines() if line.strip()]

    def close(self) -> None:
        self._closed = True
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self.master)


def detail_line(key: str) -> re.Pattern[str]:
    """The detail line of the selected tag: its key, two spaces, then its value. (The tag's row in
    the list also starts with its key, padded with many spaces: matching ``key + "  "`` alone found
    the row already on screen before the key press, and measured only the polling.)"""
    return re.compile(rf"{re.escape(key)}  [^ ]", re.MULTILINE)


def key_latencies(
    term: Terminal | PtyTerminal, keys: list[str], count: int, start: int
) -> tuple[list[float], int]:
    """Press down ``count`` times; after each, wait for the detail line of the next tag."""
    out = []
    row = start
    for _ in range(count):
        row += 1
        started = time.monotonic()
        term.key("Down")
        term.wait(detail_line(keys[row]), timeout=10)
        out.append((time.monotonic() - started) * 1000)
    return out, row


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values) or [0.0]
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def inside(term: Terminal | PtyTerminal, since: int) -> tuple[dict[str, Any], int]:
    """The UI's own figures (tui/trace.py) for the trace lines after ``since``."""
    lines = term.trace_lines()
    if not lines:
        return {"traced": False}, 0
    new = lines[since:]
    keys = [t for t in new if t["kind"] == "key" and t["key"] == "down"]
    loops = [t for t in new if t["kind"] == "loop"]
    sinks = [t for t in new if t["kind"] == "sink"]
    figures = {
        "app_keys": len(keys),
        "app_p50_ms": pct([t["total_ms"] for t in keys], 0.5),
        "app_p99_ms": pct([t["total_ms"] for t in keys], 0.99),
        "app_queue_p99_ms": pct([t["queue_ms"] for t in keys], 0.99),
        "app_render_p99_ms": pct([t["render_ms"] for t in keys], 0.99),
        "loop_lag_max_ms": max((t["lag_max_ms"] for t in loops), default=0.0),
        "loop_lag_p99_ms_worst_second": max((t["lag_p99_ms"] for t in loops), default=0.0),
        "decode_max_ms": max((t["decode_max_ms"] for t in sinks), default=0.0),
        "decode_ms_per_s": pct([t["decode_sum_ms"] for t in sinks], 0.5),
    }
    return figures, len(lines)


def look_ms(term: Terminal | PtyTerminal) -> float | None:
    """Mean cost of one capture-pane look plus the pause between looks: the tmux method's
    resolution (None for the pty, which does not poll)."""
    if isinstance(term, PtyTerminal):
        return None
    return round(1000 * (term.look_s / max(term.looks, 1) + POLL_S), 2)


def emit(**fields: Any) -> None:
    print(json.dumps({"benchmark": "tui", **fields}), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tags", type=int, default=10_000)
    parser.add_argument("--rate", type=int, default=1_000, help="tag changes per second")
    parser.add_argument("--keys", type=int, default=60, help="key presses per phase")
    parser.add_argument("--cpu-seconds", type=float, default=10.0)
    parser.add_argument(
        "--sched",
        default="",
        help="command prefix for the UI process, e.g. 'nice -n -10' or 'chrt -f 10' (root): "
        "tells CPU starvation apart from the UI's own work",
    )
    parser.add_argument(
        "--terminal",
        choices=("pty", "tmux"),
        default="pty",
        help="pty: read the UI's output as written (no polling); tmux: poll capture-pane of a real "
        "terminal emulator (adds tmux's redraw and the look cost, reported as look_ms)",
    )
    parser.add_argument("--trace-out", help="keep the UI's own trace (JSON lines) in this file")
    parser.add_argument(
        "--no-trace",
        action="store_true",
        help="run the UI without its latency trace (no app_* figures): the CPU of the UI alone, "
        "without the trace's 10 ms heartbeat and its JSON lines",
    )
    args = parser.parse_args()
    if shutil.which("tmux") is None:
        raise SystemExit("tmux is needed (apt-get install tmux)")
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        broker, port = start_mosquitto(workdir)
        publisher = Publisher(port, args.tags)
        term: Terminal | PtyTerminal = (
            PtyTerminal(port, workdir, args.sched, trace=not args.no_trace)
            if args.terminal == "pty"
            else Terminal(port, workdir, args.sched, trace=not args.no_trace)
        )
        try:
            publisher.publish_snapshots()
            term.wait("connected")
            keys = [f"{d}/t{j:03d}" for d in publisher.devices for j in range(publisher.per_device)]
            term.key("3")
            opened = term.wait(detail_line(keys[0]), timeout=60)
            emit(scenario="open_tags_screen", tags=len(keys), seconds=round(opened, 3))

            _, mark = inside(term, 0)
            term.looks, term.look_s = 0, 0.0
            idle, row = key_latencies(term, keys, args.keys, 0)
            app_idle, mark = inside(term, mark)
            emit(
                scenario="key_to_repaint_idle",
                sched=args.sched or "default",
                terminal=args.terminal,
                keys=len(idle),
                p50_ms=round(pct(idle, 0.5), 1),
                p99_ms=round(pct(idle, 0.99), 1),
                look_ms=look_ms(term),
                **app_idle,
            )

            feeder = threading.Thread(target=publisher.run_changes, args=(args.rate,), daemon=True)
            feeder.start()
            time.sleep(2.0)  # warm up: the UI reaches its steady state under load
            _, mark = inside(term, 0)
            term.looks, term.look_s = 0, 0.0
            cpu0, wall0, sent0 = term.process.cpu_times(), time.monotonic(), publisher.sent_changes
            loaded, row = key_latencies(term, keys, args.keys, row)
            remaining = args.cpu_seconds - (time.monotonic() - wall0)
            if remaining > 0:
                time.sleep(remaining)
            cpu1, wall1, sent1 = term.process.cpu_times(), time.monotonic(), publisher.sent_changes
            app_loaded, _ = inside(term, mark)
            cpu_share = ((cpu1.user - cpu0.user) + (cpu1.system - cpu0.system)) / (wall1 - wall0)
            rss_mb = term.process.memory_info().rss / 2**20
            emit(
                scenario="key_to_repaint_loaded",
                keys=len(loaded),
                tags=len(keys),
                changes_per_s=round((sent1 - sent0) / (wall1 - wall0)),
                p50_ms=round(pct(loaded, 0.5), 1),
                p99_ms=round(pct(loaded, 0.99), 1),
                p99_ratio_to_idle=round(pct(loaded, 0.99) / max(pct(idle, 0.99), 0.001), 2),
                goal="p99 < 100 ms",
                sched=args.sched or "default",
                terminal=args.terminal,
                look_ms=look_ms(term),
                **app_loaded,
            )
            emit(
                scenario="ui_cpu_loaded",
                traced=not args.no_trace,
                seconds=round(wall1 - wall0, 1),
                cpu_percent_of_one_core=round(100 * cpu_share, 1),
                goal="< 30 %",
            )
            emit(scenario="ui_rss", rss_mb=round(rss_mb, 1), goal="< 150 MB")
        finally:
            publisher.close()
            term.close()
            if args.trace_out and term.trace.exists():
                shutil.copy(term.trace, args.trace_out)
            broker.kill()
            broker.wait()


if __name__ == "__main__":
    main()
