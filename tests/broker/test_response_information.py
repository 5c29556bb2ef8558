"""Response Information in CONNACK for 5.0 clients that set Request Response Information [MQTT-3.1.2-28]."""

from __future__ import annotations

import pytest

from gateway.broker.codec import Properties
from tests.broker.conftest import BrokerFactory, RawFactory
from tests.broker.paho_client import PahoClient, connect_properties


@pytest.mark.parametrize(
    ("prefix", "requested", "expected"),
    [
        ("replies/", 1, "replies/asker/"),  # configured and requested: prefix + client id + "/"
        ("replies/", 0, None),  # not requested: never sent
        ("replies/", None, None),  # absent means 0
        (None, 1, None),  # not configured (the default): the server may send none [MQTT-3.1.2-28]
    ],
)
async def test_response_information_only_when_configured_and_requested(
    broker_factory: BrokerFactory,
    raw_mqtt: RawFactory,
    prefix: str | None,
    requested: int | None,
    expected: str | None,
) -> None:
    broker = await broker_factory(settings={"response_information": prefix})
    raw = await raw_mqtt(broker.ports[0], version=5)
    ack = await raw.connect("asker", properties=Properties(request_response_information=requested))
    assert ack.properties.response_information == expected


async def test_paho_sees_the_response_information(broker_factory: BrokerFactory) -> None:
    broker = await broker_factory(settings={"response_information": "gw/replies/"})
    client = PahoClient("paho-asker", 5)
    _flags, reason, props = await client.connect(
        broker.ports[0], properties=connect_properties(RequestResponseInformation=1)
    )
    client.stop()
    assert reason == 0 and props.ResponseInformation == "gw/replies/paho-asker/"


async def test_3_1_1_clients_never_get_properties(
    broker_factory: BrokerFactory, raw_mqtt: RawFactory
) -> None:
    broker = await broker_factory(settings={"response_information": "replies/"})
    raw = await raw_mqtt(broker.ports[0], version=4)
    ack = await raw.connect("old")
    assert ack.properties == Properties()
