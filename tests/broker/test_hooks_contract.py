"""The broker's side of the hook contracts (hooks.py): what it asks the Authenticator, Authorizer and
BrokerPersistence, and that it obeys the answers. The hooks here are small complete implementations of the
protocols (in memory), not mocks; the real ones live in gateway.broker.auth / gateway.broker.persistence."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable

import pytest

from gateway.broker import (
    Action,
    AuthDecision,
    AuthRequest,
    Broker,
    BrokerSettings,
    ClientIdentity,
    ListenerSettings,
    PersistedState,
    QueuedMessage,
    StoredMessage,
    StoredSession,
)
from gateway.broker.codec import (
    Disconnect,
    Properties,
    Puback,
    Pubcomp,
    Publish,
    Pubrec,
    Pubrel,
    Suback,
    Subscribe,
    SubscriptionRequest,
    Will,
)
from gateway.broker.codes import ReasonCode
from tests.broker.conftest import RawFactory
from tests.support.waiting import async_wait_until

SETTINGS = BrokerSettings(listeners=(ListenerSettings(port=0),), allow_anonymous=True, sys_interval=0)


class MemoryStore:
    """A BrokerPersistence that keeps its records in dicts and hands them back on load."""

    def __init__(self) -> None:
        self.retained: dict[str, StoredMessage] = {}
        self.sessions: dict[str, StoredSession] = {}
        self.queues: dict[str, dict[int, QueuedMessage]] = {}
        self.inbound: dict[str, set[int]] = {}
        self.flushed = 0

    async def load(self) -> PersistedState:
        return PersistedState(
            tuple(self.retained.values()),
            tuple(self.sessions.values()),
            {cid: tuple(q[k] for k in sorted(q)) for cid, q in self.queues.items()},
            {cid: tuple(sorted(ids)) for cid, ids in self.inbound.items() if ids},
        )

    def retained_set(self, message: StoredMessage) -> None:
        self.retained[message.topic] = message

    def retained_cleared(self, topic: str) -> None:
        self.retained.pop(topic, None)

    def session_saved(self, session: StoredSession) -> None:
        self.sessions[session.client_id] = session

    def session_removed(self, client_id: str) -> None:
        self.sessions.pop(client_id, None)
        self.queues.pop(client_id, None)
        self.inbound.pop(client_id, None)

    def message_queued(self, client_id: str, queued: QueuedMessage) -> None:
        self.queues.setdefault(client_id, {})[queued.seq] = queued

    def message_acknowledged(self, client_id: str, seq: int) -> None:
        self.queues.get(client_id, {}).pop(seq, None)

    def message_in_flight(self, client_id: str, seq: int, packet_id: int, released: bool) -> None:
        queue = self.queues.get(client_id, {})
        if seq in queue:
            queue[seq] = dataclasses.replace(queue[seq], packet_id=packet_id, released=released)

    def inbound_qos2_received(self, client_id: str, packet_id: int) -> None:
        self.inbound.setdefault(client_id, set()).add(packet_id)

    def inbound_qos2_released(self, client_id: str, packet_id: int) -> None:
        self.inbound.get(client_id, set()).discard(packet_id)

    def after_commit(self, callback: Callable[[], None]) -> None:
        callback()  # the dicts are the "disk": a change is durable once made

    async def flush(self) -> None:
        self.flushed += 1

    async def close(self) -> None:
        return None


async def test_persistent_session_and_retained_survive_a_restart(raw_mqtt: RawFactory) -> None:
    store = MemoryStore()
    broker = Broker(SETTINGS, persistence=store)
    await broker.start()
    try:
        sub = await raw_mqtt(broker.ports[0], version=5)
        await sub.connect("keeper", properties=Properties(session_expiry_interval=3600))
        await sub.send_packet(Subscribe(1, (SubscriptionRequest("k/#", 1),)))
        assert isinstance(await sub.read_packet(), Suback)
        await sub.send_packet(Disconnect())
        await sub.expect_closed()
        for index in range(3):
            broker.publish(f"k/{index}", str(index).encode(), qos=1)
        broker.publish("k/state", b"on", qos=1, retain=True)
        broker.publish("k/gone", b"x", qos=0, retain=True)
        broker.publish("k/gone", b"", qos=0, retain=True)
    finally:
        await broker.stop()
    assert store.flushed == 1
    assert set(store.retained) == {"k/state"}
    assert len(store.queues["keeper"]) == 4

    restarted = Broker(SETTINGS, persistence=store)
    await restarted.start()
    try:
        back = await raw_mqtt(restarted.ports[0], version=5)
        ack = await back.connect(
            "keeper", clean_start=False, properties=Properties(session_expiry_interval=3600)
        )
        assert ack.session_present
        got = []
        for _ in range(4):
            packet = await back.read_packet()
            assert isinstance(packet, Publish)
            got.append((packet.topic, packet.payload))
            assert packet.dup  # may have been delivered before the restart [MQTT-3.3.1-1]
            await back.send_packet(Puback(packet.packet_id or 0))
        assert got == [("k/0", b"0"), ("k/1", b"1"), ("k/2", b"2"), ("k/state", b"on")]
        await async_wait_until(lambda: not store.queues["keeper"], timeout=2, message="acks recorded")
        assert restarted.core.retained.get("k/state") is not None
    finally:
        await restarted.stop()


async def test_qos2_in_flight_state_survives_a_restart_both_directions(raw_mqtt: RawFactory) -> None:
    """[MQTT-4.4.0-1] through the hooks: PUBREL pending and sent-not-PUBRECed outgoing messages keep their
    packet ids; incoming QoS 2 packet ids awaiting PUBREL still de-duplicate after the restart."""
    store = MemoryStore()
    session = Properties(session_expiry_interval=3600)
    broker = Broker(SETTINGS, persistence=store)
    await broker.start()
    try:
        sub = await raw_mqtt(broker.ports[0], version=5)
        await sub.connect("sub", properties=session)
        await sub.send_packet(Subscribe(1, (SubscriptionRequest("q/#", 2),)))
        assert isinstance(await sub.read_packet(), Suback)
        pub = await raw_mqtt(broker.ports[0], version=5)
        await pub.connect("pub", properties=session)
        await pub.send_packet(Publish("q/1", b"one", 2, packet_id=21))
        await pub.send_packet(Publish("q/2", b"two", 2, packet_id=22))
        first = await sub.read_packet()
        second = await sub.read_packet()
        assert isinstance(first, Publish) and isinstance(second, Publish)
        await sub.send_packet(Pubrec(first.packet_id or 0))  # "one": PUBREL pending
        assert isinstance(await sub.read_packet(), Pubrel)
        # "two" is left unacknowledged: sent, awaiting PUBREC.
        for _ in range(2):
            ack = await pub.read_packet()
            assert isinstance(ack, Pubrec) and ack.reason_code == 0
        # The publisher never sends PUBREL for 21 / 22 before the restart.
    finally:
        await broker.stop()

    restarted = Broker(SETTINGS, persistence=store)
    await restarted.start()
    try:
        back = await raw_mqtt(restarted.ports[0], version=5)
        assert (await back.connect("sub", clean_start=False, properties=session)).session_present
        resent = await back.read_packet()
        assert isinstance(resent, Pubrel) and resent.packet_id == first.packet_id, resent
        again = await back.read_packet()
        assert isinstance(again, Publish) and again.dup and again.packet_id == second.packet_id
        assert again.payload == b"two"
        await back.send_packet(Pubcomp(first.packet_id or 0))
        await back.send_packet(Pubrec(second.packet_id or 0))
        assert isinstance(await back.read_packet(), Pubrel)
        await back.send_packet(Pubcomp(second.packet_id or 0))

        pub2 = await raw_mqtt(restarted.ports[0], version=5)
        assert (await pub2.connect("pub", clean_start=False, properties=session)).session_present
        await pub2.send_packet(Publish("q/1", b"one", 2, dup=True, packet_id=21))  # a resend: not routed
        assert (await pub2.read_packet()) == Pubrec(21)
        await pub2.send_packet(Pubrel(21))
        await pub2.send_packet(Pubrel(22))
        assert (await pub2.read_packet()) == Pubcomp(21)  # 0x92 would mean the state was lost
        assert (await pub2.read_packet()) == Pubcomp(22)
        await pub2.send_packet(Publish("q/3", b"marker", 1, packet_id=23))
        marker = await back.read_packet()
        assert isinstance(marker, Publish) and marker.payload == b"marker", f"delivered twice: {marker!r}"
        await back.send_packet(Puback(marker.packet_id or 0))
        await async_wait_until(lambda: not store.queues["sub"], timeout=5, message="PUBCOMPs recorded")
        assert not store.inbound.get("pub")
    finally:
        await restarted.stop()


async def test_restored_qos2_packet_id_reused_without_dup_is_a_new_message(raw_mqtt: RawFactory) -> None:
    """A release lost in a crash (write-behind window) leaves a stale packet id in the store; the client,
    which got its PUBCOMP, reuses the id with DUP 0: that is a new message and is routed. A DUP 1 resend
    of it is then a duplicate again."""
    store = MemoryStore()
    session = Properties(session_expiry_interval=3600)
    store.sessions["pub"] = StoredSession("pub", 5, 3600, disconnected_at=None)
    store.inbound["pub"] = {21}  # what the crash left: the PUBREL of 21 was handled but never committed
    async with Broker(SETTINGS, persistence=store) as broker:
        sub = await raw_mqtt(broker.ports[0], version=5)
        await sub.connect("sub")
        await sub.send_packet(Subscribe(1, (SubscriptionRequest("n/#", 1),)))
        assert isinstance(await sub.read_packet(), Suback)
        pub = await raw_mqtt(broker.ports[0], version=5)
        assert (await pub.connect("pub", clean_start=False, properties=session)).session_present
        await pub.send_packet(Publish("n/1", b"new", 2, packet_id=21))
        assert await pub.read_packet() == Pubrec(21)
        got = await sub.read_packet()
        assert isinstance(got, Publish) and got.payload == b"new"
        await sub.send_packet(Puback(got.packet_id or 0))
        await pub.send_packet(Publish("n/1", b"new", 2, dup=True, packet_id=21))  # its resend
        assert await pub.read_packet() == Pubrec(21)
        await pub.send_packet(Pubrel(21))
        assert await pub.read_packet() == Pubcomp(21)
        await pub.send_packet(Publish("n/2", b"marker", 1, packet_id=22))
        assert await pub.read_packet() == Puback(22)
        marker = await sub.read_packet()
        assert isinstance(marker, Publish) and marker.payload == b"marker", f"routed twice: {marker!r}"


class Policy:
    """Deny rules by client id, enough to exercise every place the broker consults the Authorizer."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Action, str]] = []

    def is_allowed(self, identity: ClientIdentity, action: Action, topic: str) -> bool:
        self.calls.append((identity.client_id, action, topic))
        if action is Action.PUBLISH and topic.startswith("ro/"):
            return False
        if action is Action.SUBSCRIBE and topic.startswith("forbidden/"):
            return False
        return not (
            action is Action.RECEIVE and identity.client_id == "reader" and topic.startswith("private/")
        )


