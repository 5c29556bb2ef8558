"""A small synchronous paho wrapper for tests against a broker in another process (no event loop here)."""

from __future__ import annotations

import threading
import time
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from tests.support.waiting import wait_until


class SyncClient:
    def __init__(self, client_id: str, version: int = 5, **kwargs: Any) -> None:
        self.version = version
        protocol = mqtt.MQTTv5 if version == 5 else mqtt.MQTTv311
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id, protocol=protocol, **kwargs
        )
        self.lock = threading.Lock()
        self.messages: list[mqtt.MQTTMessage] = []
        self.connacks: list[tuple[Any, Any]] = []
        self.subacks: list[Any] = []
        self.acked: dict[int, tuple[float, int]] = {}
        self.client.on_connect = lambda c, u, flags, rc, props: self.connacks.append((flags, rc))
        self.client.on_subscribe = lambda c, u, mid, rcs, props: self.subacks.append(rcs)
        self.client.on_message = self._on_message
        self.client.on_publish = self._on_publish

    def _on_message(self, client: Any, userdata: Any, message: mqtt.MQTTMessage) -> None:
        with self.lock:
            self.messages.append(message)

    def _on_publish(self, client: Any, userdata: Any, mid: int, rc: Any, props: Any) -> None:
        with self.lock:
            self.acked[mid] = (time.monotonic(), rc.value if hasattr(rc, "value") else int(rc))

    def connect(self, port: int, *, clean: bool = True, session_expiry: int | None = None) -> Any:
        properties = None
        if self.version == 5 and session_expiry is not None:
            properties = Properties(PacketTypes.CONNECT)
            properties.SessionExpiryInterval = session_expiry
        if self.version == 5:
            self.client.connect_async("127.0.0.1", port, 30, clean_start=clean, properties=properties)
        else:
            self.client.connect_async("127.0.0.1", port, 30)
        self.client.loop_start()
        wait_until(lambda: self.connacks, timeout=30, message="CONNACK")
        return self.connacks[-1]

    def subscribe(self, topic: str, qos: int) -> Any:
        before = len(self.subacks)
        self.client.subscribe(topic, qos)
        wait_until(lambda: len(self.subacks) > before, timeout=30, message=f"SUBACK {topic}")
        return self.subacks[-1]

    def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> int:
        info = self.client.publish(topic, payload, qos, retain)
        return info.mid

    def wait_acked(self, mids: list[int], timeout: float = 30.0) -> None:
        wait_until(
            lambda: all(mid in self.acked for mid in mids),
            timeout=timeout,
            message=lambda: f"{len(mids)} acks, have {len(self.acked)}",
        )

    def wait_messages(self, count: int, timeout: float = 30.0) -> list[mqtt.MQTTMessage]:
        wait_until(
            lambda: len(self.messages) >= count,
            timeout=timeout,
            message=lambda: f"{count} messages, have {len(self.messages)}",
        )
        with self.lock:
            return list(self.messages)

    def disconnect(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def abandon(self) -> None:
        """Stop the network thread without DISCONNECT (the broker is gone anyway)."""
        self.client.loop_stop()
        sock = self.client.socket()
        if sock is not None:
            sock.close()
