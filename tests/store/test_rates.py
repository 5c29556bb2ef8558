"""Recent in/out rates and the time to empty (ETA) shown by the terminal UI."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.store import MessageStore, NewMessage, StoreLimits
from gateway.store._rates import RecentRates, eta_seconds


def test_rates_cover_the_window_up_to_now_and_decay_when_idle() -> None:
    rates = RecentRates(now=0.0, window=10.0)
    for second in range(1, 21):  # 100 in and 150 out per second for 20 s
        rates.record(float(second), 100 * second, 150 * second)
    assert rates.rates(20.0, 2000, 3000) == pytest.approx((100.0, 150.0))
    # Nothing for 5 s: the same totals spread over the last window.
    assert rates.rates(25.0, 2000, 3000) == pytest.approx((50.0, 75.0))
    assert rates.rates(40.0, 2000, 3000) == pytest.approx((0.0, 0.0), abs=1e-9)


def test_first_commit_is_not_shown_as_a_burst_rate() -> None:
    rates = RecentRates(now=0.0)
    rates.record(0.001, 1000, 0)
    rate_in, _ = rates.rates(0.001, 1000, 0)
    assert rate_in == pytest.approx(1000.0)  # over the 1 s minimum span, not 1000 / 0.001 s


@pytest.mark.parametrize(
    ("queued", "rate_in", "rate_out", "eta"),
    [(0, 0.0, 0.0, 0.0), (1000, 100.0, 600.0, 2.0), (1000, 600.0, 600.0, None), (1000, 10.0, 0.0, None)],
)
def test_eta_is_queued_over_the_net_rate_or_none_when_not_shrinking(
    queued: int, rate_in: float, rate_out: float, eta: float | None
) -> None:
    assert eta_seconds(queued, rate_in, rate_out) == eta


async def test_status_shows_rates_and_an_eta_while_draining(tmp_path: Path) -> None:
    now = [1000.0]
    store = MessageStore(
        tmp_path / "q.db", limits=StoreLimits(max_bytes=None, max_age_s=None), monotonic=lambda: now[0]
    )
    await store.open()
    try:
        assert store.status().eta_s == 0.0
        futures = [store.append(NewMessage("t", b"x", 1, False, 0, 0)) for _ in range(400)]
        ids = [await f for f in futures]
        storing = store.status()
        assert storing.in_per_s == pytest.approx(400.0) and storing.out_per_s == 0
        assert storing.eta_s is None  # growing: no time to empty
        now[0] += 20.0  # the outage is over; the drain runs
        await store.delete(ids[:100])
        now[0] += 1.0
        await store.delete(ids[100:300])
        draining = store.status()
        assert draining.messages == 100 and draining.in_per_s == 0
        # 300 out since the last commit before the 10 s window (the appends, 21 s ago).
        assert draining.out_per_s == pytest.approx(300 / 21)
        assert draining.eta_s == pytest.approx(7.0)
        await store.delete(ids[300:])
        assert store.status().eta_s == 0.0
    finally:
        await store.close()
