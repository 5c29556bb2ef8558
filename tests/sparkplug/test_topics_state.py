"""Topic namespace (§1, §2) and STATE payloads (§9)."""

from __future__ import annotations

import pytest

from sparkplug import (
    InvalidIdError,
    MessageType,
    SparkplugDecodeError,
    Topic,
    TopicError,
    build_topic,
    decode_legacy_state,
    decode_state,
    encode_legacy_state,
    encode_state,
    parse_topic,
    state_topic,
)


@pytest.mark.parametrize(
    ("message_type", "device", "expected"),
    [
        (MessageType.NBIRTH, None, "spBv1.0/G1/NBIRTH/E1"),
        (MessageType.NDEATH, None, "spBv1.0/G1/NDEATH/E1"),
        (MessageType.NDATA, None, "spBv1.0/G1/NDATA/E1"),
        (MessageType.NCMD, None, "spBv1.0/G1/NCMD/E1"),
        (MessageType.DBIRTH, "D1", "spBv1.0/G1/DBIRTH/E1/D1"),
        (MessageType.DDEATH, "D1", "spBv1.0/G1/DDEATH/E1/D1"),
        (MessageType.DDATA, "D1", "spBv1.0/G1/DDATA/E1/D1"),
        (MessageType.DCMD, "D1", "spBv1.0/G1/DCMD/E1/D1"),
    ],
)
def test_build_and_parse_every_message_type(
    message_type: MessageType, device: str | None, expected: str
) -> None:
    assert build_topic(message_type, "G1", "E1", device) == expected
    parsed = parse_topic(expected)
    assert parsed == Topic(message_type, "G1", "E1", device)
    assert str(parsed) == expected


def test_device_level_is_required_or_forbidden() -> None:
    with pytest.raises(TopicError, match="needs a device_id"):
        build_topic(MessageType.DDATA, "G", "E")
    with pytest.raises(TopicError, match="must not have a device_id"):
        build_topic(MessageType.NDATA, "G", "E", "D")
    with pytest.raises(TopicError, match="needs a device_id level"):
        parse_topic("spBv1.0/G/DDATA/E")
    with pytest.raises(TopicError, match="must not have a device_id level"):
        parse_topic("spBv1.0/G/NDATA/E/D")
    with pytest.raises(TopicError, match="state_topic"):
        build_topic(MessageType.STATE, "G", "E")


@pytest.mark.parametrize(
    "topic",
    [
        "spBv1.0/G/NFOO/E",
        "spAv1.0/G/NBIRTH/E",
        "spBv1.0/G/NBIRTH",
        "other/thing",
        "spBv1.0/G/DDATA/E/D/extra",
    ],
)
def test_non_sparkplug_topics_are_refused(topic: str) -> None:
    with pytest.raises(TopicError):
        parse_topic(topic)


@pytest.mark.parametrize("bad", ["", "a+b", "a#", "a/b", "nul\x00", "tab\t", "$SYS", "del\x7f"])
def test_invalid_ids_are_refused(bad: str) -> None:
    with pytest.raises(InvalidIdError):
        build_topic(MessageType.NBIRTH, bad, "E") if "/" not in bad else build_topic(
            MessageType.NBIRTH, "G", bad
        )


def test_spaces_and_unicode_ids_are_legal() -> None:
    """§1: spaces are legal (the spec's own examples use them); any UTF-8 except + / # and controls."""
    topic = build_topic(MessageType.DBIRTH, "Sparkplug B Devices", "Édge", "Dévice 1")
    assert parse_topic(topic).device_id == "Dévice 1"


def test_parse_rejects_bad_ids_inside_topics() -> None:
    with pytest.raises(InvalidIdError, match="contains '\\+'"):
        parse_topic("spBv1.0/G+/NBIRTH/E")


def test_state_topics_both_forms() -> None:
    assert state_topic("scada") == "spBv1.0/STATE/scada"
    assert state_topic("scada", legacy=True) == "STATE/scada"
    assert parse_topic("spBv1.0/STATE/scada") == Topic(MessageType.STATE, host_id="scada")
    legacy = parse_topic("STATE/scada")
    assert legacy.legacy_state and legacy.host_id == "scada"
    assert str(legacy) == "STATE/scada"
    with pytest.raises(InvalidIdError):
        state_topic("a/b")


def test_state_payload_json() -> None:
    payload = encode_state(True, 1656107875000)
    assert payload == b'{"online":true,"timestamp":1656107875000}'
    state = decode_state(payload)
    assert state.online is True and state.timestamp == 1656107875000


@pytest.mark.parametrize(
    ("payload", "match"),
    [
        (b"", "not UTF-8 JSON"),
        (b"\xff", "not UTF-8 JSON"),
        (b"[1]", "JSON object"),
        (b'{"online":"yes","timestamp":1}', "boolean 'online'"),
        (b'{"online":true}', "integer 'timestamp'"),
        (b'{"online":true,"timestamp":-1}', "integer 'timestamp'"),
        (b'{"online":true,"timestamp":true}', "integer 'timestamp'"),
        (b"ONLINE", "not UTF-8 JSON"),
    ],
)
def test_malformed_state_payloads(payload: bytes, match: str) -> None:
    with pytest.raises(SparkplugDecodeError, match=match):
        decode_state(payload)


def test_legacy_state_payloads() -> None:
    assert encode_legacy_state(True) == b"ONLINE"
    assert decode_legacy_state(b"OFFLINE").online is False
    assert decode_legacy_state(b"ONLINE").timestamp is None
    with pytest.raises(SparkplugDecodeError, match="ONLINE or OFFLINE"):
        decode_legacy_state(b"online")
