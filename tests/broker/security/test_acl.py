"""ACL file parsing and decisions (catalogue T21, T22; CVE-2017-7650, CVE-2018-12550)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.broker.auth import Access, AclFileError, parse_acl
from gateway.broker.auth.acl import AclPolicy

P, S, R = Access.PUBLISH, Access.SUBSCRIBE, Access.RECEIVE
HERE = Path("acl.toml")


def policy(text: str) -> AclPolicy:
    return parse_acl(text, HERE)


EXAMPLE = """
version = 1

[everyone]
rules = [ { allow = "readwrite", topic = "clients/%c/#" } ]

[anonymous]
rules = [ { allow = "read", topic = "public/#" } ]

[roles.operator]
rules = [
  { allow = "read", topic = "plant/#" },
  { deny = "read", topic = "plant/secret/#" },
  { allow = "publish", topic = "plant/+/cmd" },
]

[roles.admin]
rules = [ { allow = "readwrite", topic = "$gateway/#" } ]

[users.alice]
roles = ["operator", "admin"]
rules = [ { allow = ["publish", "receive"], topic = "people/%u/inbox" } ]

[users.bob]
rules = [
  { deny = "publish", topic = "open/locked" },
  { allow = "readwrite", topic = "open/#" },
]
"""


def test_example_decisions() -> None:
    acl = policy(EXAMPLE)
    alice = acl.for_client("alice", "alice-1")
    assert alice.allows(S, "plant/line1/temp") and alice.allows(R, "plant/line1/temp")
    assert not alice.allows(R, "plant/secret/recipe")
    assert alice.allows(P, "plant/line1/cmd") and not alice.allows(P, "plant/line1/temp")
    assert alice.allows(P, "people/alice/inbox") and not alice.allows(P, "people/bob/inbox")
    assert not alice.allows(S, "people/alice/inbox"), "publish+receive does not include subscribe"
    assert alice.allows(P, "clients/alice-1/x") and not alice.allows(P, "clients/other/x")
    assert alice.is_admin and alice.allows(P, "$gateway/cmd/restart")
    bob = acl.for_client("bob", "b")
    assert not bob.is_admin and not bob.allows(P, "$gateway/cmd/restart")
    anonymous = acl.for_client(None, "anon")
    assert anonymous.allows(S, "public/news") and not anonymous.allows(P, "public/news")
    assert not anonymous.allows(S, "plant/#")
    stranger = acl.for_client("mallory", "m")  # authenticated, not in the ACL file: everyone rules only
    assert stranger.allows(P, "clients/m/1") and not stranger.allows(S, "public/#")


def test_deny_wins_whatever_the_order() -> None:
    bob = policy(EXAMPLE).for_client("bob", "b")
    assert not bob.allows(P, "open/locked")
    assert bob.allows(P, "open/door")
    decision = bob.check(P, "open/locked")
    assert "users.bob.rules[0]" in decision.explain()


def test_empty_file_denies_everything() -> None:
    acl = policy("version = 1\n")
    client = acl.for_client("alice", "c")
    for access in Access:
        assert not client.allows(access, "a")
    assert client.check(P, "a").explain() == "no rule allows it (default deny)"


def test_subscription_must_be_covered_so_wildcards_do_not_leak() -> None:
    alice = policy(EXAMPLE).for_client("alice", "a")
    assert alice.allows(S, "plant/line1/+")
    assert not alice.allows(S, "#"), "'#' would reach topics the ACL does not grant"
    assert not alice.allows(S, "+/line1/temp")
    assert not alice.allows(S, "plant/#"), "intersects the denied plant/secret/#"
    assert not alice.allows(S, "plant/+/recipe"), "plant/secret/recipe is denied"
    assert alice.allows(S, "$share/group/plant/line1/+"), "shared subscriptions are checked on the filter"
    assert not alice.allows(S, "$share/group/#")


def test_hash_rule_does_not_grant_dollar_topics() -> None:
    acl = policy('version = 1\n[everyone]\nrules = [ { allow = "readwrite", topic = "#" } ]\n')
    client = acl.for_client("u", "c")
    assert client.allows(S, "#") and client.allows(P, "a/b")
    assert not client.allows(S, "$SYS/#") and not client.allows(R, "$SYS/broker/uptime")
    assert not client.allows(P, "$gateway/cmd")


@pytest.mark.parametrize("bad_id", ["+", "#", "a/b", "x+", ""])
def test_wildcards_in_client_id_are_never_expanded(bad_id: str) -> None:
    acl = policy('version = 1\n[everyone]\nrules = [ { allow = "readwrite", topic = "%c/#" } ]\n')
    client = acl.for_client("u", bad_id)
    for topic in ["a/x", "+/x", "#", "a/b/x", "x+/y"]:
        assert not client.allows(P, topic)
    assert not client.allows(S, "#") and not client.allows(S, "+/#")


@pytest.mark.parametrize("bad_user", ["+", "#", "a/b"])
def test_wildcards_in_user_name_are_never_expanded(bad_user: str) -> None:
    acl = policy('version = 1\n[everyone]\nrules = [ { allow = "subscribe", topic = "u/%u/#" } ]\n')
    assert not acl.for_client(bad_user, "c").allows(S, "u/+/#")
    assert acl.for_client("fine", "c").allows(S, "u/fine/#")


def test_deny_rule_with_unsafe_value_fails_closed() -> None:
    text = """version = 1
