"""Runs control-plane commands: decode the request, check it, call the daemon, answer.

The daemon hands each message on ``$GW/v1/cmd/+`` to :meth:`CommandHandler.handle` together with the
MQTT 5 Response Topic and Correlation Data and who sent it (admin rights are enforced by the broker's
authorizer before the message gets here). The handler answers on the response topic (or on the
``reply_to`` of an MQTT 3.1.1 body), always with ``{ok: true, data}`` or ``{ok: false, error}``, and
logs every command with its sender and outcome. Requests without any response topic are still run
and logged (fire-and-forget).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from gateway.control import contract as c
from gateway.control.view import CommandFailureError, GatewayView

log = logging.getLogger(__name__)

Reply = Callable[[str, bytes, bytes | None], object]
"""reply(topic, payload, correlation_data) publishes one response."""

EventSink = Callable[[c.Event], None]


class CommandHandler:
    """Args: view (the daemon), reply (publishes a response), on_event (control-plane events)."""

    def __init__(self, view: GatewayView, reply: Reply, on_event: EventSink | None = None) -> None:
        self._view = view
        self._reply = reply
        self._on_event = on_event
        self._tasks: set[asyncio.Task[None]] = set()
        self.handled = 0
        self.failed = 0

    def handle(
        self, topic: str, payload: bytes, response_topic: str | None, correlation: bytes | None, sender: str
    ) -> None:
        """Take one request (on the event loop); the work runs in its own task."""
        try:
            envelope = c.decode_request(topic, payload)
        except c.ContractError as exc:
            if isinstance(exc, c.SchemaMismatchError):
                code = c.ErrorCode.SCHEMA_MISMATCH
            elif isinstance(exc, c.UnknownTopicError):
                code = c.ErrorCode.UNKNOWN_COMMAND
            else:
                code = c.ErrorCode.BAD_REQUEST
            self._answer_error(
                topic=topic,
                response_topic=response_topic,
                correlation=correlation,
                sender=sender,
                code=code,
                message=str(exc),
            )
            return
        body_reply = response_topic is None and envelope.reply_to is not None
        target = response_topic or envelope.reply_to
        correlation = correlation if response_topic is not None else envelope.correlation
        task = asyncio.ensure_future(self._run(envelope.request, target, correlation, sender, body_reply))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _run(
        self, request: c.Request, target: str | None, correlation: bytes | None, sender: str, body_reply: bool
    ) -> None:
        name = request.COMMAND
        started = time.monotonic()
        try:
            data = await self._dispatch(request, sender)
            response: c.Response = c.CommandOk(data)
        except CommandFailureError as failure:
            response = c.CommandFailed(failure.error)
        except Exception as exc:
            # Top of a command task: answer "internal" (never leave the client waiting) and log it.
            log.exception("command %s failed", name.value, extra={"command": name.value})
            response = c.CommandFailed(
                c.CommandError(c.ErrorCode.INTERNAL, f"{name.value} failed: {exc!r}", "see the daemon log")
            )
        elapsed = (time.monotonic() - started) * 1000
        self.handled += 1
        if isinstance(response, c.CommandFailed):
            self.failed += 1
            outcome = f"failed: {response.error.code.value}: {response.error.message}"
        else:
            outcome = "ok"
        level = logging.INFO if isinstance(response, c.CommandOk) else logging.WARNING
        log.log(
            level,
            "command %s from %s: %s (%.0f ms)",
            name.value,
            sender,
            outcome,
            elapsed,
            extra={"command": name.value},
        )
        if self._on_event is not None and c.COMMANDS[name].plant_affecting:
            severity = c.Severity.INFO if isinstance(response, c.CommandOk) else c.Severity.WARNING
            self._on_event(
                c.Event(
                    time.time_ns() // 1_000_000,
                    severity,
                    "command",
                    "command",
                    f"{name.value} from {sender}: {outcome}",
                    {"command": name.value, "sender": sender},
                )
            )
        if target is not None:
            self._reply(
                target,
                c.encode_response(response, correlation=correlation if body_reply else None),
                correlation,
            )

    async def _dispatch(self, request: c.Request, sender: str) -> Any:
        # GatewayView names each method after its command (CommandName values).
        method = getattr(self._view, request.COMMAND.value)
        if isinstance(request, c.WriteTag):
            return await method(request, sender)
        return await method(request)

    def _answer_error(
        self,
        *,
        topic: str,
        response_topic: str | None,
        correlation: bytes | None,
        sender: str,
        code: c.ErrorCode,
        message: str,
    ) -> None:
        self.failed += 1
        log.warning("refused a request on %s from %s: %s", topic, sender, message, extra={"topic": topic})
        if response_topic is not None:
            response = c.CommandFailed(
                c.CommandError(code, message, "check the client against docs/control-plane.md")
            )
            self._reply(response_topic, c.encode_response(response), correlation)
