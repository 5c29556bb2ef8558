"""TLS contexts from real certificate files made by trustme, checked by real handshakes (catalogue T23)."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import ssl
import warnings
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from gateway.broker.tls import TlsConfigError, build_server_context, peer_common_name


@dataclass
class Pki:
    ca: trustme.CA
    other_ca: trustme.CA
    dir: Path
    server_cert: Path = field(init=False)
    server_key: Path = field(init=False)
    ca_file: Path = field(init=False)

    def __post_init__(self) -> None:
        server = self.ca.issue_cert("localhost", "127.0.0.1")
        self.server_cert = self.dir / "server.pem"
        self.server_key = self.dir / "server.key"
        server.cert_chain_pems[0].write_to_path(str(self.server_cert))
        server.private_key_pem.write_to_path(str(self.server_key))
        self.server_key.chmod(0o600)
        self.ca_file = self.dir / "ca.pem"
        self.ca.cert_pem.write_to_path(str(self.ca_file))

    def client_context(
        self, leaf: trustme.LeafCert | None = None, *, maximum: ssl.TLSVersion | None = None
    ) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
        self.ca.configure_trust(context)
        if leaf is not None:
            leaf.configure_cert(context)
        if maximum is not None:
            # Deliberately configure a deprecated protocol: the test proves the server refuses it.
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                context.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
                context.maximum_version = maximum
        return context


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    return Pki(trustme.CA(), trustme.CA(), tmp_path)


@dataclass
class Server:
    port: int
    seen: list[str | None]


@pytest.fixture
async def serve() -> AsyncIterator[object]:
    servers: list[asyncio.Server] = []

    async def start(context: ssl.SSLContext) -> Server:
        seen: list[str | None] = []

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            seen.append(peer_common_name(writer.get_extra_info("ssl_object")))
            writer.write(b"hello")
            await writer.drain()
            writer.close()

        server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=context, ssl_handshake_timeout=5)
        servers.append(server)
        return Server(server.sockets[0].getsockname()[1], seen)

    yield start
    for server in servers:
        server.close()
        await server.wait_closed()


async def exchange(port: int, context: ssl.SSLContext) -> bytes:
    """Connect and read the greeting; raise if the handshake fails.

    In TLS 1.3 a refused client certificate shows only on the first read.
    """
    reader, writer = await asyncio.wait_for(
        asyncio.open_connection("127.0.0.1", port, ssl=context, server_hostname="localhost"), 10
    )
    try:
        data = await asyncio.wait_for(reader.read(5), 10)
    finally:
        writer.close()
        # The server may tear the connection down mid-shutdown: what is under test happened above.
        with contextlib.suppress(ssl.SSLError, ConnectionError):
            await writer.wait_closed()
    if not data:
        raise ConnectionResetError("closed without a greeting")
    return data


async def test_server_certificate_without_client_certificates(pki: Pki, serve: object) -> None:
    context = build_server_context(cert_file=pki.server_cert, key_file=pki.server_key)
    assert context.minimum_version is ssl.TLSVersion.TLSv1_2 and context.verify_mode is ssl.CERT_NONE
    server = await serve(context)  # type: ignore[operator]
    assert await exchange(server.port, pki.client_context()) == b"hello"
    assert server.seen == [None]


async def test_required_client_certificate_maps_its_cn(pki: Pki, serve: object) -> None:
    context = build_server_context(
        cert_file=pki.server_cert,
        key_file=pki.server_key,
        ca_file=pki.ca_file,
        require_client_certificate=True,
    )
    server = await serve(context)  # type: ignore[operator]
    alice = pki.ca.issue_cert("alice@example.com", common_name="alice")
    assert await exchange(server.port, pki.client_context(alice)) == b"hello"
    assert server.seen == ["alice"]


@pytest.mark.parametrize("case", ["no_certificate", "other_ca", "expired"])
async def test_bad_client_certificates_fail_the_handshake(pki: Pki, serve: object, case: str) -> None:
    context = build_server_context(
        cert_file=pki.server_cert,
        key_file=pki.server_key,
        ca_file=pki.ca_file,
        require_client_certificate=True,
    )
    server = await serve(context)  # type: ignore[operator]
    leaf: trustme.LeafCert | None
    if case == "no_certificate":
        leaf = None
    elif case == "other_ca":
        leaf = pki.other_ca.issue_cert("mallory@example.com", common_name="alice")
    else:
        past = dt.datetime.now(dt.UTC) - dt.timedelta(days=10)
        leaf = pki.ca.issue_cert(
            "old@example.com", common_name="alice", not_before=past, not_after=past + dt.timedelta(days=1)
        )
    with pytest.raises((ssl.SSLError, ConnectionError)):
        await exchange(server.port, pki.client_context(leaf))
    assert server.seen == [], "no connection may reach the application after a failed handshake"


async def test_revoked_client_certificate_fails_with_a_crl(pki: Pki, serve: object, tmp_path: Path) -> None:
    revoked = pki.ca.issue_cert("old@example.com", common_name="revoked")
    good = pki.ca.issue_cert("new@example.com", common_name="good")
    ca_key = serialization.load_pem_private_key(pki.ca.private_key_pem.bytes(), password=None)
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    ca_cert = x509.load_pem_x509_certificate(pki.ca.cert_pem.bytes())
    revoked_serial = x509.load_pem_x509_certificate(revoked.cert_chain_pems[0].bytes()).serial_number
    now = dt.datetime.now(dt.UTC)
    crl = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca_cert.subject)
        .last_update(now - dt.timedelta(minutes=1))
        .next_update(now + dt.timedelta(days=1))
        .add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(revoked_serial).revocation_date(now).build()
        )
        .sign(ca_key, hashes.SHA256())
    )
    crl_file = tmp_path / "crl.pem"
    crl_file.write_bytes(crl.public_bytes(serialization.Encoding.PEM))
    context = build_server_context(
        cert_file=pki.server_cert,
        key_file=pki.server_key,
        ca_file=pki.ca_file,
        require_client_certificate=True,
        crl_file=crl_file,
    )
    server = await serve(context)  # type: ignore[operator]
    assert await exchange(server.port, pki.client_context(good)) == b"hello"
    with pytest.raises((ssl.SSLError, ConnectionError)):
        await exchange(server.port, pki.client_context(revoked))
    assert server.seen == ["good"]


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1])
async def test_old_protocol_versions_are_refused(pki: Pki, serve: object, version: ssl.TLSVersion) -> None:
    context = build_server_context(cert_file=pki.server_cert, key_file=pki.server_key)
    server = await serve(context)  # type: ignore[operator]
    client = pki.client_context(maximum=version)
    # Let the client even try; the server must refuse. An OpenSSL without legacy ciphers cannot offer them at
    # all, which is also a refusal.
    with contextlib.suppress(ssl.SSLError):
        client.set_ciphers("DEFAULT:@SECLEVEL=0")
    with pytest.raises((ssl.SSLError, ConnectionError)):
        await exchange(server.port, client)
    assert server.seen == []


def test_mismatched_key_is_a_start_up_error(pki: Pki, tmp_path: Path) -> None:
    other_key = tmp_path / "other.key"
    pki.ca.issue_cert("localhost").private_key_pem.write_to_path(str(other_key))
    with pytest.raises(TlsConfigError, match="does not belong to the certificate") as info:
        build_server_context(cert_file=pki.server_cert, key_file=other_key)
    assert str(other_key) in info.value.message and str(pki.server_cert) in info.value.message


def test_encrypted_key_is_refused_without_prompting(pki: Pki, tmp_path: Path) -> None:
    key = serialization.load_pem_private_key(pki.server_key.read_bytes(), password=None)
    encrypted = tmp_path / "encrypted.key"
    encrypted.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"secret"),
        )
    )
    with pytest.raises(TlsConfigError, match="protected by a pass phrase"):
        build_server_context(cert_file=pki.server_cert, key_file=encrypted)


@pytest.mark.parametrize("which", ["cert", "key", "ca"])
def test_missing_directory_or_non_pem_files_name_the_file(pki: Pki, tmp_path: Path, which: str) -> None:
    garbage = tmp_path / "garbage.pem"
    garbage.write_bytes(b"\x00\x01 not a certificate")
    files = {"cert_file": pki.server_cert, "key_file": pki.server_key, "ca_file": pki.ca_file}
    name = f"{which}_file"
    cases = [
        (tmp_path / "absent.pem", "does not exist"),
        (tmp_path, "is a directory"),
        (garbage, "not a PEM"),
    ]
    for bad, message in cases:
        with pytest.raises(TlsConfigError, match=message) as info:
            build_server_context(**{**files, name: bad})  # type: ignore[arg-type]
        assert str(bad) in info.value.message


def test_require_certificate_needs_a_ca(pki: Pki) -> None:
    with pytest.raises(TlsConfigError, match="no ca_file"):
        build_server_context(
            cert_file=pki.server_cert, key_file=pki.server_key, require_client_certificate=True
        )


def test_world_readable_key_is_reported(pki: Pki, caplog: pytest.LogCaptureFixture) -> None:
    pki.server_key.chmod(0o644)
    build_server_context(cert_file=pki.server_cert, key_file=pki.server_key)
    assert "other users can read it" in caplog.text


class _UndecodableCertificate:
    """Stands in for an SSL object whose certificate subject is not valid UTF-8.

    A fake, because the real thing cannot be made here: OpenSSL 3 refuses to load a certificate whose
    UTF8String CN holds invalid bytes on the client side, so no handshake can present one to us. CPython
    would raise UnicodeDecodeError from getpeercert() if one ever arrived.
    """

    def getpeercert(self) -> dict[str, object]:
        raise UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte")


def test_cn_that_is_not_utf8_gives_no_identity(caplog: pytest.LogCaptureFixture) -> None:
    assert peer_common_name(_UndecodableCertificate()) is None  # type: ignore[arg-type]
    assert "cannot be decoded" in caplog.text
