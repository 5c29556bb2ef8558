"""Errors of the uplink.

    UplinkError                   base of everything the uplink raises
     +-- LinkError                one connection to one upstream server failed
     |    +-- ConnectTimeoutError no TCP connection or no CONNACK within ``connect_timeout``
     |    +-- ConnectRefusedError the server answered CONNACK with a failure reason code
     |    |    +-- CredentialsRejectedError  bad user name/password, not authorised (0x86/0x87, rc 4/5)
     |    +-- LinkClosedError     the connection is gone (publish/subscribe on a closed link)
     +-- BridgeRuleError          a bridge rule is invalid (bad filter, prefix, or direction)

``LinkError.server`` names the server (``name host:port``) so the log line says where.
"""

from __future__ import annotations


class UplinkError(Exception):
    """Base class of the uplink's errors."""


class LinkError(UplinkError):
    """A connection to ``server`` failed; ``reason`` is short and stable (it goes into switch records)."""

    def __init__(self, server: str, reason: str, detail: str = "") -> None:
        super().__init__(f"{server}: {reason}" + (f" ({detail})" if detail else ""))
        self.server = server
        self.reason = reason
        self.detail = detail


class ConnectTimeoutError(LinkError):
    """No connection or CONNACK in time: a black-holed address or a frozen broker."""


class ConnectRefusedError(LinkError):
    """CONNACK carried a failure; ``code`` is the MQTT reason code (5.0) or return code (3.1.1)."""

    def __init__(self, server: str, reason: str, code: int, detail: str = "") -> None:
        super().__init__(server, reason, detail)
        self.code = code


class CredentialsRejectedError(ConnectRefusedError):
    """The server rejected our credentials; retried slowly, shown distinctly in the terminal UI."""


class LinkClosedError(LinkError):
    """The link is closed; nothing was sent."""


class BridgeRuleError(UplinkError):
    """A bridge rule is invalid; the message names the rule and the field."""
