"""Benchmark: the whole gateway, end to end, with real processes.

    Modbus simulator (drivers.simulators.ModbusSimulator in a child process, N extra tags, each of
    them a counter that moves on every update, so EVERY poll sees N real changes)
        -> edge-gateway run -c <generated config> (Modbus driver, Sparkplug edge node, uplink)
        -> mosquitto (upstream) -> a paho subscriber here that decodes every DDATA

The gateway reports by exception: an unchanged value is not published. The issue's goal is 5,000 tag
updates/s, so the device changes every one of its 5,000 tags between two polls (a counter of 10 units/s
from a per-tag offset); ``changes_offered_per_s`` is what the device offers (tags / poll interval),
``tag_updates_per_s`` what arrived upstream.

Figures (one JSON line each):
  latency_sample_to_subscriber  ms from the Sparkplug metric timestamp (when the gateway sampled the value)
                                to its arrival at the upstream subscriber: the latency "beyond the poll
                                interval" (goal: p99 < 100 ms)
  latency_change_to_subscriber  ms from the simulator's own update time (its clock_ms register) to arrival:
                                includes waiting for the next poll (up to one poll interval)
  tag_updates_per_s             metric values delivered per second at the subscriber (goal: 5 000/s),
                                with the changes the device offered and the polls seen (DDATA bursts)
  gateway_cpu_percent           the daemon's CPU (% of one core) while polling N tags every second
                                (goal: < 25 %): the process's CPU time (user + system, all threads,
                                from /proc via psutil) over the window divided by the window's wall
                                time, with the split and the ratio to the reference below. CPU-seconds
                                per second of one process hold up fairly well on a loaded machine (it
                                counts only what the daemon ran), but cache and frequency effects
                                remain: the load average at both ends is printed with it
  reference_cpu_percent         a bare pymodbus client reading the same registers every second in the
                                same run (the cost of the Modbus polling alone)
  gateway_rss_mb                the daemon's resident memory at the end (goal: < 100 MB)

With ``--watch``, a control-plane client (what the terminal UI subscribes to: ``$GW/v1`` status,
tags, tag changes, events, logs) is connected to the embedded broker during the window, so the daemon
also builds and publishes its tag changes and snapshots; without it nobody listens and the daemon
skips them (gateway/control/publisher.py). ``control_plane_watcher`` reports what that client received.

The machine may be shared with other work: figures are noisy; run it twice.

    .venv/bin/python benchmarks/gateway.py [--tags 5000] [--window 20] [--poll 1.0] [--watch]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import psutil
from paho.mqtt.enums import CallbackAPIVersion

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sparkplug import decode_payload  # noqa: E402
from tests.support.mosquitto import MosquittoProcess  # noqa: E402

_AREA = {
    "holding_register": "holding",
    "input_register": "input",
    "coil": "coil",
    "discrete_input": "discrete",
}

DEVICE = """
import asyncio, json, sys
from drivers.simulators import ModbusSimulator
count, interval = int(sys.argv[1]), float(sys.argv[2])
async def main():
    sim = ModbusSimulator(port=0, extra_tags=count, update_interval=interval)
    bench = [p for p in sim.points if p.tag.name.startswith("bench_")]
    for i, point in enumerate(bench):
        # every tag moves 10 units/s (int16 max 32767: an hour before it would stop fitting)
        signal = point.signal
        signal.kind, signal.offset, signal.step, signal.integer = "counter", float(i % 1000), 10.0, True
    await sim.start()
    print(json.dumps({"port": sim.port}), flush=True)
    for entry in sim.describe():
        print(json.dumps(entry), flush=True)
    await asyncio.Event().wait()
asyncio.run(main())
"""

REFERENCE_POLLER = """
import asyncio, sys, time
from pymodbus.client import AsyncModbusTcpClient
port, start, count = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
poll, window = float(sys.argv[4]), float(sys.argv[5])
async def main():
    client = AsyncModbusTcpClient("127.0.0.1", port=port, timeout=3)
    await client.connect()
    end = time.monotonic() + window
    while time.monotonic() < end:
        began = time.monotonic()
        for address in range(start, start + count, 125):
            await client.read_holding_registers(address, count=min(125, start + count - address), device_id=1)
        await asyncio.sleep(max(0.0, poll - (time.monotonic() - began)))
    client.close()
