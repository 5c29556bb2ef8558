"""CONNECT authentication against the password file, with the certificate CN as an alternative identity.

Decision table (first matching row wins; reason codes are MQTT 5.0, the broker maps them for 3.1.1):

====================================================  ==========================================
client presents                                       answer
====================================================  ==========================================
TLS listener with use_identity_as_username            user = certificate CN; no CN -> 0x87
no user name                                          allowed only with allow_anonymous, else 0x87
user name, no password file, allow_anonymous          allowed as that user (mosquitto's behaviour)
user name, no password file, no anonymous             0x87 Not authorized
user name and password matching the file              allowed
anything else (unknown user, no or wrong password)    0x86 Bad user name or password
====================================================  ==========================================

Passwords are checked with a slow hash, so the check runs in a worker thread (the hook returns an
awaitable) and at most :data:`MAX_PARALLEL_HASHES` run at once: a flood of CONNECTs cannot take every core.
An unknown user costs the same hash as a known one (:data:`DUMMY_HASH`). A successful check is remembered as
an HMAC under a key that lives only in this process, so a reconnecting client does not pay the hash again;
the entry includes the stored hash, so changing a password (and reloading) invalidates it.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import os
from collections import OrderedDict
from collections.abc import Awaitable

from gateway.broker.auth.hashing import DUMMY_HASH, PasswordHash, verify_password
from gateway.broker.auth.security_files import SecurityFiles
from gateway.broker.codes import ReasonCode
from gateway.broker.hooks import AuthDecision, AuthRequest

_log = logging.getLogger(__name__)

MAX_PARALLEL_HASHES = 2
_CACHE_SIZE = 1024


class PasswordAuthenticator:
    """Implements :class:`gateway.broker.hooks.Authenticator` from :class:`SecurityFiles`."""

    def __init__(self, files: SecurityFiles, *, allow_anonymous: bool) -> None:
        self.files = files
        self.allow_anonymous = allow_anonymous
        self.refused = 0
        self._cache_key = os.urandom(32)
        self._verified: OrderedDict[bytes, None] = OrderedDict()
        self._hash_slots: asyncio.Semaphore | None = None

    def authenticate(self, request: AuthRequest) -> AuthDecision | Awaitable[AuthDecision]:
        if request.use_identity_as_username:
            if request.peer_cert_cn is None:
                return self._refuse(request, ReasonCode.NOT_AUTHORIZED, "no usable certificate CN")
            return self._allow(request.peer_cert_cn)
        if request.username is None:
            if self.allow_anonymous:
                return self._allow(None)
            return self._refuse(request, ReasonCode.NOT_AUTHORIZED, "anonymous access is not allowed")
        passwords = self.files.snapshot.passwords
        if passwords is None:
            if self.allow_anonymous:
                return self._allow(request.username)
            return self._refuse(request, ReasonCode.NOT_AUTHORIZED, "no password file is configured")
        stored = passwords.users.get(request.username)
        if stored is not None and request.password is not None:
            key = self._key(request.username, request.password, stored)
            if key in self._verified:
                self._verified.move_to_end(key)
                return self._allow(request.username)
        return self._check_in_thread(request, stored)

    async def _check_in_thread(self, request: AuthRequest, stored: PasswordHash | None) -> AuthDecision:
        if self._hash_slots is None:
            self._hash_slots = asyncio.Semaphore(MAX_PARALLEL_HASHES)
        password = request.password if request.password is not None else b""
        async with self._hash_slots:
            # Unknown users and missing passwords cost one hash too, so timing does not reveal users.
            ok = await asyncio.to_thread(verify_password, password, stored or DUMMY_HASH)
        if not ok or stored is None or request.password is None:
            return self._refuse(request, ReasonCode.BAD_USER_NAME_OR_PASSWORD, "bad user name or password")
        assert request.username is not None  # only called with a user name
        self._verified[self._key(request.username, request.password, stored)] = None
        if len(self._verified) > _CACHE_SIZE:
            self._verified.popitem(last=False)
        return self._allow(request.username)

    def _key(self, username: str, password: bytes, stored: PasswordHash) -> bytes:
        material = b"\x00".join([username.encode("utf-8"), password, str(stored).encode("ascii")])
        return hmac.new(self._cache_key, material, hashlib.sha256).digest()

    def _allow(self, username: str | None) -> AuthDecision:
        acl = self.files.snapshot.acl
        roles = frozenset(acl.roles_of(username)) if acl is not None else frozenset()
        return AuthDecision(True, ReasonCode.SUCCESS, username=username, roles=roles)

    def _refuse(self, request: AuthRequest, code: ReasonCode, why: str) -> AuthDecision:
        self.refused += 1
        _log.warning(
            "refused client %r user %r from %s:%d on %s: %s",
            request.client_id,
            request.username,
            request.peer_host,
            request.peer_port,
            request.listener,
            why,
        )
        return AuthDecision(False, code)
