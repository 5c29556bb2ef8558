"""The fast path for tag messages decodes exactly what the contract decodes, and never accepts what
the contract refuses (it hands those to the contract decoder instead)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings

from gateway.control import contract as c
from tests.control.strategies import strategy_for
from tui.viewmodel.fast_tags import decode_tags_fast
from tui.viewmodel.model import decode


@settings(max_examples=200)
@given(strategy_for(c.TagChanges))
def test_changes_equal_the_contract(message: c.TagChanges) -> None:
    payload = c.encode_message(message)
    assert decode_tags_fast(c.TopicKind.TAG_CHANGES, payload) == c.decode_message(payload, c.TagChanges)


@settings(max_examples=200)
@given(strategy_for(c.TagSnapshot))
def test_snapshots_equal_the_contract(message: c.TagSnapshot) -> None:
    payload = c.encode_message(message)
    assert decode_tags_fast(c.TopicKind.TAGS, payload) == c.decode_message(payload, c.TagSnapshot)


GOOD = {"name": "t", "value": 1.5, "quality": "good", "timestamp_ms": 5, "datatype": "Float"}


@pytest.mark.parametrize(
    "change",
    [
        {**GOOD, "quality": "excellent"},
        {**GOOD, "timestamp_ms": "5"},
        {**GOOD, "value": [1]},
        {k: v for k, v in GOOD.items() if k != "name"},
        {k: v for k, v in GOOD.items() if k != "value"},
        {**GOOD, "writable": "yes"},
        "not an object",
    ],
)
def test_bad_tags_fall_back_to_the_contract_error(change: object) -> None:
    doc = {
        "schema": 1,
        "kind": "tag_changes",
        "data": {"timestamp_ms": 1, "device_id": "d", "changes": [change]},
    }
    payload = json.dumps(doc).encode()
    assert decode_tags_fast(c.TopicKind.TAG_CHANGES, payload) is None
    outcome = decode(c.tag_changes_topic("d"), payload)
    assert isinstance(outcome.error, c.MalformedMessageError) and "$.data.changes[0]" in str(outcome.error)


def test_other_schema_and_kinds_are_not_taken() -> None:
    payload = c.encode_message(c.TagChanges(1, "d", ()))
    assert decode_tags_fast(c.TopicKind.TAGS, payload) is None  # wrong kind for the topic
    assert decode_tags_fast(c.TopicKind.GATEWAY, payload) is None
    v2 = payload.replace(b'"schema":1', b'"schema":2')
    assert decode_tags_fast(c.TopicKind.TAG_CHANGES, v2) is None
    assert decode(c.tag_changes_topic("d"), v2).mismatch


def test_unknown_fields_and_bad_counters_go_to_the_contract_decoder() -> None:
    doc = json.loads(c.encode_message(c.TagChanges(1, "dev", (), dropped=2)))
    assert decode_tags_fast(c.TopicKind.TAG_CHANGES, json.dumps(doc).encode()) == c.TagChanges(
        1, "dev", (), 2
    )
    for change in ({"surprise": 1}, {"dropped": "2"}, {"dropped": 1.5}):
        payload = json.dumps({**doc, "data": {**doc["data"], **change}}).encode()
        assert decode_tags_fast(c.TopicKind.TAG_CHANGES, payload) is None
