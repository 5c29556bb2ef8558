"""Rebuilding retained messages and persistent sessions from what BrokerPersistence.load returned."""

from __future__ import annotations

import itertools
import logging
from typing import TYPE_CHECKING

from gateway.broker.codec.topics import split_shared
from gateway.broker.hooks import (
    Authorizer,
    BrokerPersistence,
    ClientIdentity,
    PersistedState,
    StoredSession,
)
from gateway.broker.message import Message, Subscription
from gateway.broker.retained import RetainedStore
from gateway.broker.router import Router, Subscriber
from gateway.broker.session import Session
from gateway.broker.settings import BrokerLimits, BrokerSettings
from gateway.broker.stats import BrokerStats

log = logging.getLogger(__name__)

V5 = 5


class RestoreMixin:
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

    # -- persistence ------------------------------------------------------------------------------------

    def restore(self, state: PersistedState, now: float) -> None:
        """Load retained messages and persistent sessions saved by a previous run (before listening)."""
        for stored in state.retained:
            expires = None if stored.expires_at is None else stored.expires_at - self.wall_offset
            self.retained.set(
                Message(
                    stored.topic,
                    stored.payload,
                    stored.qos,
                    True,
                    stored.properties,
                    expires,
                    stored.origin,
                    None,
                    stored.origin_username,
                )
            )
        for saved in state.sessions:
            session = Session(
                saved.client_id,
                saved.protocol_version,
                saved.expiry_interval,
                self.limits,
                self.stats,
                self.persistence,
                self.wall_offset,
            )
            session.identity = ClientIdentity(saved.client_id, saved.username)
            disconnected = now if saved.disconnected_at is None else saved.disconnected_at - self.wall_offset
            session.expires_at = disconnected + saved.expiry_interval
            for stored_sub in saved.subscriptions:
                group, body = split_shared(stored_sub.topic_filter)
                sub = Subscription(
                    stored_sub.topic_filter,
                    stored_sub.qos,
                    stored_sub.no_local,
                    stored_sub.retain_as_published,
                    stored_sub.retain_handling,
                    stored_sub.subscription_identifier,
                    group,
                )
                self.router.add(session, sub, body)
                session.subscriptions[sub.topic_filter] = sub
            for queued in state.queues.get(saved.client_id, ()):
                session.restore(queued, now)
            restored_ids = state.inbound_qos2.get(saved.client_id, ())
            session.inbound_qos2.update(restored_ids)
            session.inbound_restored.update(restored_ids)
            self.sessions[saved.client_id] = session
