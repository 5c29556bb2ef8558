"""ACL enforcement: implements :class:`gateway.broker.hooks.Authorizer` over :class:`SecurityFiles`.

Each client's rules are compiled once (``%u``/``%c`` substituted, see :mod:`gateway.broker.auth.acl`) and kept
in a bounded LRU keyed by client id and user name; a reload bumps the generation and every entry is
recompiled on its next use, so revoked access stops at once for connected clients.

The gateway's own in-process client (``identity.internal``) is trusted with everything: it is the daemon.

Every denial is counted. The first denial of a (client, action, topic) is logged at WARNING with the rule
that decided; repeats go to DEBUG so a misbehaving client cannot flood the log. RECEIVE denials are DEBUG
only: they are filtering, not a client's request.
"""

from __future__ import annotations

import logging
from collections import OrderedDict

from gateway.broker.auth.acl import Access, ClientAcl
from gateway.broker.auth.security_files import SecurityFiles
from gateway.broker.hooks import Action, ClientIdentity

_log = logging.getLogger(__name__)

_ACCESS = {Action.PUBLISH: Access.PUBLISH, Action.SUBSCRIBE: Access.SUBSCRIBE, Action.RECEIVE: Access.RECEIVE}
_CLIENTS_KEPT = 4096
_LOGGED_KEPT = 4096


class AclAuthorizer:
    """Decides publish / subscribe / receive from the ACL file. Default deny."""

    def __init__(self, files: SecurityFiles) -> None:
        self.files = files
        self.denied = 0
        self._clients: OrderedDict[tuple[str, str | None], tuple[int, ClientAcl]] = OrderedDict()
        self._logged: OrderedDict[tuple[str, Action, str], None] = OrderedDict()

    def client_acl(self, identity: ClientIdentity) -> ClientAcl | None:
        """The compiled rules of ``identity`` (``None`` when no ACL file is configured)."""
        snapshot = self.files.snapshot
        if snapshot.acl is None:
            return None
        key = (identity.client_id, identity.username)
        entry = self._clients.get(key)
        if entry is not None and entry[0] == snapshot.generation:
            self._clients.move_to_end(key)
            return entry[1]
        compiled = snapshot.acl.for_client(identity.username, identity.client_id)
        self._clients[key] = (snapshot.generation, compiled)
        if len(self._clients) > _CLIENTS_KEPT:
            self._clients.popitem(last=False)
        return compiled

    def is_admin(self, identity: ClientIdentity) -> bool:
        """Whether the client has the ``admin`` role in the ACL file in force (for the control plane)."""
        acl = self.client_acl(identity)
        return acl is not None and acl.is_admin

    def is_allowed(self, identity: ClientIdentity, action: Action, topic: str) -> bool:
        if identity.internal:
            return True
        acl = self.client_acl(identity)
        if acl is None:
            return False  # an authorizer without an ACL file denies (fail closed); do not install it then
        decision = acl.check(_ACCESS[action], topic)
        if decision.allowed:
            return True
        self.denied += 1
        self._log_denial(identity, action, topic, decision.explain())
        return False

    def _log_denial(self, identity: ClientIdentity, action: Action, topic: str, why: str) -> None:
        key = (identity.client_id, action, topic)
        first = key not in self._logged and action is not Action.RECEIVE
        if first:
            self._logged[key] = None
            if len(self._logged) > _LOGGED_KEPT:
                self._logged.popitem(last=False)
        _log.log(
            logging.WARNING if first else logging.DEBUG,
            "denied %s on %r to client %r user %r: %s",
            action.value,
            topic,
            identity.client_id,
            identity.username,
            why,
        )
