"""TLS listeners of the live broker with trustme certificates and paho clients (catalogue T23).

paho's handshake must not run on the event loop thread (the broker's side of the handshake runs there), so
clients use ``connect_async`` and paho's own thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
import trustme

from gateway.broker import Broker, BrokerSettings, ListenerSettings
from gateway.broker.auth import build_security
from gateway.broker.codec import Connect, encode
from gateway.broker.settings import TlsSettings
from gateway.broker.tls import TlsConfigError
from tests.broker.paho_client import PahoClient
from tests.broker.security.test_broker_security import ACL, USERS, write_security_files
from tests.support.waiting import async_wait_until


@pytest.fixture
def ca() -> trustme.CA:
    return trustme.CA()


def server_files(ca: trustme.CA, directory: Path) -> tuple[Path, Path, Path]:
    server = ca.issue_cert("127.0.0.1", "localhost")
    cert, key, ca_file = directory / "server.pem", directory / "server.key", directory / "ca.pem"
    server.cert_chain_pems[0].write_to_path(str(cert))
    server.private_key_pem.write_to_path(str(key))
    key.chmod(0o600)
    ca.cert_pem.write_to_path(str(ca_file))
    return cert, key, ca_file


StartTls = Callable[..., Awaitable[Broker]]


@pytest.fixture
async def tls_broker(ca: trustme.CA, tmp_path: Path) -> AsyncIterator[StartTls]:
    started: list[Broker] = []

    async def start(**tls_options: object) -> Broker:
        cert, key, ca_file = server_files(ca, tmp_path)
        passwd, acl = write_security_files(tmp_path, ACL)
        tls = TlsSettings(certfile=cert, keyfile=key, cafile=ca_file, **tls_options)  # type: ignore[arg-type]
        settings = BrokerSettings(
            listeners=(ListenerSettings(host="127.0.0.1", port=0, tls=tls),),
            password_file=passwd,
            acl_file=acl,
        )
        security = build_security(settings)
        broker = Broker(settings, authenticator=security.authenticator, authorizer=security.authorizer)
        await broker.start()
        started.append(broker)
        return broker

    yield start
    for broker in started:
        await broker.stop()


def client_context(ca: trustme.CA, leaf: trustme.LeafCert | None = None) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    ca.configure_trust(context)
    if leaf is not None:
        leaf.configure_cert(context)
    return context


async def tls_connect(client: PahoClient, port: int, context: ssl.SSLContext) -> object:
    client.client.tls_set_context(context)
    client.client.connect_async("127.0.0.1", port, 30)
    client.client.loop_start()
    await async_wait_until(lambda: client.connacks, timeout=10, message="CONNACK over TLS")
    return client.connacks[-1][1]


async def test_tls_listener_with_passwords(ca: trustme.CA, tls_broker: StartTls) -> None:
    broker = await tls_broker()
    op = PahoClient("op-tls", 5)
    op.client.username_pw_set("op", USERS["op"])
    try:
        assert await tls_connect(op, broker.ports[0], client_context(ca)) == 0
        assert [rc.value for rc in await op.subscribe("plant/line/+", 1)] == [1]
        await op.publish("plant/line/1", b"over tls", 1)
        [message] = await op.wait_messages(1)
        assert message.payload == b"over tls"
    finally:
        op.stop()
    wrong = PahoClient("wrong-tls", 5)
    wrong.client.username_pw_set("op", "nope")
    try:
        assert (await tls_connect(wrong, broker.ports[0], client_context(ca))).value == 0x86  # type: ignore[attr-defined]
    finally:
        wrong.stop()


@pytest.mark.parametrize("version", [4, 5])
async def test_certificate_cn_is_the_user_name(ca: trustme.CA, tls_broker: StartTls, version: int) -> None:
    broker = await tls_broker(require_certificate=True, use_identity_as_username=True)
    admin = PahoClient(f"cert-admin-{version}", version)
    stranger = PahoClient(f"cert-stranger-{version}", version)
    try:
        leaf = ca.issue_cert("admin@example.com", common_name="admin")
        assert await tls_connect(admin, broker.ports[0], client_context(ca, leaf)) == 0
        session = broker.core.sessions[f"cert-admin-{version}"]
        assert session.identity.username == "admin" and "admin" in session.identity.roles
        assert [rc.value for rc in await admin.subscribe("plant/#", 1)] == [1]
        other = ca.issue_cert("x@example.com", common_name="stranger")  # not in the ACL: default deny
        assert await tls_connect(stranger, broker.ports[0], client_context(ca, other)) == 0
        assert [rc.value for rc in await stranger.subscribe("plant/#", 1)] == [0x87 if version == 5 else 0x80]
    finally:
        admin.stop()
        stranger.stop()


@pytest.mark.parametrize("case", ["no_certificate", "other_ca"])
async def test_required_certificate_refuses_before_mqtt(
    ca: trustme.CA, tls_broker: StartTls, case: str
) -> None:
    broker = await tls_broker(require_certificate=True, use_identity_as_username=True)
    leaf = None if case == "no_certificate" else trustme.CA().issue_cert("m@example.com", common_name="admin")
    context = client_context(ca, leaf)
    with pytest.raises((ssl.SSLError, ConnectionError, EOFError)):
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection("127.0.0.1", broker.ports[0], ssl=context, server_hostname="127.0.0.1"),
            10,
        )
        try:
            writer.write(encode(Connect(5, "intruder", username="admin"), 5))
            await writer.drain()
            data = await asyncio.wait_for(reader.read(4), 10)
            if not data:
                raise EOFError("closed without CONNACK")
        finally:
            writer.close()
            with contextlib.suppress(ssl.SSLError, ConnectionError):
                await writer.wait_closed()
    assert "intruder" not in broker.core.sessions and broker.core.connected == 0


async def test_key_that_does_not_match_the_certificate_stops_start_up(ca: trustme.CA, tmp_path: Path) -> None:
    cert, _key, _ca_file = server_files(ca, tmp_path)
    other_key = tmp_path / "other.key"
    ca.issue_cert("localhost").private_key_pem.write_to_path(str(other_key))
    settings = BrokerSettings(
        listeners=(
            ListenerSettings(host="127.0.0.1", port=0, tls=TlsSettings(certfile=cert, keyfile=other_key)),
        ),
        allow_anonymous=True,
    )
    broker = Broker(settings)
    with pytest.raises(TlsConfigError, match="does not belong to the certificate"):
        await broker.start()
