"""A paho-mqtt client wrapper for tests against a broker in the test's own event loop.

paho runs its network loop in its own thread (``loop_start``); callbacks append to thread-safe lists, and
tests wait on those with ``async_wait_until`` so the event loop (and the broker in it) keeps running.
"""

from __future__ import annotations

import threading
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from tests.support.waiting import async_wait_until


class PahoClient:
    """One paho client; ``version`` is 4 (3.1.1) or 5."""

    def __init__(self, client_id: str, version: int = 5, **kwargs: Any) -> None:
        protocol = mqtt.MQTTv5 if version == 5 else mqtt.MQTTv311
        self.version = version
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id, protocol=protocol, **kwargs
        )
        self.messages: list[mqtt.MQTTMessage] = []
        self.connacks: list[tuple[Any, Any, Any]] = []
        self.disconnects: list[Any] = []
        self.subacks: list[Any] = []
        self.acked: set[int] = set()
        self._lock = threading.Lock()
        self.client.on_message = self._on_message
        self.client.on_connect = lambda c, u, flags, rc, props: self.connacks.append((flags, rc, props))
        self.client.on_disconnect = lambda c, u, flags, rc, props: self.disconnects.append(rc)
        self.client.on_subscribe = lambda c, u, mid, rcs, props: self.subacks.append(rcs)
        self.client.on_publish = lambda c, u, mid, rc, props: self.acked.add(mid)

    def _on_message(self, client: Any, userdata: Any, message: mqtt.MQTTMessage) -> None:
        with self._lock:
            self.messages.append(message)

    async def connect(
        self, port: int, *, keepalive: int = 30, clean: bool = True, properties: Properties | None = None
    ) -> Any:
        if self.version == 5:
            self.client.connect("127.0.0.1", port, keepalive, clean_start=clean, properties=properties)
        else:
            self.client.connect("127.0.0.1", port, keepalive)
        self.client.loop_start()
        await async_wait_until(lambda: self.connacks, timeout=20, message="CONNACK")
        return self.connacks[-1]

    async def subscribe(self, topic: str, qos: int = 0, **kwargs: Any) -> Any:
        before = len(self.subacks)
        if self.version == 5:
            options = mqtt.SubscribeOptions(qos=qos, **kwargs)
            self.client.subscribe(topic, options=options, properties=kwargs.get("properties"))
        else:
            self.client.subscribe(topic, qos)
        await async_wait_until(lambda: len(self.subacks) > before, timeout=20, message=f"SUBACK for {topic}")
        return self.subacks[-1]

    async def publish(
        self,
        topic: str,
        payload: bytes | str,
        qos: int = 0,
        retain: bool = False,
        properties: Properties | None = None,
    ) -> None:
        info = self.client.publish(topic, payload, qos, retain, properties)
        if qos:
            await async_wait_until(lambda: info.mid in self.acked, timeout=20, message=f"ack of {topic}")

    async def wait_messages(self, count: int, timeout: float = 20.0) -> list[mqtt.MQTTMessage]:
        await async_wait_until(
            lambda: len(self.messages) >= count,
            timeout=timeout,
            message=lambda: f"{count} messages, have {len(self.messages)}",
        )
        return list(self.messages)

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def kill(self) -> None:
        """Drop the TCP connection without DISCONNECT (a network failure seen by the broker)."""
        sock = self.client.socket()
        self.client.loop_stop()
        if sock is not None:
            sock.close()


def publish_properties(**values: Any) -> Properties:
    props = Properties(PacketTypes.PUBLISH)
    for key, value in values.items():
        setattr(props, key, value)
    return props


def connect_properties(**values: Any) -> Properties:
    props = Properties(PacketTypes.CONNECT)
    for key, value in values.items():
        setattr(props, key, value)
    return props
