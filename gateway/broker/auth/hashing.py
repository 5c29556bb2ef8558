"""Salted, slow password hashes in a self-describing text form.

Format of one hash (the part after ``user:`` in the password file), modelled on the PHC string format::

    $scrypt$ln=14,r=8,p=5$<salt>$<hash>          scrypt, N = 2**ln, block size r, parallelism p (default)
    $pbkdf2-sha512$i=600000$<salt>$<hash>        PBKDF2-HMAC-SHA512 with i iterations (accepted too)

``<salt>`` and ``<hash>`` are standard base64 without padding. Salts are 16 random bytes, hashes 32 bytes
(scrypt) or 64 bytes (PBKDF2). The default scrypt cost (N=2**14, r=8, p=5: 16 MiB and ~0.2 s on a desktop
core) is one of OWASP's equivalent scrypt settings; every parameter is bounded on read, so a hostile file
cannot make the broker allocate gigabytes or spin for minutes.

Comparison uses :func:`hmac.compare_digest` (constant time in the length of the digest).
:func:`verify_password` against :data:`DUMMY_HASH` lets a caller spend the same time for an unknown user
as for a known one, so response time does not reveal which user names exist.

Mosquitto's ``$6$``/``$7$`` hashes are not accepted: ``$7$`` uses 101 PBKDF2 iterations, far too few; users
migrating from mosquitto set their passwords again with ``edge-gateway passwd``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
from dataclasses import dataclass

from gateway.broker.auth.errors import PasswordHashError

SALT_BYTES = 16
_MIN_SALT, _MAX_SALT = 8, 64
_MIN_KEY, _MAX_KEY = 16, 128
#: scrypt memory is 128 * r * N bytes; refuse anything above this to protect a small device.
_SCRYPT_MAX_MEMORY = 256 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class ScryptParams:
    """scrypt cost: N = 2**log2_n, block size ``r``, parallelism ``p``."""

    log2_n: int = 14
    r: int = 8
    p: int = 5

    def check(self) -> None:
        if not 1 <= self.log2_n <= 20 or not 1 <= self.r <= 32 or not 1 <= self.p <= 16:
            raise PasswordHashError(
                f"scrypt parameters out of range: ln={self.log2_n}, r={self.r}, p={self.p}"
            )
        if self._memory() > _SCRYPT_MAX_MEMORY:
            raise PasswordHashError(f"scrypt parameters need {self._memory() >> 20} MiB, more than 256 MiB")

    def _memory(self) -> int:
        return 128 * self.r * (1 << self.log2_n)

    def encode(self) -> str:
        return f"ln={self.log2_n},r={self.r},p={self.p}"


@dataclass(frozen=True, slots=True)
class Pbkdf2Params:
    """PBKDF2-HMAC-SHA512 with ``iterations`` rounds (OWASP 2023: at least 210,000)."""

    iterations: int = 600_000

    def check(self) -> None:
        if not 10_000 <= self.iterations <= 10_000_000:
            raise PasswordHashError(f"pbkdf2 iterations out of range (10000..10000000): {self.iterations}")

    def encode(self) -> str:
        return f"i={self.iterations}"


HashParams = ScryptParams | Pbkdf2Params


@dataclass(frozen=True, slots=True)
class PasswordHash:
    """One parsed hash string; ``str(h)`` gives it back in the file format."""

    params: HashParams
    salt: bytes
    digest: bytes

    @property
    def scheme(self) -> str:
        return "scrypt" if isinstance(self.params, ScryptParams) else "pbkdf2-sha512"

    def __str__(self) -> str:
        return f"${self.scheme}${self.params.encode()}${_b64(self.salt)}${_b64(self.digest)}"


def hash_password(
    password: str, *, params: HashParams | None = None, salt: bytes | None = None
) -> PasswordHash:
    """Hash ``password`` with a fresh random salt (or ``salt``, for tests of the format)."""
    chosen = params if params is not None else ScryptParams()
    chosen.check()
    salt = os.urandom(SALT_BYTES) if salt is None else salt
    key_length = 32 if isinstance(chosen, ScryptParams) else 64
    return PasswordHash(chosen, salt, _derive(chosen, password.encode("utf-8"), salt, key_length))


def verify_password(password: str | bytes, stored: PasswordHash) -> bool:
    """Whether ``password`` matches ``stored``; the final comparison is constant-time."""
    raw = password.encode("utf-8") if isinstance(password, str) else password
    candidate = _derive(stored.params, raw, stored.salt, len(stored.digest))
    return hmac.compare_digest(candidate, stored.digest)


_HASH_RE = re.compile(r"\$(?P<scheme>[a-z0-9-]+)\$(?P<params>[^$]*)\$(?P<salt>[^$]*)\$(?P<digest>[^$]*)")


def parse_hash(text: str) -> PasswordHash:
    """Parse one hash string.

    Raises:
        PasswordHashError: empty, malformed, unknown scheme, bad base64, or parameters out of bounds.
    """
    if not text:
        raise PasswordHashError("empty password hash (a user must have a password)")
    match = _HASH_RE.fullmatch(text)
    if match is None:
        raise PasswordHashError("malformed hash, expected $scheme$params$salt$hash")
    scheme = match["scheme"]
    if scheme not in ("scrypt", "pbkdf2-sha512"):
        raise PasswordHashError(f"unknown hash scheme {scheme!r} (known: scrypt, pbkdf2-sha512)")
    fields = _parse_params(match["params"])
    params: HashParams
    if scheme == "scrypt":
        if set(fields) != {"ln", "r", "p"}:
            raise PasswordHashError("scrypt needs exactly the parameters ln, r and p")
        params = ScryptParams(log2_n=fields["ln"], r=fields["r"], p=fields["p"])
    else:
        if set(fields) != {"i"}:
            raise PasswordHashError("pbkdf2-sha512 needs exactly the parameter i")
        params = Pbkdf2Params(iterations=fields["i"])
    params.check()
    salt = _unb64(match["salt"], "salt")
    digest = _unb64(match["digest"], "hash")
    if not _MIN_SALT <= len(salt) <= _MAX_SALT:
        raise PasswordHashError(f"salt must be {_MIN_SALT}..{_MAX_SALT} bytes, got {len(salt)}")
    if not _MIN_KEY <= len(digest) <= _MAX_KEY:
        raise PasswordHashError(f"hash must be {_MIN_KEY}..{_MAX_KEY} bytes, got {len(digest)}")
    return PasswordHash(params, salt, digest)


def _parse_params(text: str) -> dict[str, int]:
    fields: dict[str, int] = {}
    for item in text.split(","):
        name, sep, value = item.partition("=")
        if not sep or not value.isdigit() or len(value) > 9 or name in fields:
            raise PasswordHashError(f"malformed hash parameters {text!r}, expected name=number,...")
        fields[name] = int(value)
    return fields


def _derive(params: HashParams, password: bytes, salt: bytes, key_length: int) -> bytes:
    if isinstance(params, ScryptParams):
        return hashlib.scrypt(
            password,
            salt=salt,
            n=1 << params.log2_n,
            r=params.r,
            p=params.p,
            maxmem=_SCRYPT_MAX_MEMORY + 1024 * 1024,
            dklen=key_length,
        )
    return hashlib.pbkdf2_hmac("sha512", password, salt, params.iterations, dklen=key_length)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str, what: str) -> bytes:
    if not re.fullmatch(r"[A-Za-z0-9+/]+", text):
        raise PasswordHashError(f"{what} is not base64")
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except binascii.Error as exc:
        raise PasswordHashError(f"{what} is not base64: {exc}") from exc


#: Verified against when the user is unknown, so that the time taken does not reveal whether a user exists.
DUMMY_HASH = PasswordHash(ScryptParams(), b"\x00" * SALT_BYTES, b"\x00" * 32)
