"""TLS for the broker's listeners: build the server ``ssl.SSLContext`` and read the client's identity.

:func:`build_server_context` turns the listener's file names into a context, checking each file so that a
start-up failure names the file and the problem (unreadable, not PEM, encrypted key, key that does not
belong to the certificate) instead of OpenSSL's ``[SSL] PEM lib (_ssl.c:3900)``. Policy:

- TLS 1.2 is the minimum (1.0 and 1.1 are refused at the handshake; catalogue T23);
- with ``require_client_certificate`` a client without a certificate signed by the CA file fails the
  handshake, so no MQTT session is ever created for it (needs ``ca_file``);
- an optional CRL file makes revoked client certificates fail the handshake too;
- private keys protected by a pass phrase are refused (a daemon cannot type one in), and a key file that other
  users can read is reported in the log (catalogue T24).

:func:`peer_common_name` gives the CN of the verified client certificate, which the authenticator can use as
the user name (``use_identity_as_username``). A CN that is empty or holds control or replacement characters
is refused (``None``), so it can never turn into a surprising user name.
"""

from __future__ import annotations

import logging
import ssl
import stat
from pathlib import Path

from gateway.errors import StartupError

_log = logging.getLogger(__name__)


class TlsConfigError(StartupError):
    """The TLS settings of a listener cannot be used (files unreadable, mismatched, or inconsistent)."""


def _check_readable(path: Path, what: str) -> None:
    try:
        with path.open("rb") as handle:
            head = handle.read(64 * 1024)
    except FileNotFoundError as exc:
        raise TlsConfigError(f"{what} {path} does not exist") from exc
    except IsADirectoryError as exc:
        raise TlsConfigError(f"{what} {path} is a directory, expected a PEM file") from exc
    except PermissionError as exc:
        raise TlsConfigError(
            f"{what} {path} cannot be read: permission denied", hint="check the file's owner and mode"
        ) from exc
    except OSError as exc:
        raise TlsConfigError(f"{what} {path} cannot be read: {exc.strerror or exc}") from exc
    if b"-----BEGIN " not in head:
        raise TlsConfigError(f"{what} {path} is not a PEM file (no '-----BEGIN' line)")


def _refuse_pass_phrase() -> str:
    raise TlsConfigError("a pass phrase was requested")


def build_server_context(
    *,
    cert_file: Path,
    key_file: Path,
    ca_file: Path | None = None,
    require_client_certificate: bool = False,
    crl_file: Path | None = None,
) -> ssl.SSLContext:
    """Build the server-side context of a TLS listener.

    Raises:
        TlsConfigError: a file is missing, unreadable, not PEM, an encrypted key, a key that does not match
            the certificate, or ``require_client_certificate`` without ``ca_file``.
    """
    _check_readable(cert_file, "certificate file")
    _check_readable(key_file, "private key file")
    if require_client_certificate and ca_file is None:
        raise TlsConfigError(
            "require_client_certificate is set but no ca_file is given",
            hint="set ca_file to the CA that signs the client certificates",
        )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(cert_file, key_file, password=_refuse_pass_phrase)
    except TlsConfigError as exc:
        raise TlsConfigError(
            f"private key file {key_file} is protected by a pass phrase",
            hint="store the key without a pass phrase and protect it with mode 0600",
        ) from exc
    except ssl.SSLError as exc:
        if "KEY_VALUES_MISMATCH" in str(exc):
            raise TlsConfigError(
                f"the private key in {key_file} does not belong to the certificate in {cert_file}",
                hint="give the key that was generated with this certificate",
            ) from exc
        raise TlsConfigError(
            f"cannot load certificate {cert_file} with key {key_file}: {exc.reason or exc}"
        ) from exc
    if ca_file is not None:
        _check_readable(ca_file, "CA file")
        try:
            context.load_verify_locations(cafile=ca_file)
        except ssl.SSLError as exc:
            reason = exc.reason or exc
            raise TlsConfigError(f"CA file {ca_file} holds no usable certificate: {reason}") from exc
    if crl_file is not None:
        _check_readable(crl_file, "CRL file")
        try:
            context.load_verify_locations(cafile=crl_file)
        except ssl.SSLError as exc:
            raise TlsConfigError(f"CRL file {crl_file} cannot be loaded: {exc.reason or exc}") from exc
        context.verify_flags |= ssl.VERIFY_CRL_CHECK_LEAF
    if require_client_certificate:
        context.verify_mode = ssl.CERT_REQUIRED
    elif ca_file is not None:
        context.verify_mode = ssl.CERT_OPTIONAL
    _warn_if_shared(key_file)
    return context


def _warn_if_shared(key_file: Path) -> None:
    try:
        mode = key_file.stat().st_mode
    except OSError:
        return
    if mode & stat.S_IRWXO:
        _log.warning(
            "private key %s has mode %o: other users can read it; chmod 600 it", key_file, mode & 0o777
        )


def peer_common_name(peer: ssl.SSLObject | ssl.SSLSocket) -> str | None:
    """The subject CN of the peer's verified certificate, or ``None`` (no certificate, no CN, unsafe CN)."""
    try:
        certificate = peer.getpeercert()
    except (ValueError, ssl.SSLError) as exc:
        # CPython decodes subject strings as strict UTF-8 (UnicodeDecodeError is a ValueError).
        _log.warning("client certificate subject cannot be decoded (%s): no identity taken from it", exc)
        return None
    if not certificate:
        return None
    subject = certificate.get("subject", ())
    names: list[str] = []
    for rdn in subject if isinstance(subject, tuple) else ():
        for attribute in rdn:
            if isinstance(attribute, tuple) and len(attribute) == 2 and attribute[0] == "commonName":
                names.append(str(attribute[1]))
    if len(names) != 1:
        return None  # no CN, or several: do not guess which one is the identity
    name = names[0]
    if not name or "\ufffd" in name or any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in name):
        return None
    return name
