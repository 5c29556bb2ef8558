"""The subscription tree: which sessions (and local subscribers) a topic name reaches.

Theory of operation: filters are stored in a trie keyed by topic level. Matching walks the trie with an
explicit stack (no recursion, so a 5 000-level topic cannot raise RecursionError; levels are capped by the
protocol core anyway), following the literal level, '+' and '#'. '#' and '+' in the first level never match
a topic starting with '$' [MQTT-4.7.2-1]. Shared subscriptions ``$share/g/f`` live in the node of ``f`` as
a group; a match yields the group and :class:`SharedGroup.pick` balances messages round-robin across its
members, preferring connected ones.

Results are cached per topic name (a fan-in of a few topics hits the cache); any subscribe or unsubscribe
clears the cache. The cache is bounded (cleared when full).
"""

from __future__ import annotations

from typing import Protocol

from gateway.broker.hooks import ClientIdentity
from gateway.broker.message import Message, Subscription

_CACHE_LIMIT = 4096


class Subscriber(Protocol):
    """A session or a local (in-process) subscriber."""

    @property
    def client_id(self) -> str: ...

    @property
    def online(self) -> bool: ...

    @property
    def identity(self) -> ClientIdentity: ...

    def deliver(
        self,
        message: Message,
        qos: int,
        retain: bool,
        sub_ids: tuple[int, ...],
        now: float,
    ) -> None: ...


Entry = tuple[Subscriber, Subscription]


class SharedGroup:
    """Members of one ``$share/{name}/{filter}``; messages go to one member each, round-robin."""

    __slots__ = ("_next", "members", "name")

    def __init__(self, name: str) -> None:
        self.name = name
        self.members: dict[str, Entry] = {}
        self._next = 0

    def pick(self) -> Entry | None:
        """The next member, preferring connected sessions; None if the group is empty."""
        entries = list(self.members.values())
        if not entries:
            return None
        count = len(entries)
        for offset in range(count):
            entry = entries[(self._next + offset) % count]
            if entry[0].online:
                self._next = (self._next + offset + 1) % count
                return entry
        entry = entries[self._next % count]
        self._next = (self._next + 1) % count
        return entry


class _Node:
    __slots__ = ("children", "shared", "subs")

    def __init__(self) -> None:
        self.children: dict[str, _Node] = {}
        self.subs: dict[str, Entry] = {}
        self.shared: dict[str, SharedGroup] = {}


class Router:
    """Subscription trie with per-topic match cache."""

    def __init__(self) -> None:
        self._root = _Node()
        self._cache: dict[str, tuple[list[Entry], list[SharedGroup]]] = {}
        self.count = 0

    def add(self, subscriber: Subscriber, sub: Subscription, body: str) -> bool:
        """Add or replace ``subscriber``'s subscription with filter ``body`` (the filter without $share).

        Returns True if it replaced an existing subscription with the same filter.
        """
        node = self._root
        for level in body.split("/"):
            child = node.children.get(level)
            if child is None:
                child = node.children[level] = _Node()
            node = child
        self._cache.clear()
        if sub.share_group is None:
            existed = subscriber.client_id in node.subs
            node.subs[subscriber.client_id] = (subscriber, sub)
        else:
            group = node.shared.get(sub.share_group)
            if group is None:
                group = node.shared[sub.share_group] = SharedGroup(sub.share_group)
            existed = subscriber.client_id in group.members
            group.members[subscriber.client_id] = (subscriber, sub)
        if not existed:
            self.count += 1
        return existed

    def remove(self, client_id: str, body: str, share_group: str | None) -> bool:
        """Remove one subscription; True if it existed. Prunes empty nodes."""
        path = [self._root]
        node = self._root
        levels = body.split("/")
        for level in levels:
            child = node.children.get(level)
            if child is None:
                return False
            path.append(child)
            node = child
        if share_group is None:
            found = node.subs.pop(client_id, None) is not None
        else:
            group = node.shared.get(share_group)
            found = group is not None and group.members.pop(client_id, None) is not None
            if group is not None and not group.members:
                del node.shared[share_group]
        if not found:
            return False
        self.count -= 1
        self._cache.clear()
        for index in range(len(levels), 0, -1):
            current = path[index]
            if current.children or current.subs or current.shared:
                break
            del path[index - 1].children[levels[index - 1]]
        return True

    def match(self, topic: str) -> tuple[list[Entry], list[SharedGroup]]:
        """Normal subscriptions and shared groups matching ``topic`` (a subscriber may appear more than once
        when several of its filters overlap; the caller aggregates)."""
        cached = self._cache.get(topic)
        if cached is not None:
            return cached
        entries: list[Entry] = []
        groups: list[SharedGroup] = []
        levels = topic.split("/")
        depth = len(levels)
        dollar = topic.startswith("$")
        stack = [(self._root, 0)]
        while stack:
            node, index = stack.pop()
            if index == depth:
                if node.subs:
                    entries.extend(node.subs.values())
                if node.shared:
                    groups.extend(node.shared.values())
                hash_node = node.children.get("#")
                if hash_node is not None:
                    entries.extend(hash_node.subs.values())
                    groups.extend(hash_node.shared.values())
                continue
            children = node.children
            if not (index == 0 and dollar):
                hash_node = children.get("#")
                if hash_node is not None:
                    entries.extend(hash_node.subs.values())
                    groups.extend(hash_node.shared.values())
                plus = children.get("+")
                if plus is not None:
                    stack.append((plus, index + 1))
            child = children.get(levels[index])
            if child is not None:
                stack.append((child, index + 1))
        result = (entries, groups)
        if len(self._cache) >= _CACHE_LIMIT:
            self._cache.clear()
        self._cache[topic] = result
        return result
