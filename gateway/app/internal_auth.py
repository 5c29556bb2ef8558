"""Security hooks around the broker's own ones: the daemon's internal client, and the admin-only rule
for control-plane commands.

- The daemon publishes Sparkplug to the embedded broker through a real MQTT connection when no upstream
  server is configured (so the Will carries NDEATH exactly as upstream). That client logs in with a
  random password made at start, accepted only from loopback, and may do anything.
- PUBLISH on ``$GW/v1/cmd/+`` is allowed only to clients whose user has the admin role
  (``gateway.broker.auth.ADMIN_ROLE``); others get PUBACK 0x87 "not authorized" from the broker, which
  turns the terminal UI read-only. Without an ACL file there are no roles: every client that may log in
  is an administrator (the demo's loopback-only broker); ``check-config`` users should add an ACL file.
- The identity of the last client allowed to publish on a command topic is remembered, so the command
  handler can log who sent each command. This relies on the broker calling ``is_allowed(PUBLISH)`` and
  then routing the message to in-process subscribers in the same loop turn (``BrokerMessage`` carries no
  sender); the handler reads it synchronously in its callback.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from collections.abc import Awaitable
from dataclasses import dataclass

from gateway.broker import Action, AuthDecision, Authenticator, Authorizer, AuthRequest, ClientIdentity
from gateway.control.contract import ROOT

log = logging.getLogger(__name__)

ADMIN_ROLE = "admin"  # the role name of gateway.broker.auth.ADMIN_ROLE
_COMMAND_PREFIX = f"{ROOT}/cmd/"
_LOOPBACK = ("127.0.0.1", "::1", "localhost")


@dataclass(frozen=True, slots=True)
class Sender:
    """Who published a command: client id, user name (or None), and whether the user is an admin."""

    client_id: str
    username: str | None
    admin: bool

    def describe(self) -> str:
        return f"client {self.client_id!r} user {self.username or '(anonymous)'!r}"


class InternalAuthenticator:
    """Accepts the daemon's internal client (fixed user, random password, loopback only) and hands every
    other CONNECT to ``inner``."""

    def __init__(self, inner: Authenticator, username: str) -> None:
        self._inner = inner
        self.username = username
        self.password = secrets.token_urlsafe(24)

    def authenticate(self, request: AuthRequest) -> AuthDecision | Awaitable[AuthDecision]:
        if request.username == self.username:
            good = request.password is not None and hmac.compare_digest(
                request.password, self.password.encode()
            )
            if good and request.peer_host in _LOOPBACK:
                return AuthDecision(True, username=self.username, roles=frozenset({ADMIN_ROLE}))
            log.warning(
                "refused the internal user name from %s:%s",
                request.peer_host,
                request.peer_port,
                extra={"client_id": request.client_id},
            )
            from gateway.broker.codes import ReasonCode

            return AuthDecision(False, ReasonCode.NOT_AUTHORIZED)
        return self._inner.authenticate(request)


class ControlAuthorizer:
    """Admin-only commands on top of ``inner`` (``None`` = no ACL file: everything allowed)."""

    def __init__(self, inner: Authorizer | None, internal_username: str) -> None:
        self._inner = inner
        self._internal = internal_username
        self.last_sender: Sender | None = None

    def is_admin(self, identity: ClientIdentity) -> bool:
        if identity.internal or identity.username == self._internal:
            return True
        if self._inner is None:
            return True  # no ACL file: no roles exist, every client that logged in is trusted
        check = getattr(self._inner, "is_admin", None)
        if callable(check):
            return bool(check(identity))
        return ADMIN_ROLE in identity.roles

    def is_allowed(self, identity: ClientIdentity, action: Action, topic: str) -> bool:
        if identity.internal or identity.username == self._internal:
            return True
        if action is Action.PUBLISH and topic.startswith(_COMMAND_PREFIX):
            admin = self.is_admin(identity)
            if not admin:
                log.warning(
                    "refused a control-plane command from a user without the admin role",
                    extra={"client_id": identity.client_id, "user": identity.username, "topic": topic},
                )
                return False
            self.last_sender = Sender(identity.client_id, identity.username, admin)
        if self._inner is None:
            return True
        return self._inner.is_allowed(identity, action, topic)
