"""A gateway-side process for the kill -9 tests: store + forwarder + uplink, publishing numbered values.

Usage: python -m tests.uplink._child_gateway DB START COUNT DRAIN_RATE PORT [PORT...]

Publishes START..START+COUNT-1 on ``test/value`` at QoS 1 (one every 2 ms), prints ``accepted <n>``
(flushed) for each one that was acknowledged upstream or committed to the store, then keeps running
(draining the backlog) until it is killed. Prints ``online <server>`` when the uplink is online.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from gateway.store import MessageStore
from gateway.uplink import (
    Delivery,
    DrainPacing,
    FailoverSettings,
    Forwarder,
    ForwardingSession,
    OutboundMessage,
    ServerSettings,
    Uplink,
)


async def main(db: Path, start: int, count: int, drain_rate: float, ports: list[int]) -> None:
    store = MessageStore(db, commit_interval=0.01)
    await store.open()
    pacing = DrainPacing(max_messages_per_s=drain_rate, min_messages_per_s=min(50.0, drain_rate), window=4)
    forwarder = Forwarder(store, pacing=pacing)
    servers = [
        ServerSettings(host="127.0.0.1", port=p, keepalive=2, client_id="child-gw", name=f"S{i}")
        for i, p in enumerate(ports)
    ]
    failover = FailoverSettings(connect_timeout=1.0, backoff_initial=0.05, backoff_max=0.3, hold_down=None)
    uplink = Uplink(
        servers,
        ForwardingSession(forwarder),
        failover,
        on_switch=lambda r: print(f"online {r.to_server}", flush=True),
    )
    task = asyncio.create_task(uplink.run())

    def report(n: int, future: asyncio.Future[Delivery]) -> None:
        if future.result() in (Delivery.ACKED, Delivery.STORED):
            print(f"accepted {n}", flush=True)

    for n in range(start, start + count):
        future = forwarder.publish(OutboundMessage("test/value", str(n).encode(), qos=1))
        future.add_done_callback(lambda f, n=n: report(n, f))
        await asyncio.sleep(0.002)
    print("produced", flush=True)
    await task


if __name__ == "__main__":
    db, start, count, rate, *ports = sys.argv[1:]
    asyncio.run(main(Path(db), int(start), int(count), float(rate), [int(p) for p in ports]))
