"""Interoperability with paho-mqtt 2.x clients, MQTT 3.1.1 and 5.0, against our broker in-process."""

from __future__ import annotations

import pytest

from gateway.broker import Broker
from tests.broker.conftest import BrokerFactory
from tests.broker.paho_client import PahoClient, connect_properties, publish_properties
from tests.support.waiting import async_wait_until


@pytest.fixture
def clients():
    made: list[PahoClient] = []

    def make(client_id: str, version: int = 5, **kwargs: object) -> PahoClient:
        client = PahoClient(client_id, version, **kwargs)
        made.append(client)
        return client

    yield make
    for client in made:
        client.stop()


@pytest.mark.parametrize("version", [4, 5])
@pytest.mark.parametrize("qos", [0, 1, 2])
async def test_publish_subscribe_each_qos(broker: Broker, clients, version: int, qos: int) -> None:
    sub = clients(f"sub-{version}-{qos}", version)
    pub = clients(f"pub-{version}-{qos}", version)
    await sub.connect(broker.ports[0])
    await pub.connect(broker.ports[0])
    await sub.subscribe("plant/+/temp", qos)
    for index in range(20):
        await pub.publish(f"plant/line{index % 3}/temp", f"{index}".encode(), qos)
    messages = await sub.wait_messages(20)
    assert [int(m.payload) for m in messages] == list(range(20))
    assert {m.qos for m in messages} == {qos}


@pytest.mark.parametrize("version", [4, 5])
async def test_qos_downgrade_to_subscription_maximum(broker: Broker, clients, version: int) -> None:
    sub = clients("sub", version)
    pub = clients("pub", version)
    await sub.connect(broker.ports[0])
    await pub.connect(broker.ports[0])
    await sub.subscribe("t", 1)
    await pub.publish("t", b"x", 2)
    [message] = await sub.wait_messages(1)
    assert message.qos == 1


@pytest.mark.parametrize("version", [4, 5])
async def test_retained_set_replace_clear(broker: Broker, clients, version: int) -> None:
    pub = clients("pub", version)
    await pub.connect(broker.ports[0])
    await pub.publish("cfg/a", b"1", 1, retain=True)
    await pub.publish("cfg/a", b"2", 1, retain=True)
    await pub.publish("cfg/b", b"3", 1, retain=True)
    await pub.publish("cfg/b", b"", 1, retain=True)  # clears [MQTT-3.3.1-10]
    sub = clients("sub", version)
    await sub.connect(broker.ports[0])
    await sub.subscribe("cfg/#", 1)
    [message] = await sub.wait_messages(1)
    assert (message.topic, message.payload, message.retain) == ("cfg/a", b"2", True)
    # live messages do not carry the retain flag to a plain subscriber [MQTT-3.3.1-12]
    await pub.publish("cfg/a", b"4", 1, retain=True)
    messages = await sub.wait_messages(2)
    assert (messages[1].payload, messages[1].retain) == (b"4", False)
    assert len(broker.core.retained) == 1


@pytest.mark.parametrize("version", [4, 5])
async def test_will_on_network_loss_not_on_disconnect(broker: Broker, clients, version: int) -> None:
    watcher = clients("watcher", version)
    await watcher.connect(broker.ports[0])
    await watcher.subscribe("wills/#", 1)
    polite = clients("polite", version)
    polite.client.will_set("wills/polite", b"gone", 1)
    await polite.connect(broker.ports[0])
    polite.stop()
    rude = clients("rude", version)
    rude.client.will_set("wills/rude", b"gone", 1)
    await rude.connect(broker.ports[0])
    rude.kill()
    [message] = await watcher.wait_messages(1)
    assert message.topic == "wills/rude"
    await async_wait_until(lambda: broker.core.connected == 1, timeout=5)
    assert [m.topic for m in watcher.messages] == ["wills/rude"]


async def test_v311_persistent_session_queues_while_away(broker: Broker, clients) -> None:
    sub = clients("durable", 4, clean_session=False)
    await sub.connect(broker.ports[0])
    await sub.subscribe("q/#", 1)
    sub.stop()
    await async_wait_until(lambda: broker.core.connected == 0, timeout=5)
    pub = clients("pub", 4)
    await pub.connect(broker.ports[0])
    for index in range(5):
        await pub.publish("q/x", str(index).encode(), 1)
    back = clients("durable", 4, clean_session=False)
    flags, _rc, _props = await back.connect(broker.ports[0])
    assert flags.session_present
    messages = await back.wait_messages(5)
    assert [m.payload for m in messages] == [b"0", b"1", b"2", b"3", b"4"]


