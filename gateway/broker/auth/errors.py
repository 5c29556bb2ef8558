"""Errors of the broker's authentication and authorisation layer.

    StartupError (gateway.errors)        shown to the user, no traceback
     +-- SecurityFileError               a password or ACL file cannot be used; carries every problem
          +-- PasswordFileError          the password file (unreadable, bad lines, unsafe permissions)
          +-- AclFileError               the ACL file (unreadable, bad TOML, bad rules)
    ValueError
     +-- PasswordHashError               one hash string is malformed or uses an unknown scheme

A :class:`SecurityFileError` lists every problem found, each as ``file:line: reason`` (or
``file: key path: reason`` for TOML), so one run of the broker reports all of them at once. Loading
never half-applies a file: the caller either gets a complete new policy or this error, and keeps its
old policy on a reload (catalogue T22, CVE-2017-7652).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from gateway.errors import StartupError


class SecurityFileError(StartupError):
    """A security file has problems; ``problems`` holds one located message per problem."""

    def __init__(self, path: Path, problems: Sequence[str], *, hint: str | None = None) -> None:
        self.path = path
        self.problems = tuple(problems)
        listing = "\n".join(f"  {problem}" for problem in self.problems)
        super().__init__(f"{path} cannot be used:\n{listing}", hint=hint)


class PasswordFileError(SecurityFileError):
    """The password file cannot be used."""


class AclFileError(SecurityFileError):
    """The ACL file cannot be used."""


class PasswordHashError(ValueError):
    """A stored password hash is malformed or uses a scheme this version does not know."""
