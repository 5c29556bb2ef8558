"""What the connection thread reports (plain frozen values, safe to hand between threads)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class LinkConnecting:
    """A connection attempt to ``address`` started (``attempt`` counts from 1 since the last success)."""

    address: str
    attempt: int
    at_ms: int


@dataclass(frozen=True, slots=True)
class LinkUp:
    """The broker accepted the connection (CONNACK success) and the subscriptions are sent."""

    address: str
    at_ms: int


@dataclass(frozen=True, slots=True)
class LinkDown:
    """The daemon is unreachable or the link was lost.

    Attributes:
        address: the address tried.
        reason: what happened, in plain words ("connection refused on 127.0.0.1:1883").
        next_step: what the person can try ("is the gateway running? ...").
        at_ms: when it happened.
        retry_in_s: when the next attempt starts.
        fatal: true when retrying cannot help without a change (bad password): still retried, slower.
    """

    address: str
    reason: str
    next_step: str
    at_ms: int
    retry_in_s: float
    fatal: bool = False


@dataclass(frozen=True, slots=True)
class Received:
    """A PUBLISH that arrived (status, event, reply or Sparkplug traffic)."""

    topic: str
    payload: bytes
    retained: bool
    at_ms: int
    correlation: bytes | None = None
    decoded: object = None  # set by the connection thread: a tui.viewmodel.model.Decoded


@dataclass(frozen=True, slots=True)
class PublishRefused:
    """The broker refused a request we published (MQTT 5 PUBACK reason >= 0x80).

    Attributes:
        correlation: the request's correlation data.
        reason_code: the PUBACK reason code (0x87 = not authorized).
        reason: its name in words.
    """

    correlation: bytes
    reason_code: int
    reason: str


LinkEvent = LinkConnecting | LinkUp | LinkDown | Received | PublishRefused