async def test_v5_session_expiry_and_clean_start(broker: Broker, clients) -> None:
    sub = clients("durable5", 5)
    await sub.connect(broker.ports[0], clean=True, properties=connect_properties(SessionExpiryInterval=60))
    await sub.subscribe("q5", 2)
    sub.stop()
    pub = clients("pub", 5)
    await pub.connect(broker.ports[0])
    await pub.publish("q5", b"while-away", 2)
    back = clients("durable5", 5)
    flags, _rc, _props = await back.connect(
        broker.ports[0], clean=False, properties=connect_properties(SessionExpiryInterval=60)
    )
    assert flags.session_present
    [message] = await back.wait_messages(1)
    assert message.payload == b"while-away"
    back.stop()
    fresh = clients("durable5", 5)
    flags, _rc, _props = await fresh.connect(broker.ports[0], clean=True)
    assert not flags.session_present


async def test_shared_subscription_balances(broker: Broker, clients) -> None:
    members = [clients(f"worker{i}", 5) for i in range(3)]
    for member in members:
        await member.connect(broker.ports[0])
        await member.subscribe("$share/workers/jobs/#", 1)
    plain = clients("plain", 5)
    await plain.connect(broker.ports[0])
    await plain.subscribe("jobs/#", 1)
    pub = clients("pub", 5)
    await pub.connect(broker.ports[0])
    for index in range(30):
        await pub.publish(f"jobs/{index}", b"j", 1)
    await plain.wait_messages(30)
    await async_wait_until(lambda: sum(len(m.messages) for m in members) == 30, timeout=5)
    assert [len(m.messages) for m in members] == [10, 10, 10]


async def test_v5_properties_pass_through(broker: Broker, clients) -> None:
    sub = clients("sub", 5)
    await sub.connect(broker.ports[0])
    await sub.subscribe("req/#", 1)
    pub = clients("pub", 5)
    await pub.connect(broker.ports[0])
    props = publish_properties(
        ResponseTopic="resp/1",
        CorrelationData=b"\x01\x02",
        UserProperty=[("k", "v"), ("k", "w")],
        ContentType="application/json",
        PayloadFormatIndicator=1,
    )
    await pub.publish("req/a", b"{}", 1, properties=props)
    [message] = await sub.wait_messages(1)
    got = message.properties
    assert got.ResponseTopic == "resp/1"
    assert got.CorrelationData == b"\x01\x02"
    assert got.UserProperty == [("k", "v"), ("k", "w")]
    assert got.ContentType == "application/json"
    assert got.PayloadFormatIndicator == 1


async def test_v5_assigned_client_id_and_server_keep_alive(broker_factory: BrokerFactory, clients) -> None:
    broker = await broker_factory(max_keepalive=20)
    client = clients("", 5)
    _flags, rc, props = await client.connect(broker.ports[0], keepalive=600)
    assert rc == 0
    assert props.AssignedClientIdentifier.startswith("auto-")
    assert props.ServerKeepAlive == 20


async def test_v5_no_local_and_retain_as_published(broker: Broker, clients) -> None:
    me = clients("me", 5)
    await me.connect(broker.ports[0])
    await me.subscribe("nl/#", 1, noLocal=True)
    await me.subscribe("rap/#", 1, retainAsPublished=True)
    await me.publish("nl/x", b"mine", 1)
    other = clients("other", 5)
    await other.connect(broker.ports[0])
    await other.publish("nl/x", b"theirs", 1)
    await other.publish("rap/x", b"r", 1, retain=True)
    messages = await me.wait_messages(2)
    assert [(m.topic, m.payload, m.retain) for m in messages] == [
        ("nl/x", b"theirs", False),
        ("rap/x", b"r", True),
    ]


