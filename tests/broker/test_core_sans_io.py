"""The protocol core without sockets or an event loop: bytes in, bytes out, time passed in (T7 and more).

Two connections are driven back to back through the BrokerCore, in the style of h11's ConnectionPair.
"""

from __future__ import annotations

from gateway.broker import BrokerSettings
from gateway.broker.codec import (
    Connack,
    Connect,
    Disconnect,
    Packet,
    Pingreq,
    Publish,
    Suback,
    Subscribe,
    SubscriptionRequest,
    decode_body,
    encode,
)
from gateway.broker.codec.stream import FrameReader
from gateway.broker.connection import Connection
from gateway.broker.core import BrokerCore
from gateway.broker.hooks import AuthDecision, MemoryPersistence


class Client:
    """One connection of the core, with a decoder for what the broker sends back."""

    def __init__(self, core: BrokerCore, version: int, now: float, port: int) -> None:
        conn = core.accept("127.0.0.1", port, "test", now)
        assert conn is not None
        self.conn: Connection = conn
        self.core = core
        self.version = version
        self._reader = FrameReader(10**9)

    def send(self, packet: Packet, now: float) -> None:
        self.conn.receive_data(encode(packet, self.version), now)
        if self.conn.pending_auth is not None:
            self.conn.pending_auth = None
            self.conn.auth_decided(AuthDecision(True), now)

    def received(self) -> list[Packet]:
        data = b"".join(self.conn.take_output())
        return [decode_body(f, b, s, e, self.version) for f, b, s, e in self._reader.feed(data)]


def make_core(now: float = 1000.0) -> BrokerCore:
    return BrokerCore(BrokerSettings(allow_anonymous=True, sys_interval=0), None, MemoryPersistence(), now)


def test_publish_reaches_subscriber_with_qos_downgrade() -> None:
    core = make_core()
    sub = Client(core, 5, 1000.0, 1)
    pub = Client(core, 4, 1000.0, 2)
    sub.send(Connect(5, "sub"), 1000.0)
    pub.send(Connect(4, "pub"), 1000.0)
    assert isinstance(sub.received()[0], Connack)
    assert isinstance(pub.received()[0], Connack)
    sub.send(Subscribe(1, (SubscriptionRequest("a/+", 1),)), 1000.1)
    assert sub.received() == [Suback(1, (1,))]
    pub.send(Publish("a/b", b"x", 2, packet_id=9), 1000.2)
    [delivered] = sub.received()
    assert isinstance(delivered, Publish)
    assert (delivered.topic, delivered.payload, delivered.qos) == ("a/b", b"x", 1)


def test_dollar_topics_do_not_reach_wildcard_subscribers() -> None:
    core = make_core()
    everything = Client(core, 4, 1000.0, 1)
    dollar = Client(core, 4, 1000.0, 2)
    pub = Client(core, 4, 1000.0, 3)
    for client, cid in ((everything, "all"), (dollar, "dollar"), (pub, "pub")):
        client.send(Connect(4, cid), 1000.0)
        client.received()
    everything.send(Subscribe(1, (SubscriptionRequest("#", 0), SubscriptionRequest("+/bar", 0))), 1000.0)
    dollar.send(Subscribe(1, (SubscriptionRequest("$foo/#", 0),)), 1000.0)
    everything.received()
    dollar.received()
    pub.send(Publish("$foo/bar", b"1"), 1000.0)
    assert everything.received() == []
    assert [p.topic for p in dollar.received()] == ["$foo/bar"]  # type: ignore[union-attr]


def test_packets_before_connect_close_without_state_change() -> None:
    core = make_core()
    before = (core.stats.messages_received, core.stats.publish_received, len(core.sessions))
    for first_packet in (
        b"\xc0\x00",
        b"\x40\x02\x00\x01",
        b"\x82\x06\x00\x01\x00\x01t\x00",
        b"\x30\x03\x00\x01t",
    ):
        client = Client(core, 4, 1000.0, 9)
        client.conn.receive_data(first_packet, 1000.0)
        assert client.conn.close_requested
        assert client.received() == []
        core.connection_lost(client.conn, 1000.0)
    assert (core.stats.messages_received, core.stats.publish_received, len(core.sessions)) == before
    assert not core.connections


def test_keepalive_and_connect_deadline_are_driven_by_tick() -> None:
    core = make_core()
    idle = Client(core, 5, 1000.0, 1)
    quiet = Client(core, 5, 1000.0, 2)
    quiet.send(Connect(5, "quiet", keep_alive=10), 1000.0)
    quiet.received()
    core.tick(1004.0)
    assert not idle.conn.close_requested
    core.tick(1005.5)  # connect_timeout 5 s
    assert idle.conn.close_requested
    quiet.send(Pingreq(), 1010.0)
    core.tick(1024.0)  # 14 s since the last packet < 15 s
    assert not quiet.conn.close_requested
    core.tick(1025.5)
    assert quiet.received()[-1] == Disconnect(0x8D)
    assert quiet.conn.close_requested


def test_second_connect_is_a_protocol_error() -> None:
    core = make_core()
    client = Client(core, 5, 1000.0, 1)
    client.send(Connect(5, "twice"), 1000.0)
    client.send(Connect(5, "twice"), 1000.0)
    packets = client.received()
    assert isinstance(packets[0], Connack)
    assert isinstance(packets[1], Disconnect) and packets[1].reason_code == 0x82
    assert client.conn.close_requested


def test_sys_topics_report_the_counters() -> None:
    from gateway.broker.local import BrokerMessage, LocalSubscriber

    core = make_core()
    seen: dict[str, bytes] = {}

    def record(message: BrokerMessage) -> None:
        seen[message.topic] = message.payload

    core.local_subscribe(LocalSubscriber("$internal/sys", "$SYS/#", record), 0, 1000.0)
    everything: list[str] = []
    core.local_subscribe(
        LocalSubscriber("$internal/all", "#", lambda m: everything.append(m.topic)), 0, 1000.0
    )
    client = Client(core, 4, 1000.0, 1)
    client.send(Connect(4, "one"), 1000.0)
    client.send(Publish("a", b"xyz"), 1000.0)
    core.publish_sys(1042.0)
    assert seen["$SYS/broker/clients/connected"] == b"1"
    assert seen["$SYS/broker/uptime"] == b"42 seconds"
    assert seen["$SYS/broker/publish/messages/received"] == b"1"
    assert seen["$SYS/broker/subscriptions/count"] == b"2"
    assert int(seen["$SYS/broker/bytes/received"]) > 0
    assert everything == ["a"]  # '#' never sees $SYS [MQTT-4.7.2-1]


def test_slow_authentication_gets_a_grace_period_beyond_the_connect_deadline() -> None:
    from gateway.broker.core import AUTH_GRACE

    core = make_core()
    client = Client(core, 5, 1000.0, 1)
    client.conn.receive_data(encode(Connect(5, "slowauth"), 5), 1001.0)
    assert client.conn.pending_auth is not None  # the decision is still being computed
    core.tick(1010.0)  # past the 5 s CONNECT deadline: the CONNECT itself arrived in time
    assert not client.conn.close_requested
    client.conn.pending_auth = None
    client.conn.auth_decided(AuthDecision(True), 1011.0)
    assert isinstance(client.received()[0], Connack)
    stuck = Client(core, 5, 1000.0, 2)
    stuck.conn.receive_data(encode(Connect(5, "stuck"), 5), 1001.0)
    core.tick(1000.0 + 5 + AUTH_GRACE + 1)
    assert stuck.conn.close_requested
