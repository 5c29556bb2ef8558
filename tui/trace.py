"""Latency tracing of the running UI, for the benchmark (off unless ``EDGE_GATEWAY_TUI_TRACE`` names a file).

Where a key's latency goes, measured inside the process (all times ``time.monotonic``, the clock
Textual stamps its messages with)::

    read    the input thread parsed the key from the terminal (``Key.time``)
    handled the UI loop dispatched it (lag = handled - read: loop busy, GIL, CPU starvation)
    shown   the first screen update written to the driver after it (compositor + render)

One JSON line per key: ``{"kind": "key", "key", "read", "queue_ms", "render_ms", "total_ms"}``;
one per piece of loop work: ``{"kind": "drain"|"repaint"|"display", "ms", ...}``; one per garbage
collection that was of generation 2 or took over 5 ms: ``{"kind": "gc", "generation", "ms"}``.
Besides keys, once a second: ``{"kind": "loop", "lag_max_ms", "lag_p99_ms"}``, the lateness of a
10 ms heartbeat on the UI loop (how long the loop could not run: busy, or no CPU, or no GIL), and
``{"kind": "sink", "messages", "decode_max_ms", "decode_sum_ms"}``, the decoding done on the MQTT
thread while holding the GIL (the longest single decode is the longest burst it can impose, since
the JSON decoder is C code that never releases the GIL mid-call).

The tracer writes only from the UI loop (the sink's counters are plain ints/floats updated by one
thread and read by the other: a torn read costs one sample's accuracy, not correctness).
"""

from __future__ import annotations

import gc
import json
import os
import time
from typing import IO

ENV = "EDGE_GATEWAY_TUI_TRACE"
_BEAT_S = 0.01


class Tracer:
    """Collects key, loop and sink timings and appends them as JSON lines to ``path``."""

    def __init__(self, path: str) -> None:
        self._out: IO[str] = open(path, "a", buffering=1, encoding="utf-8")  # noqa: SIM115 (lives with the app)
        self._pending: list[tuple[str, float, float]] = []
        self._lags: list[float] = []
        self._expected = 0.0
        self._window_at = time.monotonic()
        self.decodes = 0
        self.decode_max_s = 0.0
        self.decode_sum_s = 0.0
        self._gc_started = 0.0
        gc.callbacks.append(self._gc)

    @classmethod
    def from_environment(cls) -> Tracer | None:
        path = os.environ.get(ENV, "")
        return cls(path) if path else None

    def key(self, key: str, read_at: float) -> None:
        """The UI loop is dispatching ``key`` (read by the input thread at ``read_at``)."""
        self._pending.append((key, read_at, time.monotonic()))

    def shown(self) -> None:
        """A screen update was handed to the driver: every pending key is now on screen."""
        if not self._pending:
            return
        now = time.monotonic()
        for key, read_at, handled in self._pending:
            self._emit(
                kind="key",
                key=key,
                read=round(read_at, 6),
                queue_ms=round((handled - read_at) * 1000, 2),
                render_ms=round((now - handled) * 1000, 2),
                total_ms=round((now - read_at) * 1000, 2),
            )
        self._pending.clear()

    def decoded(self, seconds: float) -> None:
        """One message was decoded on the MQTT thread in ``seconds`` (called from that thread)."""
        self.decodes += 1
        self.decode_sum_s += seconds
        self.decode_max_s = max(self.decode_max_s, seconds)

    def beat(self) -> float:
        """Heartbeat on the UI loop; returns the delay until the next one."""
        now = time.monotonic()
        if self._expected:
            self._lags.append(max(0.0, now - self._expected))
        self._expected = now + _BEAT_S
        if now - self._window_at >= 1.0:
            lags = sorted(self._lags) or [0.0]
            self._emit(
                kind="loop",
                beats=len(self._lags),
                lag_max_ms=round(lags[-1] * 1000, 2),
                lag_p99_ms=round(lags[min(len(lags) - 1, int(0.99 * len(lags)))] * 1000, 2),
            )
            self._emit(
                kind="sink",
                messages=self.decodes,
                decode_max_ms=round(self.decode_max_s * 1000, 3),
                decode_sum_ms=round(self.decode_sum_s * 1000, 2),
            )
            self._lags.clear()
            self._window_at = now
            self.decodes, self.decode_max_s, self.decode_sum_s = 0, 0.0, 0.0
        return _BEAT_S

    def span(self, kind: str, started: float, **fields: object) -> None:
        """One piece of UI-loop work that began at ``started`` (monotonic): ``{"kind", "ms", ...}``."""
        self._emit(kind=kind, ms=round((time.monotonic() - started) * 1000, 2), **fields)

    def _gc(self, phase: str, info: dict[str, int]) -> None:
        # any thread may trigger a collection; it stops every thread, so each one is a pause
        if phase == "start":
            self._gc_started = time.monotonic()
        elif info["generation"] == 2 or time.monotonic() - self._gc_started > 0.005:
            self._emit(
                kind="gc",
                generation=info["generation"],
                ms=round((time.monotonic() - self._gc_started) * 1000, 2),
                collected=info["collected"],
            )

    def _emit(self, **fields: object) -> None:
        self._out.write(json.dumps(fields) + "\n")

    def close(self) -> None:
        if self._gc in gc.callbacks:
            gc.callbacks.remove(self._gc)
        self._out.close()
