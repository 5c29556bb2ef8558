"""Drives an EdgeNode core the way the uplink shell does, and decodes what it publishes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from sparkplug import (
    Connected,
    ConnectStarting,
    DataType,
    EdgeNode,
    EdgeNodeConfig,
    Event,
    MessageReceived,
    MessageType,
    Metric,
    Output,
    Payload,
    Publish,
    Subscribed,
    decode_payload,
    encode_payload,
    encode_state,
    state_topic,
)

T = TypeVar("T")
START = 1_700_000_000_000


def of_type(outputs: Sequence[Output], kind: type[T]) -> list[T]:
    return [o for o in outputs if isinstance(o, kind)]


def published(outputs: Sequence[Output], message_type: MessageType | None = None) -> list[Publish]:
    return [o for o in of_type(outputs, Publish) if message_type is None or o.message_type is message_type]


def payload_of(publish: Publish) -> Payload:
    return decode_payload(publish.payload)


def by_name(payload: Payload) -> dict[str, Metric]:
    return {m.name: m for m in payload.metrics if m.name is not None}


@dataclass
class Harness:
    config: EdgeNodeConfig
    next_bd_seq: int = 0
    now: int = START
    log: list[Output] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.node = EdgeNode(self.config, next_bd_seq=self.next_bd_seq)

    def feed(self, event: Event, advance: int = 1) -> list[Output]:
        self.now += advance
        outputs = self.node.handle(event, self.now)
        self.log.extend(outputs)
        return outputs

    def connect(self, server: str = "s1") -> list[Output]:
        """ConnectStarting, Connected, Subscribed: everything the core asked for, in order."""
        outputs = self.feed(ConnectStarting(server))
        outputs += self.feed(Connected())
        outputs += self.feed(Subscribed())
        return outputs

    def state(self, online: bool, timestamp: int, host: str = "H", legacy: bool = False) -> list[Output]:
        if legacy:
            return self.feed(
                MessageReceived(state_topic(host, legacy=True), b"ONLINE" if online else b"OFFLINE")
            )
        return self.feed(MessageReceived(state_topic(host), encode_state(online, timestamp)))

    def ncmd(self, *metrics: Metric, with_datatype: bool = True) -> list[Output]:
        """Send an NCMD; ``with_datatype=False`` leaves the datatype off the wire, as hosts usually do."""
        payload = encode_payload(Payload(timestamp=self.now, metrics=metrics), include_datatype=with_datatype)
        return self.feed(
            MessageReceived(f"spBv1.0/{self.config.group_id}/NCMD/{self.config.edge_node_id}", payload)
        )

    def dcmd(self, device: str, *metrics: Metric, with_datatype: bool = True) -> list[Output]:
        payload = encode_payload(Payload(timestamp=self.now, metrics=metrics), include_datatype=with_datatype)
        topic = f"spBv1.0/{self.config.group_id}/DCMD/{self.config.edge_node_id}/{device}"
        return self.feed(MessageReceived(topic, payload))

    def rebirth(self) -> list[Output]:
        return self.ncmd(Metric(name="Node Control/Rebirth", datatype=DataType.Boolean, value=True))
