"""Every control-plane message, request and response survives encode -> decode unchanged."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.control import contract as c
from tests.control.strategies import strategy_for


@pytest.mark.parametrize("kind", list(c.PAYLOAD_TYPES), ids=str)
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_status_messages_round_trip(kind: c.TopicKind, data: st.DataObject) -> None:
    message_type = c.PAYLOAD_TYPES[kind]
    message = data.draw(strategy_for(message_type))
    assert c.decode_message(c.encode_message(message), message_type) == message


@pytest.mark.parametrize("name", list(c.CommandName), ids=str)
@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_requests_and_results_round_trip(name: c.CommandName, data: st.DataObject) -> None:
    spec = c.COMMANDS[name]
    request = data.draw(strategy_for(spec.request))
    topic, payload = c.encode_request(request)
    assert topic == f"$GW/v1/cmd/{name.value}"
    assert c.decode_request(topic, payload) == c.RequestEnvelope(request)

    result = data.draw(strategy_for(spec.result))
    decoded = c.decode_response(name, c.encode_response(c.CommandOk(result)))
    assert decoded == c.CommandOk(result)


@settings(max_examples=50, deadline=None)
@given(error=strategy_for(c.CommandError))
def test_failed_responses_round_trip(error: c.CommandError) -> None:
    assert c.decode_response(
        c.CommandName.REBIRTH, c.encode_response(c.CommandFailed(error))
    ) == c.CommandFailed(error)


def test_every_command_maps_its_request_class_to_its_name() -> None:
    for name, spec in c.COMMANDS.items():
        assert spec.request.COMMAND is name  # type: ignore[attr-defined]
        assert spec.summary
    assert set(c.COMMANDS) == set(c.CommandName)


@pytest.mark.parametrize(
    ("value", "text"), [(math.inf, "Infinity"), (-math.inf, "-Infinity"), (math.nan, "NaN")]
)
def test_non_finite_tag_values_travel_as_strings(value: float, text: str) -> None:
    tag = c.TagValue("T", value, c.Quality.GOOD, 1, "Float")
    payload = c.encode_message(c.TagChanges(1, "d", (tag,)))
    assert f'"value":"{text}"'.encode() in payload
    assert c.decode_message(payload, c.TagChanges).changes[0].value == text


@pytest.mark.parametrize("value", [math.inf, -math.inf])
def test_non_finite_numbers_in_number_fields_decode_back(value: float) -> None:
    server = c.ServerStatus("a", "h", 1, False, "5", c.ServerState.CONNECTED, True, rtt_ms=value)
    status = c.UplinkStatus(1, (server,), "a", c.SessionState.ONLINE, 0, None, None)
    assert c.decode_message(c.encode_message(status), c.UplinkStatus).servers[0].rtt_ms == value


def test_a_string_tag_value_that_spells_nan_stays_a_string() -> None:
    tag = c.TagValue("T", "NaN", c.Quality.GOOD, 1, "String")
    decoded = c.decode_message(c.encode_message(c.TagSnapshot(1, "d", (tag,))), c.TagSnapshot)
    assert decoded.tags[0].value == "NaN"


@pytest.mark.parametrize(
    ("value", "expected_type"),
    [(True, bool), (3, int), (3.0, float), ("on", str), (None, type(None))],
)
def test_tag_scalars_keep_their_json_type(value: Any, expected_type: type) -> None:
    tag = c.TagValue("T", value, c.Quality.GOOD, 1, "Int32")
    decoded = c.decode_message(c.encode_message(c.TagSnapshot(1, "d", (tag,))), c.TagSnapshot)
    assert type(decoded.tags[0].value) is expected_type


def test_mqtt311_clients_carry_reply_topic_and_correlation_in_the_body() -> None:
    topic, payload = c.encode_request(c.Rebirth(), reply_to="$GW/v1/reply/tool", correlation=b"42")
    envelope = c.decode_request(topic, payload)
    assert envelope.reply_to == "$GW/v1/reply/tool"
    assert envelope.correlation == b"42"
    response = c.encode_response(c.CommandOk(c.RebirthResult(3, ("a",))), correlation=envelope.correlation)
    assert b'"correlation":"42"' in response
    assert c.decode_response(c.CommandName.REBIRTH, response) == c.CommandOk(c.RebirthResult(3, ("a",)))


def test_request_without_args_takes_the_defaults() -> None:
    envelope = c.decode_request("$GW/v1/cmd/fetch_logs", b'{"schema": 1}')
    assert envelope.request == c.FetchLogs()
