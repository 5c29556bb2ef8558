"""The cores without I/O: failover plan (which server, how long) and drain pacing."""

from __future__ import annotations

import random

import pytest

from gateway.uplink import (
    DrainPacer,
    DrainPacing,
    FailoverPlan,
    FailoverSettings,
    ServerSettings,
    SwitchReason,
)

SETTINGS = FailoverSettings(
    backoff_initial=1.0, backoff_max=8.0, backoff_jitter=0.5, hold_down=10.0, credentials_backoff=30.0
)


def plan(servers: int = 3) -> FailoverPlan:
    return FailoverPlan([f"s{i}" for i in range(servers)], SETTINGS, random.Random(42))


def test_loss_of_a_healthy_session_tries_the_next_server_at_once() -> None:
    p = plan()
    p.attempt(0, 0.0)
    p.on_healthy(0)
    assert p.after_loss(0, SwitchReason.CONNECTION_LOST, 100.0) == (1, 0.0)
    assert p.after_loss(2, SwitchReason.CONNECTION_LOST, 100.0) == (0, 0.0)  # wraps round


def test_failed_attempts_walk_the_list_then_back_off_exponentially_with_jitter() -> None:
    p = plan(3)
    now = 0.0
    index = 0
    delays = []
    for _ in range(12):
        p.attempt(index, now)
        index, delay = p.after_failure(index, SwitchReason.CONNECT_FAILED, now)
        delays.append(delay)
        now += delay + 0.001
    assert delays[0] == 0.0 and delays[1] == 0.0  # the first round is immediate
    for delay, base in zip(delays[2:], [1, 2, 2, 2, 4, 4, 4, 8, 8, 8], strict=True):
        assert base * 0.5 <= delay <= base, (delays, base)
    assert max(delays) <= SETTINGS.backoff_max
    assert p.failures == 12


def test_a_server_is_never_tried_twice_within_backoff_initial() -> None:
    p = plan(1)
    p.attempt(0, 10.0)
    _, delay = p.after_loss(0, SwitchReason.CONNECTION_LOST, 10.2)
    assert delay == pytest.approx(0.8)


def test_rejected_credentials_park_the_server() -> None:
    p = plan(2)
    p.attempt(0, 0.0)
    p.after_failure(0, SwitchReason.CREDENTIALS, 0.0)
    p.attempt(1, 0.0)
    index, delay = p.after_failure(1, SwitchReason.CONNECT_FAILED, 0.0)
    assert index == 0 and delay == pytest.approx(30.0)


def test_failback_needs_an_unbroken_hold_down() -> None:
    p = plan(2)
    assert not p.failback_due(0, 0.0)  # already on the preferred server
    p.preferred_probe(True, 0.0)
    assert not p.failback_due(1, 9.9)
    p.preferred_probe(False, 5.0)  # a flap resets the clock
    p.preferred_probe(True, 6.0)
    assert not p.failback_due(1, 15.9)
    assert p.failback_due(1, 16.0)
    never = FailoverPlan(["a", "b"], FailoverSettings(hold_down=None), random.Random(1))
    never.preferred_probe(True, 0.0)
    assert not never.failback_due(1, 1e9)


def test_settings_are_validated() -> None:
    with pytest.raises(ValueError, match="connect_timeout"):
        FailoverSettings(connect_timeout=0)
    with pytest.raises(ValueError, match="backoff_initial"):
        FailoverSettings(backoff_initial=10, backoff_max=1)
    with pytest.raises(ValueError, match="port"):
        ServerSettings(host="h", port=70000)
    with pytest.raises(ValueError, match="keepalive"):
        ServerSettings(host="h", keepalive=0)
    with pytest.raises(ValueError, match="at least one server"):
        FailoverPlan([], FailoverSettings(), random.Random(1))


def test_pacer_spaces_messages_by_rate_and_bytes() -> None:
    pacing = DrainPacing(max_messages_per_s=1000, max_bytes_per_s=10_000, window=8)
    pacer = DrainPacer(pacing, now=0.0)
    pacer.rate = 100.0
    waits = [pacer.reserve(10, 0.0) for _ in range(5)]
    assert waits == pytest.approx([0.0, 0.01, 0.02, 0.03, 0.04])  # 10 ms apart at 100 messages/s
    # After an idle second, 20 ms of burst credit: three go at once, the fourth waits.
    assert [pacer.reserve(10, 1.0) for _ in range(4)] == pytest.approx([0.0, 0.0, 0.0, 0.01])
    big = DrainPacer(pacing, now=0.0)
    big.rate = 1000.0
    assert big.reserve(5_000, 0.0) == 0.0
    assert big.reserve(5_000, 0.0) == pytest.approx(0.5)  # 5000 B at 10 kB/s: 0.5 s each


def test_pacer_backs_off_when_ack_latency_rises_and_recovers() -> None:
    pacing = DrainPacing(max_messages_per_s=10_000, min_messages_per_s=100)
    pacer = DrainPacer(pacing, now=0.0)
    start = pacer.rate
    now = 0.0
    for _ in range(50):
        now += 0.01
        pacer.on_ack(0.001, now)
    assert pacer.rate > start
    fast = pacer.rate
    for _ in range(200):
        now += 0.01
        pacer.on_ack(0.05, now)  # 50x the baseline: congestion
    assert pacer.rate < fast / 4
    assert pacer.rate >= pacing.min_messages_per_s
    with pytest.raises(ValueError):
        DrainPacing(window=0)
