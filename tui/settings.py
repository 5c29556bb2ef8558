"""How the UI connects and behaves: one frozen value built by ``edge-gateway tui`` or ``demo``."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field

Clock = Callable[[], int]
"""Returns the wall-clock time in UTC milliseconds (frozen in snapshot tests)."""


def system_clock() -> int:
    """The real wall clock in UTC milliseconds."""
    return time.time_ns() // 1_000_000


@dataclass(frozen=True, slots=True)
class TuiSettings:
    """Settings of one UI session.

    Attributes:
        host: the broker of the gateway (its embedded broker), usually 127.0.0.1 or an SSH tunnel.
        port: its TCP port.
        username: MQTT user name, or ``None`` for anonymous.
        password: MQTT password (read from an environment variable by the CLI, never a flag).
        tls: connect with TLS.
        cafile: CA bundle that signed the broker's certificate (``None``: the system store).
        certfile: client certificate for mutual TLS, or ``None``.
        keyfile: its private key, or ``None``.
        read_only: never send plant-affecting commands (also forced when the broker says 0x87).
        client_id: MQTT client id; empty picks ``edge-gateway-tui-<pid>``.
        redraw_hz: how often screens repaint from the model (updates are coalesced between).
        command_timeout_s: how long to wait for a command's response.
        keepalive_s: MQTT keep-alive; a dead link is noticed after about 1.5 times this.
        subscribe_sparkplug: also subscribe to ``spBv1.0/#`` and the daemon's relay of its upstream
            Sparkplug traffic (``$GW/v1/sparkplug/#``) for the traffic screen.
        clock: wall clock in UTC ms (a frozen one in snapshot tests).
    """

    host: str = "127.0.0.1"
    port: int = 1883
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    tls: bool = False
    cafile: str | None = None
    certfile: str | None = None
    keyfile: str | None = None
    read_only: bool = False
    client_id: str = ""
    redraw_hz: float = 2.0
    command_timeout_s: float = 10.0
    keepalive_s: int = 10
    subscribe_sparkplug: bool = True
    clock: Clock = system_clock

    @property
    def address(self) -> str:
        """``host:port`` as the person typed it, for messages."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def effective_client_id(self) -> str:
        return self.client_id or f"edge-gateway-tui-{os.getpid()}"
