"""What the daemon's Sparkplug relay (gateway/app/sparkplug_relay.py) costs the uplink path, per message.

Figures (CPU time per message, best of ``--repeat`` runs of ``--messages`` each; the reference is
measured in the same run and the ratio printed):
- ``unwatched``: nobody subscribes to the relay topics (the usual case: no terminal UI on the traffic
  screen): the relay builds the topic and asks the broker's router whether anyone listens.
- ``watched_one_client``: one MQTT client (paho, its own thread) subscribes to ``$GW/v1/sparkplug/#``:
  the copy is routed and written to its socket.

Reference: encoding the same 10-metric DDATA with ``sparkplug.encode_payload``, which the edge node does
for every message anyway, so the ratio is the relay's cost as a share of work the message costs already.

Run from the repository root: ``.venv/bin/python benchmarks/sparkplug_relay.py [--messages N]``.
The machine is shared: figures are noisy; compare ratios within one run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gateway.app.sparkplug_relay import SparkplugRelay, prefix
from gateway.broker import Broker, BrokerSettings, ListenerSettings
from gateway.control import contract as c
from sparkplug import DataType, Metric, Payload, encode_payload
from tests.support.waiting import async_wait_until

TOPIC = "spBv1.0/Plant/DDATA/gw/skid"


def _payload() -> Payload:
    metrics = tuple(Metric(alias=i, datatype=DataType.Float, value=20.0 + i, timestamp=1) for i in range(10))
    return Payload(timestamp=1, seq=1, metrics=metrics)


def _cpu_per_call(call: Callable[[], object], count: int, repeat: int) -> float:
    """CPU seconds of this thread per call (the daemon's loop thread; a client's own thread not counted)."""
    best = float("inf")
    for _ in range(repeat):
        started = time.thread_time()
        for _ in range(count):
            call()
        best = min(best, (time.thread_time() - started) / count)
    return best


async def _cpu_per_call_yielding(call: Callable[[], object], count: int, repeat: int) -> float:
    """As :func:`_cpu_per_call`, letting the event loop run every 100 calls so the broker writes the
    copies to the client's socket (and its output buffer never overflows into QoS 0 drops)."""
    best = float("inf")
    for _ in range(repeat):
        started = time.thread_time()
        for i in range(count):
            call()
            if i % 100 == 99:
                await asyncio.sleep(0)
        best = min(best, (time.thread_time() - started) / count)
    return best


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    payload_model = _payload()
    payload = encode_payload(payload_model)
    reference = _cpu_per_call(lambda: encode_payload(payload_model), args.messages, args.repeat)

    broker = Broker(
        BrokerSettings(listeners=(ListenerSettings(host="127.0.0.1", port=0),), allow_anonymous=True)
    )
    await broker.start()
    try:
        # no rate limit here: the benchmark measures the copy itself, not how much the limit discards
        relay = SparkplugRelay(broker, max_per_s=10**12, max_bytes_per_s=10**15)
        figures = {}
        sent = prefix(c.RelayDirection.SENT, "site-a")  # made once per connection by RelayLink
        figures["unwatched"] = _cpu_per_call(
            lambda: relay.copy_to(sent, TOPIC, payload), args.messages, args.repeat
        )
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="relay-bench", protocol=mqtt.MQTTv5)
        client.connect("127.0.0.1", broker.ports[0])
        client.loop_start()
        client.subscribe(c.SPARKPLUG_RELAY_FILTER, 0)
        watched_topic = c.sparkplug_relay_topic(c.RelayDirection.SENT, "site-a", TOPIC)
        await async_wait_until(lambda: broker.has_subscribers(watched_topic), timeout=10, message="SUBACK")
        received = [0]
        client.on_message = lambda *_a: received.__setitem__(0, received[0] + 1)

        def watched() -> None:
            relay.copy_to(sent, TOPIC, payload)

        figures["watched_one_client"] = await _cpu_per_call_yielding(watched, args.messages, args.repeat)
        await async_wait_until(lambda: received[0] > 0, timeout=10, message="copies at the client")
        client.disconnect()
        client.loop_stop()
    finally:
        await broker.stop()
    for name, seconds in figures.items():
        print(
            json.dumps(
                {
                    "benchmark": "sparkplug_relay",
                    "scenario": name,
                    "relay_us_per_message": round(seconds * 1e6, 3),
                    "reference_encode_us_per_message": round(reference * 1e6, 3),
                    "ratio": round(seconds / reference, 3),
                    "payload_bytes": len(payload),
                    "load_average_1min": round(os.getloadavg()[0], 2),
                }
            )
        )


if __name__ == "__main__":
    asyncio.run(main())
