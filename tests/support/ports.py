"""Ports for test servers.

Our own servers bind port 0 and report the port the kernel gave them (``bound_port``). Third-party
programs that need a number on their command line (mosquitto) get one from ``reserve_port``; the
caller must retry with a new number if the program then fails to bind, because another test may take
the port between our close and its bind (see ``MosquittoProcess.start``).
"""

from __future__ import annotations

import socket


def bound_port(sock: socket.socket) -> int:
    """The port a bound socket actually has (read back from the kernel)."""
    port: int = sock.getsockname()[1]
    return port


def reserve_port(host: str = "127.0.0.1") -> int:
    """A port that was free a moment ago on ``host``: bind port 0, read it back, close."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return bound_port(sock)


def accepts_connections(host: str, port: int, timeout: float = 0.2) -> bool:
    """Whether a TCP connect to ``host:port`` succeeds right now."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False
