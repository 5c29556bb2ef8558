"""Bad input to the contract decoders: a clear ContractError naming where and what, nothing else."""

from __future__ import annotations

import contextlib
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.control import contract as c

GOOD_STORE = c.StoreStatus(5, c.StoreMode.STORING, 10, 2048, 3.5)


def _envelope(**changes: object) -> bytes:
    document = json.loads(c.encode_message(GOOD_STORE))
    document.update(changes)
    return json.dumps(document).encode()


def test_newer_schema_is_reported_as_a_version_mismatch() -> None:
    with pytest.raises(c.SchemaMismatchError) as info:
        c.decode_message(_envelope(schema=2), c.StoreStatus)
    assert info.value.found == 2 and info.value.expected == 1
    assert "v2" in str(info.value) and "v1" in str(info.value) and "upgrade" in str(info.value)


def test_missing_schema_is_reported() -> None:
    document = json.loads(c.encode_message(GOOD_STORE))
    del document["schema"]
    with pytest.raises(c.SchemaMismatchError, match="no 'schema' field"):
        c.decode_message(json.dumps(document).encode(), c.StoreStatus)


def test_boolean_schema_is_not_version_one() -> None:
    with pytest.raises(c.SchemaMismatchError):
        c.decode_message(_envelope(schema=True), c.StoreStatus)


def test_schema_mismatch_in_a_request_and_a_response() -> None:
    with pytest.raises(c.SchemaMismatchError):
        c.decode_request("$GW/v1/cmd/rebirth", b'{"schema": 3, "args": {}}')
    with pytest.raises(c.SchemaMismatchError):
        c.decode_response(c.CommandName.REBIRTH, b'{"schema": 0, "ok": true, "data": {}}')


@pytest.mark.parametrize(
    ("payload", "text"),
    [
        (b"not json", "payload is not JSON"),
        (b"\xff\xfe", "not UTF-8"),
        (b"[1, 2]", "found array, expected a JSON object"),
        (b"x" * (c.MAX_PAYLOAD_BYTES + 1), "expected at most"),
    ],
)
def test_unreadable_payloads(payload: bytes, text: str) -> None:
    with pytest.raises(c.MalformedMessageError, match=text):
        c.decode_message(payload, c.StoreStatus)


def test_wrong_kind_names_both() -> None:
    with pytest.raises(c.MalformedMessageError) as info:
        c.decode_message(c.encode_message(GOOD_STORE), c.BrokerStatus)
    assert info.value.path == "$.kind"
    assert "'store_status'" in info.value.problem and "'broker_status'" in info.value.problem


def test_missing_required_field_names_its_path() -> None:
    document = json.loads(c.encode_message(GOOD_STORE))
    del document["data"]["depth"]
    with pytest.raises(c.MalformedMessageError) as info:
        c.decode_message(json.dumps(document).encode(), c.StoreStatus)
    assert info.value.path == "$.data.depth"
    assert "missing" in info.value.problem


def test_wrong_type_deep_inside_names_its_path() -> None:
    server = c.ServerStatus("a", "h", 1883, False, "5", c.ServerState.CONNECTED, True)
    uplink = c.UplinkStatus(1, (server, server), "a", c.SessionState.ONLINE, 0, 1, None)
    document = json.loads(c.encode_message(uplink))
    document["data"]["servers"][1]["port"] = "1883"
    with pytest.raises(c.MalformedMessageError) as info:
        c.decode_message(json.dumps(document).encode(), c.UplinkStatus)
    assert str(info.value) == "$.data.servers[1].port: found string, expected integer"


def test_bad_enum_value_lists_the_allowed_ones() -> None:
    with pytest.raises(c.MalformedMessageError) as info:
        c.decode_message(
            _envelope(data={**json.loads(c.encode_message(GOOD_STORE))["data"], "mode": "x"}), c.StoreStatus
        )
    assert "'live', 'storing', 'draining'" in str(info.value)


def test_booleans_are_not_integers() -> None:
    data = json.loads(c.encode_message(GOOD_STORE))["data"]
    with pytest.raises(c.MalformedMessageError, match=r"\$\.data\.depth: found boolean, expected integer"):
        c.decode_message(_envelope(data={**data, "depth": True}), c.StoreStatus)


def test_unknown_fields_are_ignored_within_a_version() -> None:
    data = json.loads(c.encode_message(GOOD_STORE))["data"]
    assert c.decode_message(_envelope(data={**data, "added_in_v1_7": 1}), c.StoreStatus) == GOOD_STORE


def test_response_without_ok_is_malformed() -> None:
    with pytest.raises(c.MalformedMessageError, match=r"\$\.ok"):
        c.decode_response(c.CommandName.REBIRTH, b'{"schema": 1, "data": {}}')


def test_request_on_unknown_command_lists_the_known_ones() -> None:
    with pytest.raises(c.UnknownTopicError, match="known commands: failover_now"):
        c.decode_request("$GW/v1/cmd/format_disk", b'{"schema": 1}')


def test_request_with_wrong_argument_type() -> None:
    with pytest.raises(c.MalformedMessageError, match=r"\$\.args\.enabled: found string, expected boolean"):
        c.decode_request(
            "$GW/v1/cmd/set_device_enabled", b'{"schema":1,"args":{"device_id":"d","enabled":"yes"}}'
        )


def test_request_with_non_string_reply_to() -> None:
    with pytest.raises(c.MalformedMessageError, match=r"\$\.reply_to"):
        c.decode_request("$GW/v1/cmd/rebirth", b'{"schema":1,"reply_to":5}')


def test_encode_refuses_non_contract_objects() -> None:
    with pytest.raises(TypeError):
        c.encode_message(object())
    with pytest.raises(TypeError):
        c.to_jsonable({1, 2})


@settings(max_examples=300, deadline=None)
@given(payload=st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
def test_any_bytes_decode_or_raise_contract_error(payload: bytes) -> None:
    # Anything else than a ContractError (TypeError, KeyError, RecursionError...) fails the test.
    for message_type in c.PAYLOAD_TYPES.values():
        with contextlib.suppress(c.ContractError):
            c.decode_message(payload, message_type)
    with contextlib.suppress(c.ContractError):
        c.decode_request("$GW/v1/cmd/write_tag", payload)
    with contextlib.suppress(c.ContractError):
        c.decode_response(c.CommandName.APPLY_CONFIG, payload)


@settings(max_examples=300, deadline=None)
@given(
    data=st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
        max_leaves=12,
    )
)
def test_any_json_in_the_data_field_decodes_or_raises_contract_error(data: object) -> None:
    payload = json.dumps({"schema": 1, "kind": "uplink_status", "data": data}).encode()
    with contextlib.suppress(c.ContractError):
        c.decode_message(payload, c.UplinkStatus)
