"""Catalogue T54: a lost link shorter than the session timeout re-activates the same session; a longer one
(or a server that forgot the session) ends in a new session. Real asyncua simulator, real TCP outage
through the fault proxy between the driver and the simulator."""

from __future__ import annotations

import dataclasses
import shutil
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from drivers import Quality
from drivers.opcua import OpcUaDriver, OpcUaServer, SecurityMode, SecurityPolicy
from drivers.simulators import OpcUaSimulator
from tests.drivers.support import Collector
from tests.support.fault_proxy import FaultProxy
from tests.support.waiting import async_wait_until

_BAD_SESSION = {0x80250000, 0x80260000}  # BadSessionIdInvalid, BadSessionClosed

FAST: dict[str, object] = {
    "publishing_interval": 0.05,
    "poll_interval": 0.1,
    "backoff_initial": 0.2,
    "backoff_max": 0.5,
    "watchdog_interval": 0.2,
    "request_timeout": 1.0,
}


@pytest.fixture
async def proxied() -> AsyncIterator[tuple[OpcUaSimulator, FaultProxy]]:
    async with OpcUaSimulator(update_interval=0.05, min_session_timeout=1.0) as sim:
        proxy = FaultProxy("127.0.0.1", sim.port).start()
        try:
            yield sim, proxy
        finally:
            proxy.stop()


def through(sim: OpcUaSimulator, proxy: FaultProxy, **kw: object) -> OpcUaServer:
    spec = sim.opcua_server("sim", **{**FAST, **kw})
    # a server-side queue per item, so changes sampled during the outage wait for the client (T54a)
    tags = tuple(dataclasses.replace(t, queue_size=100) for t in spec.tags)
    return dataclasses.replace(spec, endpoint=f"opc.tcp://127.0.0.1:{proxy.port}/", tags=tags)


def gap_marked(c: Collector, tag: str) -> None:
    """GOOD ... BAD ... GOOD in the stream of ``tag``."""
    qualities = [s.quality for s in c.of(tag)]
    first_bad = qualities.index(Quality.BAD)
    assert Quality.GOOD in qualities[:first_bad] and Quality.GOOD in qualities[first_bad:]


@pytest.mark.timeout(60)
async def test_t54a_short_outage_reactivates_the_same_session(
    proxied: tuple[OpcUaSimulator, FaultProxy],
) -> None:
    sim, proxy = proxied
    driver = OpcUaDriver("o", through(sim, proxy, session_timeout=20.0))
    async with Collector(driver) as c:
        await c.wait_count("Line1.Counter", 3)
        session_before = driver.session_id
        assert session_before is not None and sim.session_count() == 1
        proxy.blackhole()
        bad = await c.wait_seen("Line1.Counter", Quality.BAD, timeout=10)
        assert bad.error is not None
        # at least one re-activation attempt failed while the link was still down
        await async_wait_until(lambda: driver.reactivation_attempts >= 2, timeout=10)
        assert driver.reactivations == 0
        assert sim.session_count() == 1  # the server keeps the session (it has a subscription)
        healed_ms = int(time.time() * 1000)
        proxy.heal()
        await async_wait_until(lambda: driver.reactivations == 1, timeout=15)
        await c.wait_quality("Line1.Counter", Quality.GOOD, timeout=10)
        # the same session, the same subscription: nothing created anew, nothing duplicated
        assert driver.session_id == session_before
        assert driver.connects == 1
        assert driver.subscription_transfers == 1 and driver.subscriptions_created == 1
        assert sim.session_count() == 1 and sim.subscription_count() == 1
        assert driver.health().devices[0].reconnects == 1
        gap_marked(c, "Line1.Counter")
        # values the server sampled while the link was down arrive after it (queued server-side, or
        # republished), with their source timestamps: after the gap's BAD, stamped before the heal
        stream = c.of("Line1.Counter")
        first_bad = next(i for i, s in enumerate(stream) if s.quality is Quality.BAD)
        late = [
            s for s in stream[first_bad + 1 :] if s.quality is Quality.GOOD and s.timestamp_ms < healed_ms
        ]
        assert len(late) >= 2, [(s.quality.name, s.value, s.timestamp_ms - healed_ms) for s in stream]
        assert late[0].timestamp_ms >= stream[first_bad - 1].timestamp_ms
        # nothing delivered twice (republished and re-sent): the counter only goes up
        values = [s.value for s in c.of("Line1.Counter") if s.quality is Quality.GOOD]
        assert all(isinstance(v, int) for v in values)
        assert values == sorted(set(values)), values  # type: ignore[type-var]


