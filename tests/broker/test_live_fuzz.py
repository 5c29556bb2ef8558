"""T9 (c): 3 000 sequences of a valid CONNECT then a valid packet with 1-3 bytes mutated, against the live
broker. It must stay alive, log no error, keep memory bounded, and serve a canary afterwards."""

from __future__ import annotations

import contextlib
import logging
import os
import random

import psutil
import pytest

from gateway.broker.codec import (
    Connect,
    Disconnect,
    Pingreq,
    Properties,
    Puback,
    Publish,
    Subscribe,
    SubscriptionRequest,
    Unsubscribe,
    encode,
)
from tests.broker.conftest import BrokerFactory, RawFactory
from tests.support.raw_mqtt import RawMQTT

SEQUENCES = 3000


def _packets(version: int) -> list[bytes]:
    props = Properties(user_properties=(("k", "v"),)) if version == 5 else Properties()
    return [
        encode(Publish("fuzz/a/b", b"payload", 0, properties=props), version),
        encode(Publish("fuzz/q1", b"p", 1, packet_id=3), version),
        encode(Publish("fuzz/q2", b"p", 2, packet_id=4, retain=True), version),
        encode(
            Subscribe(5, (SubscriptionRequest("fuzz/#", 1), SubscriptionRequest("$share/g/f/+", 0))), version
        ),
        encode(Unsubscribe(6, ("fuzz/#",)), version),
        encode(Puback(7), version),
        encode(Pingreq(), version),
        encode(Disconnect(), version),
    ]


@pytest.mark.timeout(180)
async def test_mutated_sequences(
    broker_factory: BrokerFactory, raw_mqtt: RawFactory, caplog: pytest.LogCaptureFixture
) -> None:
    # 3 000 connections in seconds from one address: lift the connection-rate limit (not under test here).
    broker = await broker_factory(connection_rate=1e6, connection_burst=1_000_000)
    caplog.set_level(logging.WARNING)
    rng = random.Random(20_260_611)
    connects = {v: encode(Connect(v, f"fz{v}", keep_alive=30), v) for v in (4, 5)}
    packets = {v: _packets(v) for v in (4, 5)}
    process = psutil.Process(os.getpid())
    rss_before = process.memory_info().rss
    port = broker.ports[0]
    for _ in range(SEQUENCES):
        version = rng.choice((4, 5))
        data = bytearray(rng.choice(packets[version]))
        for _ in range(rng.randint(1, 3)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        raw = await RawMQTT.open(port, version=version)
        with contextlib.suppress(ConnectionError):
            await raw.send(connects[version] + bytes(data))
        await raw.close()
    canary = await raw_mqtt(port)
    await canary.send_hex("10 0d 00 04 4d 51 54 54 04 02 00 3c 00 01 63")
    await canary.expect_hex("20 02 00 00")
    growth = process.memory_info().rss - rss_before
    assert growth < 20 * 1024 * 1024, f"RSS grew {growth / 1e6:.1f} MB"
    bad = [r for r in caplog.records if r.levelno >= logging.ERROR or "Traceback" in r.getMessage()]
    assert not bad, [r.getMessage() for r in bad[:5]]
