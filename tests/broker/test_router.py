"""The subscription tree: wildcards, '$' topics, shared groups, cache invalidation (no sockets)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from gateway.broker.codec.topics import filter_matches, split_shared
from gateway.broker.hooks import ClientIdentity
from gateway.broker.message import Message, Subscription
from gateway.broker.router import Router


@dataclass
class Owner:
    client_id: str
    online: bool = True

    @property
    def identity(self) -> ClientIdentity:
        return ClientIdentity(self.client_id, None)

    def deliver(self, message: Message, qos: int, retain: bool, sub_ids: tuple[int, ...], now: float) -> None:
        raise AssertionError("not used here")


def subscribe(router: Router, owner: Owner, topic_filter: str, qos: int = 0) -> None:
    group, body = split_shared(topic_filter)
    router.add(owner, Subscription(topic_filter, qos, share_group=group), body)


def matched(router: Router, topic: str) -> list[str]:
    entries, groups = router.match(topic)
    return sorted(
        [f"{owner.client_id}:{sub.topic_filter}" for owner, sub in entries]
        + [f"group:{group.name}" for group in groups]
    )


CASES = [
    ("a/b/c", "a/b/c", True),
    ("a/+/c", "a/b/c", True),
    ("a/#", "a", True),  # '#' includes the parent level [MQTT-4.7.1-2]
    ("a/#", "a/b/c", True),
    ("#", "a/b", True),
    ("+", "a", True),
    ("+", "a/b", False),
    ("+/+", "/a", True),  # an empty level is a level
    ("a/+", "a/", True),
    ("#", "$SYS/x", False),  # [MQTT-4.7.2-1]
    ("+/x", "$SYS/x", False),
    ("$SYS/#", "$SYS/x", True),
    ("$SYS/+", "$SYS/x", True),
    ("a/b", "a/b/c", False),
    ("a/b/c/d", "a/b/c", False),
]


@pytest.mark.parametrize("topic_filter, topic, expected", CASES)
def test_router_and_filter_matches_agree(topic_filter: str, topic: str, expected: bool) -> None:
    router = Router()
    subscribe(router, Owner("c"), topic_filter)
    assert bool(matched(router, topic)) is expected
    assert filter_matches(topic_filter, topic) is expected


def test_overlapping_filters_all_reported_and_unsubscribe_prunes() -> None:
    router = Router()
    one, two = Owner("one"), Owner("two")
    subscribe(router, one, "a/#")
    subscribe(router, one, "a/+")
    subscribe(router, two, "a/b")
    assert matched(router, "a/b") == ["one:a/#", "one:a/+", "two:a/b"]
    assert router.remove("one", "a/+", None)
    assert not router.remove("one", "a/+", None)
    assert matched(router, "a/b") == ["one:a/#", "two:a/b"]  # the cache was invalidated
    router.remove("one", "a/#", None)
    router.remove("two", "a/b", None)
    assert router.count == 0
    assert not router._root.children  # pruned


def test_shared_group_round_robin_prefers_online_members() -> None:
    router = Router()
    members = [Owner(f"m{i}") for i in range(3)]
    for member in members:
        subscribe(router, member, "$share/g/jobs/+")
    members[1].online = False
    _entries, [group] = router.match("jobs/1")
    picks = [group.pick()[0].client_id for _ in range(6)]  # type: ignore[index]
    assert picks == ["m0", "m2", "m0", "m2", "m0", "m2"]
    assert matched(router, "jobs/1") == ["group:g"]


def test_match_cache_is_bounded() -> None:
    router = Router()
    subscribe(router, Owner("c"), "#")
    for index in range(10_000):
        router.match(f"t/{index}")
    assert len(router._cache) <= 4096