@pytest.mark.timeout(60)
async def test_t54b_forgotten_session_falls_back_to_a_new_session(
    proxied: tuple[OpcUaSimulator, FaultProxy],
) -> None:
    """The server closes the session during the outage: ActivateSession is refused with
    BadSessionIdInvalid and the driver opens a new session and subscription."""
    sim, proxy = proxied
    driver = OpcUaDriver("o", through(sim, proxy, session_timeout=20.0))
    async with Collector(driver) as c:
        await c.wait_count("Line1.Counter", 3)
        session_before = driver.session_id
        proxy.blackhole()
        await c.wait_seen("Line1.Counter", Quality.BAD, timeout=10)
        assert await sim.expire_sessions() == 1
        proxy.heal()
        await async_wait_until(lambda: driver.connects == 2, timeout=15)
        await c.wait_quality("Line1.Counter", Quality.GOOD, timeout=10)
        assert driver.reactivations == 0 and driver.reactivation_attempts >= 1
        error = driver.last_error
        assert error is not None and error.code in _BAD_SESSION, error
        assert driver.session_id != session_before
        assert driver.subscriptions_created == 2 and driver.subscription_transfers == 0
        assert sim.session_count() == 1 and sim.subscription_count() == 1
        gap_marked(c, "Line1.Counter")


@pytest.mark.timeout(60)
async def test_t54b_outage_longer_than_the_session_timeout_opens_a_new_session(
    proxied: tuple[OpcUaSimulator, FaultProxy],
) -> None:
    """The server's own timeout expires the session (1 s granted) while the link is down."""
    sim, proxy = proxied
    driver = OpcUaDriver("o", through(sim, proxy, session_timeout=1.0))
    async with Collector(driver) as c:
        await c.wait_count("Line1.Counter", 3)
        session_before = driver.session_id
        proxy.blackhole()
        await c.wait_seen("Line1.Counter", Quality.BAD, timeout=10)
        await async_wait_until(lambda: sim.session_count() == 0, timeout=10)
        proxy.heal()
        await async_wait_until(lambda: driver.connects == 2, timeout=20)
        await c.wait_quality("Line1.Counter", Quality.GOOD, timeout=10)
        assert driver.reactivations == 0 and driver.reactivation_attempts >= 1
        assert driver.session_id != session_before
        assert sim.session_count() == 1 and sim.subscription_count() == 1
        gap_marked(c, "Line1.Counter")


@pytest.mark.timeout(90)
async def test_t54a_reactivation_over_sign_and_encrypt(tmp_path: Path) -> None:
    """The same session re-activated on a new Basic256Sha256 SignAndEncrypt channel."""
    async with OpcUaSimulator(
        update_interval=0.05, security=("sign_encrypt",), cert_dir=tmp_path / "server"
    ) as sim:
        trusted = tmp_path / "trusted"
        trusted.mkdir()
        shutil.copy(tmp_path / "server" / "server_cert.der", trusted / "server.der")
        proxy = FaultProxy("127.0.0.1", sim.port).start()
        try:
            spec = through(
                sim,
                proxy,
                session_timeout=20.0,
                data_dir=tmp_path / "gw",
                trust_dir=trusted,
                security_policy=SecurityPolicy.BASIC256SHA256,
                security_mode=SecurityMode.SIGN_AND_ENCRYPT,
            )
            driver = OpcUaDriver("o", spec)
            async with Collector(driver) as c:
                await c.wait_count("Line1.Counter", 3, timeout=20)
                session_before = driver.session_id
                proxy.blackhole()
                await c.wait_seen("Line1.Counter", Quality.BAD, timeout=10)
                proxy.heal()
                await async_wait_until(lambda: driver.reactivations == 1, timeout=20)
                await c.wait_quality("Line1.Counter", Quality.GOOD, timeout=10)
                assert driver.session_id == session_before and driver.connects == 1
                assert driver.subscription_transfers == 1
        finally:
            proxy.stop()
