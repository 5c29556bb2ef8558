"""Security through the live broker (in-process) with real paho clients and raw sockets (catalogue T20-T23).

Exact wire codes are checked with raw CONNECTs (paho maps 3.1.1 return codes to 5.0 reason codes); ACL
behaviour with paho 3.1.1 and 5.0 clients. "Not delivered" is proven without sleeping: after the message
that must not arrive, the same publisher sends a marker on an allowed topic, and TCP keeps the order.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from gateway.broker import Broker, BrokerSettings, ListenerSettings
from gateway.broker.auth import Security, build_security
from gateway.broker.auth.hashing import hash_password
from gateway.broker.codec.packets import Connack, Connect
from tests.broker.conftest import RawFactory
from tests.broker.paho_client import PahoClient
from tests.broker.security.conftest import FAST_SCRYPT
from tests.support.waiting import async_wait_until

ACL = """version = 1
[everyone]
rules = [ { allow = "readwrite", topic = "markers/%c" } ]

[roles.operator]
rules = [
  { allow = "read", topic = "plant/#" },
  { deny = "receive", topic = "plant/secret/#" },
  { allow = "publish", topic = "plant/line/+" },
]

[users.admin]
roles = ["admin"]
rules = [ { allow = "readwrite", topic = "plant/#" }, { allow = "readwrite", topic = "markers/#" } ]

[users.op]
roles = ["operator"]

