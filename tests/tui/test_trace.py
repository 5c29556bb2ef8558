"""The UI's latency trace (EDGE_GATEWAY_TUI_TRACE): what the benchmark reads about the UI itself."""

from __future__ import annotations

import gc
import json
import time
from pathlib import Path

import pytest

from tui.trace import ENV, Tracer


def lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_off_unless_the_environment_names_a_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(ENV, raising=False)
    assert Tracer.from_environment() is None
    monkeypatch.setenv(ENV, str(tmp_path / "t.jsonl"))
    tracer = Tracer.from_environment()
    assert tracer is not None
    tracer.close()


def test_keys_are_reported_at_the_next_screen_update(tmp_path: Path) -> None:
    tracer = Tracer(str(tmp_path / "t.jsonl"))
    try:
        tracer.shown()  # an update with no key pending reports nothing
        read = time.monotonic() - 0.010  # read by the input thread 10 ms ago
        tracer.key("down", read)
        tracer.key("down", read)
        tracer.shown()
        tracer.shown()  # already reported
    finally:
        tracer.close()
    keys = [t for t in lines(tmp_path / "t.jsonl") if t["kind"] == "key"]
    assert len(keys) == 2
    for key in keys:
        assert key["key"] == "down"
        assert isinstance(key["total_ms"], float) and key["total_ms"] >= 10.0
        assert key["total_ms"] == pytest.approx(float(key["queue_ms"]) + float(key["render_ms"]), abs=0.02)


def test_loop_lag_sink_and_gc_are_reported(tmp_path: Path) -> None:
    tracer = Tracer(str(tmp_path / "t.jsonl"))
    try:
        tracer.decoded(0.002)
        tracer.decoded(0.0005)
        tracer.beat()
        tracer._expected -= 0.06  # due 10 ms after the first: now at least 50 ms late
        tracer._window_at -= 2.0  # and closes the one-second window
        tracer.beat()
        gc.collect()  # a full collection is always reported
        tracer.span("drain", time.monotonic(), events=3)
    finally:
        tracer.close()
    by_kind = {t["kind"]: t for t in lines(tmp_path / "t.jsonl")}
    loop_lag = by_kind["loop"]["lag_max_ms"]
    assert isinstance(loop_lag, float) and loop_lag >= 50.0
    assert by_kind["sink"] == {"kind": "sink", "messages": 2, "decode_max_ms": 2.0, "decode_sum_ms": 2.5}
    assert by_kind["gc"]["generation"] == 2
    assert by_kind["drain"]["events"] == 3
    assert tracer._gc not in gc.callbacks  # closing detaches it
