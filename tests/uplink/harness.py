"""Shared pieces of the failover tests: a counting upstream subscriber and a numbered producer.

Every scenario produces a monotonically increasing test value through the Forwarder and counts, at
upstream subscribers on every broker, what arrived: zero lost, duplicates counted and reported.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import threading
from dataclasses import dataclass, field

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from gateway.uplink import Delivery, FailoverSettings, Forwarder, MqttVersion, OutboundMessage, ServerSettings
from tests.support.mosquitto import MosquittoProcess
from tests.support.waiting import async_wait_until, wait_until

TOPIC = "test/value"
FAST = FailoverSettings(
    connect_timeout=1.0,
    backoff_initial=0.05,
    backoff_max=0.5,
    hold_down=1.0,
    failback_probe_interval=0.2,
)


def server(
    broker: MosquittoProcess | int,
    *,
    name: str = "",
    keepalive: int = 2,
    version: MqttVersion = MqttVersion.V311,
) -> ServerSettings:
    port = broker if isinstance(broker, int) else broker.port
    return ServerSettings(
        host="127.0.0.1",
        port=port,
        keepalive=keepalive,
        version=version,
        client_id="gw-under-test",
        name=name,
    )


class CountingSubscriber:
    """QoS 1 subscribers on upstream brokers, collecting the integer payloads of ``TOPIC``."""

    def __init__(self) -> None:
        self.values: list[int] = []
        self._lock = threading.Lock()
        self._clients: list[mqtt.Client] = []
        self._counter = 0

    def watch(self, broker: MosquittoProcess) -> None:
        self._counter += 1
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=f"counter-{self._counter}", clean_session=True
        )
        subscribed = threading.Event()

        def on_connect(c: mqtt.Client, _u: object, _f: object, _rc: object, _p: object) -> None:
            c.subscribe(TOPIC, 1)

        def on_subscribe(*_args: object) -> None:
            subscribed.set()

        def on_message(_c: object, _u: object, message: mqtt.MQTTMessage) -> None:
            with self._lock:
                self.values.append(int(message.payload))

        client.on_connect = on_connect
        client.on_subscribe = on_subscribe
        client.on_message = on_message
        client.connect("127.0.0.1", broker.port, 30)
        client.loop_start()
        wait_until(subscribed.is_set, timeout=10, message="the counting subscriber's SUBACK")
        self._clients.append(client)

    def received(self) -> set[int]:
        with self._lock:
            return set(self.values)

    def duplicates(self) -> int:
        with self._lock:
            return len(self.values) - len(set(self.values))

    def close(self) -> None:
        for client in self._clients:
            with contextlib.suppress(Exception):
                client.disconnect()
            client.loop_stop()


@dataclass
class Producer:
    """Publishes 0, 1, 2, ... every ``period`` seconds through the forwarder and records the outcome."""

    forwarder: Forwarder
    period: float = 0.005
    qos: int = 1
    outcomes: dict[int, Delivery] = field(default_factory=dict)
    sent: int = 0
    _task: asyncio.Task[None] | None = None
    _pending: set[asyncio.Future[Delivery]] = field(default_factory=set)

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        while True:
            n = self.sent
            future = self.forwarder.publish(OutboundMessage(TOPIC, str(n).encode(), self.qos))
            self._pending.add(future)
            future.add_done_callback(lambda f, n=n: self._done(n, f))
            self.sent += 1
            await asyncio.sleep(self.period)

    def _done(self, n: int, future: asyncio.Future[Delivery]) -> None:
        self._pending.discard(future)
        self.outcomes[n] = future.result()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await async_wait_until(lambda: not self._pending, timeout=20, message="all publishes settled")

    def accepted(self) -> set[int]:
        """Numbers the producer may forget: acknowledged upstream or durably stored."""
        return {n for n, d in self.outcomes.items() if d in (Delivery.ACKED, Delivery.STORED, Delivery.SENT)}

    def counts(self) -> collections.Counter[Delivery]:
        return collections.Counter(self.outcomes.values())


async def assert_all_arrive(producer: Producer, counter: CountingSubscriber, *, timeout: float = 20.0) -> int:
    """Wait until every accepted value reached an upstream subscriber; return the duplicate count."""
    accepted = producer.accepted()
    assert accepted, "the producer had nothing accepted"

    def missing() -> set[int]:
        return accepted - counter.received()

    await async_wait_until(
        lambda: not missing(),
        timeout=timeout,
        message=lambda: f"{len(missing())} values lost, e.g. {sorted(missing())[:10]}",
    )
    duplicates = counter.duplicates()
    outcomes = dict(producer.counts())
    print(f"accepted {len(accepted)}, received {len(counter.values)}, dups {duplicates}, outcomes {outcomes}")
    return duplicates