asyncio.run(main())
"""


def _line(**fields: Any) -> None:
    print(json.dumps(fields), flush=True)


def _start(args: list[str], workdir: Path, name: str) -> tuple[subprocess.Popen[str], list[str]]:
    """``python -m gateway.cli ARGS`` in ``workdir``: the process and its stdout lines as they come."""
    return _spawn(["-m", "gateway.cli", *args], workdir, name)


def _start_script(
    script: str, argv: list[str], workdir: Path, name: str
) -> tuple[subprocess.Popen[str], list[str]]:
    """Like :func:`_start` for an inline script (the benchmark's own device)."""
    return _spawn(["-c", script, *argv], workdir, name)


def _spawn(python_args: list[str], workdir: Path, name: str) -> tuple[subprocess.Popen[str], list[str]]:
    stderr = (workdir / f"{name}.stderr").open("w")
    proc = subprocess.Popen(
        [sys.executable, *python_args],
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
        cwd=workdir,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    lines: list[str] = []

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line.rstrip("\n"))

    threading.Thread(target=read, daemon=True).start()
    return proc, lines


def _wait(lines: list[str], text: str, proc: subprocess.Popen[str], timeout: float = 60.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in list(lines):
            if text in line:
                return line
        if proc.poll() is not None:
            raise SystemExit(f"a child process exited with {proc.returncode} before printing {text!r}")
        time.sleep(0.05)
    raise SystemExit(f"timed out waiting for {text!r}")


def _config(
    workdir: Path, modbus_port: int, upstream_port: int, tags: list[dict[str, Any]], poll: float
) -> Path:
    import yaml

    entries = []
    for tag in tags:
        entry: dict[str, Any] = {
            "name": tag["name"],
            "area": _AREA[tag["area"]],
            "address": tag["address"],
            "type": tag["data_type"],
        }
        for key in ("bit", "length"):
            if tag.get(key) is not None:
                entry[key] = tag[key]
        if tag.get("scale") not in (None, 1.0):
            entry["scale"] = tag["scale"]
        entries.append(entry)
    document = {
        "identity": {"group_id": "Bench", "edge_node_id": "gw"},
        "broker": {"listeners": [{"host": "127.0.0.1", "port": 0}], "allow_anonymous": True},
        "upstream": {"servers": [{"name": "up", "host": "127.0.0.1", "port": upstream_port}]},
        "devices": [
            {
                "id": "sim",
                "protocol": "modbus_tcp",
                "host": "127.0.0.1",
                "port": modbus_port,
                "poll_interval_s": poll,
                "tags": entries,
            }
        ],
        "data_dir": str(workdir / "data"),
        "logging": {"level": "warning"},
    }
    path = workdir / "bench.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


class Subscriber:
    """Counts DDATA metric values and measures latencies (decoding in paho's thread)."""

    def __init__(self, port: int) -> None:
        self.aliases: dict[int, str] = {}
        self.values = 0
        self.messages = 0
        self.sample_latency: list[float] = []
        self.change_latency: list[float] = []
        self.measuring = False
        self._lock = threading.Lock()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-host")
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        self.client.subscribe("spBv1.0/Bench/#", qos=0)
        self.client.loop_start()

    def _on_message(self, _c: Any, _u: Any, message: mqtt.MQTTMessage) -> None:
        arrived = time.time() * 1000
        kind = message.topic.split("/")[2]
        if kind not in ("DBIRTH", "DDATA"):
            return
        payload = decode_payload(bytes(message.payload))
        with self._lock:
            if kind == "DBIRTH":
                for metric in payload.metrics:
                    if metric.alias is not None and metric.name is not None:
                        self.aliases[metric.alias] = metric.name
                return
            if not self.measuring:
                return
            self.values += len(payload.metrics)
            self.messages += 1
            for metric in payload.metrics:
                if metric.timestamp is not None:
                    self.sample_latency.append(arrived - metric.timestamp)
                name = metric.name or self.aliases.get(metric.alias or -1)
                if name == "clock_ms" and isinstance(metric.value, int):
                    self.change_latency.append(arrived - metric.value)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


class ControlWatcher:
    """A control-plane client like the terminal UI: subscribes to the status topics on the embedded broker
    and counts what arrives (no decoding: its CPU is not the daemon's, but keep the benchmark light)."""

    def __init__(self, port: int) -> None:
        from gateway.control import contract as c

        self.messages = 0
        self.bytes = 0
        self.tag_messages = 0
        self.measuring = False
        self._tags_prefix = f"{c.ROOT}/tags/"
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-watcher")
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        for topic in c.WATCH_FILTERS:
            self.client.subscribe(topic, qos=0)
        self.client.loop_start()

    def _on_message(self, _c: Any, _u: Any, message: mqtt.MQTTMessage) -> None:
        if not self.measuring:
            return
        self.messages += 1
        self.bytes += len(message.payload)
        if message.topic.startswith(self._tags_prefix):
            self.tag_messages += 1

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def _cpu_seconds(process: psutil.Process) -> tuple[float, float]:
    """(user, system) CPU seconds of the process so far, all threads (children not included)."""
    times = process.cpu_times()
    return times.user, times.system


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tags", type=int, default=5000, help="extra simulated holding-register tags")
    parser.add_argument("--window", type=float, default=20.0, help="seconds measured after warm-up")
    parser.add_argument("--poll", type=float, default=1.0, help="poll interval in seconds")
    parser.add_argument(
        "--device-update", type=float, default=0.5, help="seconds between the device's value updates"
    )
    parser.add_argument(
        "--watch", action="store_true", help="keep a control-plane client (like the terminal UI) subscribed"
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-gateway-") as tmp:
        workdir = Path(tmp)
        (workdir / "mosquitto").mkdir()
        upstream = MosquittoProcess(
            workdir=workdir / "mosquitto",
            host="127.0.0.1",
            extra_config=["max_queued_messages 0", "set_tcp_nodelay true"],
        ).start()
        # the device updates every 0.5 s: each tag still moves between two 1 s polls, at a fifth of the
        # simulator CPU of 0.1 s updates (the machine has 2 cores, shared with the daemon under test)
        sim, sim_lines = _start_script(DEVICE, [str(args.tags), str(args.device_update)], workdir, "device")
        gateway: subprocess.Popen[str] | None = None
        subscriber: Subscriber | None = None
        watcher: ControlWatcher | None = None
        try:
            first = json.loads(_wait(sim_lines, '"port"', sim))
            deadline = time.monotonic() + 60
            while len(sim_lines) < args.tags + 18 and time.monotonic() < deadline:
                time.sleep(0.05)
            tags = [json.loads(line) for line in sim_lines[1:]]
            config = _config(workdir, first["port"], upstream.port, tags, args.poll)
            subscriber = Subscriber(upstream.port)
            gateway, gw_lines = _start(["run", "-c", str(config)], workdir, "gateway")
            _wait(gw_lines, "gateway running", gateway)
            if args.watch:
                listening = _wait(gw_lines, "broker listening on", gateway)
                watcher = ControlWatcher(int(listening.rsplit(":", 1)[1]))
            deadline = time.monotonic() + 60
            while not subscriber.aliases and time.monotonic() < deadline:
                time.sleep(0.1)
            time.sleep(3 * args.poll)  # warm-up: first polls, births, caches
            process = psutil.Process(gateway.pid)
            load_before = os.getloadavg()
            device_process = psutil.Process(sim.pid)
            device_process.cpu_percent(None)
            subscriber.measuring = True
            reference = subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    REFERENCE_POLLER,
                    str(first["port"]),
                    "1000",
                    str(_registers(tags)),
                    str(args.poll),
                    str(args.window),
                ]
            )
            reference_process = psutil.Process(reference.pid)
            reference_process.cpu_percent(None)
            if watcher is not None:
                watcher.measuring = True
            user0, system0 = _cpu_seconds(process)
            started = time.monotonic()
            time.sleep(args.window)
            user1, system1 = _cpu_seconds(process)
            elapsed = time.monotonic() - started
            subscriber.measuring = False
            if watcher is not None:
                watcher.measuring = False
            gateway_cpu = 100 * ((user1 - user0) + (system1 - system0)) / elapsed
            reference_cpu = reference_process.cpu_percent(None)
            device_cpu = device_process.cpu_percent(None)
            reference.wait(args.window + 30)
            rss_mb = process.memory_info().rss / 1e6
            with subscriber._lock:
                sample, change, values, messages = (
                    list(subscriber.sample_latency),
                    list(subscriber.change_latency),
                    subscriber.values,
                    subscriber.messages,
                )
            common = {"tags": len(tags), "poll_s": args.poll, "window_s": round(elapsed, 1)}
            _line(
                figure="latency_sample_to_subscriber_ms",
                p50=_percentile(sample, 0.5),
                p99=_percentile(sample, 0.99),
                samples=len(sample),
                goal="p99 < 100 ms",
                **common,
            )
            _line(
                figure="latency_change_to_subscriber_ms",
                p50=_percentile(change, 0.5),
                p99=_percentile(change, 0.99),
                samples=len(change),
                note="includes waiting for the next poll (up to poll_s)",
                **common,
            )
            _line(
                figure="tag_updates_per_s",
                value=round(values / elapsed, 1),
                changes_offered_per_s=round(len(tags) / args.poll, 1),
                ddata_per_s=round(messages / elapsed, 2),
                # clock_ms changes on every device update, so each poll delivers it once: polls per second
                poll_cycles_per_s=round(len(change) / elapsed, 2),
                goal=">= 5000/s",
                **common,
            )
            _line(
                figure="gateway_cpu_percent",
                value=round(gateway_cpu, 1),
                per_1000_values_per_s=round(gateway_cpu / (values / elapsed / 1000), 2) if values else None,
                user_s_per_s=round((user1 - user0) / elapsed, 3),
                system_s_per_s=round((system1 - system0) / elapsed, 3),
                control_plane_watched=args.watch,
                load_average_1min_before_after=[round(load_before[0], 2), round(os.getloadavg()[0], 2)],
                reference_cpu_percent=round(reference_cpu, 1),
                ratio=round(gateway_cpu / reference_cpu, 2) if reference_cpu else None,
                device_cpu_percent=round(device_cpu, 1),
                goal="< 25 % of one core",
                reference="bare pymodbus client polling the same registers",
                **common,
            )
            _line(figure="gateway_rss_mb", value=round(rss_mb, 1), goal="< 100 MB", **common)
            if watcher is not None:
                _line(
                    figure="control_plane_watcher",
                    messages_per_s=round(watcher.messages / elapsed, 1),
                    tag_messages_per_s=round(watcher.tag_messages / elapsed, 1),
                    kbytes_per_s=round(watcher.bytes / elapsed / 1000, 1),
                    **common,
                )
        finally:
            if subscriber is not None:
                subscriber.close()
            if watcher is not None:
                watcher.close()
            for proc in (gateway, sim):
                if proc is not None and proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)
                    try:
                        proc.wait(20)
                    except subprocess.TimeoutExpired:
                        proc.kill()
            upstream.stop()


def _registers(tags: list[dict[str, Any]]) -> int:
    """Holding registers the extra tags span from address 1000."""
    sizes = {
        "uint16": 1,
        "int16": 1,
        "uint32": 2,
        "int32": 2,
        "float32": 2,
        "float64": 4,
        "int64": 4,
        "uint64": 4,
    }
    end = 1000
    for tag in tags:
        if tag["area"] == "holding_register" and int(tag["address"]) >= 1000:
            end = max(end, int(tag["address"]) + sizes.get(str(tag["data_type"]), 1))
    return end - 1000


if __name__ == "__main__":
    main()
