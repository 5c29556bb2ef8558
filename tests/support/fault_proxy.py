"""A TCP fault proxy in pure asyncio (no root): the network faults of reliability-catalogue section E/F.

``FaultProxy(target_host, target_port).start()`` listens on 127.0.0.1 port 0 (read back into ``.port``) and
forwards every accepted connection to the target. It runs its own event loop in a daemon thread, so sync
tests, async tests and benchmarks can all use it; every toxic method is thread-safe and takes effect at once
on live connections and on new ones:

==========================  =================================================================================
``latency(ms, jitter_ms)``  delay each chunk (order kept: released by due time, one writer per direction)
``bandwidth(bytes_per_s)``  throttle each direction
``slice(n)``                split writes into ``n``-byte segments
``blackhole()``             stop forwarding and discard, keep both sockets open: a half-open link seen from
                            both ends; new connections are accepted and then hear nothing (CONNACK timeout)
``reset()``                 ``SO_LINGER(1, 0)`` then close every live connection: the peers see RST
``close_after(n)``          cut each connection (FIN both ways) after ``n`` bytes forwarded in total
``refuse_new()``            reset new connections as soon as they are accepted
``heal()``                  remove every toxic (live connections resume unless they were closed)
==========================  =================================================================================

``connections`` counts accepted connections; ``stop()`` closes everything. A black hole for the TCP
handshake itself (SYNs dropped) is :class:`SynBlackhole`: a listening socket whose accept queue is full.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import struct
import threading
import time
from dataclasses import dataclass


@dataclass
class _Toxics:
    latency_s: float = 0.0
    jitter_s: float = 0.0
    bandwidth: float | None = None
    slice_size: int | None = None
    blackhole: bool = False
    close_after: int | None = None
    refuse_new: bool = False


class _Link:
    """One proxied connection: two directions, each with a reader and a timed writer."""

    def __init__(self, proxy: FaultProxy, client: asyncio.StreamWriter) -> None:
        self.proxy = proxy
        self.client = client
        self.upstream: asyncio.StreamWriter | None = None
        self.forwarded = 0
        self.tasks: list[asyncio.Task[None]] = []

    def reset(self) -> None:
        for writer in (self.client, self.upstream):
            if writer is None:
                continue
            sock = writer.get_extra_info("socket")
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.transport.abort()
        for task in self.tasks:
            task.cancel()

    def close(self) -> None:
        for writer in (self.client, self.upstream):
            if writer is not None:
                writer.close()
        for task in self.tasks:
            task.cancel()

    async def pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        queue: asyncio.Queue[tuple[float, bytes] | None] = asyncio.Queue()
        sender = asyncio.create_task(self._send(queue, writer))
        self.tasks.append(sender)
        try:
            while data := await reader.read(65536):
                toxics = self.proxy.toxics
                if toxics.blackhole:
                    continue  # swallowed: the link looks alive at the TCP level, nothing arrives
                delay = toxics.latency_s + (random.uniform(0, toxics.jitter_s) if toxics.jitter_s else 0.0)
                queue.put_nowait((time.monotonic() + delay, data))
        except (ConnectionError, OSError):
            pass
        finally:
            queue.put_nowait(None)
        await sender

    async def _send(
        self, queue: asyncio.Queue[tuple[float, bytes] | None], writer: asyncio.StreamWriter
    ) -> None:
        try:
            while (item := await queue.get()) is not None:
                due, data = item
                if (wait := due - time.monotonic()) > 0:
                    await asyncio.sleep(wait)
                toxics = self.proxy.toxics
                if toxics.blackhole:
                    continue
                if toxics.close_after is not None:
                    room = toxics.close_after - self.forwarded
                    if room <= 0:
                        self.close()
                        return
                    data = data[:room]
                step = toxics.slice_size or len(data)
                for start in range(0, len(data), step):
                    piece = data[start : start + step]
                    writer.write(piece)
                    await writer.drain()
                    self.forwarded += len(piece)
                    if toxics.bandwidth:
                        await asyncio.sleep(len(piece) / toxics.bandwidth)
                if toxics.close_after is not None and self.forwarded >= toxics.close_after:
                    self.close()
                    return
            writer.write_eof()
        except (ConnectionError, OSError, RuntimeError):
            pass


class FaultProxy:
    """Forward ``127.0.0.1:<port>`` to ``target_host:target_port`` with switchable faults."""

    def __init__(self, target_host: str, target_port: int, host: str = "127.0.0.1") -> None:
        self.target_host = target_host
        self.target_port = target_port
        self.host = host
        self.port = 0
        self.connections = 0
        self.toxics = _Toxics()
        self._links: set[_Link] = set()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="fault-proxy", daemon=True)
        self._server: asyncio.Server | None = None

    def start(self) -> FaultProxy:
        self._thread.start()
        self._server = asyncio.run_coroutine_threadsafe(self._listen(), self._loop).result(10)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def _listen(self) -> asyncio.Server:
        return await asyncio.start_server(self._accept, self.host, 0)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        link = _Link(self, writer)
        if self.toxics.refuse_new:
            link.reset()
            return
        self._links.add(link)
        try:
            if self.toxics.blackhole:
                # Accept, then hear nothing: the client's CONNECT vanishes (a dead NAT or firewall).
                while await reader.read(65536):
                    pass
                return
            try:
                up_reader, up_writer = await asyncio.open_connection(self.target_host, self.target_port)
            except OSError:
                link.reset()
                return
            link.upstream = up_writer
            await asyncio.gather(link.pump(reader, up_writer), link.pump(up_reader, writer))
        except (ConnectionError, OSError, asyncio.CancelledError):
            pass
        finally:
            self._links.discard(link)
            link.close()

    def _call(self, function: object) -> None:
        async def run() -> None:
            function()  # type: ignore[operator]

        asyncio.run_coroutine_threadsafe(run(), self._loop).result(10)

    # -- toxics (thread-safe) -------------------------------------------------------------------------

    def latency(self, ms: float, jitter_ms: float = 0.0) -> None:
        self.toxics.latency_s, self.toxics.jitter_s = ms / 1000, jitter_ms / 1000

    def bandwidth(self, bytes_per_s: float | None) -> None:
        self.toxics.bandwidth = bytes_per_s

    def slice(self, size: int | None) -> None:
        self.toxics.slice_size = size

    def blackhole(self, on: bool = True) -> None:
        self.toxics.blackhole = on

    def close_after(self, count: int | None) -> None:
        self.toxics.close_after = count

    def refuse_new(self, on: bool = True) -> None:
        self.toxics.refuse_new = on

    def heal(self) -> None:
        self.toxics = _Toxics()

    def reset(self) -> None:
        """Send RST on every live connection (both sides)."""

        def reset_all() -> None:
            for link in list(self._links):
                link.reset()

        self._call(reset_all)

    def stop(self) -> None:
        def close_all() -> None:
            for link in list(self._links):
                link.reset()
            if self._server is not None:
                self._server.close()

        if self._thread.is_alive():
            self._call(close_all)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
        self._loop.close()


class SynBlackhole:
    """A listening socket that never accepts, with its accept queue filled: further SYNs are dropped by the
    kernel, so a connect to ``host:port`` hangs until the client's own timeout (a black-holed address)."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.bind((host, 0))
        self._listener.listen(0)
        self.port = int(self._listener.getsockname()[1])
        self._fillers: list[socket.socket] = []
        for _ in range(4):
            filler = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            filler.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                filler.connect((host, self.port))
            self._fillers.append(filler)

    def close(self) -> None:
        for filler in self._fillers:
            filler.close()
        self._listener.close()
