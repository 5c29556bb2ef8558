"""Uplink and store-and-forward benchmark: prints one JSON object per figure.

Figures (each with the reference measured in the same run, and the ratio):
- ``switch_after_kill``: kill -9 of the active upstream mosquitto -> first live value at the next server.
- ``frozen_detection``: SIGSTOP of the active server at keep-alive 5 s -> link declared dead
  (reference: the keep-alive; goal <= 1.5x). ``--paho-only`` also measures paho's own detection.
- ``store_write``: messages/s into MessageStore and bytes written per message (/proc/self/io), against a
  naive reference of one fsynced commit per message.
- ``drain``: messages/s drained from the store to a local mosquitto.
- ``live_latency``: publish -> upstream subscriber latency of live QoS 1 data (one every 10 ms), during
  the whole drain vs idle (3 s); the subscriber runs in its own process.

Run from the repository root: ``.venv/bin/python benchmarks/uplink.py [--quick] [--paho-only]``.
The machine is shared: figures are noisy; compare ratios within one run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gateway.store import MessageStore, NewMessage, StoreLimits
from gateway.uplink import (
    DrainPacing,
    FailoverSettings,
    Forwarder,
    ForwardingSession,
    OutboundMessage,
    PahoLink,
    ServerSettings,
    Uplink,
    UplinkState,
)
from tests.support.mosquitto import MosquittoProcess


def emit(**figure: object) -> None:
    print(json.dumps(figure), flush=True)


def written_bytes() -> int:
    with open("/proc/self/io") as io:
        for line in io:
            if line.startswith("write_bytes:"):
                return int(line.split()[1])
    return 0


class Subscriber:
    """Records (arrival monotonic time, payload) of everything on ``topic`` at one broker."""

    def __init__(self, port: int, topic: str = "bench/#") -> None:
        self.arrivals: list[tuple[float, bytes]] = []
        self.lock = threading.Lock()
        ready = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2)
        self.client.on_connect = lambda c, *_: c.subscribe(topic, 1)
        self.client.on_subscribe = lambda *_: ready.set()
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port, 30)
        self.client.loop_start()
        if not ready.wait(10):
            raise RuntimeError("subscriber did not get its SUBACK")

    def _on_message(self, _c: object, _u: object, message: mqtt.MQTTMessage) -> None:
        with self.lock:
            self.arrivals.append((time.monotonic(), bytes(message.payload)))

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def start_broker(root: Path, name: str) -> MosquittoProcess:
    workdir = root / name
    workdir.mkdir()
    return MosquittoProcess(workdir=workdir).start()


async def wait_for(predicate, timeout: float) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("benchmark condition not reached")
        await asyncio.sleep(0.001)


async def one_switch(root: Path, i: int) -> float:
    """Seconds from kill -9 of A to the first value published after the kill arriving at B."""
    a, b = start_broker(root, f"sw-a{i}"), start_broker(root, f"sw-b{i}")
    sub_b = Subscriber(b.port)
    store = MessageStore(root / f"sw-{i}.db")
    await store.open()
    forwarder = Forwarder(store)
    failover = FailoverSettings(connect_timeout=2.0, hold_down=None)
    servers = [
        ServerSettings(host="127.0.0.1", port=s.port, keepalive=5, client_id="bench", name=n)
        for s, n in ((a, "A"), (b, "B"))
    ]
    uplink = Uplink(servers, ForwardingSession(forwarder), failover)
    task = asyncio.create_task(uplink.run())
    await wait_for(lambda: uplink.status().state is UplinkState.ONLINE, 10)
    stop = asyncio.Event()

    async def produce() -> None:
        while not stop.is_set():
            forwarder.publish(OutboundMessage("bench/live", f"{time.monotonic()}".encode(), qos=1))
            await asyncio.sleep(0.001)

    producer = asyncio.create_task(produce())
    await asyncio.sleep(0.3)
    killed_at = time.monotonic()
    a.kill()
    await wait_for(lambda: any(float(p) > killed_at for _t, p in sub_b.arrivals), 15)
    first_live = next(t for t, p in sub_b.arrivals if float(p) > killed_at)
    stop.set()
    await producer
    await uplink.stop()
    await task
    await forwarder.aclose()
    await store.close()
    sub_b.close()
    b.stop()
    return first_live - killed_at


async def switch_after_kill(root: Path, iterations: int) -> None:
    samples = [await one_switch(root, i) for i in range(iterations)]
    emit(
        figure="switch_after_kill",
        unit="s",
        median=round(statistics.median(samples), 4),
        max=round(max(samples), 4),
        samples=[round(x, 4) for x in samples],
        goal=2.0,
        ratio_to_goal=round(statistics.median(samples) / 2.0, 4),
    )


async def frozen_detection(root: Path, keepalive: int, paho_only: bool) -> None:
    variants = [("watchdog", FailoverSettings(connect_timeout=2.0))]
    if paho_only:
        # Probes and ack timeouts pushed out of the way: only paho's own keep-alive remains.
        variants.append(
            ("paho_only", FailoverSettings(connect_timeout=2.0, probe_interval=3600, ack_timeout=3600))
        )
    for label, settings in variants:
        broker = start_broker(root, f"frozen-{label}")
        link = PahoLink(
            ServerSettings(
                host="127.0.0.1", port=broker.port, keepalive=keepalive, client_id=f"bench-{label}"
            ),
            settings,
        )
        await link.connect()
        await asyncio.sleep(0.5)
        frozen_at = time.monotonic()
        broker.freeze()
        reason = await asyncio.wait_for(link.closed, 4 * keepalive)
        detected = time.monotonic() - frozen_at
        broker.thaw()
        await link.close()
        broker.stop()
        emit(
            figure="frozen_detection",
            variant=label,
            keepalive_s=keepalive,
            detected_s=round(detected, 3),
            ratio_to_keepalive=round(detected / keepalive, 3),
            goal_ratio=1.5,
            reason=reason,
        )


async def store_write(root: Path, count: int) -> None:
    payload = b"x" * 60
    store = MessageStore(root / "write.db", limits=StoreLimits(max_bytes=None, max_age_s=None))
    await store.open()
    before_bytes = written_bytes()
    started = time.perf_counter()
    futures = []
    for n in range(count):
        futures.append(store.append(NewMessage("spBv1.0/G/DDATA/E/D", payload, 1, False, 1, n)))
        if n % 1000 == 999:
            await asyncio.sleep(0)
    await asyncio.gather(*futures)
    elapsed = time.perf_counter() - started
    status = store.status()
    await store.close()
    total_bytes = written_bytes() - before_bytes
    # Reference: the naive way, one INSERT and one fsynced commit per message.
    ref_count = max(200, count // 50)
    conn = sqlite3.connect(root / "naive.db", isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("CREATE TABLE m (id INTEGER PRIMARY KEY, topic TEXT, payload BLOB)")
    ref_before = written_bytes()
    ref_started = time.perf_counter()
    for _ in range(ref_count):
        conn.execute("BEGIN")
        conn.execute("INSERT INTO m (topic, payload) VALUES (?, ?)", ("spBv1.0/G/DDATA/E/D", payload))
        conn.execute("COMMIT")
    ref_elapsed = time.perf_counter() - ref_started
    ref_bytes = written_bytes() - ref_before
    conn.close()
    rate = count / elapsed
    ref_rate = ref_count / ref_elapsed
    emit(
        figure="store_write",
        messages=count,
        payload_bytes=len(payload),
        messages_per_s=round(rate),
        bytes_written_per_message=round(total_bytes / count, 1),
        commits=status.commits,
        reference="one fsynced commit per message",
        reference_messages_per_s=round(ref_rate),
        reference_bytes_written_per_message=round(ref_bytes / ref_count, 1),
        ratio_rate=round(rate / ref_rate, 1),
        goal_messages_per_s=20_000,
    )


SUBSCRIBER_SCRIPT = r"""
import sys, time
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
arrivals = []
client = mqtt.Client(CallbackAPIVersion.VERSION2)
client.on_connect = lambda c, *_: c.subscribe(sys.argv[2], 1)
client.on_subscribe = lambda *_: print("ready", flush=True)
client.on_message = lambda _c, _u, m: arrivals.append((time.monotonic(), bytes(m.payload)))
client.connect("127.0.0.1", int(sys.argv[1]), 30)
client.loop_start()
sys.stdin.readline()  # the benchmark says when to stop
client.loop_stop()
for arrived, payload in arrivals:
    print(arrived, payload.decode())
