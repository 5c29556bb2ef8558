"""QoS 2 in-flight session state across a restart of ``edge-gateway broker -c FILE`` [MQTT-4.4.0-1].

Both directions, with a clean stop (SIGTERM) and with kill -9 once the state is on disk:

- outgoing: a message the subscriber PUBRECed gets PUBREL (not the PUBLISH again) with the same packet id;
  one sent but not PUBRECed is resent with DUP and the same packet id;
- incoming: a QoS 2 packet id the broker PUBRECed but whose PUBREL it had not received yet still
  de-duplicates: the publisher's resend is acknowledged and not routed again, so the application (a paho
  subscriber) gets the message exactly once; the late PUBREL gets PUBCOMP 0x00, not 0x92.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from gateway.broker.codec import (
    Properties,
    Pubcomp,
    Publish,
    Pubrec,
    Pubrel,
    Suback,
    Subscribe,
    SubscriptionRequest,
)
from tests.broker.conftest import RawFactory
from tests.broker.persistence.conftest import MakeBroker, store_dir
from tests.broker.persistence.sync_paho import SyncClient
from tests.support.waiting import wait_until

SESSION = Properties(session_expiry_interval=3600)


def on_disk(data_dir: Path, sql: str) -> list[tuple[object, ...]]:
    """Read the live store with a separate read-only connection (WAL allows it while the broker writes)."""
    connection = sqlite3.connect(f"file:{data_dir / 'broker.sqlite3'}?mode=ro", uri=True)
    try:
        return list(connection.execute(sql))
    finally:
        connection.close()


@pytest.mark.timeout(180)
@pytest.mark.parametrize("how", ["sigterm", "kill-9"])
async def test_qos2_in_flight_state_survives_a_restart(
    broker_process: MakeBroker, raw_mqtt: RawFactory, how: str
) -> None:
    broker = broker_process()
    broker.start()
    app = SyncClient("app")
    app.connect(broker.port, clean=True, session_expiry=3600)
    assert [r.value for r in app.subscribe("in/#", 2)] == [2]
    sub = await raw_mqtt(broker.port, version=5)
    await sub.connect("raw-sub", properties=SESSION)
    await sub.send_packet(Subscribe(1, (SubscriptionRequest("out/#", 2),)))
    assert isinstance(await sub.read_packet(timeout=20), Suback)
    pub = await raw_mqtt(broker.port, version=5)
    await pub.connect("raw-pub", properties=SESSION)

    # Incoming: PUBRECed by the broker, PUBREL held back by the publisher.
    await pub.send_packet(Publish("in/1", b"once", 2, packet_id=31))
    assert await pub.read_packet(timeout=20) == Pubrec(31)
    assert [m.payload for m in app.wait_messages(1)] == [b"once"]
    app.disconnect()

    # Outgoing: two messages to raw-sub; the first PUBRECed (PUBREL pending), the second left unanswered.
    for pid, payload in ((41, b"first"), (42, b"second")):
        await pub.send_packet(Publish(f"out/{pid}", payload, 2, packet_id=pid))
        assert await pub.read_packet(timeout=20) == Pubrec(pid)
        await pub.send_packet(Pubrel(pid))
        assert await pub.read_packet(timeout=20) == Pubcomp(pid)
    first = await sub.read_packet(timeout=20)
    second = await sub.read_packet(timeout=20)
    assert isinstance(first, Publish) and isinstance(second, Publish)
    assert (first.payload, second.payload) == (b"first", b"second")
    await sub.send_packet(Pubrec(first.packet_id or 0))
    assert await sub.read_packet(timeout=20) == Pubrel(first.packet_id or 0)

    data_dir = store_dir(broker)
    if how == "kill-9":
        # No durability point is visible from outside: wait until the store has committed the state.
        wait_until(
            lambda: (
                sorted(
                    on_disk(data_dir, "SELECT packet_id, released FROM queued WHERE client_id = 'raw-sub'")
                )
                == sorted([(first.packet_id, 1), (second.packet_id, 0)])
                and on_disk(data_dir, "SELECT packet_id FROM inbound_qos2 WHERE client_id = 'raw-pub'")
                == [(31,)]
            ),
            timeout=30,
            message="the in-flight state committed",
        )
        broker.kill()
    else:
        assert broker.stop() == 0
    await sub.close()
    await pub.close()
    broker.start()

    back = await raw_mqtt(broker.port, version=5)
    assert (await back.connect("raw-sub", clean_start=False, properties=SESSION)).session_present
    assert await back.read_packet(timeout=20) == Pubrel(first.packet_id or 0)  # not the PUBLISH again
    resent = await back.read_packet(timeout=20)
    assert isinstance(resent, Publish) and resent.dup and resent.packet_id == second.packet_id
    assert resent.payload == b"second"
    await back.send_packet(Pubcomp(first.packet_id or 0))
    await back.send_packet(Pubrec(second.packet_id or 0))
    assert await back.read_packet(timeout=20) == Pubrel(second.packet_id or 0)
    await back.send_packet(Pubcomp(second.packet_id or 0))

    pub2 = await raw_mqtt(broker.port, version=5)
    assert (await pub2.connect("raw-pub", clean_start=False, properties=SESSION)).session_present
    await pub2.send_packet(Publish("in/1", b"once", 2, dup=True, packet_id=31))  # the publisher's resend
    assert await pub2.read_packet(timeout=20) == Pubrec(31)
    await pub2.send_packet(Pubrel(31))
    assert await pub2.read_packet(timeout=20) == Pubcomp(31)  # 0x92 would mean the state was lost

    app2 = SyncClient("app")
    flags, rc = app2.connect(broker.port, clean=False, session_expiry=3600)
    assert rc == 0 and flags.session_present
    # Markers after everything else: once they arrive, a duplicate would have arrived before them.
    await pub2.send_packet(Publish("in/marker", b"m", 1, packet_id=33))
    await pub2.send_packet(Publish("out/marker", b"m", 1, packet_id=34))
    marker = await back.read_packet(timeout=20)
    assert isinstance(marker, Publish) and marker.topic == "out/marker", f"unexpected {marker!r}"
    assert [m.topic for m in app2.wait_messages(1)] == ["in/marker"], "in/1 must reach the app once only"
    app2.disconnect()
    assert broker.stop() == 0
    assert "Traceback" not in broker.log
