"""Interoperability with Debian's mosquitto_pub / mosquitto_sub (3.1.1 and 5.0), against our broker."""

from __future__ import annotations

import asyncio
import shutil

import pytest

from gateway.broker import Broker
from tests.support.waiting import async_wait_until

pytestmark = pytest.mark.skipif(
    shutil.which("mosquitto_sub") is None, reason="mosquitto-clients not installed"
)


async def _run(*args: str, timeout: float = 10.0, ok: tuple[int, ...] = (0,)) -> str:
    process = await asyncio.create_subprocess_exec(
        *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout)
    assert process.returncode in ok, f"{args[0]} exited {process.returncode}: {stderr.decode()}"
    return stdout.decode()


@pytest.mark.parametrize("version", ["mqttv311", "mqttv5"])
@pytest.mark.parametrize("qos", ["0", "1", "2"])
async def test_pub_sub(broker: Broker, version: str, qos: str) -> None:
    port = str(broker.ports[0])
    sub = asyncio.create_task(
        _run(
            "mosquitto_sub",
            "-p",
            port,
            "-V",
            version,
            "-t",
            "m/#",
            "-q",
            qos,
            "-C",
            "3",
            "-F",
            "%t %p %q",
            "-i",
            f"sub-{version}-{qos}",
        )
    )
    await async_wait_until(
        lambda: broker.core.router.count == 1, timeout=5, message="mosquitto_sub subscribed"
    )
    for index in range(3):
        await _run(
            "mosquitto_pub", "-p", port, "-V", version, "-t", f"m/{index}", "-m", f"v{index}", "-q", qos
        )
    output = await asyncio.wait_for(sub, 10)
    assert output.splitlines() == [f"m/{i} v{i} {qos}" for i in range(3)]


@pytest.mark.parametrize("version", ["mqttv311", "mqttv5"])
async def test_retained_and_clear(broker: Broker, version: str) -> None:
    port = str(broker.ports[0])
    await _run("mosquitto_pub", "-p", port, "-V", version, "-t", "r/a", "-m", "kept", "-r", "-q", "1")
    await _run("mosquitto_pub", "-p", port, "-V", version, "-t", "r/b", "-m", "gone", "-r", "-q", "1")
    await _run("mosquitto_pub", "-p", port, "-V", version, "-t", "r/b", "-n", "-r", "-q", "1")
    output = await _run("mosquitto_sub", "-p", port, "-V", version, "-t", "r/#", "-C", "1", "-F", "%t %p %r")
    assert output.splitlines() == ["r/a kept 1"]
    assert len(broker.core.retained) == 1


async def test_v5_user_properties_and_response_topic(broker: Broker) -> None:
    port = str(broker.ports[0])
    sub = asyncio.create_task(
        _run("mosquitto_sub", "-p", port, "-V", "mqttv5", "-t", "rq", "-C", "1", "-F", "%P|%p")
    )
    await async_wait_until(
        lambda: broker.core.router.count == 1, timeout=5, message="mosquitto_sub subscribed"
    )
    await _run(
        "mosquitto_pub",
        "-p",
        port,
        "-V",
        "mqttv5",
        "-t",
        "rq",
        "-m",
        "body",
        "-D",
        "publish",
        "user-property",
        "site",
        "north",
        "-D",
        "publish",
        "response-topic",
        "rs/1",
    )
    output = await asyncio.wait_for(sub, 10)
    assert output.strip() == "site:north|body"


async def test_sys_topics_visible_only_by_explicit_subscription(broker: Broker) -> None:
    broker.core.publish_sys(broker._loop.time())  # type: ignore[union-attr]
    port = str(broker.ports[0])
    output = await _run("mosquitto_sub", "-p", port, "-t", "$SYS/broker/version", "-C", "1", "-F", "%t %p")
    assert output.startswith("$SYS/broker/version edge-gateway")
    hidden = await _run("mosquitto_sub", "-p", port, "-t", "#", "-W", "1", "-F", "%t", ok=(27,))
    # -W 1: stop after 1 s (exit status 27, "timed out"); nothing may have arrived from $SYS
    assert "$SYS" not in hidden
