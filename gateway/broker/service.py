"""The broker as the rest of the gateway sees it: start/stop in the running loop, ports, local publish and
subscribe (no TCP). See the package docstring for the contract."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from dataclasses import dataclass
from types import TracebackType

from gateway.broker.codec.properties import NO_PROPERTIES, Properties
from gateway.broker.codec.topics import validate_filter
from gateway.broker.core import BrokerCore
from gateway.broker.errors import BrokerNotRunning, LocalProtocolError, ProtocolError
from gateway.broker.hooks import (
    AnonymousAuthenticator,
    Authenticator,
    Authorizer,
    BrokerPersistence,
    MemoryPersistence,
)
from gateway.broker.local import LocalSubscriber, MessageCallback
from gateway.broker.message import Message, Subscription
from gateway.broker.server import ListenerShell
from gateway.broker.settings import BrokerSettings
from gateway.broker.stats import BrokerStats
from gateway.broker.tls import build_server_context
from gateway.errors import StartupError

log = logging.getLogger(__name__)

TICK_INTERVAL = 0.25


@dataclass(frozen=True, slots=True)
class ClientSnapshot:
    """One connected client, read-only (see :meth:`Broker.clients`). ``connected_at`` is wall-clock
    seconds; ``subscriptions`` is at most the ``max_subscriptions`` asked for, ``subscription_count`` the
    true number."""

    client_id: str
    username: str | None
    peer_host: str
    peer_port: int
    version: int
    keep_alive_s: int
    connected_at: float
    subscriptions: tuple[Subscription, ...]
    subscription_count: int
    inflight: int
    queued: int


@dataclass(frozen=True, slots=True)
class RetainedSnapshot:
    """One retained message, read-only (see :meth:`Broker.retained`). ``payload`` is the stored object
    itself: a new object means the message was replaced, even with equal bytes."""

    topic: str
    payload: bytes
    qos: int


class LocalSubscription:
    """Handle returned by :meth:`Broker.subscribe`; ``unsubscribe()`` stops the callbacks."""

    def __init__(self, broker: Broker, subscriber: LocalSubscriber) -> None:
        self._broker = broker
        self._subscriber = subscriber

    @property
    def errors(self) -> int:
        """How many times the callback raised."""
        return self._subscriber.errors

    def unsubscribe(self) -> None:
        if self._broker._core is not None:
            self._broker._core.local_unsubscribe(self._subscriber)


class Broker:
    """The embedded MQTT broker.

    Args:
        settings: listeners, limits, paths.
        authenticator: CONNECT decisions; default: everyone if ``settings.allow_anonymous`` else no one.
        authorizer: ACL decisions; default None (allow all).
        persistence: durable store; default in memory only.
    """

    def __init__(
        self,
        settings: BrokerSettings,
        *,
        authenticator: Authenticator | None = None,
        authorizer: Authorizer | None = None,
        persistence: BrokerPersistence | None = None,
    ) -> None:
        self.settings = settings
        self.authenticator = authenticator or AnonymousAuthenticator(settings.allow_anonymous)
        self.authorizer = authorizer
        self.persistence: BrokerPersistence = persistence or MemoryPersistence()
        self._core: BrokerCore | None = None
        self._shells: list[ListenerShell] = []
        self._ticker: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    # -- lifecycle --------------------------------------------------------------------------------------

    async def start(self) -> None:
        """Load persisted state, bind every listener, start the timers. Raises StartupError."""
        loop = asyncio.get_running_loop()
        self._loop = loop
        now = loop.time()
        core = BrokerCore(self.settings, self.authorizer, self.persistence, now, time.time() - now)
        core.restore(await self.persistence.load(), now)
        self._core = core
        try:
            for listener in self.settings.listeners:
                name = listener.name or f"{listener.host}:{listener.port}"
                tls = listener.tls
                shell = ListenerShell(
                    core, loop, self.authenticator, name, bool(tls and tls.use_identity_as_username)
                )
                context = None
                if tls is not None:
                    context = build_server_context(
                        cert_file=tls.certfile,
                        key_file=tls.keyfile,
                        ca_file=tls.cafile,
                        require_client_certificate=tls.require_certificate,
                    )
                try:
                    shell.server = await loop.create_server(
                        shell.factory,
                        listener.host,
                        listener.port,
                        ssl=context,
                        ssl_handshake_timeout=tls.handshake_timeout if tls else None,
                        reuse_address=True,
                        backlog=1024,
                    )
                except OSError as exc:
                    raise StartupError(
                        f"broker listener {name}: cannot listen: {exc.strerror or exc}",
                        hint="is another broker running on that port? choose another port, or 0 for any",
                    ) from None
                self._shells.append(shell)
        except BaseException:
            await self.stop()
            raise
        self._ticker = loop.create_task(self._tick_forever(), name="broker-tick")
        log.info("broker listening on %s", ", ".join(f"{h}:{p}" for h, p in self.addresses))

    async def _tick_forever(self) -> None:
        assert self._core is not None and self._loop is not None
        core = self._core
        loop = self._loop
        while True:
            await asyncio.sleep(TICK_INTERVAL)
            try:
                core.tick(loop.time())
            except Exception:
                # Top of a long-lived task: log with context and keep the timers running.
                log.exception("broker tick failed")

    async def stop(self) -> None:
        """Stop listening, disconnect every client (5.0: 0x8B; Wills are not published), flush and close
        persistence. Delayed Wills still pending are dropped too."""
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
            self._ticker = None
        for shell in self._shells:
            if shell.server is not None:
                shell.server.close()
        core = self._core
        if core is not None:
            for conn in list(core.connections):
                # A clean stop is our doing, not the client's failure: its Will is not published, and it
                # is told 0x8B (5.0). After kill -9 nothing is published either (Wills live in memory).
                conn.will = None
                conn.shutdown()
        # Let the flushes scheduled by shutdown() run, then drop whatever is left.
        await asyncio.sleep(0)
        for shell in self._shells:
            for protocol in list(shell.protocols):
                protocol.abort()
            for task in list(shell.tasks):
                task.cancel()
            if shell.server is not None:
                await shell.server.wait_closed()
        self._shells.clear()
        if core is not None:
            now = self._loop.time() if self._loop else 0.0
            for conn in list(core.connections):
                core.connection_lost(conn, now)
            await self.persistence.flush()
            await self.persistence.close()
        self._core = None

    async def __aenter__(self) -> Broker:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    # -- introspection ----------------------------------------------------------------------------------

    @property
    def addresses(self) -> tuple[tuple[str, int], ...]:
        """(host, port) of every bound socket, in listener order (port 0 resolved)."""
        result = []
        for shell in self._shells:
            if shell.server is not None:
                for sock in shell.server.sockets:
                    name = sock.getsockname()
                    result.append((str(name[0]), int(name[1])))
        return tuple(result)

    @property
    def ports(self) -> tuple[int, ...]:
        return tuple(port for _host, port in self.addresses)

    @property
    def core(self) -> BrokerCore:
        if self._core is None:
            raise BrokerNotRunning("the broker is not running: call await broker.start() first")
        return self._core

    @property
    def stats(self) -> BrokerStats:
        """A copy of the counters."""
        from dataclasses import replace

        return replace(self.core.stats)

    def clients(self, limit: int, max_subscriptions: int) -> tuple[ClientSnapshot, ...]:
        """At most ``limit`` connected clients (CONNECT accepted), each with at most ``max_subscriptions``
        of its subscriptions. Read-only; costs O(limit * max_subscriptions)."""
        core = self.core
        out: list[ClientSnapshot] = []
        for conn in core.connections:
            if len(out) >= limit:
                break
            session = conn.session
            if session is None or not conn.client_id:
                continue  # not connected yet (or already gone): no session to show
            subs = session.subscriptions
            out.append(
                ClientSnapshot(
                    conn.client_id,
                    session.identity.username,
                    conn.peer_host,
                    conn.peer_port,
                    conn.version,
                    round(conn.keepalive_limit / 1.5),  # the limit enforced is 1.5 x keep-alive
                    conn.accepted_at + core.wall_offset,
                    tuple(itertools.islice(subs.values(), max(0, max_subscriptions))),
                    len(subs),
                    len(session.inflight),
                    len(session.queue),
                )
            )
        return tuple(out)

    def retained(self, limit: int) -> tuple[RetainedSnapshot, ...]:
        """At most ``limit`` retained messages, oldest topic first. Read-only; costs O(limit)."""
        messages = itertools.islice(self.core.retained.messages(), max(0, limit))
        return tuple(RetainedSnapshot(m.topic, m.payload, m.qos) for m in messages)

    def has_subscribers(self, topic: str) -> bool:
        """Whether a message on ``topic`` would reach any subscriber now (clients or in-process), before
        ACL checks. A dictionary look-up once the router has matched the topic (its match cache)."""
        entries, groups = self.core.router.match(topic)
        return bool(entries or groups)

    # -- in-process API ---------------------------------------------------------------------------------

    def publish(
        self,
        topic: str,
        payload: bytes,
        qos: int = 0,
        retain: bool = False,
        properties: Properties = NO_PROPERTIES,
    ) -> int:
        """Publish as the gateway itself (no ACL on publish; receivers' ACLs apply). Returns subscribers
        reached, -1 if a retained message was refused by the retained caps. Call it on the broker's event
        loop thread (from another thread use ``loop.call_soon_threadsafe``).

        Raises LocalProtocolError for an invalid topic or QoS, BrokerNotRunning when stopped.
        """
        core = self.core
        if not topic or "+" in topic or "#" in topic or qos not in (0, 1, 2):
            raise LocalProtocolError(
                f"cannot publish to {topic!r} with QoS {qos}: need a topic name without wildcards"
            )
        assert self._loop is not None
        now = self._loop.time()
        expires = (
            None if properties.message_expiry_interval is None else now + properties.message_expiry_interval
        )
        return core.publish(Message(topic, bytes(payload), qos, retain, properties, expires, ""), now)

    def subscribe(self, topic_filter: str, callback: MessageCallback, qos: int = 2) -> LocalSubscription:
        """Call ``callback(BrokerMessage)`` on the loop for each message matching ``topic_filter`` (retained
        ones first). ``$share/g/f`` joins a shared group. Raises LocalProtocolError for an invalid filter."""
        core = self.core
        try:
            validate_filter(topic_filter)
        except ProtocolError as exc:
            raise LocalProtocolError(str(exc)) from None
        subscriber = LocalSubscriber(core.new_local_id(), topic_filter, callback)
        assert self._loop is not None
        core.local_subscribe(subscriber, qos, self._loop.time())
        return LocalSubscription(self, subscriber)
