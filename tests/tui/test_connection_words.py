"""Plain-words explanations of connection failures (pure functions; the real refusals are in
test_connection.py)."""

from __future__ import annotations

import socket
import ssl

from tui.connection.explain import explain_connack, explain_no_connack, explain_socket_error
from tui.settings import TuiSettings

S = TuiSettings(host="gw.example", port=8883)


def test_each_socket_error_names_the_address_and_a_next_step() -> None:
    cases = {
        ConnectionRefusedError(111, "Connection refused"): (
            "connection refused on gw.example:8883",
            "running",
        ),
        socket.gaierror(-2, "Name or service not known"): (
            "cannot resolve the host name 'gw.example'",
            "--host",
        ),
        TimeoutError("timed out"): ("no answer from gw.example:8883", "ssh -L"),
        ssl.SSLError(1, "WRONG_VERSION_NUMBER"): ("TLS handshake with gw.example:8883 failed", "--tls"),
        OSError(113, "No route to host"): ("no route to gw.example:8883", "network"),
    }
    for exc, (reason_part, hint_part) in cases.items():
        reason, hint = explain_socket_error(exc, S)
        assert reason_part in reason, (exc, reason)
        assert hint_part in hint, (exc, hint)


def test_connack_and_silent_port() -> None:
    reason, hint = explain_connack(0x86, "Bad user name or password", TuiSettings(username="op"))
    assert reason == "127.0.0.1:1883 refused the connection as user 'op': bad user name or password (0x86)"
    assert "--password-env" in hint
    reason, _ = explain_connack(0x99, "Payload format invalid", S)
    assert "anonymously" in reason and "Payload format invalid" in reason
    reason, hint = explain_no_connack(S, 5)
    assert "accepted TCP but gave no MQTT answer in 5 s" in reason and "--tls" in hint
    assert TuiSettings(host="::1").address == "[::1]:1883"
