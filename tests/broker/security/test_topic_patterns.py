"""The ACL's topic algebra, checked against brute force over a small topic universe with Hypothesis."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.broker.auth import topic_patterns as tp

LITERALS = ["a", "b", "$SYS", ""]
#: Every topic of up to 4 levels over LITERALS: enough to witness any difference between short patterns.
UNIVERSE = [levels for depth in range(1, 5) for levels in itertools.product(LITERALS, repeat=depth)]
# The universe includes the (invalid) empty topic name: the algebra may treat it as a topic, which can only
# make a deny rule refuse more, never an allow rule grant more than a valid topic would.


@st.composite
def filters(draw: st.DrawFn) -> tp.Levels:
    depth = draw(st.integers(1, 3))
    levels = [draw(st.sampled_from([*LITERALS, "+"])) for _ in range(depth)]
    if draw(st.booleans()):
        levels.append("#")
    if levels == [""]:
        levels = ["a"]  # the empty string is not a filter [MQTT-4.7.3-1]
    return tuple(levels)


@settings(max_examples=1000)
@given(filters(), filters())
def test_covers_and_intersects_agree_with_brute_force(pattern: tp.Levels, subscription: tp.Levels) -> None:
    matched_by_sub = [t for t in UNIVERSE if tp.matches(subscription, t)]
    both = [t for t in matched_by_sub if tp.matches(pattern, t)]
    assert tp.intersects(pattern, subscription) == bool(both)
    assert tp.intersects(subscription, pattern) == bool(both)
    if tp.covers(pattern, subscription):
        assert both == matched_by_sub, "covers() claimed a cover that misses a topic"
    # covers() is exact within the universe (no union of rules involved).
    assert tp.covers(pattern, subscription) == (both == matched_by_sub)


@pytest.mark.parametrize(
    ("pattern", "topic", "expected"),
    [
        ("#", "a/b", True),
        ("#", "$SYS/x", False),  # [MQTT-4.7.2-1]
        ("+/x", "$SYS/x", False),
        ("$SYS/#", "$SYS/x", True),
        ("a/#", "a", True),  # [MQTT-4.7.1-2]
        ("a/+", "a", False),
        ("a/+/c", "a/b/c", True),
        ("a/+/c", "a/b/d", False),
        ("a", "a/b", False),
    ],
)
def test_matches(pattern: str, topic: str, expected: bool) -> None:
    assert tp.matches(tp.split(pattern), tp.split(topic)) is expected


@pytest.mark.parametrize(
    ("pattern", "subscription", "expected"),
    [
        ("a/#", "#", False),
        ("#", "#", True),
        ("#", "$SYS/#", False),
        ("+/#", "#", True),
        ("a/+", "a/#", False),
        ("a/#", "a", True),
        ("a/+/c", "a/+/c", True),
        ("a/b/c", "a/+/c", False),
    ],
)
def test_covers(pattern: str, subscription: str, expected: bool) -> None:
    assert tp.covers(tp.split(pattern), tp.split(subscription)) is expected


def test_filter_syntax() -> None:
    assert tp.is_valid_filter(tp.split("a/+/#"))
    assert not tp.is_valid_filter(tp.split("a/#/b"))
    assert not tp.is_valid_filter(tp.split("a+/b"))
    assert not tp.is_valid_filter(tp.split("a/b#"))
