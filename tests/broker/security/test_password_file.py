"""Password hashes and the password file (catalogue T20, CVE-2018-12551)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from gateway.broker.auth.errors import PasswordFileError, PasswordHashError
from gateway.broker.auth.hashing import (
    DUMMY_HASH,
    PasswordHash,
    ScryptParams,
    hash_password,
    parse_hash,
    verify_password,
)
from gateway.broker.auth.password_file import PasswordFile, load_password_file
from tests.broker.security.conftest import FAST_PBKDF2, FAST_SCRYPT


@pytest.mark.parametrize("params", [FAST_SCRYPT, FAST_PBKDF2])
def test_hash_round_trips_through_text_and_verifies(params: object) -> None:
    hashed = hash_password("s3cret", params=params)  # type: ignore[arg-type]
    parsed = parse_hash(str(hashed))
    assert parsed == hashed
    assert verify_password("s3cret", parsed)
    assert not verify_password("s3cret ", parsed)
    assert not verify_password("", parsed)


def test_same_password_gets_a_different_salt_each_time() -> None:
    a = hash_password("pw", params=FAST_SCRYPT)
    b = hash_password("pw", params=FAST_SCRYPT)
    assert a.salt != b.salt and a.digest != b.digest


def test_default_parameters_are_the_documented_slow_ones() -> None:
    hashed = hash_password("pw")
    assert str(hashed).startswith("$scrypt$ln=14,r=8,p=5$")
    assert len(hashed.salt) == 16 and len(hashed.digest) == 32


def test_known_vector_is_stable() -> None:
    # A hash written by this version must verify in every later version: pin one.
    fixed = hash_password("pw", params=FAST_SCRYPT, salt=b"0123456789abcdef")
    assert str(fixed) == str(parse_hash(str(fixed)))
    again = hash_password("pw", params=FAST_SCRYPT, salt=b"0123456789abcdef")
    assert again.digest == fixed.digest


def test_dummy_hash_never_verifies() -> None:
    assert isinstance(DUMMY_HASH, PasswordHash)
    assert not verify_password("", DUMMY_HASH)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "empty password hash"),
        ("plain", "malformed hash"),
        ("$7$101$abc$def", "unknown hash scheme '7'"),
        ("$md5$i=1$YWJjZGVmZ2hpams$YWJjZGVmZ2hpams", "unknown hash scheme 'md5'"),
        ("$scrypt$ln=14,r=8$YWJjZGVmZ2hpams$YWJjZGVmZ2hpamtsbW5vcA", "exactly the parameters ln, r and p"),
        ("$scrypt$ln=30,r=8,p=1$YWJjZGVmZ2hpams$YWJjZGVmZ2hpamtsbW5vcA", "out of range"),
        ("$scrypt$ln=20,r=32,p=1$YWJjZGVmZ2hpams$YWJjZGVmZ2hpamtsbW5vcA", "more than 256 MiB"),
        ("$pbkdf2-sha512$i=1$YWJjZGVmZ2hpams$YWJjZGVmZ2hpamtsbW5vcA", "iterations out of range"),
        ("$pbkdf2-sha512$i=x$YWJjZGVmZ2hpams$YWJjZGVmZ2hpamtsbW5vcA", "malformed hash parameters"),
        ("$scrypt$ln=10,r=8,p=1$!!!$YWJjZGVmZ2hpamtsbW5vcA", "salt is not base64"),
        ("$scrypt$ln=10,r=8,p=1$YWJj$YWJjZGVmZ2hpamtsbW5vcA", "salt must be"),
        ("$scrypt$ln=10,r=8,p=1$YWJjZGVmZ2hpams$YWJj", "hash must be"),
    ],
)
def test_bad_hash_strings_raise_a_clear_error(text: str, fragment: str) -> None:
    with pytest.raises(PasswordHashError, match=None) as info:
        parse_hash(text)
    assert fragment in str(info.value)


def _write(tmp_path: Path, text: str, mode: int = 0o600) -> Path:
    path = tmp_path / "passwd"
    path.write_bytes(text.encode("utf-8"))
    path.chmod(mode)
    return path


def test_loads_users_with_comments_blank_lines_and_crlf(tmp_path: Path) -> None:
    alice = hash_password("a", params=FAST_SCRYPT)
    bob = hash_password("b", params=FAST_PBKDF2)
    path = _write(tmp_path, f"# users\r\n\r\nalice:{alice}\r\n   \nbob:{bob}\n")
    database = load_password_file(path)
    assert set(database.users) == {"alice", "bob"}
    assert verify_password("a", database.users["alice"])
    assert verify_password("b", database.users["bob"])


def test_every_bad_line_is_reported_with_its_line_number(tmp_path: Path) -> None:
    good = hash_password("pw", params=FAST_SCRYPT)
    text = "\n".join(
        [
            "# T20 catalogue of odd lines",  # 1
            "",  # 2
            "nocolon",  # 3
            "empty:",  # 4
            "unknown:$argon9$x$y$z",  # 5
            f"alice:{good}",  # 6
            f"alice:{good}",  # 7 duplicate
            f" spaced:{good}",  # 8
            f":{good}",  # 9 empty user
        ]
    )
    path = _write(tmp_path, text)
    with pytest.raises(PasswordFileError) as info:
        load_password_file(path)
    problems = info.value.problems
    assert [p.split(": ", 1)[0] for p in problems] == [f"{path}:{n}" for n in (3, 4, 5, 7, 8, 9)]
    assert "no ':'" in problems[0]
    assert "empty password hash" in problems[1]
    assert "unknown hash scheme 'argon9'" in problems[2]
    assert "appears twice" in problems[3]
    assert "white space" in problems[4]
    assert "empty user name" in problems[5]
    rendered = info.value.render()
    assert rendered.startswith("error: ") and f"{path}:3" in rendered and "hint:" in rendered


def test_a_directory_instead_of_a_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(PasswordFileError, match="is a directory"):
        load_password_file(tmp_path)


def test_missing_and_non_utf8_files_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(PasswordFileError, match="file not found"):
        load_password_file(tmp_path / "absent")
    path = tmp_path / "latin1"
    path.write_bytes(b"ok:x\nj\xe9r\xf4me:y\n")
    with pytest.raises(PasswordFileError, match=r"latin1:2: not valid UTF-8"):
        load_password_file(path)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadable_file_is_a_clear_error(tmp_path: Path) -> None:
    path = _write(tmp_path, "", mode=0o000)
    with pytest.raises(PasswordFileError, match="permission denied"):
        load_password_file(path)


def test_world_readable_file_loads_with_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = _write(tmp_path, f"u:{hash_password('p', params=FAST_SCRYPT)}\n", mode=0o644)
    assert "u" in load_password_file(path).users
    assert "other users can read it" in caplog.text


def test_edit_keeps_comments_order_and_writes_0600(tmp_path: Path) -> None:
    first = hash_password("1", params=FAST_SCRYPT)
    path = _write(tmp_path, f"# header\nzed:{first}\n# middle\namy:{first}\n", mode=0o640)
    edited = PasswordFile.load(path)
    edited.set("zed", hash_password("2", params=FAST_SCRYPT))
    edited.set("new", hash_password("3", params=FAST_SCRYPT))
    assert edited.delete("amy")
    assert not edited.delete("nobody")
    edited.save()
    lines = path.read_text().splitlines()
    assert lines[0] == "# header" and lines[1].startswith("zed:$scrypt$") and lines[2] == "# middle"
    assert lines[3].startswith("new:") and len(lines) == 4
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    reloaded = load_password_file(path)
    assert verify_password("2", reloaded.users["zed"]) and "amy" not in reloaded.users
    assert not list(tmp_path.glob(".passwd.*.tmp")), "no temporary file left behind"


def test_scrypt_params_default_matches_docs() -> None:
    assert ScryptParams() == ScryptParams(log2_n=14, r=8, p=5)
