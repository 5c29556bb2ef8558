"""The ACL file (TOML) and its parser. Every problem is reported at once, each with its key path.

Format, version 1::

    version = 1                      # required; lets a future format be told apart

    [everyone]                       # rules for every client, with or without a user name
    rules = [
      { allow = "readwrite", topic = "clients/%c/#" },
    ]

    [anonymous]                      # rules only for clients without a user name
    rules = [ { allow = "read", topic = "public/#" } ]

    [roles.operator]                 # a role: rules shared by the users that have it
    rules = [
      { allow = "read",    topic = "spBv1.0/#" },
      { deny  = "publish", topic = "spBv1.0/+/NCMD/#" },
    ]

    [roles.admin]                    # 'admin' is the role the control plane trusts with $-topic commands
    rules = [ { allow = "readwrite", topic = "$gateway/#" } ]

    [users.alice]
    roles = ["admin", "operator"]    # every role named here must be defined under [roles], except admin
    rules = [ { allow = ["publish", "receive"], topic = "people/%u/inbox" } ]

A rule has exactly one of ``allow`` or ``deny`` and a ``topic``. The access is a name or a list of names:
``publish``, ``subscribe``, ``receive``, or the shorthands ``write`` (= publish), ``read``
(= subscribe + receive) and ``readwrite`` (all three). ``topic`` is an MQTT filter (``+``, ``#``) in which
``%u`` stands for the user name and ``%c`` for the client id. The order of rules does not matter: deny wins,
and anything not allowed is denied (see :mod:`gateway.broker.auth.acl`). Unknown keys are errors, so a
typo cannot silently widen or narrow access.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gateway.broker.auth import topic_patterns as tp
from gateway.broker.auth.acl import ACCESS_ALIASES, ADMIN_ROLE, Access, AclPolicy, AclRule, AclUser
from gateway.broker.auth.errors import AclFileError
from gateway.broker.auth.password_file import check_user_name, read_text

FORMAT_VERSION = 1
_MAX_TOPIC_BYTES = 65535


def load_acl_file(path: Path) -> AclPolicy:
    """Read and validate ``path``.

    Raises:
        AclFileError: unreadable, not UTF-8, bad TOML (with line and column), or any invalid rule.
    """
    return parse_acl(read_text(path, AclFileError), path)


def parse_acl(text: str, path: Path) -> AclPolicy:
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise AclFileError(path, [f"{path}: not valid TOML: {exc}"]) from exc
    parser = _Parser(path)
    policy = parser.policy(document)
    if parser.problems:
        hint = "the file format is described in README.md, section 'Security'"
        raise AclFileError(path, parser.problems, hint=hint)
    return policy


class _Parser:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.problems: list[str] = []

    def problem(self, where: str, reason: str) -> None:
        self.problems.append(f"{self.path}: {where}: {reason}")

    def policy(self, document: Mapping[str, Any]) -> AclPolicy:
        self._known_keys("top level", document, {"version", "everyone", "anonymous", "roles", "users"})
        version = document.get("version")
        if version != FORMAT_VERSION:
            self.problem("version", f"expected version = {FORMAT_VERSION}, found {version!r}")
        everyone = self._section("everyone", document.get("everyone", {}), allow_roles=False)
        anonymous = self._section("anonymous", document.get("anonymous", {}), allow_roles=False)
        roles: dict[str, tuple[AclRule, ...]] = {}
        for name, body in self._table("roles", document.get("roles", {})).items():
            roles[name] = self._section(f"roles.{name}", body, allow_roles=False).rules
        users: dict[str, AclUser] = {}
        for name, body in self._table("users", document.get("users", {})).items():
            reason = check_user_name(name)
            if reason is not None:
                self.problem(f"users.{name!r}", reason)
            user = self._section(f"users.{name}", body, allow_roles=True)
            for role in user.roles:
                if role not in roles and role != ADMIN_ROLE:
                    self.problem(f"users.{name}.roles", f"role {role!r} is not defined under [roles]")
            users[name] = user
        return AclPolicy(
            everyone=everyone.rules,
            anonymous=anonymous.rules,
            roles=roles,
            users=users,
            source=str(self.path),
        )

    def _table(self, where: str, value: object) -> dict[str, Any]:
        if not isinstance(value, dict):
            self.problem(where, f"expected a table, found {type(value).__name__}")
            return {}
        return value

    def _known_keys(self, where: str, table: Mapping[str, Any], known: set[str]) -> None:
        for key in table:
            if key not in known:
                self.problem(where, f"unknown key {key!r} (expected one of: {', '.join(sorted(known))})")

    def _section(self, where: str, value: object, *, allow_roles: bool) -> AclUser:
        table = self._table(where, value)
        self._known_keys(where, table, {"rules", "roles"} if allow_roles else {"rules"})
        roles: tuple[str, ...] = ()
        if allow_roles and "roles" in table:
            raw_roles = table["roles"]
            if isinstance(raw_roles, list) and all(isinstance(r, str) for r in raw_roles):
                roles = tuple(raw_roles)
            else:
                self.problem(f"{where}.roles", "expected a list of role names")
        raw_rules = table.get("rules", [])
        if not isinstance(raw_rules, list):
            self.problem(f"{where}.rules", "expected a list of rules")
            raw_rules = []
        rules = []
        for index, raw in enumerate(raw_rules):
            rule = self._rule(f"{where}.rules[{index}]", raw)
            if rule is not None:
                rules.append(rule)
        return AclUser(roles=roles, rules=tuple(rules))

    def _rule(self, where: str, raw: object) -> AclRule | None:
        if not isinstance(raw, dict):
            self.problem(where, 'expected a table like { allow = "read", topic = "a/#" }')
            return None
        self._known_keys(where, raw, {"allow", "deny", "topic"})
        if ("allow" in raw) == ("deny" in raw):
            self.problem(where, "needs exactly one of 'allow' or 'deny'")
            return None
        allow = "allow" in raw
        key = "allow" if allow else "deny"
        accesses = self._accesses(f"{where}.{key}", raw[key])
        topic = raw.get("topic")
        if not isinstance(topic, str):
            self.problem(f"{where}.topic", "missing or not a string")
            return None
        reason = _topic_problem(topic)
        if reason is not None:
            self.problem(f"{where}.topic", f"{topic!r}: {reason}")
            return None
        if accesses is None:
            return None
        return AclRule(allow=allow, accesses=accesses, pattern=topic, origin=f"{self.path}: {where}")

    def _accesses(self, where: str, raw: object) -> frozenset[Access] | None:
        names = [raw] if isinstance(raw, str) else raw
        if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
            self.problem(where, "expected an access name or a non-empty list of them")
            return None
        accesses: set[Access] = set()
        for name in names:
            if name not in ACCESS_ALIASES:
                self.problem(where, f"unknown access {name!r} (expected one of: {', '.join(ACCESS_ALIASES)})")
                return None
            accesses |= ACCESS_ALIASES[name]
        return frozenset(accesses)


def _topic_problem(topic: str) -> str | None:
    if not topic:
        return "empty topic"
    if "\x00" in topic:
        return "contains a NUL character"
    if len(topic.encode("utf-8")) > _MAX_TOPIC_BYTES:
        return "longer than 65535 bytes"
    if not tp.is_valid_filter(tp.split(topic)):
        return "'#' must be the whole last level and '+' a whole level"
    return None
