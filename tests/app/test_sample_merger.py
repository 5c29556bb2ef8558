"""Driver batches merged within a window, time passed in (the core of gateway/app/sample_merger.py)."""

from __future__ import annotations

import drivers
from gateway.app.sample_merger import MAX_WINDOW_S, SampleMerger, window_for


def batch(*tags: str, ts: int = 1) -> list[drivers.Sample]:
    return [drivers.Sample(tag, 1, drivers.Quality.GOOD, ts) for tag in tags]


def deadline(merger: SampleMerger) -> float | None:
    """Read through a call: mypy would keep the narrowing of an earlier assert on the attribute."""
    return merger.deadline


def names(samples: list[drivers.Sample] | None) -> list[str] | None:
    return None if samples is None else [s.tag for s in samples]


def test_batches_within_the_window_go_out_together_at_its_end() -> None:
    merger = SampleMerger(0.02)
    assert merger.add(batch("a", "b"), now=10.0) is None
    assert merger.deadline == 10.02
    assert merger.add(batch("c"), now=10.01) is None
    assert deadline(merger) == 10.02, "the window runs from the first held batch"
    assert merger.due(10.019) is None
    assert names(merger.due(10.02)) == ["a", "b", "c"]
    assert deadline(merger) is None and merger.due(11.0) is None and merger.take() is None


def test_a_tag_already_held_sends_the_held_batch_first() -> None:
    merger = SampleMerger(0.02)
    merger.add(batch("a", "b", ts=1), now=10.0)
    out = merger.add(batch("b", "c", ts=2), now=10.005)
    assert names(out) == ["a", "b"], "one DDATA never carries two values of a metric"
    assert deadline(merger) == 10.025, "the new batch starts its own window"
    assert [(s.tag, s.timestamp_ms) for s in merger.take() or []] == [("b", 2), ("c", 2)]


def test_a_zero_window_passes_batches_through() -> None:
    merger = SampleMerger(0.0)
    assert names(merger.add(batch("a"), now=1.0)) == ["a"]
    assert merger.deadline is None and merger.take() is None


def test_the_window_is_a_tenth_of_the_poll_at_most_the_cap() -> None:
    assert window_for(1.0) == MAX_WINDOW_S
    assert window_for(0.05) == 0.005
    assert window_for(0.0) == 0.0
