"""A child process that appends numbered messages to a store and prints each number once it is committed.

Usage: python -m tests.store._child_writer DB_PATH COUNT [COMMIT_INTERVAL]

It prints ``acked <n>`` (flushed) for every message whose ``append`` future resolved, then ``done``.
The parent kills it with SIGKILL at some point and checks that every acked number is in the file.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from gateway.store import MessageStore, NewMessage, StoreLimits

IN_FLIGHT = 10_000


async def main(path: Path, count: int, commit_interval: float) -> None:
    store = MessageStore(
        path, limits=StoreLimits(max_bytes=None, max_age_s=None), commit_interval=commit_interval
    )
    await store.open()
    print("open", flush=True)
    pending: list[asyncio.Future[int]] = []
    for n in range(count):
        if n >= IN_FLIGHT:
            # Back-pressure like a real producer: more than the hand-off capacity in flight would make
            # append() refuse (StoreOverloadedError) whenever the writer thread gets less CPU than we do.
            await pending[n - IN_FLIGHT]
        future = store.append(NewMessage("test/value", str(n).encode(), 1, False, 0, n))
        future.add_done_callback(
            lambda f, n=n: print(f"acked {n}", flush=True) if not f.exception() else None
        )
        pending.append(future)
        if n % 50 == 49:
            await asyncio.sleep(0)  # let the loop hand off and deliver completions, like a driver would
    await asyncio.gather(*pending)
    print("done", flush=True)
    await asyncio.sleep(3600)  # wait to be killed with the store still open (WAL not checkpointed)


if __name__ == "__main__":
    interval = float(sys.argv[3]) if len(sys.argv) > 3 else 0.01
    asyncio.run(main(Path(sys.argv[1]), int(sys.argv[2]), interval))
