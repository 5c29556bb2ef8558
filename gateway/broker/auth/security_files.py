"""The password and ACL files as one reloadable unit: all or nothing, the old rules stay on any error.

:class:`SecurityFiles` holds the current :class:`SecuritySnapshot` (users and ACL policy). :meth:`load` is
used once at start-up and raises, so the broker refuses to start on a bad file. :meth:`reload` is used while
running (SIGHUP, the control plane): it reads *both* files, and only if both are valid replaces the
snapshot in one assignment; otherwise it logs the error with every problem and keeps the old snapshot, so
anonymous stays denied and the old ACL applies (catalogue T22, CVE-2017-7652). Any ``OSError`` while
reading (including EMFILE when the process is out of file descriptors) is such an error.

The snapshot's ``generation`` grows on every successful reload; the authorizer recompiles its per-client
rules when it changes, so a reload that revokes access applies to connected clients too (catalogue T21).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from gateway.broker.auth.acl import AclPolicy
from gateway.broker.auth.acl_file import load_acl_file
from gateway.broker.auth.errors import SecurityFileError
from gateway.broker.auth.password_file import PasswordDatabase, load_password_file

_log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SecuritySnapshot:
    """Users and ACL in force; ``None`` when the corresponding file is not configured."""

    passwords: PasswordDatabase | None
    acl: AclPolicy | None
    generation: int


@dataclass(frozen=True, slots=True)
class ReloadOutcome:
    """What a reload did: ``ok`` and the new generation, or the error that kept the old rules."""

    ok: bool
    generation: int
    error: str | None = None


class SecurityFiles:
    """Owns the paths and the snapshot in force. Not thread-safe: use it from the event loop thread."""

    def __init__(self, *, password_file: Path | None, acl_file: Path | None) -> None:
        self.password_file = password_file
        self.acl_file = acl_file
        self.failed_reloads = 0
        self.last_error: str | None = None
        """The error of the latest reload if it failed (for $SYS and the TUI); cleared by a good reload."""
        self._snapshot = SecuritySnapshot(None, None, 0)

    @property
    def snapshot(self) -> SecuritySnapshot:
        return self._snapshot

    def load(self) -> SecuritySnapshot:
        """Read both files for start-up.

        Raises:
            PasswordFileError, AclFileError: with every problem of the first bad file.
        """
        self._snapshot = self._read(self._snapshot.generation + 1)
        return self._snapshot

    def reload(self) -> ReloadOutcome:
        """Re-read both files; keep the old snapshot (and log why) when either cannot be used."""
        try:
            fresh = self._read(self._snapshot.generation + 1)
        except SecurityFileError as exc:
            self.failed_reloads += 1
            self.last_error = exc.message
            _log.error("security reload failed, the previous users and ACL stay in force: %s", exc.message)
            return ReloadOutcome(False, self._snapshot.generation, exc.message)
        self._snapshot = fresh
        self.last_error = None
        _log.info(
            "security reloaded (generation %d): %s users, ACL %s",
            fresh.generation,
            len(fresh.passwords.users) if fresh.passwords else "no password file,",
            fresh.acl.source if fresh.acl else "not configured",
        )
        return ReloadOutcome(True, fresh.generation)

    def _read(self, generation: int) -> SecuritySnapshot:
        passwords = load_password_file(self.password_file) if self.password_file is not None else None
        acl = load_acl_file(self.acl_file) if self.acl_file is not None else None
        return SecuritySnapshot(passwords, acl, generation)
