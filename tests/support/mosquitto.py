"""A real Debian ``mosquitto`` broker as a child process, for upstream and reference tests.

Start it on a free loopback port, wait until it accepts connections, and break it on demand:
``kill()`` (SIGKILL: the TCP peers see a reset), ``freeze()``/``thaw()`` (SIGSTOP/SIGCONT: a silent
death, the sockets stay open), ``restart()`` on the same port (failback tests).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.ports import accepts_connections, reserve_port
from tests.support.waiting import ConditionTimeoutError, wait_until

MOSQUITTO_CANDIDATES = ("/usr/sbin/mosquitto", "/usr/bin/mosquitto")


def mosquitto_binary() -> str | None:
    for candidate in MOSQUITTO_CANDIDATES:
        if os.access(candidate, os.X_OK):
            return candidate
    return shutil.which("mosquitto")


@dataclass
class MosquittoProcess:
    """One mosquitto broker on ``host:port``.

    Args:
        workdir: a directory of its own for the config and the log.
        extra_config: lines appended to the generated ``mosquitto.conf``.
    """

    workdir: Path
    host: str = "127.0.0.1"
    extra_config: list[str] = field(default_factory=list)
    port: int = 0
    process: subprocess.Popen[bytes] | None = None
    _attempts: int = 3

    @property
    def log_path(self) -> Path:
        return self.workdir / "mosquitto.log"

    @property
    def pid(self) -> int:
        assert self.process is not None, "mosquitto is not running"
        return self.process.pid

    def start(self, timeout: float = 10.0) -> MosquittoProcess:
        binary = mosquitto_binary()
        if binary is None:
            raise RuntimeError("mosquitto is not installed: run ./scripts/test, which installs it")
        keep_port = self.port != 0
        for _attempt in range(self._attempts):
            if not keep_port:
                self.port = reserve_port(self.host)
            config = self.workdir / "mosquitto.conf"
            config.write_text(
                "\n".join(
                    [
                        f"listener {self.port} {self.host}",
                        "allow_anonymous true",
                        "persistence false",
                        "set_tcp_nodelay true",
                        "max_queued_messages 0",
                        f"log_dest file {self.log_path}",
                        "log_type error",
                        "log_type warning",
                        "log_type notice",
                        *self.extra_config,
                        "",
                    ]
                )
            )
            self.process = subprocess.Popen(
                [binary, "-c", str(config)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            try:
                wait_until(
                    lambda: self.process is not None
                    and (self.process.poll() is not None or accepts_connections(self.host, self.port)),
                    timeout=timeout,
                    message=f"mosquitto to accept on {self.host}:{self.port}",
                )
            except ConditionTimeoutError:
                self.stop()
                raise
            if self.process.poll() is None:
                return self
            # It exited: most likely another test took the port between reserve and bind.
            self.process = None
            if keep_port:
                break
        log = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        raise RuntimeError(f"mosquitto did not start on {self.host}:{self.port}; log:\n{log}")

    def kill(self) -> None:
        """SIGKILL: connections are reset by the kernel, no Will is sent by mosquitto."""
        if self.process is not None:
            if self.process.poll() is None:
                os.kill(self.process.pid, signal.SIGCONT)  # a frozen process must also die
                self.process.kill()
            self.process.wait(timeout=10)
            self.process = None

    def freeze(self) -> None:
        """SIGSTOP: the broker stops answering but its sockets stay open (silent death)."""
        os.kill(self.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        os.kill(self.pid, signal.SIGCONT)

    def restart(self, timeout: float = 10.0) -> MosquittoProcess:
        """Kill and start again on the same port."""
        self.kill()
        return self.start(timeout=timeout)

    def stop(self) -> None:
        if self.process is not None:
            if self.process.poll() is None:
                os.kill(self.process.pid, signal.SIGCONT)
                self.process.terminate()
                try:
                    self.process.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait(timeout=5)
            self.process = None
