# ruff: noqa: PLR0917  (hot-path calls pass positionally: keyword arguments cost time per message)
"""The application message as it travels inside the broker, and the subscription it is matched against.

A :class:`Message` is created once per PUBLISH received and shared by every delivery; it caches the
encoded topic and (5.0) property block so fan-out does not re-encode them per subscriber.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from gateway.broker.codec.properties import NO_PROPERTIES, Properties, encode_properties
from gateway.broker.codec.wire import encode_utf8


@dataclass(frozen=True, slots=True)
class Subscription:
    """One subscription of one session (the options of 5.0 section 3.8.3.1)."""

    topic_filter: str
    """The filter as subscribed, including any ``$share/group/`` prefix."""
    qos: int
    no_local: bool = False
    retain_as_published: bool = False
    retain_handling: int = 0
    subscription_identifier: int | None = None
    share_group: str | None = None


class Message:
    """An application message; immutable after creation except for its encoding caches.

    ``expires_at`` is monotonic seconds (the core's clock) or None. ``origin`` is the publishing client id
    (for No Local), "" for the broker itself (Broker.publish, $SYS); ``origin_username`` is the publisher's
    user name. Together they are the publisher's identity, kept with retained messages so the publisher's
    publish permission can be checked again when a retained message is served after an ACL change (T21).
    """

    __slots__ = (
        "_props_v5",
        "_topic_bytes",
        "enc_qos0_v4",
        "enc_qos0_v5",
        "expires_at",
        "origin",
        "origin_username",
        "payload",
        "properties",
        "qos",
        "retain",
        "topic",
    )

    def __init__(
        self,
        topic: str,
        payload: bytes,
        qos: int,
        retain: bool,
        properties: Properties = NO_PROPERTIES,
        expires_at: float | None = None,
        origin: str = "",
        topic_bytes: bytes | None = None,
        origin_username: str | None = None,
    ) -> None:
        self.topic = topic
        self.payload = payload
        self.qos = qos
        self.retain = retain
        self.properties = properties
        self.expires_at = expires_at
        self.origin = origin
        self.origin_username = origin_username
        self._topic_bytes = topic_bytes
        self._props_v5: bytes | None = None
        # The whole QoS 0, retain 0 PUBLISH per protocol level, shared by every such delivery (None: not yet
        # built). Only used while ``expires_at`` is None: otherwise the remaining expiry changes with time.
        self.enc_qos0_v4: bytes | None = None
        self.enc_qos0_v5: bytes | None = None

    @property
    def topic_bytes(self) -> bytes:
        """The topic as a length-prefixed UTF-8 string."""
        cached = self._topic_bytes
        if cached is None:
            cached = self._topic_bytes = encode_utf8(self.topic)
        return cached

    def expired(self, now: float) -> bool:
        return self.expires_at is not None and now >= self.expires_at

    def forward_properties(self, now: float, subscription_ids: tuple[int, ...] = ()) -> Properties:
        """Properties to send: the remaining Message Expiry Interval [MQTT-3.3.2-6] and the subscription
        identifiers."""
        props = self.properties
        changes: dict[str, object] = {}
        if self.expires_at is not None:
            changes["message_expiry_interval"] = max(0, math.ceil(self.expires_at - now))
        if subscription_ids:
            changes["subscription_identifiers"] = subscription_ids
        return props.with_changes(**changes) if changes else props

    def props_bytes(self, now: float, subscription_ids: tuple[int, ...] = ()) -> bytes:
        """The encoded 5.0 property block, cached when it does not depend on time or subscriber."""
        if self.expires_at is None and not subscription_ids:
            cached = self._props_v5
            if cached is None:
                cached = self._props_v5 = encode_properties(self.properties)
            return cached
        return encode_properties(self.forward_properties(now, subscription_ids))

    def __repr__(self) -> str:
        return (
            f"Message(topic={self.topic!r}, qos={self.qos}, retain={self.retain}, {len(self.payload)} bytes)"
        )