async def test_v5_retain_handling(broker: Broker, clients) -> None:
    pub = clients("pub", 5)
    await pub.connect(broker.ports[0])
    await pub.publish("rh/a", b"kept", 1, retain=True)
    sub = clients("sub", 5)
    await sub.connect(broker.ports[0])
    await sub.subscribe("rh/#", 1, retainHandling=2)  # never
    await sub.subscribe("rh/+", 1, retainHandling=1)  # only if new
    await sub.subscribe("rh/+", 1, retainHandling=1)  # not new: nothing
    await sub.subscribe("rh/a", 1, retainHandling=0)  # always
    await sub.subscribe("rh/a", 1, retainHandling=0)  # always, again
    messages = await sub.wait_messages(3)
    await pub.publish("rh/other", b"sync", 0)
    await async_wait_until(lambda: any(m.payload == b"sync" for m in sub.messages), timeout=5)
    assert [m.payload for m in sub.messages if m.retain] == [b"kept", b"kept", b"kept"]
    assert messages


async def test_v5_subscription_identifiers(broker: Broker, clients) -> None:
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    sub = clients("sub", 5)
    await sub.connect(broker.ports[0])
    for ident, flt in ((7, "si/#"), (9, "si/+")):
        props = Properties(PacketTypes.SUBSCRIBE)
        props.SubscriptionIdentifier = ident
        sub.client.subscribe(
            flt, options=__import__("paho.mqtt.client").mqtt.client.SubscribeOptions(qos=1), properties=props
        )
    await async_wait_until(lambda: len(sub.subacks) == 2, timeout=5)
    pub = clients("pub", 5)
    await pub.connect(broker.ports[0])
    await pub.publish("si/x", b"1", 1)
    [message] = await sub.wait_messages(1)
    assert sorted(message.properties.SubscriptionIdentifier) == [7, 9]


async def test_v5_message_expiry(broker: Broker, clients) -> None:
    pub = clients("pub", 5)
    await pub.connect(broker.ports[0])
    await pub.publish(
        "exp/a", b"short", 1, retain=True, properties=publish_properties(MessageExpiryInterval=1)
    )
    await pub.publish(
        "exp/b", b"long", 1, retain=True, properties=publish_properties(MessageExpiryInterval=100)
    )
    now = broker._loop.time()  # the core's clock: age the retained message instead of sleeping
    broker.core.retained.get("exp/a").expires_at = now - 0.01
    sub = clients("sub", 5)
    await sub.connect(broker.ports[0])
    await sub.subscribe("exp/#", 1)
    [message] = await sub.wait_messages(1)
    assert message.payload == b"long"
    assert 98 <= message.properties.MessageExpiryInterval <= 100


async def test_v5_topic_alias_from_client(broker: Broker, clients) -> None:
    sub = clients("sub", 5)
    await sub.connect(broker.ports[0])
    await sub.subscribe("alias/#", 0)
    pub = clients("pub", 5)
    await pub.connect(broker.ports[0])
    await pub.publish("alias/long/topic", b"1", 1, properties=publish_properties(TopicAlias=3))
    await pub.publish("", b"2", 1, properties=publish_properties(TopicAlias=3))
    messages = await sub.wait_messages(2)
    assert [(m.topic, m.payload) for m in messages] == [
        ("alias/long/topic", b"1"),
        ("alias/long/topic", b"2"),
    ]


async def test_v5_topic_alias_to_client(broker: Broker, clients, raw_mqtt) -> None:
    """paho 2.2 does not resolve incoming aliases, so the receiving side is a raw 5.0 client."""
    from gateway.broker.codec import Properties, Publish, Suback, Subscribe, SubscriptionRequest

    sub = await raw_mqtt(broker.ports[0], version=5)
    await sub.connect("alias-sub", properties=Properties(topic_alias_maximum=2))
    await sub.send_packet(Subscribe(1, (SubscriptionRequest("ta/#", 0),)))
    assert isinstance(await sub.read_packet(), Suback)
    pub = clients("pub", 5)
    await pub.connect(broker.ports[0])
    resolved: dict[int, str] = {}
    seen = []
    for topic in ("ta/a", "ta/b", "ta/c", "ta/a", "ta/b", "ta/c"):
        await pub.publish(topic, b"x", 1)
        packet = await sub.read_packet()
        assert isinstance(packet, Publish)
        alias = packet.properties.topic_alias
        if packet.topic and alias:
            resolved[alias] = packet.topic
        seen.append((packet.topic, alias, packet.topic or resolved[alias]))
    assert [s[2] for s in seen] == ["ta/a", "ta/b", "ta/c", "ta/a", "ta/b", "ta/c"]
    assert [s[1] for s in seen] == [1, 2, None, 1, 2, None]  # at most 2 aliases, as the client allowed
    assert [s[0] for s in seen] == ["ta/a", "ta/b", "ta/c", "", "", "ta/c"]
