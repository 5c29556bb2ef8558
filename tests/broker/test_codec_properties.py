"""Codec properties (T9 a/b): every valid packet round-trips; any bytes decode or raise ProtocolError."""

from __future__ import annotations

import contextlib
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.broker.codec import (
    Auth,
    Connack,
    Connect,
    Disconnect,
    FrameReader,
    Pingreq,
    Pingresp,
    Properties,
    Puback,
    Pubcomp,
    Publish,
    Pubrec,
    Pubrel,
    Suback,
    Subscribe,
    SubscriptionRequest,
    Unsuback,
    Unsubscribe,
    Will,
    decode,
    decode_body,
    encode,
)
from gateway.broker.errors import ProtocolError

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

_chars = st.characters(min_codepoint=0x20, max_codepoint=0x7E) | st.characters(
    min_codepoint=0xA0, max_codepoint=0x2FF
)
text = st.text(_chars, max_size=12)
level = st.text(_chars.filter(lambda c: c not in "+#/"), max_size=6)
topic = st.lists(level, min_size=1, max_size=5).map("/".join).filter(bool)
u16 = st.integers(1, 0xFFFF)
u32 = st.integers(0, 0xFFFFFFFF)
binary = st.binary(max_size=20)
pid = u16
users = st.lists(st.tuples(text, text), max_size=3).map(tuple)


@st.composite
def topic_filter(draw: Any) -> str:
    levels = draw(st.lists(level | st.just("+"), min_size=1, max_size=5))
    if draw(st.booleans()):
        levels.append("#")
    result = "/".join(levels) or "x"
    if draw(st.integers(0, 5)) == 0:
        result = f"$share/{draw(level.filter(bool))}/{result}"
    return result


def props(**fields: Any) -> st.SearchStrategy[Properties]:
    """Properties with any subset of the given fields."""
    chosen = {name: st.none() | strategy for name, strategy in fields.items()}
    return st.fixed_dictionaries(chosen).map(
        lambda values: Properties(**{k: v for k, v in values.items() if v is not None})
    )


publish_props = props(
    payload_format_indicator=st.integers(0, 1),
    message_expiry_interval=u32,
    content_type=text,
    response_topic=topic,
    correlation_data=binary,
    subscription_identifiers=st.lists(st.integers(1, 268_435_455), min_size=1, max_size=2).map(tuple),
    topic_alias=u16,
    user_properties=users,
)
will_props = props(
    payload_format_indicator=st.integers(0, 1),
    message_expiry_interval=u32,
    content_type=text,
    response_topic=topic,
    correlation_data=binary,
    will_delay_interval=u32,
    user_properties=users,
)
connect_props = props(
    session_expiry_interval=u32,
    receive_maximum=u16,
    maximum_packet_size=st.integers(1, 0xFFFFFFFF),
    topic_alias_maximum=st.integers(0, 0xFFFF),
    request_problem_information=st.integers(0, 1),
    request_response_information=st.integers(0, 1),
    authentication_method=text,
    authentication_data=binary,
    user_properties=users,
)
connack_props = props(
    session_expiry_interval=u32,
    receive_maximum=u16,
    maximum_qos=st.integers(0, 1),
    retain_available=st.integers(0, 1),
    maximum_packet_size=st.integers(1, 0xFFFFFFFF),
    assigned_client_identifier=text,
    topic_alias_maximum=st.integers(0, 0xFFFF),
    reason_string=text,
    user_properties=users,
    wildcard_subscription_available=st.integers(0, 1),
    subscription_identifier_available=st.integers(0, 1),
    shared_subscription_available=st.integers(0, 1),
    server_keep_alive=st.integers(0, 0xFFFF),
    response_information=text,
    server_reference=text,
)
ack_props = props(reason_string=text, user_properties=users)
sub_props = props(
    subscription_identifiers=st.integers(1, 268_435_455).map(lambda i: (i,)), user_properties=users
)
disconnect_props = props(
    session_expiry_interval=u32, reason_string=text, server_reference=text, user_properties=users
)
reason = st.integers(0, 255)


