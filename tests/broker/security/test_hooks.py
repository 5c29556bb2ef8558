"""The Authenticator and Authorizer hooks over real files, and reload semantics (catalogue T20-T22)."""

from __future__ import annotations

import inspect
import logging
from pathlib import Path

import pytest

from gateway.broker.auth import AclFileError, PasswordFileError, build_security
from gateway.broker.auth.hashing import hash_password
from gateway.broker.codes import ReasonCode
from gateway.broker.hooks import Action, AuthDecision, Authenticator, Authorizer, AuthRequest, ClientIdentity
from gateway.broker.settings import BrokerSettings
from tests.broker.security.conftest import FAST_SCRYPT

ACL = """version = 1
[roles.reader]
rules = [ { allow = "read", topic = "plant/#" } ]
[users.alice]
roles = ["reader", "admin"]
[users.bob]
rules = [ { allow = "publish", topic = "plant/bob/#" } ]
"""


def write_files(tmp_path: Path, acl: str = ACL) -> tuple[Path, Path]:
    passwd = tmp_path / "passwd"
    passwd.write_text(
        f"alice:{hash_password('alice-pw', params=FAST_SCRYPT)}\n"
        f"bob:{hash_password('bob-pw', params=FAST_SCRYPT)}\n"
    )
    passwd.chmod(0o600)
    acl_path = tmp_path / "acl.toml"
    acl_path.write_text(acl)
    return passwd, acl_path


def request(
    username: str | None, password: bytes | None, *, cn: str | None = None, identity: bool = False
) -> AuthRequest:
    return AuthRequest(
        client_id="c1",
        username=username,
        password=password,
        peer_cert_cn=cn,
        peer_host="127.0.0.1",
        peer_port=50000,
        listener="test",
        use_identity_as_username=identity,
        protocol_version=5,
    )


async def decide(authenticator: Authenticator, req: AuthRequest) -> AuthDecision:
    result = authenticator.authenticate(req)
    if inspect.isawaitable(result):
        return await result
    return result


async def test_password_authentication_table(tmp_path: Path) -> None:
    passwd, acl = write_files(tmp_path)
    security = build_security(BrokerSettings(password_file=passwd, acl_file=acl))
    auth = security.authenticator
    assert isinstance(auth, Authenticator) and isinstance(security.authorizer, Authorizer)
    ok = await decide(auth, request("alice", b"alice-pw"))
    assert ok.allowed and ok.username == "alice" and ok.roles == frozenset({"reader", "admin"})
    for bad in [
        request("alice", b"wrong"),
        request("alice", None),
        request("alice", b""),
        request("eve", b"x"),
    ]:
        decision = await decide(auth, bad)
        assert not decision.allowed and decision.reason_code is ReasonCode.BAD_USER_NAME_OR_PASSWORD
    anonymous = await decide(auth, request(None, None))
    assert not anonymous.allowed and anonymous.reason_code is ReasonCode.NOT_AUTHORIZED
    assert auth.refused == 5


async def test_successful_check_is_cached_and_invalidated_by_a_password_change(tmp_path: Path) -> None:
    passwd, acl = write_files(tmp_path)
    security = build_security(BrokerSettings(password_file=passwd, acl_file=acl))
    assert (await decide(security.authenticator, request("bob", b"bob-pw"))).allowed
    cached = security.authenticator.authenticate(request("bob", b"bob-pw"))
    assert isinstance(cached, AuthDecision) and cached.allowed, "second check answers without hashing"
    passwd.write_text(f"bob:{hash_password('new-pw', params=FAST_SCRYPT)}\n")
    assert security.files.reload().ok
    assert not (await decide(security.authenticator, request("bob", b"bob-pw"))).allowed
    assert (await decide(security.authenticator, request("bob", b"new-pw"))).allowed


async def test_anonymous_only_when_configured(tmp_path: Path) -> None:
    security = build_security(BrokerSettings(allow_anonymous=True))
    assert (await decide(security.authenticator, request(None, None))).allowed
    as_named = await decide(security.authenticator, request("any", b"thing"))
    assert as_named.allowed and as_named.username == "any"
    assert security.authorizer is None
    closed = build_security(BrokerSettings())
    refused = await decide(closed.authenticator, request("any", b"thing"))
    assert not refused.allowed and refused.reason_code is ReasonCode.NOT_AUTHORIZED


