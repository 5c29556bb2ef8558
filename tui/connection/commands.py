"""Command request/response on the app's event loop: correlation data, timeouts, refusals.

:class:`CommandChannel` encodes a request with the contract, gives it a fresh correlation id, hands
it to a publisher (the connection thread's queue) and waits for the response that carries the same
correlation data ([MQTT-4.10]). It lives on the UI's event loop: :meth:`deliver` and :meth:`refuse`
are called from there when the connection's events are drained, never from the paho thread.

Read-only mode is enforced here as well as in the screens: a plant-affecting request is refused
before anything is published.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from tui._contract import (
    CommandFailed,
    CommandName,
    CommandOk,
    ContractError,
    Request,
    Response,
    c,
    is_plant_affecting,
)
from tui.errors import (
    BadResponseError,
    CommandTimeoutError,
    NotAuthorizedError,
    NotConnectedError,
    ReadOnlyError,
)

log = logging.getLogger(__name__)

Publisher = Callable[[str, bytes, bytes], None]
"""``publish(topic, payload, correlation)``: hands a request to the connection."""


@dataclass(slots=True)
class CommandRecord:
    """One request sent, for the command log (``@``)."""

    correlation: str
    command: CommandName
    sent_ms: int
    outcome: str = "waiting"
    latency_ms: int | None = None


@dataclass(slots=True)
class _Pending:
    command: CommandName
    future: asyncio.Future[Response]
    record: CommandRecord


@dataclass
class CommandChannel:
    """Send commands and match their responses.

    Args:
        publish: hands a request to the connection thread.
        is_connected: whether the link is up now (nothing is sent while it is down).
        clock: wall clock in UTC ms, for the command log.
        read_only: start read-only (``--read-only``).
    """

    publish: Publisher
    is_connected: Callable[[], bool]
    clock: Callable[[], int]
    read_only: bool = False
    read_only_reason: str = ""
    on_read_only: Callable[[str], None] | None = None
    log_limit: int = 200
    _counter: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _pending: dict[bytes, _Pending] = field(default_factory=dict)
    history: list[CommandRecord] = field(default_factory=list)

    def set_read_only(self, reason: str) -> None:
        """Turn read-only (for the rest of the session) and say why."""
        if self.read_only and self.read_only_reason:
            return
        self.read_only = True
        self.read_only_reason = reason
        if self.on_read_only is not None:
            self.on_read_only(reason)

    async def call(self, request: Request, timeout: float = 10.0) -> Response:
        """Send ``request`` and return the decoded response (``CommandOk`` or ``CommandFailed``).

        Raises:
            ReadOnlyError: plant-affecting while read-only; nothing was sent.
            NotConnectedError: the link is down; nothing was sent.
            NotAuthorizedError: the broker refused the request (PUBACK 0x87); the UI is read-only now.
            CommandTimeoutError: no response within ``timeout`` seconds.
            BadResponseError: the response does not fit this UI's contract.
        """
        name = request.COMMAND
        if self.read_only and is_plant_affecting(request):
            why = self.read_only_reason or "the UI was started with --read-only"
            raise ReadOnlyError(f"{name.value} not sent: read-only ({why})")
        if not self.is_connected():
            raise NotConnectedError(f"{name.value} not sent: not connected to the gateway")
        correlation = str(next(self._counter)).encode()
        topic, payload = c.encode_request(request)
        loop = asyncio.get_running_loop()
        record = CommandRecord(correlation.decode(), name, self.clock())
        self.history.append(record)
        del self.history[: -self.log_limit]
        pending = _Pending(name, loop.create_future(), record)
        self._pending[correlation] = pending
        self.publish(topic, payload, correlation)
        try:
            response = await asyncio.wait_for(asyncio.shield(pending.future), timeout)
        except TimeoutError:
            record.outcome = "timed out"
            raise CommandTimeoutError(
                f"{name.value}: no answer from the gateway within {timeout:.0f} s "
                "(is it busy or an old version? see the Events screen)"
            ) from None
        finally:
            self._pending.pop(correlation, None)
        return response

    def deliver(self, correlation: bytes | None, payload: bytes) -> bool:
        """Match a reply to its request; returns False when nothing waits for it (late or foreign)."""
        if correlation is None:
            return False
        pending = self._pending.get(correlation)
        if pending is None or pending.future.done():
            return False
        record = pending.record
        record.latency_ms = self.clock() - record.sent_ms
        try:
            response = c.decode_response(pending.command, payload)
        except ContractError as exc:
            record.outcome = f"bad response: {exc}"
            pending.future.set_exception(BadResponseError(f"{pending.command.value}: {exc}"))
            return True
        if isinstance(response, CommandOk):
            record.outcome = "ok"
        elif isinstance(response, CommandFailed):
            record.outcome = f"{response.error.code.value}: {response.error.message}"
        pending.future.set_result(response)
        return True

    def refuse(self, correlation: bytes, reason_code: int, reason: str) -> None:
        """The broker refused a request's PUBLISH; 0x87 turns the UI read-only."""
        pending = self._pending.get(correlation)
        words = f"the broker refused the request: {reason} (0x{reason_code:02X})"
        if reason_code == 0x87:
            self.set_read_only("this user may not send commands (the broker said not authorized)")
            words = "not authorized: this user lacks the admin role, so the UI is read-only now"
        if pending is not None and not pending.future.done():
            pending.record.outcome = words
            pending.future.set_exception(NotAuthorizedError(f"{pending.command.value}: {words}"))

    def fail_all(self, why: str) -> None:
        """The link went down: fail every waiting request now rather than at its timeout."""
        for pending in list(self._pending.values()):
            if not pending.future.done():
                pending.record.outcome = why
                pending.future.set_exception(NotConnectedError(f"{pending.command.value}: {why}"))