@st.composite
def packet_and_version(draw: Any) -> tuple[Any, int]:
    version = draw(st.sampled_from([4, 5]))
    v5 = version == 5
    kind = draw(
        st.sampled_from(
            [
                "connect",
                "connack",
                "publish",
                "ack",
                "subscribe",
                "suback",
                "unsubscribe",
                "unsuback",
                "ping",
                "disconnect",
                "auth",
            ]
        )
    )
    no_props = st.just(Properties())
    if kind == "connect":
        will = None
        if draw(st.booleans()):
            will = Will(
                draw(topic),
                draw(binary),
                draw(st.integers(0, 2)),
                draw(st.booleans()),
                draw(will_props if v5 else no_props),
            )
        username = draw(st.none() | text)
        password = draw(st.none() | binary) if (v5 or username is not None) else None
        return Connect(
            version,
            draw(text),
            draw(st.booleans()),
            draw(st.integers(0, 0xFFFF)),
            username,
            password,
            will,
            draw(connect_props if v5 else no_props),
        ), version
    if kind == "connack":
        return Connack(draw(st.booleans()), draw(reason), draw(connack_props if v5 else no_props)), version
    if kind == "publish":
        qos = draw(st.integers(0, 2))
        return Publish(
            draw(topic),
            draw(binary),
            qos,
            draw(st.booleans()),
            draw(st.booleans()) if qos else False,
            draw(pid) if qos else None,
            draw(publish_props if v5 else no_props),
        ), version
    if kind == "ack":
        cls = draw(st.sampled_from([Puback, Pubrec, Pubrel, Pubcomp]))
        if v5:
            return cls(draw(pid), draw(reason), draw(ack_props)), version
        return cls(draw(pid)), version
    if kind == "subscribe":
        requests = []
        for _ in range(draw(st.integers(1, 3))):
            flt = draw(topic_filter())
            if v5:
                requests.append(
                    SubscriptionRequest(
                        flt,
                        draw(st.integers(0, 2)),
                        draw(st.booleans()) and not flt.startswith("$share/"),
                        draw(st.booleans()),
                        draw(st.integers(0, 2)),
                    )
                )
            else:
                requests.append(SubscriptionRequest(flt, draw(st.integers(0, 2))))
        return Subscribe(draw(pid), tuple(requests), draw(sub_props if v5 else no_props)), version
    if kind == "suback":
        return Suback(
            draw(pid),
            tuple(draw(st.lists(reason, min_size=1, max_size=4))),
            draw(ack_props if v5 else no_props),
        ), version
    if kind == "unsubscribe":
        filters = tuple(draw(st.lists(topic_filter(), min_size=1, max_size=3)))
        return Unsubscribe(
            draw(pid), filters, draw(props(user_properties=users) if v5 else no_props)
        ), version
    if kind == "unsuback":
        if v5:
            return Unsuback(
                draw(pid), tuple(draw(st.lists(reason, min_size=1, max_size=3))), draw(ack_props)
            ), 5
        return Unsuback(draw(pid)), 4
    if kind == "ping":
        return draw(st.sampled_from([Pingreq(), Pingresp()])), version
    if kind == "disconnect":
        if v5:
            return Disconnect(draw(reason), draw(disconnect_props)), 5
        return Disconnect(), 4
    return Auth(
        draw(reason),
        draw(
            props(
                authentication_method=text,
                authentication_data=binary,
                reason_string=text,
                user_properties=users,
            )
        ),
    ), 5


@SETTINGS
@given(packet_and_version())
def test_round_trip(case: tuple[Any, int]) -> None:
    packet, version = case
    assert decode(encode(packet, version), version) == packet


@SETTINGS
@given(st.binary(max_size=300), st.sampled_from([4, 5]))
def test_any_bytes_decode_or_raise_protocol_error(data: bytes, version: int) -> None:
    with contextlib.suppress(ProtocolError):
        decode(data, version)


@SETTINGS
@given(st.integers(0, 255), st.binary(max_size=200), st.sampled_from([4, 5]))
def test_any_body_decodes_or_raises_protocol_error(first: int, body: bytes, version: int) -> None:
    with contextlib.suppress(ProtocolError):
        decode_body(first, body, 0, len(body), version)


@SETTINGS
@given(packet_and_version(), st.integers(0, 10_000), st.integers(0, 255))
def test_one_mutated_byte_decodes_or_raises_protocol_error(
    case: tuple[Any, int], where: int, value: int
) -> None:
    packet, version = case
    data = bytearray(encode(packet, version))
    data[where % len(data)] = value
    with contextlib.suppress(ProtocolError):
        decode(bytes(data), version)


@SETTINGS
@given(st.lists(packet_and_version(), min_size=1, max_size=5), st.lists(st.integers(1, 7), min_size=1))
def test_stream_framing_is_independent_of_chunking(cases: list[tuple[Any, int]], cuts: list[int]) -> None:
    stream = b"".join(encode(packet, version) for packet, version in cases)
    whole = [bytes(buf[start:end]) for _first, buf, start, end in FrameReader(10**9).feed(stream)]
    reader = FrameReader(10**9)
    pieces = []
    pos = 0
    index = 0
    while pos < len(stream):
        step = cuts[index % len(cuts)]
        index += 1
        pieces.extend(bytes(buf[start:end]) for _f, buf, start, end in reader.feed(stream[pos : pos + step]))
        pos += step
    assert pieces == whole
    assert len(whole) == len(cases)
