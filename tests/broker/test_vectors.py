"""T1: replay of malformed-packet vectors (tests/vectors/*.json), each on a fresh connection.

After every vector the broker must be alive and hold no state from it (no connection, no session); the
expected answer is exact: a CONNACK or DISCONNECT reason code on 5.0, a close on 3.1.1, within 1 s.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from gateway.broker import Broker
from gateway.broker.codec import Connack, Puback
from tests.broker.conftest import RawFactory
from tests.support.raw_mqtt import unhex
from tests.support.waiting import async_wait_until

VECTORS = Path(__file__).parent.parent / "vectors"


def _cases() -> list[Any]:
    params = []
    for path in sorted(VECTORS.glob("*.json")):
        for case in json.loads(path.read_text())["cases"]:
            params.append(pytest.param(case, id=f"{path.stem}: {case['name']}"))
    return params


@pytest.mark.parametrize("case", _cases())
async def test_vector(broker: Broker, raw_mqtt: RawFactory, case: dict[str, Any]) -> None:
    raw = await raw_mqtt(broker.ports[0], version=case["version"])
    for chunk in case["send"]:
        await raw.send(unhex(chunk))
    for expected in case["expect"]:
        if "packet" in expected:
            await raw.expect_hex(expected["packet"], timeout=1.0)
        elif "connack" in expected:
            packet = await raw.read_packet(1.0)
            assert isinstance(packet, Connack), packet
            assert packet.reason_code == expected["connack"], f"CONNACK {packet.reason_code:#x}"
        elif "puback" in expected:
            packet = await raw.read_packet(1.0)
            assert isinstance(packet, Puback), packet
            assert [packet.packet_id, packet.reason_code] == expected["puback"]
        elif "disconnect" in expected:
            await raw.expect_disconnect(expected["disconnect"], within=1.0)
        else:
            assert expected == {"close": True}
            await raw.expect_closed(1.0)
    await raw.close()
    core = broker.core
    await async_wait_until(
        lambda: not core.connections and core.connected == 0 and not core.sessions,
        timeout=2,
        message=lambda: (
            f"state back to baseline: {len(core.connections)} sockets, {len(core.sessions)} sessions"
        ),
    )


async def test_broker_serves_after_every_vector(broker: Broker, raw_mqtt: RawFactory) -> None:
    """Every vector replayed on fresh sockets, then a canary round-trip still works."""
    for param in _cases():
        case = param.values[0]
        raw = await raw_mqtt(broker.ports[0], version=case["version"])
        for chunk in case["send"]:
            await raw.send(unhex(chunk))
        await raw.close()
    canary = await raw_mqtt(broker.ports[0])
    await canary.send_hex("10 0d 00 04 4d 51 54 54 04 02 00 3c 00 01 63")
    await canary.expect_hex("20 02 00 00")
    await canary.send_hex("82 06 00 01 00 01 63 00 30 04 00 01 63 21")
    await canary.expect_hex("90 03 00 01 00")
    await canary.expect_hex("30 04 00 01 63 21")
