"""Log lines: one per event with identifiers, JSON on request, per-component levels, the ring."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from gateway.control.contract import LogLine, Severity
from gateway.logging_setup import LogRing, configure_logging


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)
    for name in ("gateway.test.quiet", "gateway.test.loud"):
        logging.getLogger(name).setLevel(logging.NOTSET)


def test_text_line_carries_identifiers() -> None:
    stream = io.StringIO()
    configure_logging("info", "text", stream=stream)
    logging.getLogger("gateway.test").warning(
        "read timed out after %.1f s", 1.0, extra={"device": "press-1", "topic": "spBv1.0/G/DDATA/E/press-1"}
    )
    [line] = stream.getvalue().splitlines()
    assert line.endswith(
        "WARNING gateway.test: read timed out after 1.0 s [device=press-1 topic=spBv1.0/G/DDATA/E/press-1]"
    )
    assert line[:4].isdigit() and "Z " in line


def test_json_lines() -> None:
    stream = io.StringIO()
    configure_logging("info", "json", stream=stream)
    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("gateway.test").exception("failed", extra={"server": "site-a", "client_id": "gw1"})
    document = json.loads(stream.getvalue())
    assert document["level"] == "error" and document["logger"] == "gateway.test"
    assert document["server"] == "site-a" and document["client_id"] == "gw1"
    assert "ValueError: boom" in document["exception"]


def test_per_component_levels() -> None:
    stream = io.StringIO()
    configure_logging(
        "info", "text", {"gateway.test.quiet": "error", "gateway.test.loud": "debug"}, stream=stream
    )
    logging.getLogger("gateway.test.quiet").warning("hidden")
    logging.getLogger("gateway.test.loud").debug("shown")
    logging.getLogger("gateway.test.other").debug("hidden too")
    text = stream.getvalue()
    assert "shown" in text and "hidden" not in text


def test_ring_is_bounded_and_filters() -> None:
    ring = LogRing(capacity=3)
    seen: list[LogLine] = []
    ring.listener = seen.append
    configure_logging("debug", "text", stream=io.StringIO(), ring=ring)
    log = logging.getLogger("gateway.test")
    for i in range(5):
        log.info("line %d", i, extra={"device": "d"})
    logging.getLogger("drivers.x").error("bad")
    assert [line.message for line in ring.recent(10)] == ["line 3", "line 4", "bad"]
    assert [line.message for line in ring.recent(10, Severity.ERROR)] == ["bad"]
    assert [line.message for line in ring.recent(1, logger_prefix="gateway.")] == ["line 4"]
    assert ring.recent(10)[0].fields == {"device": "d"}
    assert len(seen) == 6 and ring.total == 6