@pytest.mark.parametrize("version", [4, 5])
async def test_authorizer_is_obeyed(raw_mqtt: RawFactory, version: int) -> None:
    policy = Policy()
    async with Broker(SETTINGS, authorizer=policy) as broker:
        broker.publish("private/x", b"secret", qos=1, retain=True)  # internal publisher: no ACL on publish
        broker.publish("public/x", b"hello", qos=1, retain=True)
        reader = await raw_mqtt(broker.ports[0], version=version)
        await reader.connect("reader")
        await reader.send_packet(
            Subscribe(1, (SubscriptionRequest("#", 1), SubscriptionRequest("forbidden/a", 1)))
        )
        suback = await reader.read_packet()
        assert isinstance(suback, Suback)
        assert suback.reason_codes == (1, 0x87 if version == 5 else 0x80)
        retained = await reader.read_packet()
        assert isinstance(retained, Publish) and retained.topic == "public/x"  # private/x never leaks
        writer = await raw_mqtt(broker.ports[0], version=version)
        await writer.connect("writer", will=Will("ro/will", b"w", 0))
        await writer.send_packet(Publish("ro/t", b"denied", 1, packet_id=7))
        denied = await writer.read_packet()
        assert isinstance(denied, Puback)
        assert (denied.packet_id, denied.reason_code) == (7, 0x87 if version == 5 else 0)
        assert bool(denied.properties.reason_string) is (version == 5)
        await writer.send_packet(Publish("private/y", b"p", 1, packet_id=8))
        await writer.read_packet()
        await writer.send_packet(Publish("public/y", b"ok", 1, packet_id=9))
        await writer.read_packet()
        writer.reset()  # its Will goes to ro/will, which it may not write: not published
        packet = await reader.read_packet()
        await reader.send_packet(Puback(packet.packet_id or 0))  # type: ignore[union-attr]
        assert isinstance(packet, Publish) and packet.topic == "public/y"
        with pytest.raises(TimeoutError):
            await reader.read_packet(timeout=0.3)
        assert ("writer", Action.PUBLISH, "ro/will") in policy.calls
        assert broker.stats.dropped_not_authorized >= 3


