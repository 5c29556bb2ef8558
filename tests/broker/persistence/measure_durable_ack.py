"""Measure (not assert) what ``durable_ack`` costs when every message is written: QoS 1 fan-in into an
offline persistent session, through ``edge-gateway broker -c FILE`` with and without ``--durable-ack``.

    .venv/bin/python -m tests.broker.persistence.measure_durable_ack [MESSAGES] [RUNS]

(benchmarks/broker.py ``--durable-ack`` measures the fan-in scenario, whose subscriber has a clean session:
there nothing is written, so durable_ack costs almost nothing; this is the other end.) One paho publisher
with 100 messages in flight sends MESSAGES QoS 1 messages; the figure is PUBACKs per second, median of RUNS
alternating runs per mode, and the ratio durable / write-behind. Noisy on a shared machine.
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from tests.broker.persistence.broker_process import BrokerProcess
from tests.broker.persistence.conftest import gateway_yaml
from tests.broker.persistence.sync_paho import SyncClient

LINES = [
    "allow_anonymous: true",
    "listeners:",
    "  - host: 127.0.0.1",
    "    port: 0",
    "limits:",
    "  max_queued_messages: 10000000",
    "  max_queued_bytes: 4000000000",
]


def one_run(work: Path, count: int, durable: bool) -> float:
    work.mkdir()
    broker = BrokerProcess(gateway_yaml(work, LINES), work, args=("--durable-ack",) if durable else ())
    broker.start()
    try:
        sub = SyncClient("offline-durable")
        sub.connect(broker.port, clean=True, session_expiry=3600)
        sub.subscribe("fan/#", 1)
        sub.disconnect()
        pub = SyncClient("publisher")
        pub.client.max_inflight_messages_set(100)
        pub.client.max_queued_messages_set(0)
        pub.connect(broker.port)
        start = time.perf_counter()
        mids = [pub.publish(f"fan/{n % 4}", b"x" * 64, 1) for n in range(count)]
        pub.wait_acked(mids, timeout=600)
        elapsed = time.perf_counter() - start
        pub.disconnect()
    finally:
        broker.stop()
    return count / elapsed


def main(count: int, runs: int) -> None:
    rates: dict[bool, list[float]] = {False: [], True: []}
    with tempfile.TemporaryDirectory() as tmp:
        for run in range(runs):
            for durable in (False, True):
                rates[durable].append(one_run(Path(tmp) / f"{run}-{durable}", count, durable))
    write_behind = statistics.median(rates[False])
    durable_rate = statistics.median(rates[True])
    print(
        json.dumps(
            {
                "bench": "broker_durable_ack_qos1_fanin_persistent",
                "messages": count,
                "runs": runs,
                "write_behind_acks_per_s": round(write_behind),
                "durable_ack_acks_per_s": round(durable_rate),
                "ratio": round(durable_rate / write_behind, 3),
                "all_write_behind": [round(r) for r in rates[False]],
                "all_durable_ack": [round(r) for r in rates[True]],
            }
        )
    )


if __name__ == "__main__":
    numbers = [int(a) for a in sys.argv[1:] if a.isdigit()]
    main(numbers[0] if numbers else 20_000, numbers[1] if len(numbers) > 1 else 3)
