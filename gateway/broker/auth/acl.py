"""ACL policy: who may publish, subscribe and receive on which topics. Pure data and decisions, no I/O.

Theory of operation
-------------------
A :class:`AclPolicy` (parsed from the ACL file by :mod:`gateway.broker.auth.acl_file`) holds rules for four
audiences: ``everyone`` (every client), ``anonymous`` (clients without a user name), each role, and each
user. Users get the rules of their roles. Each :class:`AclRule` allows or denies a set of
:class:`Access` kinds on a topic pattern that may contain ``+``, ``#``, ``%u`` (user name) and ``%c``
(client id).

At CONNECT the broker compiles the policy for one client with :meth:`AclPolicy.for_client`: the rules that
apply to it, with ``%u``/``%c`` substituted. A decision then is:

1. a matching **deny** rule refuses, wherever it is in the file (deny wins; catalogue T21);
2. otherwise a matching **allow** rule grants;
3. otherwise the answer is no (**default deny**; an empty ACL file denies everything).

"Matching" depends on the access kind. PUBLISH and RECEIVE test a topic name. SUBSCRIBE tests a filter: it
is granted only if one allow rule *covers* every topic the filter could match and no deny rule *intersects*
it, so ``#`` or ``+/secret`` cannot be used to see more than the ACL grants. RECEIVE is checked again for
every message delivered (including retained messages and Wills), which is what stops a retained message or
a Will from crossing the ACL, and what makes a reload that revokes read access take effect on existing
subscriptions.

Substitution (CVE-2017-7650): a user name or client id that is empty or contains ``+``, ``#`` or ``/`` is
never put into a pattern. An allow rule that needs such a value grants nothing; a deny rule that needs it
has the placeholder widened to ``+`` so it still denies (fail closed). An anonymous client has no ``%u``.

Shared subscriptions: a filter ``$share/<group>/<filter>`` is checked as ``<filter>``.

Roles: the role named :data:`ADMIN_ROLE` marks administrators; the control plane lets only them publish
commands on its ``$``-prefixed topics (:meth:`ClientAcl.is_admin`). A role has no other built-in power: an
admin still needs ACL rules for every topic, and ``#`` never grants ``$`` topics.
"""

from __future__ import annotations

import enum
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from gateway.broker.auth import topic_patterns as tp

ADMIN_ROLE = "admin"
SHARE_PREFIX = "$share/"
_CACHE_SIZE = 512


class Access(enum.Enum):
    """What a client asks to do with a topic."""

    PUBLISH = "publish"
    SUBSCRIBE = "subscribe"
    RECEIVE = "receive"


#: Names accepted in the ACL file for sets of accesses.
ACCESS_ALIASES: Mapping[str, frozenset[Access]] = {
    "publish": frozenset({Access.PUBLISH}),
    "subscribe": frozenset({Access.SUBSCRIBE}),
    "receive": frozenset({Access.RECEIVE}),
    "write": frozenset({Access.PUBLISH}),
    "read": frozenset({Access.SUBSCRIBE, Access.RECEIVE}),
    "readwrite": frozenset(Access),
}


@dataclass(frozen=True, slots=True)
class AclRule:
    """One rule: ``allow`` (True) or deny ``accesses`` on ``pattern``; ``origin`` says where it came from."""

    allow: bool
    accesses: frozenset[Access]
    pattern: str
    origin: str


@dataclass(frozen=True, slots=True)
class AclUser:
    roles: tuple[str, ...] = ()
    rules: tuple[AclRule, ...] = ()


@dataclass(frozen=True, slots=True)
class AclPolicy:
    """A complete, validated ACL. Immutable: a reload builds a new one."""

    everyone: tuple[AclRule, ...] = ()
    anonymous: tuple[AclRule, ...] = ()
    roles: Mapping[str, tuple[AclRule, ...]] = field(default_factory=dict)
    users: Mapping[str, AclUser] = field(default_factory=dict)
    source: str = "<empty policy>"

    def roles_of(self, username: str | None) -> tuple[str, ...]:
        if username is None:
            return ()
        user = self.users.get(username)
        return user.roles if user is not None else ()

    def for_client(self, username: str | None, client_id: str) -> ClientAcl:
        """Compile the rules that apply to one client, with ``%u`` and ``%c`` substituted."""
        rules: list[AclRule] = list(self.everyone)
        if username is None:
            rules.extend(self.anonymous)
        else:
            user = self.users.get(username, AclUser())
            for role in user.roles:
                rules.extend(self.roles.get(role, ()))
            rules.extend(user.rules)
        compiled: list[_CompiledRule] = []
        for rule in rules:
            levels = _substitute(rule, username, client_id)
            if levels is not None:
                compiled.append(_CompiledRule(rule, levels))
        return ClientAcl(username, client_id, self.roles_of(username), tuple(compiled))


