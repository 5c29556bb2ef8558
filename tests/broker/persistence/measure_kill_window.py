"""Measure (not assert) the real crash window: how long before a kill -9 was the newest *lost* PUBACK?

    .venv/bin/python -m tests.broker.persistence.measure_kill_window [ITERATIONS] [--durable-ack]

Prints one JSON line per kill: PUBACKs received, their rate, how many acknowledged messages were not in the
store after the kill, and how long before the kill the oldest of those was acknowledged. The promise
(README, "Durability") is commit_interval (0.05 s) plus one commit; the figures are noisy on a shared machine.
"""

from __future__ import annotations

import json
import random
import sys
import tempfile
from pathlib import Path

from tests.broker.persistence.broker_process import BrokerProcess
from tests.broker.persistence.conftest import gateway_yaml
from tests.broker.persistence.sync_paho import SyncClient
from tests.broker.persistence.test_restart import KILL_WINDOW, committed_payloads, publish_until_killed


def main(iterations: int, durable_ack: bool = False) -> None:
    work = Path(tempfile.mkdtemp(prefix="kill-window-"))
    lines = [
        "allow_anonymous: true",
        "listeners:",
        "  - host: 127.0.0.1",
        "    port: 0",
        "limits:",
        "  max_queued_messages: 1000000",
    ]
    args = ("--durable-ack",) if durable_ack else ()
    broker = BrokerProcess(gateway_yaml(work, lines), work, args=args).start()
    sub = SyncClient("durable")
    sub.connect(broker.port, clean=True, session_expiry=3600)
    sub.subscribe("k/#", 1)
    sub.disconnect()
    rng = random.Random(7)
    try:
        for iteration in range(iterations):
            acked, killed_at = publish_until_killed(broker, iteration, rng, KILL_WINDOW)
            on_disk = committed_payloads(work / "data" / "broker", work / f"crash-{iteration}", "durable")
            lost = {payload: killed_at - at for payload, at in acked.items() if payload not in on_disk}
            span = max(acked.values()) - min(acked.values())
            print(
                json.dumps(
                    {
                        "iteration": iteration,
                        "durable_ack": durable_ack,
                        "acked": len(acked),
                        "acked_per_s": round(len(acked) / span) if span else None,
                        "lost_acked": len(lost),
                        "oldest_lost_ms": round(1000 * max(lost.values()), 1) if lost else 0.0,
                    }
                ),
                flush=True,
            )
            broker.start()
            back = SyncClient("durable")
            back.connect(broker.port, clean=False, session_expiry=3600)
            mine = [p for p in on_disk if p.startswith(f"{iteration}:".encode())]
            back.wait_messages(len(mine), timeout=60)
            back.disconnect()
    finally:
        broker.stop()


if __name__ == "__main__":
    numbers = [a for a in sys.argv[1:] if a.isdigit()]
    main(int(numbers[0]) if numbers else 10, "--durable-ack" in sys.argv[1:])
