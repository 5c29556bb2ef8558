"""Helpers for the security tests: cheap hash parameters so tests do not spend seconds in scrypt."""

from __future__ import annotations

from gateway.broker.auth.hashing import Pbkdf2Params, ScryptParams

#: Valid, bounded, and fast: tests build password files with these; the passwd command uses the defaults.
FAST_SCRYPT = ScryptParams(log2_n=10, r=8, p=1)
FAST_PBKDF2 = Pbkdf2Params(iterations=10_000)
