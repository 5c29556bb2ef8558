"""Benchmark: our embedded broker against Debian's mosquitto, side by side in the same run.

Scenarios (from the C load generator ``../shared/tools/mqtt-bench``, built into benchmarks/.build/):
  fanin0   4 publishers -> 1 wildcard subscriber, QoS 0, msgs/s delivered
  fanin1   the same at QoS 1
  fanout   1 publisher -> 10 subscribers, QoS 0, deliveries/s
  latency  QoS 1 at 2 000 msg/s, p50 and p99 in microseconds
  conns    2 000 idle connections, broker RSS per connection (KB)
  restart  seconds from launch to accepting connections with 10 000 retained messages stored (T19);
           ours with SQLite persistence, mosquitto with ``persistence true``

Both brokers run as separate processes with Nagle off and unbounded queues (mosquitto:
``set_tcp_nodelay true``, ``max_queued_messages 0``; ours: queue limits raised to millions, connection rate
limits lifted). Each scenario alternates ours and mosquitto ``--repeat`` times and reports medians. One JSON
line per figure: ours, mosquitto's, the ratio and the goal, plus the generator's and brokers' CPU so a
saturated generator is visible. The machine may be shared: figures are noisy.

    .venv/bin/python benchmarks/broker.py [--repeat 3] [--scenarios fanin0,fanin1,fanout,latency,conns]

``--ours-store`` runs ours with its SQLite store in the throughput scenarios, ``--durable-ack`` adds the
``durable_ack`` setting (PUBACK/PUBREC after the commit); compare the two runs' "ours" figures.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "benchmarks" / ".build"
BENCH_SRC = ROOT.parent / "shared" / "tools" / "mqtt-bench" / "mqtt-bench.c"
BENCH = BUILD / "mqtt-bench"

# scenario -> (mqtt-bench scenario, extra args, [(metric, json key, goal text, higher is better)])
SCENARIOS: dict[str, tuple[str, list[str], list[tuple[str, str, str, bool]]]] = {
    "fanin0": ("fanin0", [], [("msgs_per_s", "delivered_rate", "ratio >= 0.5", True)]),
    "fanin1": ("fanin1", [], [("msgs_per_s", "delivered_rate", "ratio >= 0.5", True)]),
    "fanout": ("fanout", [], [("deliveries_per_s", "delivered_rate", "ratio >= 0.5", True)]),
    "latency": (
        "latency",
        ["-d", "5"],
        [("p50_us", "lat_p50_us", "", False), ("p99_us", "lat_p99_us", "ratio <= 5", False)],
    ),
    "conns": ("conns", ["--hold", "3"], [("kb_per_conn", "rss_kb_per_conn", "ours <= 10 KB", False)]),
}


def build_generator() -> Path:
    if BENCH.exists() and BENCH.stat().st_mtime >= BENCH_SRC.stat().st_mtime:
        return BENCH
    BUILD.mkdir(parents=True, exist_ok=True)
    subprocess.run(["cc", "-O2", "-o", str(BENCH), str(BENCH_SRC), "-lm"], check=True)
    return BENCH


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)  # a polling interval while a child process starts
    raise RuntimeError(f"nothing listening on 127.0.0.1:{port}")


def serve_ours(data_dir: str | None, port: int, durable_ack: bool = False) -> None:
    """Child mode (``--serve``): our broker with unbounded-ish queues and no connection-rate limit, like
    mosquitto's benchmark configuration; prints ``listening on HOST:PORT`` like ``edge-gateway broker``.
    With ``data_dir``, retained messages and sessions persist there (SQLite)."""
    import asyncio

    sys.path.insert(0, str(ROOT))
    from gateway.broker import Broker, BrokerLimits, BrokerSettings, ListenerSettings
    from gateway.broker.runner import run_standalone

    limits = BrokerLimits(
        max_queued_messages=10_000_000,
        max_queued_bytes=4_000_000_000,
        max_connections=100_000,
        max_connections_per_source=100_000,
        connection_rate=1_000_000.0,
        connection_burst=100_000,
    )
    settings = BrokerSettings(
        listeners=(ListenerSettings(host="127.0.0.1", port=port),),
        allow_anonymous=True,
        sys_interval=0,
        limits=limits,
        data_dir=Path(data_dir) if data_dir else None,
        durable_ack=durable_ack,
    )
    persistence = None
    if data_dir:
        from gateway.broker.persistence import SqlitePersistence

        persistence = SqlitePersistence(Path(data_dir))
    runner = asyncio.run
    if not os.environ.get("EDGE_GATEWAY_NO_UVLOOP"):
        try:
            import uvloop

            runner = uvloop.run
        except ImportError:
            pass
    runner(run_standalone(Broker(settings, persistence=persistence)))


class Ours:
    name = "ours"

    def __init__(
        self, workdir: Path, data_dir: Path | None = None, port: int = 0, durable_ack: bool = False
    ) -> None:
        command = [sys.executable, str(Path(__file__).resolve()), "--serve", "--serve-port", str(port)]
        if data_dir is not None:
            command += ["--serve-data-dir", str(data_dir)]
        if durable_ack:
            command += ["--serve-durable-ack"]
        self.process = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            cwd=ROOT,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if "listening on" not in line:
            raise RuntimeError(f"our broker did not start: {line!r}")
        self.port = int(line.rsplit(":", 1)[1])
        self.pid = self.process.pid

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()


class Mosquitto:
    name = "mosquitto"

    def __init__(self, workdir: Path, data_dir: Path | None = None, port: int = 0) -> None:
        binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        self.port = port or free_port()
        config = workdir / "mosquitto.conf"
        persistence = (
            f"persistence true\npersistence_location {data_dir}/\n" if data_dir else "persistence false\n"
        )
        config.write_text(
            f"listener {self.port} 127.0.0.1\nallow_anonymous true\n{persistence}"
            "set_tcp_nodelay true\nmax_queued_messages 0\nlog_dest none\n"
        )
        self.process = subprocess.Popen(
            [binary, "-c", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        wait_port(self.port)
        self.pid = self.process.pid

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


def run_generator(scenario: str, extra: list[str], port: int, pid: int) -> dict[str, Any]:
    result = subprocess.run(
        [str(BENCH), "-p", str(port), "-b", str(pid), *extra, scenario],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    if not lines:
        raise RuntimeError(f"mqtt-bench {scenario} printed no result: {result.stderr.strip()}")
    parsed: dict[str, Any] = json.loads(lines[-1])
    return parsed


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs per broker and scenario (median reported)"
    )
    parser.add_argument(
        "--scenarios", default=",".join([*SCENARIOS, "restart"]), help="comma-separated subset"
    )
    parser.add_argument("--count", type=int, default=25_000, help="messages per fan-in publisher (-K)")
    parser.add_argument(
        "--no-uvloop", action="store_true", help="run our broker on the standard asyncio loop"
    )
    parser.add_argument("--retained", type=int, default=10_000, help="retained messages for 'restart'")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)  # child process mode
    parser.add_argument("--serve-port", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--serve-data-dir", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--serve-durable-ack", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument(
        "--ours-store", action="store_true", help="ours with its SQLite store in the throughput scenarios"
    )
    parser.add_argument(
        "--durable-ack", action="store_true", help="ours with durable_ack (implies --ours-store)"
    )
    args = parser.parse_args()
    if args.serve:
        serve_ours(args.serve_data_dir, args.serve_port, args.serve_durable_ack)
        return 0
    if args.no_uvloop:
        os.environ["EDGE_GATEWAY_NO_UVLOOP"] = "1"  # inherited by our broker's process
    build_generator()
    chosen = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        for scenario in chosen:
            if scenario == "restart":
                restart_scenario(workdir, args.retained, args.repeat, args.no_uvloop)
                continue
            bench_name, extra, metrics = SCENARIOS[scenario]
            if scenario in ("fanin0", "fanin1", "fanout"):
                extra = [*extra, "-K", str(args.count)]
            samples: dict[str, list[dict[str, Any]]] = {"ours": [], "mosquitto": []}
            for run in range(args.repeat):
                for factory in (Ours, Mosquitto):
                    # A fresh broker per run: idle-connection memory and queues start from zero.
                    broker: Ours | Mosquitto
                    if factory is Ours and (args.ours_store or args.durable_ack):
                        store = workdir / f"ours-{scenario}-{run}"
                        broker = Ours(workdir, store, durable_ack=args.durable_ack)
                    else:
                        broker = factory(workdir)
                    try:
                        samples[broker.name].append(run_generator(bench_name, extra, broker.port, broker.pid))
                    finally:
                        broker.stop()
            for metric, key, goal, higher_better in metrics:
                ours = statistics.median(float(r[key]) for r in samples["ours"])
                theirs = statistics.median(float(r[key]) for r in samples["mosquitto"])
                ratio = ours / theirs if theirs else None
                print(
                    json.dumps(
                        {
                            "benchmark": "broker",
                            "scenario": scenario,
                            "metric": metric,
                            "ours": round(ours, 3),
                            "mosquitto": round(theirs, 3),
                            "ratio": None if ratio is None else round(ratio, 3),
                            "goal": goal,
                            "higher_is_better": higher_better,
                            "runs": args.repeat,
                            "ours_lost": max(int(r.get("lost", 0)) for r in samples["ours"]),
                            "gen_cpu_pct_max": max(float(r.get("gen_cpu_pct", 0)) for r in samples["ours"]),
                            "ours_broker_cpu_pct": statistics.median(
                                float(r.get("broker_cpu_pct", 0)) for r in samples["ours"]
                            ),
                            "mosquitto_broker_cpu_pct": statistics.median(
                                float(r.get("broker_cpu_pct", 0)) for r in samples["mosquitto"]
                            ),
                            "python": sys.version.split()[0],
                            "uvloop": _has_uvloop() and not args.no_uvloop,
                            "ours_store": args.ours_store or args.durable_ack,
                            "durable_ack": args.durable_ack,
                            "cpus": os.cpu_count(),
                        }
                    ),
                    flush=True,
                )
    return 0


def _publish_retained(port: int, count: int) -> None:
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-retained")
    client.max_inflight_messages_set(1000)
    client.max_queued_messages_set(0)
    client.connect("127.0.0.1", port)
    client.loop_start()
    infos = [
        client.publish(f"bench/r/{i}", os.urandom(32).hex().encode(), qos=1, retain=True)
        for i in range(count)
    ]
    for info in infos:
        info.wait_for_publish(30)
    client.disconnect()
    client.loop_stop()


def _count_retained(port: int, expected: int) -> int:
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    got: list[str] = []
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-count")
    client.on_message = lambda c, u, m: got.append(m.topic)
    client.connect("127.0.0.1", port)
    client.subscribe("bench/r/#", 0)
    client.loop_start()
    deadline = time.monotonic() + 30
    last, stable_since = -1, time.monotonic()
    while time.monotonic() < deadline and len(got) < expected:
        if len(got) != last:
            last, stable_since = len(got), time.monotonic()
        elif time.monotonic() - stable_since > 2:
            break  # nothing more arriving
        time.sleep(0.05)  # polling the paho thread's progress
    client.disconnect()
    client.loop_stop()
    return len(set(got))


def restart_scenario(workdir: Path, count: int, repeat: int, no_uvloop: bool) -> None:
    """T19's figure: time from launching a broker with a full retained store to accepting connections."""
    timings: dict[str, list[float]] = {"ours": [], "mosquitto": []}
    restored: dict[str, int] = {}
    workdir.chmod(0o755)  # mosquitto started as root runs as its own user: it must reach its data dir
    for run in range(repeat):
        for factory in (Ours, Mosquitto):
            data = workdir / f"restart-{factory.name}-{run}"
            data.mkdir()
            data.chmod(0o777)  # mosquitto started as root drops to its own user before saving its database
            port = free_port()
            broker = factory(workdir, data, port)
            try:
                _publish_retained(broker.port, count)
            finally:
                broker.stop()
            started = time.monotonic()
            broker = factory(workdir, data, port)  # returns once the port accepts connections
            timings[factory.name].append(time.monotonic() - started)
            try:
                restored[factory.name] = _count_retained(broker.port, count)
            finally:
                broker.stop()
    ours = statistics.median(timings["ours"])
    theirs = statistics.median(timings["mosquitto"])
    print(
        json.dumps(
            {
                "benchmark": "broker",
                "scenario": "restart",
                "metric": "seconds_to_accept_with_full_retained_store",
                "retained": count,
                "ours": round(ours, 3),
                "mosquitto": round(theirs, 3),
                "ratio": round(ours / theirs, 3) if theirs else None,
                "goal": "",
                "ours_restored": restored["ours"],
                "mosquitto_restored": restored["mosquitto"],
                "runs": repeat,
                "uvloop": _has_uvloop() and not no_uvloop,
                "note": "ours includes Python interpreter start-up and imports",
            }
        ),
        flush=True,
    )


def _has_uvloop() -> bool:
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return False
    return True


if __name__ == "__main__":
    sys.exit(main())
