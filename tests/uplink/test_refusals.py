"""Catalogue T45: refusals and backoff, measured at the refusing servers.

Scripted MQTT 5 servers (raw asyncio on loopback) answer every CONNECT with a CONNACK refusal and record
when each CONNECT arrived; a real mosquitto with a password file refuses our credentials. Checked: a
refusal moves to the next server; busy/unavailable servers get a jittered exponential backoff that
grows and is capped (the exact delays follow from the seeded random generator); a server is never
connected to twice within ``backoff_initial``; rejected credentials are retried only after
``credentials_backoff`` and shown as their own status.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import getpass
import itertools
import random
import time
from pathlib import Path

import pytest

from gateway.store import MessageStore
from gateway.uplink import (
    FailoverSettings,
    Forwarder,
    ForwardingSession,
    MqttVersion,
    SwitchReason,
    Uplink,
    UplinkState,
)
from tests.support.waiting import async_wait_until
from tests.uplink.harness import server
from tests.uplink.test_hostile_upstream import read_connect

SERVER_UNAVAILABLE = 0x88
SERVER_BUSY = 0x89
BAD_USER_NAME_OR_PASSWORD = 0x86
NOT_AUTHORIZED = 0x87


class RefusingServer:
    """Answers every MQTT 5 CONNECT with a CONNACK carrying ``code``; records arrival times."""

    def __init__(self, code: int) -> None:
        self.code = code
        self.connects: list[float] = []
        self._server: asyncio.Server | None = None

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        return int(self._server.sockets[0].getsockname()[1])

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            await read_connect(reader)
            self.connects.append(time.monotonic())
            writer.write(bytes([0x20, 0x03, 0x00, self.code, 0x00]))  # CONNACK: flags, reason, no props
            await writer.drain()
            await reader.read()  # the client closes after a refusal
        writer.close()

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


def gaps(times: list[float]) -> list[float]:
    return [b - a for a, b in itertools.pairwise(times)]


@contextlib.asynccontextmanager
async def running(servers: list, settings: FailoverSettings, tmp_path: Path, seed: int):  # type: ignore[no-untyped-def]
    store = MessageStore(tmp_path / "sf.db", commit_interval=0.01)
    await store.open()
    forwarder = Forwarder(store)
    uplink = Uplink(servers, ForwardingSession(forwarder), settings, rng=random.Random(seed))
    task = asyncio.create_task(uplink.run())
    try:
        yield uplink
    finally:
        await uplink.stop()
        await asyncio.wait_for(task, 10)
        await forwarder.aclose()
        await store.close()


@pytest.mark.timeout(60)
async def test_busy_servers_get_a_jittered_exponential_backoff_that_is_capped(tmp_path: Path) -> None:
    busy, unavailable = RefusingServer(SERVER_BUSY), RefusingServer(SERVER_UNAVAILABLE)
    ports = [await busy.start(), await unavailable.start()]
    settings = FailoverSettings(
        connect_timeout=2.0, backoff_initial=0.1, backoff_max=0.4, backoff_jitter=0.5, hold_down=None
    )
    servers = [server(p, name=n, version=MqttVersion.V5) for p, n in zip(ports, "AB", strict=True)]
    attempts = 12
    try:
        async with running(servers, settings, tmp_path, seed=7) as uplink:
            await async_wait_until(
                lambda: len(busy.connects) + len(unavailable.connects) >= attempts,
                timeout=30,
                message=lambda: f"{attempts} attempts, status {uplink.status()}",
            )
            status = uplink.status()
            assert status.state is not UplinkState.ONLINE
            assert status.last_failure is SwitchReason.REFUSED, status
            assert "refused" in status.last_error
        connects = sorted([(t, "A") for t in busy.connects] + [(t, "B") for t in unavailable.connects])
        # Every refusal moves to the next server.
        assert [name for _, name in connects[:attempts]] == ["A", "B"] * (attempts // 2)
        # The delays the plan drew: after failure f (1-based), base = 0 on the first pass over the two
        # servers, then 0.1 * 2**((f-1)//2) capped at 0.4, times (1 - 0.5 * r) with r from the seeded rng.
        rng = random.Random(7)
        expected = []
        for failure in range(1, attempts):
            base = 0.0 if failure < 2 else min(0.4, 0.1 * 2 ** ((failure - 1) // 2))
            expected.append(base * (1 - 0.5 * rng.random()))
        measured = gaps([t for t, _ in connects[:attempts]])
        for failure, (gap, delay) in enumerate(zip(measured, expected, strict=True), start=1):
            floor = delay if failure >= 2 else 0.0
            assert gap >= floor - 0.01, (failure, gap, delay)  # never sooner than the drawn delay
            assert gap <= delay + 0.6, (failure, gap, delay)  # and not much later (loaded machine)
        assert max(measured) < 1.0  # capped: uncapped, the 11th delay would be 0.1 * 2**5 = 3.2 s
        assert len({round(d, 3) for d in expected[4:]}) > 1  # the capped delays are jittered
        # Never two connects to the same server within backoff_initial.
        for times in (busy.connects, unavailable.connects):
            assert min(gaps(times)) >= settings.backoff_initial - 0.01
    finally:
        await busy.close()
        await unavailable.close()


@pytest.mark.timeout(60)
async def test_rejected_credentials_are_retried_slowly_and_reported(tmp_path: Path) -> None:
    bad_password, not_authorized = RefusingServer(BAD_USER_NAME_OR_PASSWORD), RefusingServer(NOT_AUTHORIZED)
    ports = [await bad_password.start(), await not_authorized.start()]
    settings = FailoverSettings(
        connect_timeout=2.0, backoff_initial=0.05, backoff_max=0.1, credentials_backoff=1.0, hold_down=None
    )
    servers = [server(p, name=n, version=MqttVersion.V5) for p, n in zip(ports, "AB", strict=True)]
    try:
        async with running(servers, settings, tmp_path, seed=3) as uplink:
            await async_wait_until(
                lambda: len(bad_password.connects) >= 3 and len(not_authorized.connects) >= 3,
                timeout=30,
                message=lambda: f"three attempts each, status {uplink.status()}",
            )
            status = uplink.status()
            assert status.last_failure is SwitchReason.CREDENTIALS, status
        for times in (bad_password.connects, not_authorized.connects):
            assert min(gaps(times)) >= settings.credentials_backoff - 0.01, gaps(times)
    finally:
        await bad_password.close()
        await not_authorized.close()


@pytest.mark.timeout(60)
@pytest.mark.parametrize("version", [MqttVersion.V311, MqttVersion.V5])
async def test_mosquitto_refusing_our_password_moves_to_the_next_server(
    version: MqttVersion, mosquitto_factory, tmp_path: Path
) -> None:
    password_file = tmp_path / "passwords"
    password_file.write_text("")
    proc = await asyncio.create_subprocess_exec(
        "mosquitto_passwd", "-b", str(password_file), "gateway", "the-right-one"
    )
    assert await proc.wait() == 0
    # mosquitto started as root reads the password file after dropping to its own user, which cannot
    # enter pytest's private tmp directory: keep the user we run as (ignored when not root).
    whoami = getpass.getuser()
    strict = mosquitto_factory([f"user {whoami}", f"password_file {password_file}", "allow_anonymous false"])
    lenient = mosquitto_factory()
    servers = [
        dataclasses.replace(
            server(broker, name=name, version=version), username="gateway", password="a-wrong-one"
        )
        for broker, name in ((strict, "A"), (lenient, "B"))
    ]
    settings = FailoverSettings(
        connect_timeout=2.0, backoff_initial=0.05, credentials_backoff=30.0, hold_down=None
    )
    async with running(servers, settings, tmp_path, seed=1) as uplink:
        await async_wait_until(
            lambda: uplink.status().state is UplinkState.ONLINE and uplink.status().server == "B",
            timeout=20,
            message=lambda: f"online on B, status {uplink.status()}",
        )
        first = uplink.status().switches[0]
        assert first.to_server == "B" and first.attempts == 2
        assert "refused" in first.detail, first
        assert uplink.status().last_failure is None  # healthy again