async def test_certificate_cn_as_user_name(tmp_path: Path) -> None:
    passwd, acl = write_files(tmp_path)
    security = build_security(BrokerSettings(password_file=passwd, acl_file=acl))
    by_cert = await decide(security.authenticator, request("ignored", None, cn="alice", identity=True))
    assert by_cert.allowed and by_cert.username == "alice" and "admin" in by_cert.roles
    no_cert = await decide(security.authenticator, request("alice", b"alice-pw", cn=None, identity=True))
    assert not no_cert.allowed and no_cert.reason_code is ReasonCode.NOT_AUTHORIZED


def identity(username: str | None, client_id: str = "c1", internal: bool = False) -> ClientIdentity:
    return ClientIdentity(client_id=client_id, username=username, internal=internal)


def test_authorizer_decisions_and_denial_logging(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    passwd, acl = write_files(tmp_path)
    authorizer = build_security(BrokerSettings(password_file=passwd, acl_file=acl)).authorizer
    assert authorizer is not None
    alice, bob = identity("alice"), identity("bob", "c2")
    assert authorizer.is_allowed(alice, Action.SUBSCRIBE, "plant/+/temp")
    assert authorizer.is_admin(alice) and not authorizer.is_admin(bob)
    caplog.set_level(logging.DEBUG, logger="gateway.broker.auth.authorizer")
    assert not authorizer.is_allowed(bob, Action.SUBSCRIBE, "#")
    assert not authorizer.is_allowed(bob, Action.SUBSCRIBE, "#")
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert (
        len(warnings) == 1 and "denied subscribe on '#' to client 'c2' user 'bob'" in warnings[0].getMessage()
    )
    assert authorizer.denied == 2
    assert authorizer.is_allowed(identity(None, internal=True), Action.PUBLISH, "$SYS/anything")


def test_reload_revokes_access_for_connected_clients(tmp_path: Path) -> None:
    passwd, acl = write_files(tmp_path)
    security = build_security(BrokerSettings(password_file=passwd, acl_file=acl))
    assert security.authorizer is not None
    alice = identity("alice")
    assert security.authorizer.is_allowed(alice, Action.RECEIVE, "plant/a/temp")
    acl.write_text('version = 1\n[users.alice]\nroles = ["admin"]\n')
    outcome = security.files.reload()
    assert outcome.ok and outcome.generation == 2
    assert not security.authorizer.is_allowed(alice, Action.RECEIVE, "plant/a/temp")


@pytest.mark.parametrize("breakage", ["acl_syntax", "acl_missing", "passwd_bad_line", "passwd_directory"])
async def test_failed_reload_keeps_the_old_security(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, breakage: str
) -> None:
    passwd, acl = write_files(tmp_path)
    security = build_security(BrokerSettings(password_file=passwd, acl_file=acl))
    assert security.authorizer is not None
    if breakage == "acl_syntax":
        acl.write_text("version = 1\n[users.alice\n")
    elif breakage == "acl_missing":
        acl.unlink()
    elif breakage == "passwd_bad_line":
        passwd.write_text("alice:\n")
    else:
        passwd.unlink()
        passwd.mkdir()
    outcome = security.files.reload()
    assert not outcome.ok and outcome.generation == 1 and outcome.error
    assert "previous users and ACL stay in force" in caplog.text
    assert security.files.failed_reloads == 1 and security.files.last_error == outcome.error
    assert security.authorizer.is_allowed(identity("alice"), Action.SUBSCRIBE, "plant/#")
    assert not security.authorizer.is_allowed(identity("bob"), Action.SUBSCRIBE, "plant/#")
    assert (await decide(security.authenticator, request("alice", b"alice-pw"))).allowed
    assert not (await decide(security.authenticator, request(None, None))).allowed


def test_start_up_refuses_bad_files(tmp_path: Path) -> None:
    passwd, acl = write_files(tmp_path)
    acl.write_text("version = 1\n[users.x]\nroles = ['nope']\n")
    with pytest.raises(AclFileError, match="role 'nope' is not defined"):
        build_security(BrokerSettings(password_file=passwd, acl_file=acl))
    passwd.write_text("x\n")
    with pytest.raises(PasswordFileError, match=r"passwd:1: no ':'"):
        build_security(BrokerSettings(password_file=passwd, acl_file=acl))


async def test_unknown_user_and_missing_password_still_pay_for_a_hash(tmp_path: Path) -> None:
    """Timing must not reveal which users exist: every refusal of a named user goes through the slow hash."""
    passwd, acl = write_files(tmp_path)
    auth = build_security(BrokerSettings(password_file=passwd, acl_file=acl)).authenticator
    for req in (request("eve", b"x"), request("alice", None), request("alice", b"wrong")):
        result = auth.authenticate(req)
        assert inspect.isawaitable(result), "answered without hashing"
        assert not (await result).allowed