"""


class ChildSubscriber:
    """An upstream subscriber in its own process (as it is in reality: not sharing our GIL). Arrival
    times are CLOCK_MONOTONIC, which is system-wide on Linux, so they compare with ours."""

    def __init__(self, port: int, topic: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", SUBSCRIBER_SCRIPT, str(port), topic],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        if self.process.stdout.readline().strip() != "ready":
            raise RuntimeError("subscriber did not get its SUBACK")

    def finish(self) -> dict[str, float]:
        """Stop it; returns payload -> arrival time."""
        out, _ = self.process.communicate("stop\n", timeout=60)
        return {payload: float(arrived) for arrived, payload in (line.split() for line in out.splitlines())}


async def drain_and_latency(root: Path, backlog: int, window: int) -> None:
    """Live QoS 1 values every 10 ms, first with nothing to drain (idle), then during the whole drain of
    ``backlog`` stored messages; every live value must arrive (none is left out of the quantiles)."""
    broker = start_broker(root, "drain")
    live = ChildSubscriber(broker.port, "bench/live")
    store = MessageStore(root / "drain.db", limits=StoreLimits(max_bytes=None, max_age_s=None))
    await store.open()
    futures = [
        store.append(NewMessage("bench/history", b"h" * 60, 1, False, 0, time.time_ns() // 10**6))
        for _ in range(backlog)
    ]
    await asyncio.gather(*futures)
    sent: dict[str, float] = {}

    async def publish_live(target: Forwarder, until: Callable[[], bool]) -> list[str]:
        keys = []
        while not until():
            key = f"v{len(sent)}"
            sent[key] = time.monotonic()
            target.publish(OutboundMessage("bench/live", key.encode(), qos=1))
            keys.append(key)
            await asyncio.sleep(0.01)
        return keys

    link = PahoLink(
        ServerSettings(host="127.0.0.1", port=broker.port, keepalive=30, client_id="bench-drain"),
        FailoverSettings(),
    )
    info = await link.connect()
    # Idle reference: the same link and live traffic, nothing to drain.
    baseline_store = MessageStore(None)
    await baseline_store.open()
    baseline = Forwarder(baseline_store)
    baseline.attach(link, info.receive_maximum)
    idle_until = time.monotonic() + 3.0
    idle_keys = await publish_live(baseline, lambda: time.monotonic() > idle_until)
    await wait_for(lambda: baseline.status().live_inflight == 0, 10)
    await baseline.aclose()
    await baseline_store.close()
    forwarder = Forwarder(
        store, pacing=DrainPacing(max_messages_per_s=50_000, window=window), max_inflight=200
    )
    started = time.monotonic()
    forwarder.attach(link, info.receive_maximum)
    during_keys = await publish_live(
        forwarder,
        lambda: store.status().messages == 0 and forwarder.status().drain_inflight == 0,
    )
    drain_elapsed = time.monotonic() - started
    await wait_for(lambda: forwarder.status().live_inflight == 0, 10)
    await forwarder.aclose()
    await link.close()
    await store.close()
    arrivals = live.finish()
    broker.stop()
    emit(
        figure="drain",
        messages=backlog,
        window=window,
        messages_per_s=round(backlog / drain_elapsed),
        goal_messages_per_s=5_000,
        ratio_to_goal=round(backlog / drain_elapsed / 5000, 2),
    )
    missing = [k for k in (*idle_keys, *during_keys) if k not in arrivals]
    idle = [arrivals[k] - sent[k] for k in idle_keys if k in arrivals]
    during = [arrivals[k] - sent[k] for k in during_keys if k in arrivals]

    def quantile(values: list[float], q: float) -> float:
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    emit(
        figure="live_latency",
        unit="ms",
        idle_p50=round(1000 * quantile(idle, 0.5), 2),
        idle_p99=round(1000 * quantile(idle, 0.99), 2),
        during_drain_p50=round(1000 * quantile(during, 0.5), 2),
        during_drain_p99=round(1000 * quantile(during, 0.99), 2),
        during_drain_max=round(1000 * max(during), 2),
        ratio_p50=round(quantile(during, 0.5) / quantile(idle, 0.5), 2),
        ratio_p99=round(quantile(during, 0.99) / quantile(idle, 0.99), 2),
        goal_ratio=2.0,
        samples=(len(idle), len(during)),
        missing=len(missing),
    )


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="fewer iterations and smaller volumes")
    parser.add_argument(
        "--paho-only", action="store_true", help="also measure paho's own frozen-server detection"
    )
    parser.add_argument("--keepalive", type=int, default=5)
    parser.add_argument(
        "--drain-window", type=int, default=DrainPacing().window, help="drained messages in flight"
    )
    parser.add_argument(
        "--only",
        default="store_write,drain,switch,frozen",
        help="comma-separated subset of: store_write, drain, switch, frozen",
    )
    args = parser.parse_args()
    only = set(args.only.split(","))
    with tempfile.TemporaryDirectory(prefix="bench-uplink-") as tmp:
        root = Path(tmp)
        emit(figure="machine", cpus=os.cpu_count(), note="shared 2-core machine: figures are noisy")
        if "store_write" in only:
            await store_write(root, 20_000 if args.quick else 100_000)
        if "drain" in only:
            await drain_and_latency(root, 10_000 if args.quick else 50_000, args.drain_window)
        if "switch" in only:
            await switch_after_kill(root, 2 if args.quick else 5)
        if "frozen" in only:
            await frozen_detection(root, args.keepalive, args.paho_only)


if __name__ == "__main__":
    asyncio.run(main())
