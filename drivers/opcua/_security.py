"""Client certificate on first run, the server-certificate trust list, and endpoint selection.

Trust is explicit: a signed or encrypted connection proceeds only when the server's certificate
(its DER bytes, compared by SHA-1 thumbprint as OPC UA tools display it) is in the trust directory.
An unknown certificate is copied to the ``rejected`` directory and reported with
:class:`~drivers.errors.CertificateTrustError`, which names the thumbprint and the file to move
(catalogue T55). The endpoint is chosen from the server's own list (GetEndpoints over an
unsecured channel, which OPC 10000-4 5.4.4 allows for discovery); when none matches the configured
policy and mode, the error names what the server offers.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import Any

from drivers.errors import CertificateTrustError, DeviceError, ErrorKind
from drivers.opcua._spec import OpcUaServer, SecurityMode, SecurityPolicy

log = logging.getLogger(__name__)


def first_certificate(der: bytes) -> bytes:
    """The leading certificate of a possibly chained DER blob (outer SEQUENCE with a 2-byte length)."""
    if len(der) > 4 and der[0] == 0x30 and der[1] == 0x82:
        return der[: int.from_bytes(der[2:4], "big") + 4]
    return der


def thumbprint(der: bytes) -> str:
    return hashlib.sha1(der, usedforsecurity=False).hexdigest().upper()


def _load_der(path: Path) -> bytes | None:
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    data = path.read_bytes()
    try:
        if b"-----BEGIN CERTIFICATE-----" in data:
            return x509.load_pem_x509_certificate(data).public_bytes(Encoding.DER)
        x509.load_der_x509_certificate(data)
        return data
    except ValueError:
        log.warning("ignoring %s in the trust directory: not a DER or PEM certificate", path)
        return None


def trusted_thumbprints(trust_dir: Path | None) -> set[str]:
    if trust_dir is None or not trust_dir.is_dir():
        return set()
    prints = set()
    for path in sorted(trust_dir.iterdir()):
        if path.suffix.lower() in (".der", ".pem", ".crt", ".cer"):
            der = _load_der(path)
            if der is not None:
                prints.add(thumbprint(der))
    return prints


def check_server_certificate(server: OpcUaServer, der: bytes) -> None:
    """Raise :class:`CertificateTrustError` unless ``der`` is in the trust directory."""
    from cryptography import x509

    der = first_certificate(der)
    trust_dir = server.trusted_dir()
    print_ = thumbprint(der)
    trusted = trusted_thumbprints(trust_dir)
    if print_ in trusted:
        return
    if server.trust_on_first_use and not trusted and trust_dir is not None:
        # Trust on first use: only while the trust list is empty, so a *changed* certificate is
        # still refused afterwards (catalogue T55 (1)).
        trust_dir.mkdir(parents=True, exist_ok=True)
        (trust_dir / f"{print_}.der").write_bytes(der)
        log.warning(
            "%s: trusting the server certificate %s on first use (saved to %s)",
            server.name,
            print_,
            trust_dir,
        )
        return
    subject = x509.load_der_x509_certificate(der).subject.rfc4514_string()
    saved: str | None = None
    pki = server.pki_dir()
    if pki is not None:
        rejected = pki / "rejected"
        rejected.mkdir(parents=True, exist_ok=True)
        target = rejected / f"{print_}.der"
        target.write_bytes(der)
        saved = str(target)
    raise CertificateTrustError(server.name, print_, subject, str(trust_dir), saved)


def select_endpoint(server: OpcUaServer, endpoints: list[Any]) -> Any:
    """The endpoint matching the configured policy and mode, or a SECURITY DeviceError naming the offers."""
    for endpoint in endpoints:
        if endpoint.SecurityPolicyUri == server.security_policy.uri and int(endpoint.SecurityMode) == int(
            server.security_mode
        ):
            return endpoint
    offered = sorted(
        {
            f"{str(e.SecurityPolicyUri).rsplit('#', 1)[-1]}/{_mode_name(int(e.SecurityMode))}"
            for e in endpoints
        }
    )
    raise DeviceError(
        server.name,
        ErrorKind.SECURITY,
        f"the server offers no endpoint with policy {server.security_policy.value} and mode "
        f"{server.security_mode.name}; it offers: {', '.join(offered) or 'nothing'}",
        hint="set security_policy/security_mode to one of the offered pairs",
    )


def _mode_name(code: int) -> str:
    try:
        return SecurityMode(code).name
    except ValueError:
        return str(code)


def policy_class(policy: SecurityPolicy) -> Any:
    from asyncua.crypto import security_policies as sp

    return {
        SecurityPolicy.BASIC256SHA256: sp.SecurityPolicyBasic256Sha256,
        SecurityPolicy.AES128_SHA256_RSAOAEP: sp.SecurityPolicyAes128Sha256RsaOaep,
        SecurityPolicy.AES256_SHA256_RSAPSS: sp.SecurityPolicyAes256Sha256RsaPss,
    }[policy]


async def ensure_client_certificate(server: OpcUaServer, client: Any) -> tuple[Path, Path]:
    """Generate the client certificate and key into ``<data_dir>/opcua/pki/own`` on first run.

    Returns (certificate DER path, private key PEM path). Reused while valid.
    """
    pki = server.pki_dir()
    if pki is None:
        raise DeviceError(
            server.name,
            ErrorKind.SECURITY,
            "no data directory for the client certificate",
            hint="set data_dir",
        )
    cert_file, key_file = pki / "own" / "client_cert.der", pki / "own" / "client_key.pem"
    created = not cert_file.exists()
    await client.setup_self_signed_certificate(key_file, cert_file)
    if created:
        log.info(
            "%s: generated the client certificate %s (thumbprint %s); servers must trust it",
            server.name,
            cert_file,
            thumbprint(cert_file.read_bytes()),
        )
    return cert_file, key_file