class SlowAuthenticator:
    """Answers after an await, like a password check run in a thread; user 'bad' is refused."""

    def __init__(self) -> None:
        self.requests: list[AuthRequest] = []

    async def _decide(self, request: AuthRequest) -> AuthDecision:
        await asyncio.sleep(0.05)  # the hash being computed elsewhere
        if request.username == "bad":
            return AuthDecision(False, ReasonCode.BAD_USER_NAME_OR_PASSWORD)
        return AuthDecision(True, username=request.username, roles=frozenset({"ops"}))

    def authenticate(self, request: AuthRequest) -> asyncio.Future[AuthDecision] | AuthDecision:
        self.requests.append(request)
        return asyncio.ensure_future(self._decide(request))


@pytest.mark.parametrize("version", [4, 5])
async def test_async_authenticator_and_pipelined_packets(raw_mqtt: RawFactory, version: int) -> None:
    auth = SlowAuthenticator()
    async with Broker(dataclasses.replace(SETTINGS, allow_anonymous=False), authenticator=auth) as broker:
        bad = await raw_mqtt(broker.ports[0], version=version)
        await bad.connect("b", username="bad", password=b"x", expect_reason=0x86 if version == 5 else 4)
        await bad.expect_closed()
        good = await raw_mqtt(broker.ports[0], version=version)
        from gateway.broker.codec import Connect, encode

        # CONNECT and SUBSCRIBE in one write: the SUBSCRIBE waits for the decision, then is answered.
        await good.send(
            encode(Connect(version, "g", username="alice", password=b"pw"), version)
            + encode(Subscribe(1, (SubscriptionRequest("t", 0),)), version)
        )
        assert (await good.read_packet()).reason_code == 0  # type: ignore[union-attr]
        assert isinstance(await good.read_packet(), Suback)
        assert broker.core.sessions["g"].identity.roles == frozenset({"ops"})
        assert [r.username for r in auth.requests] == ["bad", "alice"]
        assert auth.requests[1].password == b"pw"
        assert auth.requests[1].peer_host == "127.0.0.1"
