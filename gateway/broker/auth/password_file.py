"""The password file: one ``user:hash`` per line, mosquitto-style.

Format (UTF-8 text)::

    # comments start with '#' at the beginning of a line; blank lines are ignored
    alice:$scrypt$ln=14,r=8,p=5$<salt>$<hash>
    bob:$pbkdf2-sha512$i=600000$<salt>$<hash>

The user name is everything before the first ``:`` and the hash everything after it (see
:mod:`gateway.broker.auth.hashing` for the hash format). CRLF line endings are accepted. A user name may
not be empty, contain control characters, or begin or end with white space; each user appears once.

Loading is all or nothing (catalogue T20, CVE-2018-12551): any bad line (no colon, empty hash, unknown
scheme, bad base64, duplicate user) makes :func:`load_password_file` raise :class:`PasswordFileError`
listing every problem as ``file:line: reason``. A broker therefore never starts, or reloads, with a
password file it only half understood, and no line can ever yield a user without a password.

:class:`PasswordFile` is the editable form used by ``edge-gateway passwd``: it keeps comments and the
order of lines, and writes the file atomically with mode 0600.
"""

from __future__ import annotations

import logging
import os
import stat
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from gateway.broker.auth.errors import PasswordFileError, PasswordHashError, SecurityFileError
from gateway.broker.auth.hashing import PasswordHash, parse_hash

_log = logging.getLogger(__name__)

#: A password file larger than this is refused rather than read into memory.
MAX_FILE_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class PasswordDatabase:
    """The users of one loaded password file: user name -> hash."""

    path: Path
    users: Mapping[str, PasswordHash]


def check_user_name(name: str) -> str | None:
    """Why ``name`` cannot be a user name, or ``None`` when it can."""
    if not name:
        return "empty user name"
    if ":" in name:
        return "a user name cannot contain ':'"
    if name != name.strip():
        return "user name begins or ends with white space"
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in name):
        return "user name contains a control character"
    return None


def read_text(path: Path, error: type[SecurityFileError] = PasswordFileError) -> str:
    """Read a security file as UTF-8, turning every OS problem into ``error`` naming the file."""
    try:
        info = path.stat()
        if stat.S_ISDIR(info.st_mode):
            raise error(path, [f"{path}: is a directory, expected a file"])
        if info.st_size > MAX_FILE_BYTES:
            raise error(path, [f"{path}: {info.st_size} bytes, larger than the {MAX_FILE_BYTES} byte limit"])
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise error(path, [f"{path}: file not found"]) from exc
    except PermissionError as exc:
        raise error(path, [f"{path}: permission denied"], hint="check the file's owner and mode") from exc
    except OSError as exc:
        raise error(path, [f"{path}: cannot be read: {exc.strerror or exc}"]) from exc
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise error(path, [f"{path}:{line}: not valid UTF-8"]) from exc


@dataclass(slots=True)
class _Line:
    text: str
    user: str | None  # None for comments and blank lines


class PasswordFile:
    """An editable password file that keeps comments and line order.

    Build it with :meth:`parse` or :meth:`load`; they raise :class:`PasswordFileError` for bad lines, so an
    edit never silently drops a line it did not understand.
    """

    def __init__(self, path: Path, lines: list[_Line], hashes: dict[str, PasswordHash]) -> None:
        self.path = path
        self._lines = lines
        self._hashes = hashes

    @classmethod
    def load(cls, path: Path) -> PasswordFile:
        return cls.parse(path, read_text(path))

    @classmethod
    def parse(cls, path: Path, text: str) -> PasswordFile:
        problems: list[str] = []
        lines: list[_Line] = []
        hashes: dict[str, PasswordHash] = {}
        for number, raw in enumerate(text.splitlines(), start=1):
            stripped = raw.strip()
            if not stripped or stripped.startswith("#"):
                lines.append(_Line(raw, None))
                continue
            user, sep, encoded = raw.partition(":")
            reason = None if sep else "no ':' between user name and hash"
            reason = reason or check_user_name(user)
            if reason is None and user in hashes:
                reason = f"user {user!r} appears twice"
            if reason is None:
                try:
                    hashes[user] = parse_hash(encoded.strip())
                except PasswordHashError as exc:
                    reason = f"user {user!r}: {exc}"
            if reason is not None:
                problems.append(f"{path}:{number}: {reason}")
                continue
            lines.append(_Line(raw, user))
        if problems:
            raise PasswordFileError(
                path,
                problems,
                hint="fix or delete these lines, or set the password again with "
                "'edge-gateway passwd FILE USER'",
            )
        return cls(path, lines, hashes)

    def database(self) -> PasswordDatabase:
        return PasswordDatabase(self.path, dict(self._hashes))

    def users(self) -> list[str]:
        return [line.user for line in self._lines if line.user is not None]

    def set(self, user: str, password_hash: PasswordHash) -> None:
        """Add ``user`` or replace its hash, keeping its position in the file."""
        reason = check_user_name(user)
        if reason is not None:
            raise ValueError(reason)
        entry = _Line(f"{user}:{password_hash}", user)
        for index, line in enumerate(self._lines):
            if line.user == user:
                self._lines[index] = entry
                break
        else:
            self._lines.append(entry)
        self._hashes[user] = password_hash

    def delete(self, user: str) -> bool:
        """Remove ``user``; return whether it was there."""
        if user not in self._hashes:
            return False
        del self._hashes[user]
        self._lines = [line for line in self._lines if line.user != user]
        return True

    def render(self) -> str:
        return "".join(line.text + "\n" for line in self._lines)

    def save(self) -> None:
        """Write atomically (temporary file, fsync, rename) with mode 0600.

        Raises:
            PasswordFileError: the directory is missing or not writable, the disk is full, ...; the old
                file is then unchanged.
        """
        try:
            write_private_file(self.path, self.render().encode("utf-8"))
        except OSError as exc:
            raise PasswordFileError(
                self.path,
                [f"{self.path}: cannot be written: {exc.strerror or exc}"],
                hint="check that the directory exists and that you may write to it",
            ) from exc


def load_password_file(path: Path) -> PasswordDatabase:
    """Load the users of ``path`` for the broker; warn when others may read it.

    Raises:
        PasswordFileError: the file is missing, unreadable, not UTF-8 or has any bad line.
    """
    database = PasswordFile.load(path).database()
    mode = _mode_of(path)
    if mode is not None and mode & (stat.S_IRWXG | stat.S_IRWXO):
        _log.warning(
            "password file %s has mode %o: other users can read it; chmod 600 it", path, mode & 0o777
        )
    return database


def _mode_of(path: Path) -> int | None:
    try:
        return path.stat().st_mode
    except OSError:
        return None


def write_private_file(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` atomically; the new file has mode 0600 from its creation on."""
    directory = path.parent if str(path.parent) else Path(".")
    fd, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        # mkstemp creates the file 0600 already; fchmod states the contract and survives odd umasks.
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
