"""Catalogue section H (T53, T55, T56) and OPC UA security: real asyncua servers on loopback."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from drivers import CertificateTrustError, DriverState, ErrorKind, Quality
from drivers.opcua import (
    OpcUaDriver,
    OpcUaServer,
    SecurityMode,
    SecurityPolicy,
    UserPassword,
    thumbprint,
)
from drivers.simulators import OpcUaSimulator
from tests.drivers.support import Collector
from tests.support.waiting import async_wait_until

FAST: dict[str, object] = {
    "publishing_interval": 0.05,
    "poll_interval": 0.1,
    "backoff_initial": 0.2,
    "backoff_max": 0.5,
    "watchdog_interval": 0.2,
    "request_timeout": 2.0,
}
SECURE: dict[str, object] = {
    "security_policy": SecurityPolicy.BASIC256SHA256,
    "security_mode": SecurityMode.SIGN_AND_ENCRYPT,
}


def server_spec(sim: OpcUaSimulator, **kw: object) -> OpcUaServer:
    return sim.opcua_server("sim", **{**FAST, **kw})


@pytest.mark.timeout(60)
async def test_t53_server_restart_marks_gap_and_recreates_one_subscription() -> None:
    sim = OpcUaSimulator(update_interval=0.05)
    await sim.start()
    port = sim.port
    driver = OpcUaDriver("o", server_spec(sim))
    async with Collector(driver) as c:
        await c.wait_quality("Line1.Counter", Quality.GOOD, timeout=10)
        await sim.stop()
        bad = await c.wait_quality("Line1.Counter", Quality.BAD, timeout=10)
        assert bad.error is not None and bad.value is None
        assert driver.health().state is DriverState.FAILED
        sim2 = OpcUaSimulator(port=port, update_interval=0.05)
        await sim2.start()
        try:
            await c.wait_quality("Line1.Counter", Quality.GOOD, timeout=15)
            assert sim2.subscription_count() == 1  # a new subscription, no duplicates
            assert driver.connection_losses == 1 and driver.connects == 2
            assert driver.health().devices[0].reconnects == 1
            # the gap is visible in the stream: GOOD ... BAD ... GOOD
            qualities = [s.quality for s in c.of("Line1.Counter")]
            first_bad = qualities.index(Quality.BAD)
            assert Quality.GOOD in qualities[:first_bad] and Quality.GOOD in qualities[first_bad:]
        finally:
            await sim2.stop()


@pytest.mark.timeout(60)
async def test_t56_stale_subscription_is_marked_and_recreated() -> None:
    async with OpcUaSimulator(update_interval=0.05) as sim:
        driver = OpcUaDriver("o", server_spec(sim, keepalive_count=3))
        async with Collector(driver) as c:
            await c.wait_count("Line1.Counter", 2)
            await sim.pause_publishing()
            stale = await c.wait_seen("Line1.Counter", Quality.STALE, timeout=10)
            assert stale.error is not None and stale.error.kind is ErrorKind.STALE
            assert stale.value is not None  # the last value is kept, marked stale
            await c.wait_quality("Line1.Counter", Quality.GOOD, timeout=10)
            assert driver.stale_events == 1 and driver.subscriptions_created == 2
            assert driver.connects == 1  # the session itself stayed up


@pytest.mark.timeout(60)
async def test_repeatedly_stale_subscriptions_fall_back_to_polling() -> None:
    async with OpcUaSimulator(update_interval=0.05) as sim:
        driver = OpcUaDriver("o", server_spec(sim, keepalive_count=3, fallback_after=1))
        async with Collector(driver) as c:
            await c.wait_count("Line1.Counter", 2)
            await sim.pause_publishing()
            await c.wait_seen("Line1.Counter", Quality.STALE, timeout=10)
            await async_wait_until(lambda: driver.polling_fallback, timeout=5)
            count = len(c.of("Line1.Counter"))
            await async_wait_until(lambda: len(c.of("Line1.Counter")) >= count + 3, timeout=5)
            assert c.latest["Line1.Counter"].quality is Quality.GOOD


@pytest.mark.timeout(60)
async def test_sign_and_encrypt_with_explicit_trust(tmp_path: Path) -> None:
    """T55 (1): an unknown server certificate is refused with its thumbprint and saved for the
    operator; once copied into the trust directory the next attempt connects."""
    async with OpcUaSimulator(security=("sign_encrypt",), cert_dir=tmp_path / "server") as sim:
        driver = OpcUaDriver("o", server_spec(sim, data_dir=tmp_path / "gw", **SECURE))
        async with Collector(driver) as c:
            await async_wait_until(lambda: isinstance(driver.last_error, CertificateTrustError), timeout=10)
            error = driver.last_error
            assert isinstance(error, CertificateTrustError)
            server_der = (tmp_path / "server" / "server_cert.der").read_bytes()
            assert error.thumbprint == thumbprint(server_der)
            assert error.thumbprint in str(error) and "trust directory" in (error.hint or "")
            assert error.saved_to is not None
            assert Path(error.saved_to).read_bytes() == server_der  # noqa: ASYNC240 (a test)
            bad = await c.wait_quality("Line1.Counter", Quality.BAD)
            assert bad.error is not None and bad.error.kind is ErrorKind.SECURITY
            # the client certificate was generated on first run into the data directory
            assert (tmp_path / "gw" / "opcua" / "pki" / "own" / "client_cert.der").exists()
            trusted = tmp_path / "gw" / "opcua" / "pki" / "trusted"
            trusted.mkdir(parents=True)
            shutil.copy(error.saved_to, trusted / "server.der")
            await c.wait_quality("Line1.Counter", Quality.GOOD, timeout=15)


@pytest.mark.timeout(60)
async def test_t55_server_certificate_changed_is_refused(tmp_path: Path) -> None:
    trusted = tmp_path / "trusted"
    async with OpcUaSimulator(security=("sign",), cert_dir=tmp_path / "old") as old:
        trusted.mkdir()
        shutil.copy(tmp_path / "old" / "server_cert.der", trusted / "old.der")
        port = old.port
        spec = server_spec(
            old,
            data_dir=tmp_path / "gw",
            trust_dir=trusted,
            security_policy=SecurityPolicy.BASIC256SHA256,
            security_mode=SecurityMode.SIGN,
        )
        driver = OpcUaDriver("o", spec)
        async with Collector(driver) as c:
            await c.wait_quality("Line1.Counter", Quality.GOOD, timeout=15)
    # the server comes back on the same port with a new self-signed certificate
    async with OpcUaSimulator(port=port, security=("sign",), cert_dir=tmp_path / "new"):
        driver = OpcUaDriver("o", spec)
        async with Collector(driver):
            await async_wait_until(lambda: isinstance(driver.last_error, CertificateTrustError), timeout=10)
            new_print = thumbprint((tmp_path / "new" / "server_cert.der").read_bytes())
            assert isinstance(driver.last_error, CertificateTrustError)
            assert driver.last_error.thumbprint == new_print


@pytest.mark.timeout(60)
async def test_t55_client_certificate_refused_by_server(tmp_path: Path) -> None:
    """T55 (2): the server does not trust our certificate: BadCertificateUntrusted surfaced as such."""
    async with OpcUaSimulator(
        security=("sign_encrypt",), cert_dir=tmp_path / "server", accept_client=lambda der: False
    ) as sim:
        trusted = tmp_path / "trusted"
        trusted.mkdir()
        shutil.copy(tmp_path / "server" / "server_cert.der", trusted / "server.der")
        driver = OpcUaDriver("o", server_spec(sim, data_dir=tmp_path / "gw", trust_dir=trusted, **SECURE))
        async with Collector(driver):
            await async_wait_until(lambda: driver.last_error is not None, timeout=15)
            error = driver.last_error
            assert error is not None and error.kind is ErrorKind.SECURITY, error
            assert "BadCertificateUntrusted" in str(error) or "BadSecurityChecksFailed" in str(error)


@pytest.mark.timeout(60)
async def test_t55_policy_mismatch_names_the_offered_policies(tmp_path: Path) -> None:
    """T55 (3): the server offers only Basic256Sha256 SignAndEncrypt, the config asks for None."""
    async with OpcUaSimulator(security=("sign_encrypt",), cert_dir=tmp_path / "server") as sim:
        driver = OpcUaDriver("o", server_spec(sim))
        async with Collector(driver) as c:
            await async_wait_until(lambda: driver.last_error is not None, timeout=10)
            error = driver.last_error
            assert error is not None and error.kind is ErrorKind.SECURITY
            assert "Basic256Sha256/SIGN_AND_ENCRYPT" in str(error) and "None" in str(error)
            await c.wait_quality("Line1.Counter", Quality.BAD)


@pytest.mark.timeout(60)
async def test_username_identity(tmp_path: Path) -> None:
    async with OpcUaSimulator(
        security=("sign_encrypt",), cert_dir=tmp_path / "server", users={"operator": "s3cret"}
    ) as sim:
        trusted = tmp_path / "trusted"
        trusted.mkdir()
        shutil.copy(tmp_path / "server" / "server_cert.der", trusted / "server.der")
        good = OpcUaDriver(
            "o",
            server_spec(
                sim,
                data_dir=tmp_path / "gw",
                trust_dir=trusted,
                identity=UserPassword("operator", "s3cret"),
                **SECURE,
            ),
        )
        async with Collector(good) as c:
            await c.wait_quality("Line1.Counter", Quality.GOOD, timeout=15)
        wrong = OpcUaDriver(
            "o",
            server_spec(
                sim,
                data_dir=tmp_path / "gw",
                trust_dir=trusted,
                identity=UserPassword("operator", "nope"),
                **SECURE,
            ),
        )
        async with Collector(wrong):
            await async_wait_until(lambda: wrong.last_error is not None, timeout=15)
            assert wrong.last_error is not None and wrong.last_error.kind is ErrorKind.SECURITY, (
                wrong.last_error
            )


@pytest.mark.timeout(60)
async def test_t54b_expired_session_gets_a_new_session_and_subscription() -> None:
    """T54 (b): the server drops the session (as after a long link-down): the driver notices,
    marks the gap and opens a new session with a new subscription. (T54 (a), re-activating the same
    session after a short outage, is not implemented: every failure opens a new session.)"""
    async with OpcUaSimulator(update_interval=0.05) as sim:
        driver = OpcUaDriver("o", server_spec(sim))
        async with Collector(driver) as c:
            await c.wait_count("Line1.Counter", 2)
            first_session = driver.session_id
            assert await sim.expire_sessions() == 1
            bad = await c.wait_seen("Line1.Counter", Quality.BAD, timeout=10)
            assert bad.error is not None
            await c.wait_quality("Line1.Counter", Quality.GOOD, timeout=10)
            assert driver.connects == 2 and driver.subscriptions_created == 2
            assert driver.session_id != first_session
            assert sim.subscription_count() == 1


@pytest.mark.timeout(60)
async def test_x509_user_identity(tmp_path: Path) -> None:
    from asyncua.crypto.cert_gen import setup_self_signed_certificate
    from cryptography.x509.oid import ExtendedKeyUsageOID

    from drivers.opcua import X509Identity

    user_cert, user_key = tmp_path / "user" / "cert.der", tmp_path / "user" / "key.pem"
    user_cert.parent.mkdir()
    await setup_self_signed_certificate(
        user_key, user_cert, "urn:operator", "localhost", [ExtendedKeyUsageOID.CLIENT_AUTH], {}
    )
    async with OpcUaSimulator(
        security=("sign_encrypt",), cert_dir=tmp_path / "server", user_certificates=[user_cert.read_bytes()]
    ) as sim:
        trusted = tmp_path / "trusted"
        trusted.mkdir()
        shutil.copy(tmp_path / "server" / "server_cert.der", trusted / "server.der")
        driver = OpcUaDriver(
            "o",
            server_spec(
                sim,
                data_dir=tmp_path / "gw",
                trust_dir=trusted,
                identity=X509Identity(user_cert, user_key),
                **SECURE,
            ),
        )
        async with Collector(driver) as c:
            await c.wait_quality("Line1.Counter", Quality.GOOD, timeout=15)
        anonymous = OpcUaDriver("o", server_spec(sim, data_dir=tmp_path / "gw", trust_dir=trusted, **SECURE))
        async with Collector(anonymous):
            await async_wait_until(lambda: anonymous.last_error is not None, timeout=15)
            assert anonymous.last_error is not None and anonymous.last_error.kind is ErrorKind.SECURITY


@pytest.mark.timeout(60)
async def test_trust_on_first_use_then_refuse_a_changed_certificate(tmp_path: Path) -> None:
    trusted = tmp_path / "trusted"
    async with OpcUaSimulator(security=("sign",), cert_dir=tmp_path / "first") as first:
        port = first.port
        spec = server_spec(
            first,
            data_dir=tmp_path / "gw",
            trust_dir=trusted,
            trust_on_first_use=True,
            security_policy=SecurityPolicy.BASIC256SHA256,
            security_mode=SecurityMode.SIGN,
        )
        async with Collector(OpcUaDriver("o", spec)) as c:
            await c.wait_quality("Line1.Counter", Quality.GOOD, timeout=15)
        assert [p.name for p in trusted.iterdir()] == [
            thumbprint((tmp_path / "first" / "server_cert.der").read_bytes()) + ".der"
        ]
    async with OpcUaSimulator(port=port, security=("sign",), cert_dir=tmp_path / "second"):
        driver = OpcUaDriver("o", spec)
        async with Collector(driver):
            await async_wait_until(lambda: isinstance(driver.last_error, CertificateTrustError), timeout=10)


@pytest.mark.timeout(60)
async def test_server_refusing_subscriptions_is_polled() -> None:
    async with OpcUaSimulator(update_interval=0.05, max_subscriptions=0) as sim:
        driver = OpcUaDriver("o", server_spec(sim))
        async with Collector(driver) as c:
            await c.wait_count("Line1.Counter", 3)
            assert driver.polling_fallback and driver.subscriptions_created == 0
            assert driver.last_error is not None and "BadTooManySubscriptions" in str(driver.last_error)
