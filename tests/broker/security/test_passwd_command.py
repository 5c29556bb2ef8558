"""``edge-gateway passwd``: a real subprocess, a real terminal (pty) for the no-echo prompt."""

from __future__ import annotations

import os
import select
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gateway.broker.auth.hashing import hash_password, verify_password
from gateway.broker.auth.password_file import load_password_file
from tests.broker.security.conftest import FAST_SCRYPT

CLI = [sys.executable, "-m", "gateway.cli"]


def passwd(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, "passwd", *args], input=stdin, capture_output=True, text=True, timeout=30, check=False
    )


def test_password_stdin_creates_the_file_0600_and_the_hash_verifies(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "passwd"
    path.parent.mkdir()
    result = passwd("--password-stdin", str(path), "alice", stdin="correct horse\n")
    assert result.returncode == 0, result.stderr
    assert "added user 'alice'" in result.stderr
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    users = load_password_file(path).users
    assert verify_password("correct horse", users["alice"])
    assert str(users["alice"]).startswith("$scrypt$ln=14,r=8,p=5$")


def test_change_then_delete_keeps_other_users(tmp_path: Path) -> None:
    path = tmp_path / "passwd"
    path.write_text(f"# keep me\nbob:{hash_password('b', params=FAST_SCRYPT)}\n")
    path.chmod(0o600)
    assert passwd("--password-stdin", str(path), "alice", stdin="one\n").returncode == 0
    result = passwd("--password-stdin", str(path), "alice", stdin="two\r\n")
    assert result.returncode == 0 and "changed password" in result.stderr
    users = load_password_file(path).users
    assert verify_password("two", users["alice"]) and verify_password("b", users["bob"])
    result = passwd("-D", str(path), "alice")
    assert result.returncode == 0, result.stderr
    assert set(load_password_file(path).users) == {"bob"}
    assert path.read_text().startswith("# keep me\n")
    result = passwd("-D", str(path), "alice")
    assert result.returncode == 1 and "not in" in result.stderr


def test_refuses_a_world_readable_file(tmp_path: Path) -> None:
    path = tmp_path / "passwd"
    path.write_text("")
    path.chmod(0o644)
    result = passwd("--password-stdin", str(path), "alice", stdin="pw\n")
    assert result.returncode == 1
    assert "readable by every user" in result.stderr and f"chmod 600 {path}" in result.stderr
    assert "Traceback" not in result.stderr
    assert path.read_text() == ""


def test_refuses_a_file_with_bad_lines_instead_of_dropping_them(tmp_path: Path) -> None:
    path = tmp_path / "passwd"
    path.write_text("broken line\n")
    path.chmod(0o600)
    result = passwd("--password-stdin", str(path), "alice", stdin="pw\n")
    assert result.returncode == 1 and f"{path}:1: no ':'" in result.stderr
    assert path.read_text() == "broken line\n"


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["u:ser"], "pw\n", "cannot contain ':'"),
        (["alice"], "\n", "empty password refused"),
    ],
)
def test_bad_user_or_password_is_refused(tmp_path: Path, args: list[str], stdin: str, message: str) -> None:
    path = tmp_path / "passwd"
    result = passwd("--password-stdin", str(path), *args, stdin=stdin)
    assert result.returncode == 1 and message in result.stderr
    assert not path.exists()


def test_a_directory_is_refused(tmp_path: Path) -> None:
    result = passwd("--password-stdin", str(tmp_path), "alice", stdin="pw\n")
    assert result.returncode == 1 and "is a directory" in result.stderr


def _read_until(fd: int, needle: bytes, deadline: float) -> bytes:
    seen = b""
    while needle not in seen:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"timed out waiting for {needle!r}; got {seen!r}"
        ready, _, _ = select.select([fd], [], [], remaining)
        if ready:
            chunk = os.read(fd, 1024)
            assert chunk, f"stream closed before {needle!r}; got {seen!r}"
            seen += chunk
    return seen


def _prompted_run(path: Path, first: str, second: str) -> tuple[int, bytes]:
    """Run passwd on a pseudo-terminal, answer both prompts, return (exit code, what the terminal showed)."""
    master, slave = os.openpty()
    process = subprocess.Popen(
        [*CLI, "passwd", str(path), "alice"],
        stdin=slave,
        stdout=slave,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    os.close(slave)
    assert process.stderr is not None
    deadline = time.monotonic() + 30
    try:
        # getpass flushes pending input when it turns echo off, so answer only once the prompt is out.
        _read_until(process.stderr.fileno(), b"Password for alice: ", deadline)
        os.write(master, first.encode() + b"\n")
        _read_until(process.stderr.fileno(), b"Again: ", deadline)
        os.write(master, second.encode() + b"\n")
        code = process.wait(timeout=30)
        shown = b""
        while select.select([master], [], [], 0)[0]:
            try:
                chunk = os.read(master, 1024)
            except OSError:
                break
            if not chunk:
                break
            shown += chunk
        return code, shown
    finally:
        process.stderr.close()
        os.close(master)
        if process.poll() is None:
            process.kill()
            process.wait()


def test_interactive_prompt_twice_without_echo(tmp_path: Path) -> None:
    path = tmp_path / "passwd"
    code, shown = _prompted_run(path, "typed secret", "typed secret")
    assert code == 0
    assert b"typed secret" not in shown, "the password was echoed to the terminal"
    assert verify_password("typed secret", load_password_file(path).users["alice"])


def test_interactive_mismatch_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "passwd"
    code, _ = _prompted_run(path, "one", "two")
    assert code == 1
    assert not path.exists()


def test_missing_directory_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "no" / "such" / "passwd"
    result = passwd("--password-stdin", str(path), "alice", stdin="pw\n")
    assert result.returncode == 1
    assert f"{path}: cannot be written: No such file or directory" in result.stderr
    assert "Traceback" not in result.stderr