[everyone]
rules = [ { allow = "publish", topic = "data/#" }, { deny = "publish", topic = "data/%c/private" } ]
"""
    acl = policy(text)
    assert not acl.for_client("u", "ok").allows(P, "data/ok/private")
    assert acl.for_client("u", "ok").allows(P, "data/other/private")
    # A client id with '/' cannot be substituted: the deny widens to data/+/private.
    evil = acl.for_client("u", "a/b")
    assert not evil.allows(P, "data/x/private") and evil.allows(P, "data/x/public")


def test_anonymous_has_no_user_name_to_substitute() -> None:
    acl = policy('version = 1\n[everyone]\nrules = [ { allow = "publish", topic = "u/%u" } ]\n')
    assert not acl.for_client(None, "c").allows(P, "u/%u")
    assert not acl.for_client(None, "c").allows(P, "u/")


def test_topic_names_with_wildcards_are_refused_for_publish_and_receive() -> None:
    acl = policy('version = 1\n[everyone]\nrules = [ { allow = "readwrite", topic = "#" } ]\n')
    client = acl.for_client("u", "c")
    assert not client.allows(P, "a/+") and not client.allows(R, "a/#")
    assert not client.allows(S, "a/#/b"), "an invalid filter is never allowed"


def test_decisions_are_cached_but_bounded() -> None:
    acl = policy('version = 1\n[everyone]\nrules = [ { allow = "publish", topic = "#" } ]\n')
    client = acl.for_client("u", "c")
    for index in range(2000):
        assert client.allows(P, f"t/{index}")
    assert len(client._cache) <= 512


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        ("version = 1\nx = [\n[users]", ["not valid TOML", "line 3"]),
        ("", ["version: expected version = 1"]),
        ("version = 2", ["expected version = 1, found 2"]),
        ("version = 1\nextra = 3", ["unknown key 'extra'"]),
        ('version = 1\n[users.a]\nroles = ["ghost"]', ["users.a.roles: role 'ghost' is not defined"]),
        ('version = 1\n[users.a]\nroles = "admin"', ["users.a.roles: expected a list"]),
        (
            'version = 1\n[everyone]\nrules = [ { allow = "read", deny = "read", topic = "a" } ]',
            ["everyone.rules[0]: needs exactly one of 'allow' or 'deny'"],
        ),
        (
            'version = 1\n[everyone]\nrules = [ { allow = "fly", topic = "a" } ]',
            ["everyone.rules[0].allow: unknown access 'fly'"],
        ),
        (
            'version = 1\n[everyone]\nrules = [ { allow = "read", topc = "a" } ]',
            ["unknown key 'topc'", "everyone.rules[0].topic: missing"],
        ),
        (
            'version = 1\n[everyone]\nrules = [ { allow = "read", topic = "a/#/b" },'
            ' { allow = [], topic = "" } ]',
            [
                "rules[0].topic: 'a/#/b'",
                "rules[1].allow: expected an access name",
                "rules[1].topic: '': empty",
            ],
        ),
        ("version = 1\neveryone = 3", ["everyone: expected a table"]),
        ('version = 1\n[everyone]\nrules = "x"', ["everyone.rules: expected a list"]),
    ],
)
def test_bad_files_list_every_problem_with_its_key_path(text: str, fragments: list[str]) -> None:
    with pytest.raises(AclFileError) as info:
        policy(text)
    message = "\n".join(info.value.problems)
    for fragment in fragments:
        assert fragment in message
    assert all(problem.startswith(f"{HERE}: ") for problem in info.value.problems)


def test_admin_role_needs_no_rules_section() -> None:
    acl = policy('version = 1\n[users.root]\nroles = ["admin"]\n')
    assert acl.for_client("root", "c").is_admin
    assert acl.roles_of("root") == ("admin",)
    assert acl.roles_of(None) == () and acl.roles_of("nobody") == ()
