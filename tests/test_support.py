"""The shared fixtures work as later tests rely on them."""

from __future__ import annotations

import socket
import threading
import time

import paho.mqtt.client as mqtt
import pytest

from tests.support.mosquitto import MosquittoProcess
from tests.support.ports import accepts_connections, bound_port
from tests.support.waiting import ConditionTimeoutError, async_wait_until, wait_until


def test_bound_port_reads_the_kernel_port() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = bound_port(sock)
        assert port > 0
        assert accepts_connections("127.0.0.1", port)


def test_wait_until_returns_the_value_and_times_out() -> None:
    start = time.monotonic()
    assert wait_until(lambda: time.monotonic() - start > 0.05 and "done", timeout=2) == "done"
    with pytest.raises(ConditionTimeoutError, match="the impossible"):
        wait_until(lambda: False, timeout=0.05, message="the impossible")


async def test_async_wait_until_accepts_coroutines() -> None:
    calls = 0

    async def ready() -> bool:
        nonlocal calls
        calls += 1
        return calls >= 3

    assert await async_wait_until(ready, timeout=2) is True
    with pytest.raises(ConditionTimeoutError):
        await async_wait_until(lambda: 0, timeout=0.05)


def _round_trip(broker: MosquittoProcess) -> bytes:
    received: list[bytes] = []
    subscribed = threading.Event()
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="fixture-check")
    client.on_message = lambda _c, _u, msg: received.append(msg.payload)
    client.on_subscribe = lambda *_args: subscribed.set()
    client.connect(broker.host, broker.port, keepalive=5)
    client.loop_start()
    try:
        client.subscribe("fixture/check", qos=1)
        assert subscribed.wait(5), "no SUBACK from mosquitto"
        client.publish("fixture/check", b"hello", qos=1)
        wait_until(lambda: received, timeout=5, message="the message to come back")
        return received[0]
    finally:
        client.disconnect()
        client.loop_stop()


@pytest.mark.timeout(30)
def test_mosquitto_fixture_serves_kills_and_restarts(mosquitto: MosquittoProcess) -> None:
    assert _round_trip(mosquitto) == b"hello"
    port = mosquitto.port
    mosquitto.kill()
    assert not accepts_connections("127.0.0.1", port)
    mosquitto.start()
    assert mosquitto.port == port
    assert _round_trip(mosquitto) == b"hello"


@pytest.mark.timeout(30)
def test_mosquitto_freeze_stops_answering(mosquitto: MosquittoProcess) -> None:
    mosquitto.freeze()
    try:
        # The listen socket still completes handshakes in the kernel, but no CONNACK comes back.
        with socket.create_connection((mosquitto.host, mosquitto.port), timeout=2) as sock:
            sock.sendall(bytes.fromhex("100c00044d5154540402003c0000"))
            sock.settimeout(0.5)
            with pytest.raises(TimeoutError):
                sock.recv(4)
    finally:
        mosquitto.thaw()
    assert _round_trip(mosquitto) == b"hello"