@dataclass(frozen=True, slots=True)
class AclDecision:
    """The answer to one check; ``rule`` is the rule that decided, ``None`` for the default deny."""

    allowed: bool
    rule: AclRule | None

    def explain(self) -> str:
        if self.rule is None:
            return "no rule allows it (default deny)"
        verb = "allowed" if self.allowed else "denied"
        return f"{verb} by {self.rule.origin} ({self.rule.pattern!r})"


@dataclass(frozen=True, slots=True)
class _CompiledRule:
    rule: AclRule
    levels: tp.Levels


_VALUE_FORBIDDEN = frozenset("+#/")


def _substitute(rule: AclRule, username: str | None, client_id: str) -> tp.Levels | None:
    pattern = rule.pattern
    if "%u" not in pattern and "%c" not in pattern:
        return tp.split(pattern)
    levels: list[str] = []
    for raw_level in pattern.split("/"):
        level = raw_level
        for placeholder, value in (("%u", username), ("%c", client_id)):
            if placeholder not in level:
                continue
            if value is None or not value or _VALUE_FORBIDDEN & set(value):
                if rule.allow:
                    return None  # an allow rule never grants through a value it cannot safely insert
                level = "+"  # a deny rule still denies: widen the level (fail closed)
                break
            level = level.replace(placeholder, value)
        levels.append(level)
    return tuple(levels)


class ClientAcl:
    """The compiled ACL of one connected client. Decisions are cached (bounded LRU per access kind)."""

    __slots__ = ("_cache", "_rules", "client_id", "roles", "username")

    def __init__(
        self, username: str | None, client_id: str, roles: tuple[str, ...], rules: tuple[_CompiledRule, ...]
    ) -> None:
        self.username = username
        self.client_id = client_id
        self.roles = roles
        self._rules = rules
        self._cache: OrderedDict[tuple[Access, str], AclDecision] = OrderedDict()

    @property
    def is_admin(self) -> bool:
        return ADMIN_ROLE in self.roles

    def check(self, access: Access, topic: str) -> AclDecision:
        """Decide ``access`` on ``topic`` (a topic name, or a filter for SUBSCRIBE)."""
        key = (access, topic)
        cached = self._cache.get(key)
        if cached is not None:
            self._cache.move_to_end(key)
            return cached
        decision = self._decide(access, topic)
        self._cache[key] = decision
        if len(self._cache) > _CACHE_SIZE:
            self._cache.popitem(last=False)
        return decision

    def allows(self, access: Access, topic: str) -> bool:
        return self.check(access, topic).allowed

    def _decide(self, access: Access, topic: str) -> AclDecision:
        if access is Access.SUBSCRIBE and topic.startswith(SHARE_PREFIX):
            _group, _sep, topic = topic[len(SHARE_PREFIX) :].partition("/")
        levels = tp.split(topic)
        hit_deny: Callable[[tp.Levels, tp.Levels], bool]
        hit_allow: Callable[[tp.Levels, tp.Levels], bool]
        if access is Access.SUBSCRIBE:
            if not tp.is_valid_filter(levels):
                return AclDecision(False, None)
            hit_deny, hit_allow = tp.intersects, tp.covers
        else:
            if "+" in topic or "#" in topic:
                return AclDecision(False, None)  # a topic name never carries wildcards
            hit_deny = hit_allow = tp.matches
        granted: AclDecision | None = None
        for compiled in self._rules:
            rule = compiled.rule
            if access not in rule.accesses:
                continue
            if not rule.allow and hit_deny(compiled.levels, levels):
                return AclDecision(False, rule)
            if rule.allow and granted is None and hit_allow(compiled.levels, levels):
                granted = AclDecision(True, rule)
        return granted if granted is not None else AclDecision(False, None)
