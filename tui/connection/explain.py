"""Turn connection failures into plain words: what happened at which address, and what to try.

Pure functions; the connection thread calls them with the exception or CONNACK reason it got.
"""

from __future__ import annotations

import errno
import socket
import ssl

from tui.settings import TuiSettings

START_HINT = (
    "is the gateway running? try `systemctl status edge-gateway`, or start it with `edge-gateway run`"
)


def explain_socket_error(exc: BaseException, settings: TuiSettings) -> tuple[str, str]:
    """Return ``(reason, next_step)`` for an exception raised while connecting to the broker."""
    address = settings.address
    if isinstance(exc, ssl.SSLCertVerificationError):
        return (
            f"the TLS certificate of {address} was not accepted: {exc.verify_message}",
            "pass the CA that signed it with --cafile, and connect to the name in the certificate",
        )
    if isinstance(exc, ssl.SSLError):
        return (
            f"TLS handshake with {address} failed: {getattr(exc, 'reason', None) or exc}",
            "check --tls/--cafile/--cert/--key, and that this port is a TLS listener",
        )
    if isinstance(exc, socket.gaierror):
        return (
            f"cannot resolve the host name {settings.host!r}: {exc.strerror}",
            "check --host (an address such as 127.0.0.1 avoids name lookups)",
        )
    if isinstance(exc, ConnectionRefusedError):
        return f"connection refused on {address}", START_HINT
    if isinstance(exc, TimeoutError | socket.timeout):
        return (
            f"no answer from {address} (timed out)",
            "check the address, a firewall, or use an SSH tunnel: ssh -L 1883:127.0.0.1:1883 GATEWAY",
        )
    if isinstance(exc, ConnectionResetError | BrokenPipeError):
        return f"the connection to {address} was closed by the other side", START_HINT
    if isinstance(exc, OSError) and exc.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH):
        return f"no route to {address}: {exc.strerror}", "check the network and --host"
    if isinstance(exc, OSError) and exc.strerror:
        return f"cannot connect to {address}: {exc.strerror}", START_HINT
    return f"cannot connect to {address}: {exc}", START_HINT


# CONNACK reason codes of MQTT 5 ([MQTT-3.2.2.2]) that the person can act on.
_CONNACK_HINTS: dict[int, tuple[str, str]] = {
    0x84: ("the broker does not speak MQTT 5", "the gateway's embedded broker does; check --port"),
    0x85: ("the broker refused the client id", "pass another client id or stop the other UI"),
    0x86: (
        "bad user name or password",
        "check --username and the environment variable named by --password-env",
    ),
    # mosquitto answers a wrong password with 0x87 rather than 0x86, so both name the credentials
    0x87: (
        "not authorized: wrong user name or password, or this user may not connect",
        "check --username and the environment variable named by --password-env",
    ),
    0x88: ("the broker is unavailable", START_HINT),
    0x89: ("the broker is busy", "wait a moment; the UI retries by itself"),
    0x8A: ("this user is banned", "ask the gateway's administrator"),
    0x9F: ("the broker refused: connection rate exceeded", "the UI retries by itself, more slowly"),
}

FATAL_CONNACK = frozenset({0x84, 0x85, 0x86, 0x87, 0x8A})
"""CONNACK reasons that retrying cannot fix without a change of settings."""


def explain_connack(reason_code: int, reason_name: str, settings: TuiSettings) -> tuple[str, str]:
    """Return ``(reason, next_step)`` for a refused CONNACK."""
    words, hint = _CONNACK_HINTS.get(reason_code, (reason_name, START_HINT))
    user = f" as user {settings.username!r}" if settings.username else " anonymously"
    return f"{settings.address} refused the connection{user}: {words} (0x{reason_code:02X})", hint


def explain_lost(reason_name: str, settings: TuiSettings) -> tuple[str, str]:
    """Return ``(reason, next_step)`` for an established link that was lost."""
    return f"lost the connection to {settings.address}: {reason_name}", START_HINT


def explain_no_connack(settings: TuiSettings, waited_s: float) -> tuple[str, str]:
    """A TCP connection was accepted but no CONNACK came back."""
    return (
        f"{settings.address} accepted TCP but gave no MQTT answer in {waited_s:.0f} s",
        "is this the gateway's MQTT port (not a TLS port without --tls)? check --port and --tls",
    )
