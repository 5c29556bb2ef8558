"""Retained messages: one per topic, bounded in count and bytes; an empty payload clears ([MQTT-3.3.1-10])."""

from __future__ import annotations

from collections.abc import Iterator

from gateway.broker.codec.topics import filter_matches
from gateway.broker.message import Message


class RetainedStore:
    """Retained messages by topic.

    Args:
        max_messages: how many topics may hold a retained message.
        max_bytes: total payload bytes held.
    """

    def __init__(self, max_messages: int, max_bytes: int) -> None:
        self.max_messages = max_messages
        self.max_bytes = max_bytes
        self._messages: dict[str, Message] = {}
        self.bytes = 0
        self.rejected = 0

    def __len__(self) -> int:
        return len(self._messages)

    def set(self, message: Message) -> bool:
        """Store (or replace) the retained message of its topic; False (and counted) when over a cap."""
        old = self._messages.get(message.topic)
        old_size = len(old.payload) if old is not None else 0
        new_bytes = self.bytes - old_size + len(message.payload)
        if (old is None and len(self._messages) >= self.max_messages) or new_bytes > self.max_bytes:
            self.rejected += 1
            return False
        self._messages[message.topic] = message
        self.bytes = new_bytes
        return True

    def clear(self, topic: str) -> bool:
        old = self._messages.pop(topic, None)
        if old is None:
            return False
        self.bytes -= len(old.payload)
        return True

    def get(self, topic: str) -> Message | None:
        return self._messages.get(topic)

    def matching(self, topic_filter: str) -> Iterator[Message]:
        """Retained messages whose topic matches a (non-shared) filter."""
        if "+" not in topic_filter and "#" not in topic_filter:
            message = self._messages.get(topic_filter)
            if message is not None:
                yield message
            return
        for topic, message in list(self._messages.items()):
            if filter_matches(topic_filter, topic):
                yield message

    def messages(self) -> Iterator[Message]:
        yield from self._messages.values()
