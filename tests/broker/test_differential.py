"""T10: differential fuzzing against mosquitto (two-party sequences, mutated by one byte).

Each case: a subscriber connects and sends a SUBSCRIBE, a publisher connects and sends a PUBLISH; either
packet may have one byte mutated (fixed seed). For each broker we record the *response class* of both
parties: what the subscriber got for its SUBSCRIBE, what the publisher got for its PUBLISH, and whether the
subscriber received the message. Our broker must never crash or hang; differences from mosquitto are written
to a JSON report (``differential-report.json`` in the test's tmp dir) and the test fails only on a difference
whose kind is not in ``differential_allowlist.json`` (each entry says why the difference is acceptable).
"""

from __future__ import annotations

import asyncio
import json
import random
from pathlib import Path
from typing import Any

import pytest

from gateway.broker import Broker
from gateway.broker.codec import (
    Connack,
    Disconnect,
    Packet,
    Puback,
    Publish,
    Pubrec,
    Suback,
    Subscribe,
    SubscriptionRequest,
    Unsuback,
    encode,
)
from gateway.broker.errors import ProtocolError
from tests.conftest import MosquittoFactory
from tests.support.raw_mqtt import RawMQTT

CASES = 500
ALLOWLIST = Path(__file__).with_name("differential_allowlist.json")


def _describe(packet: Packet) -> str:
    if isinstance(packet, Suback):
        return "SUBACK " + ",".join(f"{c:#04x}" for c in packet.reason_codes)
    if isinstance(packet, Puback | Pubrec):
        return f"{type(packet).__name__.upper()} {packet.reason_code:#04x}"
    if isinstance(packet, Disconnect):
        return f"DISCONNECT {packet.reason_code:#04x}"
    if isinstance(packet, Unsuback):
        return "UNSUBACK"
    if isinstance(packet, Publish):
        return f"PUBLISH {packet.topic}"
    if isinstance(packet, Connack):
        return f"CONNACK {packet.reason_code:#04x}"
    return type(packet).__name__.upper()


async def _response(raw: RawMQTT, wait: float) -> str:
    try:
        return _describe(await raw.read_packet(timeout=wait))
    except TimeoutError:
        return "nothing"
    except (asyncio.IncompleteReadError, ConnectionError, EOFError):
        return "close"
    except ProtocolError:
        return "undecodable"


def _make_cases(seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    cases = []
    for index in range(CASES):
        version = rng.choice((4, 5))
        shared = rng.random() < 0.3
        flt = f"$share/g{index}/d/{index}/#" if shared else f"d/{index}/#"
        subscribe = bytearray(encode(Subscribe(1, (SubscriptionRequest(flt, rng.randint(0, 2)),)), version))
        publish = bytearray(encode(Publish(f"d/{index}/x", b"m", rng.randint(0, 2), packet_id=2), version))
        if publish[0] & 0x06 == 0:
            publish = bytearray(encode(Publish(f"d/{index}/x", b"m", 0), version))
        target = rng.choice((subscribe, publish, None))
        if target is not None:
            position = rng.randrange(len(target))
            target[position] = rng.randrange(256)
        cases.append(
            {"index": index, "version": version, "subscribe": bytes(subscribe), "publish": bytes(publish)}
        )
    return cases


async def _run_case(port: int, case: dict[str, Any]) -> dict[str, str]:
    version = case["version"]
    sub = await RawMQTT.open(port, version=version)
    pub = await RawMQTT.open(port, version=version)
    try:
        await sub.connect(f"dsub{case['index']}")
        await pub.connect(f"dpub{case['index']}")
        await sub.send(case["subscribe"])
        subscribed = await _response(sub, 0.5)
        await pub.send(case["publish"])
        published = await _response(pub, 0.3)
        delivered = await _response(sub, 0.3)
        return {"subscribe": subscribed, "publish": published, "delivered": delivered}
    finally:
        await sub.close()
        await pub.close()


async def _run_all(port: int, cases: list[dict[str, Any]]) -> list[dict[str, str]]:
    results: list[dict[str, str]] = []
    for start in range(0, len(cases), 50):
        batch = cases[start : start + 50]
        results.extend(await asyncio.gather(*(_run_case(port, case) for case in batch)))
    return results


def _kind(ours: dict[str, str], theirs: dict[str, str]) -> str:
    """The first differing step, with reason codes but without topics (they name the case)."""
    first = next(k for k in ours if ours[k] != theirs[k])

    def short(text: str) -> str:
        return "PUBLISH" if text.startswith("PUBLISH") else text

    return f"{first}: ours={short(ours[first])} mosquitto={short(theirs[first])}"


@pytest.mark.slow
@pytest.mark.timeout(300)
async def test_differential_against_mosquitto(
    broker_factory: Any, mosquitto_factory: MosquittoFactory, tmp_path: Path
) -> None:
    broker: Broker = await broker_factory(connection_rate=1e6, connection_burst=1_000_000)
    reference = mosquitto_factory()
    cases = _make_cases(seed=10_000)
    ours = await _run_all(broker.ports[0], cases)
    theirs = await _run_all(reference.port, cases)
    allowed = {entry["kind"]: entry["why"] for entry in json.loads(ALLOWLIST.read_text())["allowed"]}
    report = []
    unexplained = []
    for case, mine, other in zip(cases, ours, theirs, strict=True):
        if mine == other:
            continue
        kind = _kind(mine, other)
        entry = {
            "case": case["index"],
            "version": case["version"],
            "subscribe": case["subscribe"].hex(" "),
            "publish": case["publish"].hex(" "),
            "ours": mine,
            "mosquitto": other,
            "kind": kind,
            "allowed": allowed.get(kind),
        }
        report.append(entry)
        if kind not in allowed:
            unexplained.append(entry)
    (tmp_path / "differential-report.json").write_text(json.dumps(report, indent=1))
    # Our broker stayed up and serves: one more clean case.
    clean = {
        "index": CASES,
        "version": 5,
        "subscribe": encode(Subscribe(1, (SubscriptionRequest("z/#", 1),)), 5),
        "publish": encode(Publish("z/1", b"m", 1, packet_id=2), 5),
    }
    assert await _run_case(broker.ports[0], clean) == {
        "subscribe": "SUBACK 0x01",
        "publish": "PUBACK 0x00",
        "delivered": "PUBLISH z/1",
    }
    assert not unexplained, json.dumps(sorted({e["kind"] for e in unexplained}), indent=1) + (
        f"\nsee {tmp_path / 'differential-report.json'}"
    )
