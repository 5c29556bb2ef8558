"""The command handler: every request gets exactly one answer with its correlation, bad requests too."""

from __future__ import annotations

import asyncio
import json

from gateway.control import contract as c
from gateway.control.commands import CommandHandler
from gateway.control.view import CommandFailureError
from tests.support.waiting import async_wait_until


class View:
    """Only the commands used here answer; the others are not reached by these tests."""

    async def rebirth(self, request: c.Rebirth) -> c.RebirthResult:
        return c.RebirthResult(4, ("pump",))

    async def set_device_enabled(self, request: c.SetDeviceEnabled) -> c.DeviceEnabledResult:
        raise CommandFailureError(c.ErrorCode.NOT_FOUND, f"no device {request.device_id!r}", "devices: pump")

    async def write_tag(self, request: c.WriteTag, who: str) -> c.WriteResult:
        self.who = who
        return c.WriteResult(request.device_id, request.tag, 1, request.value, 5)

    async def fetch_logs(self, request: c.FetchLogs) -> c.LogBatch:
        raise RuntimeError("a bug")


def make() -> tuple[CommandHandler, View, list[tuple[str, bytes, bytes | None]], list[c.Event]]:
    view, replies, events = View(), [], []
    handler = CommandHandler(view, lambda *a: replies.append(a), on_event=events.append)  # type: ignore[arg-type]
    return handler, view, replies, events


async def answer(replies: list[tuple[str, bytes, bytes | None]], count: int = 1) -> None:
    await async_wait_until(lambda: len(replies) >= count, timeout=5, message="a reply")


async def test_ok_response_goes_to_the_response_topic_with_the_correlation() -> None:
    handler, view, replies, events = make()
    topic, payload = c.encode_request(c.WriteTag("pump", "Speed", 7))
    handler.handle(topic, payload, "$GW/v1/reply/me", b"id-1", "client 'me'")
    await answer(replies)
    reply_topic, body, correlation = replies[0]
    assert reply_topic == "$GW/v1/reply/me" and correlation == b"id-1"
    assert c.decode_response(c.CommandName.WRITE_TAG, body) == c.CommandOk(
        c.WriteResult("pump", "Speed", 1, 7, 5)
    )
    assert view.who == "client 'me'"
    assert events and "write_tag from client 'me': ok" in events[0].message


async def test_failures_carry_code_message_and_hint() -> None:
    handler, _view, replies, _events = make()
    topic, payload = c.encode_request(c.SetDeviceEnabled("nope", False))
    handler.handle(topic, payload, "r", b"2", "x")
    await answer(replies)
    response = c.decode_response(c.CommandName.SET_DEVICE_ENABLED, replies[0][1])
    assert response == c.CommandFailed(
        c.CommandError(c.ErrorCode.NOT_FOUND, "no device 'nope'", "devices: pump")
    )


async def test_a_bug_in_a_command_answers_internal() -> None:
    handler, _view, replies, _events = make()
    topic, payload = c.encode_request(c.FetchLogs())
    handler.handle(topic, payload, "r", b"3", "x")
    await answer(replies)
    response = c.decode_response(c.CommandName.FETCH_LOGS, replies[0][1])
    assert isinstance(response, c.CommandFailed) and response.error.code is c.ErrorCode.INTERNAL


async def test_bad_requests_are_answered_at_once() -> None:
    handler, _view, replies, _events = make()
    handler.handle("$GW/v1/cmd/format_disk", b'{"schema":1}', "r", b"a", "x")
    handler.handle("$GW/v1/cmd/rebirth", b'{"schema":2}', "r", b"b", "x")
    handler.handle("$GW/v1/cmd/set_device_enabled", b'{"schema":1,"args":{"device_id":5}}', "r", b"c", "x")
    codes = [json.loads(body)["error"]["code"] for _t, body, _c in replies]
    assert codes == ["unknown_command", "schema_mismatch", "bad_request"]
    assert [corr for *_x, corr in replies] == [b"a", b"b", b"c"]


async def test_mqtt311_clients_get_the_correlation_in_the_body() -> None:
    handler, _view, replies, _events = make()
    topic, payload = c.encode_request(c.Rebirth(), reply_to="$GW/v1/reply/old", correlation=b"77")
    handler.handle(topic, payload, None, None, "x")
    await answer(replies)
    reply_topic, body, _correlation = replies[0]
    assert reply_topic == "$GW/v1/reply/old" and json.loads(body)["correlation"] == "77"


async def test_request_without_any_reply_topic_still_runs() -> None:
    handler, view, replies, events = make()
    topic, payload = c.encode_request(c.WriteTag("pump", "Speed", 1))
    handler.handle(topic, payload, None, None, "x")
    await async_wait_until(lambda: events, timeout=5, message="the command to run")
    await asyncio.sleep(0)
    assert replies == [] and view.who == "x"


def test_every_command_has_a_method_of_the_same_name_on_the_view() -> None:
    from gateway.control.view import GatewayView

    for name in c.CommandName:
        assert callable(getattr(GatewayView, name.value, None)), name