[users.device]
rules = [ { allow = "readwrite", topic = "devices/%c/#" } ]
"""

USERS = {"admin": "admin-pw", "op": "op-pw", "device": "device-pw"}


@dataclasses.dataclass
class SecureBroker:
    broker: Broker
    security: Security
    acl_path: Path

    @property
    def port(self) -> int:
        return self.broker.ports[0]


def write_security_files(directory: Path, acl: str = ACL) -> tuple[Path, Path]:
    passwd = directory / "passwd"
    passwd.write_text("".join(f"{u}:{hash_password(p, params=FAST_SCRYPT)}\n" for u, p in USERS.items()))
    passwd.chmod(0o600)
    acl_path = directory / "acl.toml"
    acl_path.write_text(acl)
    return passwd, acl_path


@pytest.fixture
async def secure(tmp_path: Path) -> AsyncIterator[SecureBroker]:
    passwd, acl_path = write_security_files(tmp_path)
    settings = BrokerSettings(
        listeners=(ListenerSettings(host="127.0.0.1", port=0),), password_file=passwd, acl_file=acl_path
    )
    security = build_security(settings)
    broker = Broker(settings, authenticator=security.authenticator, authorizer=security.authorizer)
    await broker.start()
    yield SecureBroker(broker, security, acl_path)
    await broker.stop()


ClientFactory = Callable[..., Awaitable[PahoClient]]


@pytest.fixture
def login(secure: SecureBroker) -> Iterator[ClientFactory]:
    made: list[PahoClient] = []

    async def connect(user: str | None, client_id: str, version: int = 5, **kwargs: Any) -> PahoClient:
        client = PahoClient(client_id, version, **kwargs)
        if user is not None:
            client.client.username_pw_set(user, USERS[user])
        made.append(client)
        _flags, reason, _props = await client.connect(secure.port)
        assert reason == 0, f"{user} could not log in: {reason}"
        return client

    yield connect
    for client in made:
        client.stop()


async def prove_nothing_else_arrives(publisher: PahoClient, receiver: PahoClient, client_id: str) -> None:
    """Send a marker the receiver may get; once it is there, anything sent before it would be there too."""
    before = len(receiver.messages)
    await publisher.publish(f"markers/{client_id}", b"marker", 1)
    await receiver.wait_messages(before + 1)
    assert receiver.messages[before].topic == f"markers/{client_id}", [m.topic for m in receiver.messages]


# --- authentication: exact CONNACK codes ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("version", "username", "password", "code"),
    [
        (4, "op", b"op-pw", 0x00),
        (4, "op", b"wrong", 0x04),
        (4, "ghost", b"op-pw", 0x04),
        (4, "op", b"", 0x04),
        (4, None, None, 0x05),
        (5, "op", b"op-pw", 0x00),
        (5, "op", b"wrong", 0x86),
        (5, "ghost", b"x", 0x86),
        (5, "op", None, 0x86),
        (5, None, None, 0x87),
    ],
)
async def test_connack_codes_per_version(
    secure: SecureBroker,
    raw_mqtt: RawFactory,
    version: int,
    username: str | None,
    password: bytes | None,
    code: int,
) -> None:
    raw = await raw_mqtt(secure.port, version=version)
    # The decision hashes a password in a worker thread (an unknown user costs the same hash): under a
    # loaded machine that takes seconds, so the CONNACK gets a generous deadline, not the 2 s default.
    await raw.send_packet(Connect(version, f"raw-{version}", username=username, password=password))
    ack = await raw.read_packet(timeout=20.0)
    assert isinstance(ack, Connack) and ack.reason_code == code, ack
    if code:
        await raw.expect_closed(within=20.0)


async def test_paho_sees_the_refusals(secure: SecureBroker) -> None:
    for version, expected in ((4, 134), (5, 134)):  # paho maps 3.1.1 rc 4 to "Bad user name or password"
        client = PahoClient(f"p{version}", version)
        client.client.username_pw_set("op", "nope")
        _flags, reason, _props = await client.connect(secure.port)
        client.stop()
        assert reason.value == expected


# --- ACL: subscribe, publish, receive -------------------------------------------------------------------


@pytest.mark.parametrize("version", [4, 5])
async def test_subscribe_denials_per_version(login: ClientFactory, version: int) -> None:
    op = await login("op", f"op{version}", version)
    granted = await op.subscribe("plant/line/+", 1)
    assert [rc.value for rc in granted] == [1]
    for topic_filter in ["#", "other/x", "+/line/1", "$SYS/#", "$share/g/#"]:
        codes = await op.subscribe(topic_filter, 1)
        # 5.0: 0x87 Not authorized; 3.1.1: 0x80 Failure (paho shows it as 128)
        assert [rc.value for rc in codes] == [0x87 if version == 5 else 0x80], topic_filter


async def test_publish_denied_v5_gets_puback_0x87(login: ClientFactory) -> None:
    op = await login("op", "op5", 5)
    info = op.client.publish("plant/secret/x", b"no", 1)
    await async_wait_until(lambda: info.mid in op.acked, timeout=5, message="PUBACK")
    admin = await login("admin", "adm")
    await admin.subscribe("plant/#", 1)
    # paho's on_publish gives the PUBACK reason code; re-publish to collect it
    codes: list[int] = []
    op.client.on_publish = lambda c, u, mid, rc, props: codes.append(rc.value)
    op.client.publish("plant/secret/y", b"no", 1)
    op.client.publish("plant/line/1", b"yes", 1)
    await async_wait_until(lambda: len(codes) == 2, timeout=5, message="two PUBACKs")
    assert codes == [0x87, 0x00]
    [message] = await admin.wait_messages(1)
    assert message.topic == "plant/line/1"


async def test_publish_denied_v311_is_acknowledged_and_silently_dropped(login: ClientFactory) -> None:
    admin = await login("admin", "adm")
    await admin.subscribe("plant/#", 1)
    await admin.subscribe("markers/#", 1)
    op = await login("op", "op3", 4)
    await op.publish("plant/secret/x", b"dropped", 1)  # PUBACK arrives (3.1.1 has no way to say no)
    await op.publish("plant/secret/y", b"dropped", 0)
    await prove_nothing_else_arrives(op, admin, "op3")
    assert [m.topic for m in admin.messages] == ["markers/op3"]


@pytest.mark.parametrize("version", [4, 5])
async def test_retained_messages_do_not_cross_the_acl(login: ClientFactory, version: int) -> None:
    admin = await login("admin", "adm")
    await admin.publish("plant/secret/recipe", b"secret", 1, retain=True)
    await admin.publish("plant/open/state", b"open", 1, retain=True)
    op = await login("op", f"op{version}", version)
    await op.subscribe(f"markers/{op.client._client_id.decode()}", 1)
    await op.subscribe("plant/#", 1)  # granted: the deny is on receive only
    await op.wait_messages(1)
    await prove_nothing_else_arrives(op, op, f"op{version}")
    assert [m.topic for m in op.messages] == ["plant/open/state", f"markers/op{version}"]


@pytest.mark.parametrize("version", [4, 5])
async def test_will_to_a_forbidden_topic_is_not_published(
    secure: SecureBroker, login: ClientFactory, version: int
) -> None:
    admin = await login("admin", "adm")
    await admin.subscribe("plant/#", 1)
    await admin.subscribe("markers/#", 1)
    dropped_before = secure.broker.core.stats.dropped_not_authorized
    rogue = PahoClient(f"rogue{version}", version)
    rogue.client.username_pw_set("device", USERS["device"])
    rogue.client.will_set("plant/line/1", b"fake will", 1)  # device may only write devices/<id>/#
    await rogue.connect(secure.port)
    rogue.kill()  # network loss: the Will is due
    await async_wait_until(
        lambda: secure.broker.core.stats.dropped_not_authorized > dropped_before,
        timeout=5,
        message="the Will to be refused",
    )
    await prove_nothing_else_arrives(admin, admin, "adm")
    assert [m.topic for m in admin.messages] == ["markers/adm"]


async def test_will_is_not_delivered_to_a_subscriber_who_may_not_receive_it(
    secure: SecureBroker, login: ClientFactory
) -> None:
    op = await login("op", "op5")
    await op.subscribe("plant/#", 1)
    await op.subscribe(f"markers/{op.client._client_id.decode()}", 1)
    watcher = await login("admin", "adm")
    await watcher.subscribe("plant/secret/#", 1)
    dying = PahoClient("dying-admin", 5)
    dying.client.username_pw_set("admin", USERS["admin"])
    dying.client.will_set("plant/secret/last-words", b"secret", 1)
    await dying.connect(secure.port)
    dying.kill()
    [will] = await watcher.wait_messages(1)  # the Will is published (admin may write there) ...
    assert will.topic == "plant/secret/last-words"
    await prove_nothing_else_arrives(op, op, "op5")
    assert [m.topic for m in op.messages] == ["markers/op5"]  # ... but not to op, who may not receive it


@pytest.mark.parametrize("client_id", ["+", "#"])
async def test_wildcard_client_id_is_never_expanded(login: ClientFactory, client_id: str) -> None:
    device = await login("device", client_id)
    codes: list[int] = []
    device.client.on_publish = lambda c, u, mid, rc, props: codes.append(rc.value)
    device.client.publish("devices/anything/x", b"x", 1)
    await async_wait_until(lambda: codes, timeout=5, message="PUBACK")
    assert codes == [0x87]
    assert [rc.value for rc in await device.subscribe("devices/#", 1)] == [0x87]


async def test_reload_revokes_receive_for_a_connected_durable_subscriber(
    secure: SecureBroker, login: ClientFactory
) -> None:
    op = await login("op", "op-durable", 5)
    await op.subscribe("plant/line/+", 1)
    await op.subscribe(f"markers/{op.client._client_id.decode()}", 1)
    admin = await login("admin", "adm")
    await admin.publish("plant/line/1", b"before", 1)
    await op.wait_messages(1)
    secure.acl_path.write_text(ACL.replace('{ allow = "read", topic = "plant/#" },', ""))
    assert secure.security.files.reload().ok
    await admin.publish("plant/line/1", b"after", 1)
    await op.publish("markers/op-durable", b"m", 1)
    await op.wait_messages(2)
    assert [m.payload for m in op.messages] == [b"before", b"m"]


REVOKED_PUBLISH_ACL = ACL.replace('{ allow = "publish", topic = "plant/line/+" },', "")


async def subscribe_and_collect_retained(
    login: ClientFactory, client_id: str, version: int
) -> list[tuple[str, bytes]]:
    """A new subscriber to plant/line/+: the retained messages it is served, proven complete by a marker
    sent after the SUBACK (retained messages are written right after the SUBACK, TCP keeps the order)."""
    reader = await login("admin", client_id, version)
    await reader.subscribe(f"markers/{client_id}", 1)
    await reader.subscribe("plant/line/+", 1)
    await prove_nothing_else_arrives(reader, reader, client_id)
    got = [(m.topic, bytes(m.payload)) for m in reader.messages if m.retain]
    reader.stop()
    return got


@pytest.mark.parametrize("version", [4, 5])
async def test_retained_message_of_a_publisher_whose_publish_access_was_revoked_is_withheld(
    secure: SecureBroker, login: ClientFactory, version: int
) -> None:
    """T21: the retained message stays stored, but is not served while its publisher (by user name and
    client id) may no longer publish to its topic; restoring the access serves it again."""
    op = await login("op", "op-retainer", version)
    await op.publish("plant/line/1", b"from op", 1, retain=True)
    admin = await login("admin", "adm-retainer", version)
    await admin.publish("plant/line/2", b"from admin", 1, retain=True)
    both = [("plant/line/1", b"from op"), ("plant/line/2", b"from admin")]
    assert sorted(await subscribe_and_collect_retained(login, "before", version)) == both

    secure.acl_path.write_text(REVOKED_PUBLISH_ACL)
    assert secure.security.files.reload().ok
    assert await subscribe_and_collect_retained(login, "after", version) == [("plant/line/2", b"from admin")]
    assert secure.broker.core.retained.get("plant/line/1") is not None, "withheld, not deleted"

    secure.acl_path.write_text(ACL)
    assert secure.security.files.reload().ok
    assert sorted(await subscribe_and_collect_retained(login, "restored", version)) == both


async def test_revoked_publishers_retained_message_stays_withheld_after_a_restart(tmp_path: Path) -> None:
    """T21 with the SQLite store: the publisher's identity is stored with the retained message, so a broker
    started later with an ACL that revokes the publisher does not serve it."""
    from gateway.broker.persistence import SqlitePersistence

    passwd, acl_path = write_security_files(tmp_path)
    settings = BrokerSettings(
        listeners=(ListenerSettings(host="127.0.0.1", port=0),), password_file=passwd, acl_file=acl_path
    )

    async def run_broker() -> Broker:
        security = build_security(settings)
        persistence = SqlitePersistence(tmp_path / "data")
        broker = Broker(
            settings,
            authenticator=security.authenticator,
            authorizer=security.authorizer,
            persistence=persistence,
        )
        await broker.start()
        return broker

    broker = await run_broker()
    op = PahoClient("op-restart", 5)
    op.client.username_pw_set("op", USERS["op"])
    assert (await op.connect(broker.ports[0]))[1] == 0
    await op.publish("plant/line/1", b"from op", 1, retain=True)
    op.stop()
    await broker.stop()

    acl_path.write_text(REVOKED_PUBLISH_ACL)
    broker = await run_broker()
    try:
        assert broker.core.retained.get("plant/line/1") is not None, "restored from the store"
        reader = PahoClient("reader", 5)
        reader.client.username_pw_set("admin", USERS["admin"])
        assert (await reader.connect(broker.ports[0]))[1] == 0
        await reader.subscribe("markers/reader", 1)
        await reader.subscribe("plant/line/+", 1)
        await prove_nothing_else_arrives(reader, reader, "reader")
        assert [m.topic for m in reader.messages] == ["markers/reader"]
        reader.stop()
    finally:
        await broker.stop()


async def test_failed_reload_keeps_the_old_rules_in_force(
    secure: SecureBroker, login: ClientFactory, raw_mqtt: RawFactory
) -> None:
    secure.acl_path.write_text("version = 1\n[users.op\n")
    outcome = secure.security.files.reload()
    assert not outcome.ok and "not valid TOML" in (outcome.error or "")
    op = await login("op", "op5")
    assert [rc.value for rc in await op.subscribe("plant/line/+", 1)] == [1]
    assert [rc.value for rc in await op.subscribe("#", 1)] == [0x87]
    raw = await raw_mqtt(secure.port, version=5)
    await raw.connect("anon", expect_reason=0x87)  # anonymous still refused


async def test_admin_role_is_reported_to_the_control_plane(
    secure: SecureBroker, login: ClientFactory
) -> None:
    await login("admin", "adm")
    await login("op", "op5")
    authorizer = secure.security.authorizer
    assert authorizer is not None
    sessions = secure.broker.core.sessions
    assert authorizer.is_admin(sessions["adm"].identity)
    assert not authorizer.is_admin(sessions["op5"].identity)
    assert sessions["adm"].identity.roles == frozenset({"admin"})
