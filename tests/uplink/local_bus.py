"""A LocalBus backed by a real mosquitto, standing in for the embedded broker in bridge tests.

It is an MQTT 5 client of the local broker: subscriptions use No Local, which is exactly the LocalBus
contract (never hand back what this object published), and Retain As Published, so the bridge sees the
publisher's retain flag (the embedded broker's adapter must pass it on too); callbacks are marshalled
to the event loop.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.subscribeoptions import SubscribeOptions

from gateway.uplink import LocalMessage
from tests.support.waiting import wait_until


class MqttLocalBus:
    def __init__(self, port: int, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._callbacks: list[tuple[str, Callable[[LocalMessage], None]]] = []
        self._client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="local-bus", protocol=mqtt.MQTTv5)
        self._client.on_message = self._on_message
        self._subscribed: dict[int, threading.Event] = {}
        self._client.on_subscribe = lambda _c, _u, mid, *_: self._subscribed.setdefault(
            mid, threading.Event()
        ).set()
        self._client.connect("127.0.0.1", port, 30)
        self._client.loop_start()
        wait_until(self._client.is_connected, timeout=10, message="local bus connected")

    def publish_local(self, topic: str, payload: bytes, qos: int, retain: bool) -> None:
        self._client.publish(topic, payload, qos, retain)

    def subscribe_local(self, topic_filter: str, qos: int, callback: Callable[[LocalMessage], None]) -> None:
        self._callbacks.append((topic_filter, callback))
        _rc, mid = self._client.subscribe(
            topic_filter, options=SubscribeOptions(qos=qos, noLocal=True, retainAsPublished=True)
        )
        assert mid is not None
        wait_until(lambda: self._subscribed.get(mid, threading.Event()).is_set(), timeout=10)

    def _on_message(self, _c: object, _u: object, message: mqtt.MQTTMessage) -> None:
        local = LocalMessage(message.topic, bytes(message.payload), message.qos, bool(message.retain))
        for topic_filter, callback in self._callbacks:
            if mqtt.topic_matches_sub(topic_filter, message.topic):
                self._loop.call_soon_threadsafe(callback, local)
                break

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()
