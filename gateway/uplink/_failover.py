"""Which server next, after how long, and when to fail back: the failover policy as a core without I/O.

Theory of operation
-------------------
Servers are tried in list order, the first one being the *preferred* server. After a healthy connection
is lost (or left on purpose: primary host offline, Next Server), the next server in the list is tried at
once: that is what keeps the switch time short. Each failed attempt moves on round-robin and waits a
jittered exponential backoff: ``backoff_initial * 2**(failures // len(servers))`` capped at
``backoff_max``, multiplied by a random factor in ``[1 - jitter, 1]``, so a fleet of gateways does not
reconnect in lock-step. No server is tried twice within ``backoff_initial`` (catalogue T45), and a server
that rejected our credentials is skipped for ``credentials_backoff``.

Failback: while connected to any other server, the shell probes the preferred server's TCP port every
``failback_probe_interval`` (a TCP connect only, never a second MQTT session, so we are never connected
to two servers). :meth:`FailoverPlan.failback_due` says when the preferred server has been reachable
without interruption for ``hold_down`` seconds. A failed failback (the preferred server refuses, or its
primary host is not online) resets the clock, so a flapping preferred server costs at most one switch per
hold-down period.

Every switch becomes a :class:`SwitchRecord` (reason, detail, measured duration, attempts), which the
shell logs and keeps for the terminal UI.
"""

from __future__ import annotations

import enum
import random
from collections.abc import Sequence
from dataclasses import dataclass

from gateway.uplink._config import FailoverSettings


class SwitchReason(enum.Enum):
    """Why the uplink moved to another server (or first connected)."""

    STARTUP = "startup"
    CONNECT_FAILED = "connect failed"
    REFUSED = "refused"
    CREDENTIALS = "credentials rejected"
    CONNECTION_LOST = "connection lost"
    DEAD_LINK = "dead link"
    """No answer to a keep-alive probe or a publish within the ack timeout: frozen server, half-open link."""
    PRIMARY_HOST_OFFLINE = "primary host offline"
    PRIMARY_HOST_TIMEOUT = "primary host timeout"
    NEXT_SERVER = "next server"
    """``Node Control/Next Server`` from the host."""
    FAILBACK = "failback"
    SESSION_ERROR = "session error"


@dataclass(frozen=True, slots=True)
class SwitchRecord:
    """One completed switch, for the log and the terminal UI.

    Attributes:
        at_ms: UTC ms when the new server became healthy.
        from_server: the server we left (``None`` at start-up).
        to_server: the server that is now healthy.
        reason, detail: why we left (``detail`` is free text from the error).
        duration_s: from the moment the old connection was declared lost (or left) to healthy on the
            new server (births done), i.e. the outage as seen by upstream.
        attempts: connection attempts in between (1 = the first try succeeded).
    """

    at_ms: int
    from_server: str | None
    to_server: str
    reason: SwitchReason
    detail: str
    duration_s: float
    attempts: int


class FailoverPlan:
    """The policy; time and randomness come in as arguments (``now`` is monotonic seconds)."""

    def __init__(self, servers: Sequence[str], settings: FailoverSettings, rng: random.Random) -> None:
        if not servers:
            raise ValueError("the uplink needs at least one server")
        self._servers = list(servers)
        self._settings = settings
        self._rng = rng
        self._failures = 0
        self._last_attempt: dict[int, float] = {}
        self._not_before: dict[int, float] = {}
        self._reachable_since: float | None = None

    @property
    def failures(self) -> int:
        """Consecutive failed attempts since the last healthy connection."""
        return self._failures

    def attempt(self, index: int, now: float) -> None:
        self._last_attempt[index] = now

    def on_healthy(self, index: int) -> None:
        self._failures = 0
        self._not_before.pop(index, None)
        if index == 0:
            self._reachable_since = None

    def after_loss(self, index: int, reason: SwitchReason, now: float) -> tuple[int, float]:
        """A healthy (or at least connected) session ended: the next server, and the delay before trying."""
        target = 0 if reason is SwitchReason.FAILBACK else self._next(index)
        return target, self._spacing(target, now)

    def after_failure(self, index: int, reason: SwitchReason, now: float) -> tuple[int, float]:
        """An attempt failed (no connection, no CONNACK, refused): next server and delay."""
        self._failures += 1
        if index == 0:
            self._reachable_since = None
        if reason is SwitchReason.CREDENTIALS:
            self._not_before[index] = now + self._settings.credentials_backoff
        target = self._next(index)
        exponent = (self._failures - 1) // len(self._servers)
        if self._failures < len(self._servers):
            base = 0.0  # still walking the list for the first time: try the next one right away
        else:
            base = min(self._settings.backoff_max, self._settings.backoff_initial * (2**exponent))
        delay = base * (1 - self._settings.backoff_jitter * self._rng.random())
        return target, max(delay, self._spacing(target, now))

    def _next(self, index: int) -> int:
        return (index + 1) % len(self._servers)

    def _spacing(self, target: int, now: float) -> float:
        waits = [0.0]
        last = self._last_attempt.get(target)
        if last is not None:
            waits.append(last + self._settings.backoff_initial - now)
        not_before = self._not_before.get(target)
        if not_before is not None:
            waits.append(not_before - now)
        return max(waits)

    # -- failback -------------------------------------------------------------------------------------

    def preferred_probe(self, reachable: bool, now: float) -> None:
        """Record a TCP reachability probe of the preferred server."""
        if not reachable:
            self._reachable_since = None
        elif self._reachable_since is None:
            self._reachable_since = now

    def failback_due(self, current: int, now: float) -> bool:
        hold_down = self._settings.hold_down
        if current == 0 or hold_down is None or self._reachable_since is None:
            return False
        return now - self._reachable_since >= hold_down
