"""``edge-gateway broker -c FILE`` as a child process that tests can stop, SIGKILL and restart.

The broker binds port 0 and prints ``listening on HOST:PORT``; :meth:`BrokerProcess.start` reads that line
(with a deadline) so no port is ever guessed. stderr goes to a log file the test can read.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

CLI = [sys.executable, "-m", "gateway.cli"]


@dataclass
class BrokerProcess:
    config: Path
    workdir: Path
    process: subprocess.Popen[bytes] | None = None
    port: int = 0
    starts: int = 0
    logs: list[Path] = field(default_factory=list)
    args: tuple[str, ...] = ()
    """Extra command-line options (``--durable-ack``)."""

    @property
    def log(self) -> str:
        return "".join(path.read_text(errors="replace") for path in self.logs if path.exists())

    def start(self, timeout: float = 60.0) -> BrokerProcess:
        self.starts += 1
        log_path = self.workdir / f"broker-{self.starts}.log"
        self.logs.append(log_path)
        with log_path.open("wb") as stderr:
            self.process = subprocess.Popen(
                [*CLI, "broker", "-c", str(self.config), *self.args],
                cwd=self.workdir,
                stdout=subprocess.PIPE,
                stderr=stderr,
            )
        assert self.process.stdout is not None
        deadline = time.monotonic() + timeout
        line = b""
        while not line.endswith(b"\n"):
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self.process.poll() is not None:
                self.process.kill()
                self.process.wait()
                raise AssertionError(f"broker did not start (exit {self.process.returncode}):\n{self.log}")
            ready, _, _ = select.select([self.process.stdout], [], [], remaining)
            if ready:
                chunk = os.read(self.process.stdout.fileno(), 1)
                if not chunk:
                    continue
                line += chunk
        assert line.startswith(b"listening on "), line
        self.port = int(line.rsplit(b":", 1)[1])
        return self

    def signal(self, signum: int) -> None:
        assert self.process is not None
        self.process.send_signal(signum)

    def kill(self) -> None:
        """SIGKILL: no flush, no close; what is on disk is what a crash leaves."""
        assert self.process is not None
        self.process.kill()
        self.process.wait(timeout=10)
        self._close_pipe()

    def stop(self, timeout: float = 60.0) -> int:
        """SIGTERM and wait for a clean exit; returns the exit code."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=timeout)
        self._close_pipe()
        return code

    def _close_pipe(self) -> None:
        if self.process is not None and self.process.stdout is not None:
            self.process.stdout.close()

    def cleanup(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self._close_pipe()
