"""The thin asyncio shell: listeners, one Protocol per socket, output batching, timers.

Per socket: bytes read go straight to the connection core; what the core queues is written once per loop
iteration (``call_soon`` flush), so a burst of deliveries becomes one ``write``. The transport's write
buffer high-water mark is ``limits.output_buffer_bytes``: above it the connection is *congested* (QoS 0
messages to it are dropped and counted, QoS 1/2 wait in its session queue); above twice that (acks and
in-flight resends still add bytes) the client is disconnected. Either way one slow reader cannot grow the
broker's memory without bound (T15).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable
from typing import Any, cast

from gateway.broker.codes import ReasonCode
from gateway.broker.connection import Connection
from gateway.broker.core import BrokerCore
from gateway.broker.hooks import AuthDecision, Authenticator
from gateway.broker.tls import peer_common_name

log = logging.getLogger(__name__)


class MQTTServerProtocol(asyncio.Protocol):
    """One client socket."""

    __slots__ = ("_conn", "_core", "_flush_scheduled", "_loop", "_server", "_transport")

    def __init__(self, server: ListenerShell) -> None:
        self._server = server
        self._core = server.core
        self._loop = server.loop
        self._conn: Connection | None = None
        self._transport: asyncio.Transport | None = None
        self._flush_scheduled = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it: cast, do not assert.
        transport = cast(asyncio.Transport, transport)
        self._transport = transport
        peer = transport.get_extra_info("peername") or ("?", 0)
        ssl_object = transport.get_extra_info("ssl_object")
        cn = peer_common_name(ssl_object) if ssl_object is not None else None
        conn = self._core.accept(
            str(peer[0]),
            int(peer[1]),
            self._server.name,
            self._loop.time(),
            cn,
            self._server.use_identity_as_username,
        )
        if conn is None:
            transport.abort()
            return
        self._conn = conn
        conn.on_output = self._schedule_flush
        limit = self._core.limits.output_buffer_bytes
        transport.set_write_buffer_limits(high=limit, low=limit // 2)
        self._server.protocols.add(self)

    def data_received(self, data: bytes) -> None:
        conn = self._conn
        if conn is None:
            return
        if log.isEnabledFor(logging.DEBUG):
            log.debug("%r <- %s", conn.client_id or conn.peer_host, data[:64].hex())
        conn.receive_data(data, self._loop.time())
        if conn.pending_auth is not None:
            self._authenticate(conn)

    def _authenticate(self, conn: Connection) -> None:
        request = conn.pending_auth
        assert request is not None
        conn.pending_auth = None
        try:
            result = self._server.authenticator.authenticate(request)
        except Exception:
            log.exception("authenticator failed for client %r", request.client_id)
            result = AuthDecision(False, ReasonCode.SERVER_UNAVAILABLE)
        if inspect.isawaitable(result):
            task = self._loop.create_task(self._await_auth(conn, result))
            self._server.tasks.add(task)
            task.add_done_callback(self._server.tasks.discard)
        else:
            conn.auth_decided(result, self._loop.time())

    async def _await_auth(self, conn: Connection, pending: Awaitable[AuthDecision]) -> None:
        try:
            decision = await pending
        except Exception:
            # Top of a task: a failing authenticator refuses the client, it does not take the broker down.
            log.exception("authenticator failed for client %r", conn.client_id)
            decision = AuthDecision(False, ReasonCode.SERVER_UNAVAILABLE)
        conn.auth_decided(decision, self._loop.time())

    def _schedule_flush(self) -> None:
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self._loop.call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        conn = self._conn
        transport = self._transport
        if conn is None or transport is None or transport.is_closing():
            return
        out = conn.take_output()
        if out:
            data = b"".join(out) if len(out) > 1 else out[0]
            if log.isEnabledFor(logging.DEBUG):
                log.debug("%r -> %s", conn.client_id or conn.peer_host, data[:64].hex())
            transport.write(data)
            if transport.get_write_buffer_size() > 2 * self._core.limits.output_buffer_bytes:
                conn.disconnect_slow_consumer()
                transport.abort()
                return
        if conn.close_requested:
            transport.close()

    def pause_writing(self) -> None:
        if self._conn is not None:
            self._conn.set_congested(True, self._loop.time())

    def resume_writing(self) -> None:
        if self._conn is not None:
            self._conn.set_congested(False, self._loop.time())

    def eof_received(self) -> bool:
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._server.protocols.discard(self)
        conn = self._conn
        if conn is not None:
            self._core.connection_lost(conn, self._loop.time())
            self._conn = None
        self._transport = None

    def abort(self) -> None:
        if self._transport is not None:
            self._transport.abort()


class ListenerShell:
    """State shared by the protocols of one listener."""

    def __init__(
        self,
        core: BrokerCore,
        loop: asyncio.AbstractEventLoop,
        authenticator: Authenticator,
        name: str,
        use_identity_as_username: bool,
    ) -> None:
        self.core = core
        self.loop = loop
        self.authenticator = authenticator
        self.name = name
        self.use_identity_as_username = use_identity_as_username
        self.protocols: set[MQTTServerProtocol] = set()
        self.tasks: set[asyncio.Task[Any]] = set()
        self.server: asyncio.Server | None = None

    def factory(self) -> MQTTServerProtocol:
        return MQTTServerProtocol(self)
