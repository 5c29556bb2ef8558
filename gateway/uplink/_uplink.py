"""The failover supervisor: exactly one upstream connection at a time, moved on failure, failed back.

``Uplink.run()`` is the long-lived task. Each iteration: pick a server (``FailoverPlan``), build a new
``PahoLink`` with the session's Will, connect (bounded by ``connect_timeout`` twice: TCP/TLS, CONNACK),
run the session until one of these ends the connection:

- the link dies (reset, refused, keep-alive probe or PUBACK overdue) -> ``CONNECTION_LOST``/``DEAD_LINK``;
- the session returns a :class:`Leave` (primary host offline or absent) -> NDEATH, DISCONNECT;
- ``request_next_server()`` (Sparkplug ``Node Control/Next Server``) -> NDEATH, DISCONNECT;
- failback: the preferred server has been reachable for ``hold_down`` -> NDEATH, DISCONNECT, go to it;
- ``stop()`` -> NDEATH, DISCONNECT, return.

The old link is fully closed (paho thread joined) before the next CONNECT, so we are never connected
to two servers [operational-behavior-primary-application-state-with-multiple-servers-single-server].
A switch is complete when the new session calls ``online()``; it is then logged with its reason and
measured duration, kept in ``status().switches`` (bounded) and passed to ``on_switch`` for the TUI.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import enum
import logging
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from gateway.uplink._config import FailoverSettings, ServerSettings
from gateway.uplink._exceptions import ConnectRefusedError, CredentialsRejectedError, LinkError
from gateway.uplink._failover import FailoverPlan, SwitchReason, SwitchRecord
from gateway.uplink._link import PahoLink
from gateway.uplink._session import Leave, UplinkSession

log = logging.getLogger(__name__)


class UplinkState(enum.Enum):
    CONNECTING = "connecting"
    WAITING = "waiting"
    """Connected, not yet healthy (subscriptions, waiting for the primary host, births)."""
    ONLINE = "online"
    BACKOFF = "backoff"
    STOPPED = "stopped"


@dataclass(frozen=True, slots=True)
class UplinkStatus:
    """A snapshot for the terminal UI.

    Attributes:
        state: what the supervisor is doing.
        server: the server connected to (or being tried), ``None`` when stopped.
        since_ms: UTC ms when ``state`` was entered.
        failures: consecutive failed attempts.
        last_error: the latest connection error or leave reason.
        switches: completed switches, oldest first (bounded history).
        last_failure: how the latest connection attempt failed (``SwitchReason.CREDENTIALS`` for the
            terminal UI's distinct "credentials rejected", ``REFUSED``, ``CONNECT_FAILED``), while
            ``failures`` > 0; ``None`` once a connection is healthy again.
    """

    state: UplinkState
    server: str | None
    since_ms: int
    failures: int
    last_error: str
    switches: tuple[SwitchRecord, ...]
    last_failure: SwitchReason | None = None


@dataclass(slots=True)
class _PendingSwitch:
    """The switch in progress: where we came from, why, since when, how many attempts so far."""

    from_server: str | None
    reason: SwitchReason
    detail: str
    left_at: float
    attempts: int


def _utc_ms() -> int:
    return time.time_ns() // 1_000_000


class Uplink:
    """Args:
    servers: ordered list; the first is the preferred server.
    session: what runs on each connection (see ``_session``).
    failover: timeouts, backoff, hold-down.
    rng: randomness for the jitter (tests pass a seeded one).
    on_switch: called on the loop after every completed switch.
    history: how many switch records ``status()`` keeps.
    """

    def __init__(
        self,
        servers: Sequence[ServerSettings],
        session: UplinkSession,
        failover: FailoverSettings | None = None,
        *,
        rng: random.Random | None = None,
        on_switch: Callable[[SwitchRecord], None] | None = None,
        history: int = 100,
    ) -> None:
        self._servers = list(servers)
        self._session = session
        self._failover = failover or FailoverSettings()
        self._plan = FailoverPlan([s.name for s in self._servers], self._failover, rng or random.Random())
        self._on_switch = on_switch
        self._switches: collections.deque[SwitchRecord] = collections.deque(maxlen=history)
        self._state = UplinkState.STOPPED
        self._state_since = _utc_ms()
        self._server: str | None = None
        self._last_error = ""
        self._last_failure: SwitchReason | None = None
        self._control = asyncio.Event()
        self._next_server: str | None = None
        self._stopping = False
        self._link: PahoLink | None = None

    # -- control ------------------------------------------------------------------------------------------

    def request_next_server(self, detail: str = "Node Control/Next Server") -> None:
        """Leave the current server for the next one (NDEATH first)."""
        self._next_server = detail
        self._control.set()

    async def stop(self) -> None:
        """Ask ``run()`` to end: NDEATH and DISCONNECT if connected. Await the ``run()`` task afterwards."""
        self._stopping = True
        self._control.set()

    def _stop_requested(self) -> bool:
        return self._stopping

    def status(self) -> UplinkStatus:
        return UplinkStatus(
            self._state,
            self._server,
            self._state_since,
            self._plan.failures,
            self._last_error,
            tuple(self._switches),
            self._last_failure if self._plan.failures else None,
        )

    @property
    def link(self) -> PahoLink | None:
        """The current connection (for diagnostics); ``None`` between connections."""
        return self._link

    def _set_state(self, state: UplinkState, server: str | None) -> None:
        if state is not self._state or server != self._server:
            self._state, self._server, self._state_since = state, server, _utc_ms()

    # -- the task -----------------------------------------------------------------------------------------

    async def run(self) -> None:
        index = 0
        pending = _PendingSwitch(None, SwitchReason.STARTUP, "", time.monotonic(), 0)
        try:
            while not self._stop_requested():
                server = self._servers[index]
                pending.attempts += 1
                self._set_state(UplinkState.CONNECTING, server.name)
                self._plan.attempt(index, time.monotonic())
                try:
                    will = await self._session.will(server)
                except OSError as error:
                    # Sparkplug: the next bdSeq could not be persisted (disk full, read-only). Connecting
                    # anyway could reuse a bdSeq after a restart, so wait and try again instead.
                    self._session.offline()
                    self._last_failure = SwitchReason.SESSION_ERROR
                    self._last_error = f"cannot prepare the connection: {error}"
                    log.error("upstream %s: %s", server.name, self._last_error)
                    index, delay = self._plan.after_failure(
                        index, SwitchReason.SESSION_ERROR, time.monotonic()
                    )
                    await self._backoff(max(delay, self._failover.backoff_initial), self._servers[index].name)
                    continue
                link = PahoLink(server, self._failover, will=will, on_message=self._session.on_message)
                try:
                    await link.connect()
                except LinkError as error:
                    self._session.offline()
                    failure = self._last_failure = self._classify(error)
                    self._last_error = str(error)
                    log.warning("upstream %s: %s", server.name, error)
                    if pending.from_server is None:
                        pending.detail = str(error)  # why start-up took more than one attempt
                    index, delay = self._plan.after_failure(index, failure, time.monotonic())
                    await self._backoff(delay, self._servers[index].name)
                    continue
                self._link = link
                self._set_state(UplinkState.WAITING, server.name)
                healthy = [False]

                def online(
                    server: ServerSettings = server,
                    index: int = index,
                    healthy: list[bool] = healthy,
                    pending: _PendingSwitch = pending,
                ) -> None:
                    healthy[0] = True
                    self._online(server, index, pending)

                end_reason, end_detail = await self._supervise(link, index, online)
                self._link = None
                self._session.offline()
                self._last_error = f"{end_reason.value}: {end_detail}"
                if self._stop_requested():
                    break
                log.warning("leaving upstream %s: %s (%s)", server.name, end_reason.value, end_detail)
                if healthy[0]:
                    pending = _PendingSwitch(server.name, end_reason, end_detail, time.monotonic(), 0)
                    index, delay = self._plan.after_loss(index, end_reason, time.monotonic())
                else:
                    index, delay = self._plan.after_failure(index, end_reason, time.monotonic())
                    if pending.from_server is None and pending.reason is SwitchReason.STARTUP:
                        pending.detail = f"{end_reason.value}: {end_detail}"
                await self._backoff(delay, self._servers[index].name)
        finally:
            self._set_state(UplinkState.STOPPED, None)

    def _online(self, server: ServerSettings, index: int, pending: _PendingSwitch) -> None:
        self._set_state(UplinkState.ONLINE, server.name)
        self._plan.on_healthy(index)
        record = SwitchRecord(
            _utc_ms(),
            pending.from_server,
            server.name,
            pending.reason,
            pending.detail,
            time.monotonic() - pending.left_at,
            pending.attempts,
        )
        pending.attempts = 0
        self._record(record)

    def _classify(self, error: LinkError) -> SwitchReason:
        if isinstance(error, CredentialsRejectedError):
            return SwitchReason.CREDENTIALS
        if isinstance(error, ConnectRefusedError):
            return SwitchReason.REFUSED
        return SwitchReason.CONNECT_FAILED

    def _record(self, record: SwitchRecord) -> None:
        self._switches.append(record)
        log.warning(
            "uplink now on %s (from %s, reason: %s%s) after %.3f s, %d attempt(s)",
            record.to_server,
            record.from_server or "nothing",
            record.reason.value,
            f": {record.detail}" if record.detail else "",
            record.duration_s,
            record.attempts,
        )
        if self._on_switch is not None:
            self._on_switch(record)

    async def _backoff(self, delay: float, next_server: str) -> None:
        if delay <= 0 or self._stopping:
            return
        self._set_state(UplinkState.BACKOFF, next_server)
        self._control.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._control.wait(), delay)
        self._next_server = None  # a Next Server request while not connected means nothing

    async def _supervise(
        self, link: PahoLink, index: int, online: Callable[[], None]
    ) -> tuple[SwitchReason, str]:
        """Run the session on ``link`` until something ends the connection; close it; say why."""
        assert link.info is not None
        self._control.clear()
        self._next_server = None
        session = asyncio.ensure_future(self._session.run(link, link.info, online))
        control = asyncio.ensure_future(self._control.wait())
        failback = asyncio.ensure_future(self._watch_failback(index))
        waiting: set[asyncio.Future[Any]] = {session, control, failback, link.closed}
        try:
            await asyncio.wait(waiting, return_when="FIRST_COMPLETED")
        finally:
            for task in (control, failback):
                task.cancel()
        if link.closed.done():
            text = link.closed.result()
            session.cancel()
            await _quietly(session)
            await link.close()
            dead = "frozen or link dead" in text
            return (SwitchReason.DEAD_LINK if dead else SwitchReason.CONNECTION_LOST), text
        if session.done():
            leave = _leave_of(session)
        elif failback.done() and not failback.cancelled():
            leave = Leave(
                SwitchReason.FAILBACK, f"{self._servers[0].name} reachable for {self._failover.hold_down} s"
            )
        elif self._stopping:
            leave = Leave(SwitchReason.SESSION_ERROR, "uplink stopped")
        else:
            leave = Leave(SwitchReason.NEXT_SERVER, self._next_server or "requested")
        session.cancel()
        await _quietly(session)
        if link.is_open and link.info is not None:
            await self._session.quiesce(self._failover.ack_timeout_for(link.info.keepalive))
        await link.close(final=self._session.farewell())
        return leave.reason, leave.detail

    async def _watch_failback(self, index: int) -> None:
        """Return when it is time to fail back to the preferred server (never, when on it)."""
        if index == 0 or self._failover.hold_down is None:
            await asyncio.Event().wait()
        preferred = self._servers[0]
        while True:
            reachable = await _tcp_reachable(preferred.host, preferred.port, self._failover.connect_timeout)
            now = time.monotonic()
            self._plan.preferred_probe(reachable, now)
            if self._plan.failback_due(index, now):
                return
            await asyncio.sleep(self._failover.failback_probe_interval)


def _leave_of(session: asyncio.Future[Leave]) -> Leave:
    if session.cancelled():
        return Leave(SwitchReason.SESSION_ERROR, "session cancelled")
    error = session.exception()
    if error is None:
        return session.result()
    if isinstance(error, LinkError):
        return Leave(
            SwitchReason.DEAD_LINK if "link dead" in str(error) else SwitchReason.SESSION_ERROR, str(error)
        )
    log.error("uplink session failed", exc_info=error)
    return Leave(SwitchReason.SESSION_ERROR, repr(error))


async def _quietly(task: asyncio.Future[Leave]) -> None:
    with contextlib.suppress(asyncio.CancelledError):
        try:
            await task
        except LinkError:
            pass  # already reflected in the leave reason
        # Any other failure of the session was logged by _leave_of or is moot after the link died.
        except Exception:
            log.exception("uplink session ended with an error")


async def _tcp_reachable(host: str, port: int, timeout: float) -> bool:
    """A TCP connect and close: enough to know the preferred server is back, without an MQTT session."""
    try:
        _reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    except (OSError, TimeoutError):
        return False
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True
