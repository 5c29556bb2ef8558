"""SUBSCRIBE / UNSUBSCRIBE for the broker core: limits, ACL, shared groups, Retain Handling, retained
messages sent after the SUBACK ([MQTT-3.3.1-9]), and the in-process (local) subscribers."""

from __future__ import annotations

import itertools
import logging
from typing import TYPE_CHECKING

from gateway.broker.codec.encode import encode
from gateway.broker.codec.packets import Suback, Subscribe, Unsuback, Unsubscribe
from gateway.broker.codec.properties import NO_PROPERTIES, Properties
from gateway.broker.codec.topics import split_shared
from gateway.broker.codes import ReasonCode
from gateway.broker.connection import Connection
from gateway.broker.hooks import (
    Action,
    Authorizer,
    BrokerPersistence,
    ClientIdentity,
    StoredSession,
)
from gateway.broker.local import LocalSubscriber
from gateway.broker.message import Message, Subscription
from gateway.broker.retained import RetainedStore
from gateway.broker.router import Router, Subscriber
from gateway.broker.session import Session
from gateway.broker.settings import BrokerLimits, BrokerSettings
from gateway.broker.stats import BrokerStats

log = logging.getLogger(__name__)

V5 = 5


class SubscriptionsMixin:
    """Mixin of :class:`~gateway.broker.core.BrokerCore`."""

    if TYPE_CHECKING:
        settings: BrokerSettings
        limits: BrokerLimits
        authorizer: Authorizer | None
        persistence: BrokerPersistence
        wall_offset: float
        stats: BrokerStats
        router: Router
        retained: RetainedStore
        sessions: dict[str, Session]
        _local_ids: itertools.count[int]

        def _stored_session(self, session: Session, disconnected_at: float | None) -> StoredSession: ...

        def _may_receive(self, owner: Subscriber, topic: str) -> bool: ...

    # -- subscribe --------------------------------------------------------------------------------------

    def subscribe(self, conn: Connection, packet: Subscribe) -> tuple[bytes, list[Subscription]]:
        """Apply a SUBSCRIBE; returns the SUBACK bytes and the subscriptions that get retained messages."""
        session = conn.session
        assert session is not None
        limits = self.limits
        v5 = conn.version == V5
        sub_id = (
            packet.properties.subscription_identifiers[0]
            if packet.properties.subscription_identifiers
            else None
        )
        codes: list[int] = []
        retained_for: list[Subscription] = []
        for request in packet.subscriptions:
            topic_filter = request.topic_filter
            group, body = split_shared(topic_filter)
            if len(body) > limits.max_topic_length or body.count("/") >= limits.max_topic_levels:
                codes.append(ReasonCode.TOPIC_FILTER_INVALID if v5 else 0x80)
                self.stats.subscriptions_rejected += 1
                continue
            if self.authorizer is not None and not self.authorizer.is_allowed(
                session.identity, Action.SUBSCRIBE, topic_filter
            ):
                log.info("client %r may not subscribe to %r", session.client_id, topic_filter)
                codes.append(ReasonCode.NOT_AUTHORIZED if v5 else 0x80)
                self.stats.subscriptions_rejected += 1
                continue
            if (
                topic_filter not in session.subscriptions
                and len(session.subscriptions) >= limits.max_subscriptions_per_client
            ):
                codes.append(ReasonCode.QUOTA_EXCEEDED if v5 else 0x80)
                self.stats.subscriptions_rejected += 1
                continue
            sub = Subscription(
                topic_filter,
                request.qos,
                request.no_local,
                request.retain_as_published,
                request.retain_handling,
                sub_id,
                group,
            )
            existed = self.router.add(session, sub, body)
            session.subscriptions[topic_filter] = sub
            codes.append(request.qos)
            # Retained messages: never for shared subscriptions [MQTT-3.8.4-3 note]; Retain Handling 0 always,
            # 1 only for a new subscription, 2 never.
            if group is None and (
                request.retain_handling == 0 or (request.retain_handling == 1 and not existed)
            ):
                retained_for.append(sub)
        if session.persistent:
            self.persistence.session_saved(self._stored_session(session, None))
        props = NO_PROPERTIES
        if v5 and conn.request_problem_info and any(code >= 0x80 for code in codes):
            props = Properties(reason_string=_SUBACK_TEXT)
        return encode(Suback(packet.packet_id, tuple(codes), props), conn.version), retained_for

    def send_retained(
        self, subscriber: Session | LocalSubscriber, subs: list[Subscription], now: float
    ) -> None:
        for sub in subs:
            for message in self.retained.matching(sub.topic_filter):
                if message.expired(now):
                    continue
                if self.authorizer is not None and not (
                    self._publisher_may_publish(message) and self._may_receive(subscriber, message.topic)
                ):
                    continue
                qos = message.qos if message.qos < sub.qos else sub.qos
                sub_ids = () if sub.subscription_identifier is None else (sub.subscription_identifier,)
                subscriber.deliver(message, qos, True, sub_ids, now)  # [MQTT-3.3.1-9]: retain flag set

    def _publisher_may_publish(self, message: Message) -> bool:
        """Whether the publisher of a retained message may still publish to its topic (T21).

        Checked each time a retained message is served, so an ACL reload that revokes the publisher's
        access withholds what it retained before (the authorizer caches compiled rules per identity, so
        this costs a dictionary look-up). The broker's own messages (origin "") are always served.
        """
        authorizer = self.authorizer
        if authorizer is None or not message.origin:
            return True
        publisher = ClientIdentity(message.origin, message.origin_username)
        if authorizer.is_allowed(publisher, Action.PUBLISH, message.topic):
            return True
        log.info(
            "retained message on %r withheld: its publisher %r (user %r) may no longer publish there",
            message.topic,
            message.origin,
            message.origin_username,
        )
        self.stats.dropped_not_authorized += 1
        return False

    def unsubscribe(self, conn: Connection, packet: Unsubscribe) -> bytes:
        session = conn.session
        assert session is not None
        codes = []
        for topic_filter in packet.topic_filters:
            group, body = split_shared(topic_filter)
            removed = self.router.remove(session.client_id, body, group)
            session.subscriptions.pop(topic_filter, None)
            codes.append(ReasonCode.SUCCESS if removed else ReasonCode.NO_SUBSCRIPTION_EXISTED)
        if session.persistent:
            self.persistence.session_saved(self._stored_session(session, None))
        return encode(Unsuback(packet.packet_id, tuple(codes) if conn.version == V5 else ()), conn.version)

    # -- local (in-process) clients ---------------------------------------------------------------------

    def local_subscribe(self, sub: LocalSubscriber, qos: int, now: float) -> None:
        group, body = split_shared(sub.topic_filter)
        subscription = Subscription(sub.topic_filter, qos, share_group=group)
        self.router.add(sub, subscription, body)
        if group is None:
            self.send_retained(sub, [subscription], now)

    def local_unsubscribe(self, sub: LocalSubscriber) -> None:
        group, body = split_shared(sub.topic_filter)
        self.router.remove(sub.client_id, body, group)

    def new_local_id(self) -> str:
        return f"$internal/{next(self._local_ids)}"


_SUBACK_TEXT = (
    "0x8F: filter exceeds the topic length or level limits; 0x87: not authorised; "
    "0x97: subscription quota full"
)
