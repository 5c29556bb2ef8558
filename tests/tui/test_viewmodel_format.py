"""Formatting of ages, times, sizes and values: what a technician reads in narrow columns."""

from __future__ import annotations

import math

import pytest

from gateway.control import contract as c
from tests.tui.support.sample import T0
from tui.viewmodel.badges import Cell, at_least, primary_host
from tui.viewmodel.filtering import RowFilter
from tui.viewmodel.format import (
    eta_s,
    format_age,
    format_bytes,
    format_clock,
    format_datetime,
    format_duration_ms,
    format_value,
)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (None, "never"),
        (-3, "0.0s"),
        (0.42, "0.4s"),
        (12, "12s"),
        (185, "3m05s"),
        (7620, "2h07m"),
        (4 * 86400 + 3 * 3600, "4d03h"),
    ],
)
def test_format_age(seconds: float | None, text: str) -> None:
    assert format_age(seconds) == text


def test_clock_and_datetime_are_utc() -> None:
    assert format_clock(T0 + 3_723_045) == "01:02:03"
    assert format_clock(T0 + 3_723_045, millis=True) == "01:02:03.045"
    assert format_clock(None) == "-"
    assert format_datetime(T0) == "2026-01-01 00:00:00 UTC"


def test_clock_follows_the_second_back_and_forth() -> None:
    # format_clock keeps the last second's text: a new second (forward or back) must not reuse it
    stamps = [T0 + 999, T0 + 1_000, T0 + 5, T0 + 86_399_999, T0 + 1_001]
    texts = ["00:00:00.999", "00:00:01.000", "00:00:00.005", "23:59:59.999", "00:00:01.001"]
    assert [format_clock(ms, millis=True) for ms in stamps] == texts
    assert format_clock(T0 + 1_999) == "00:00:01"


@pytest.mark.parametrize(
    ("n", "text"), [(0, "0 B"), (1023, "1023 B"), (1536, "1.5 KiB"), (3 << 30, "3.0 GiB")]
)
def test_format_bytes(n: int, text: str) -> None:
    assert format_bytes(n) == text


def test_format_value() -> None:
    assert format_value(None, "bar") == "?"
    assert format_value(True) == "true"
    assert format_value(21.123456789, "degC") == "21.1235 degC"
    assert format_value(math.nan) == "nan"
    assert format_value("NaN") == "NaN"
    assert format_value(7) == "7"
    assert format_duration_ms(None) == "in progress"
    assert format_duration_ms(1460) == "1.5 s"
    assert format_duration_ms(850) == "850 ms"


def test_eta() -> None:
    assert eta_s(0, 0, 0) == 0.0
    assert eta_s(1000, 110, 10) == 10.0
    assert eta_s(1000, 10, 10) is None  # not shrinking: never "0 s"


def test_severity_floor_and_primary_host_badge() -> None:
    assert at_least(c.Severity.ERROR, c.Severity.WARNING)
    assert not at_least(c.Severity.INFO, c.Severity.WARNING)
    assert primary_host(None).text.startswith("unknown")
    assert primary_host(False) == Cell("OFFLINE", "bold red")


def test_filter_regex_inverted_and_invalid() -> None:
    assert RowFilter.parse("").matches("anything")
    f = RowFilter.parse("^press")
    assert f.matches("press-2") and not f.matches("skid-1")
    inv = RowFilter.parse("!press")
    assert inv.matches("skid-1") and not inv.matches("press-2")
    bad = RowFilter.parse("temp[")
    assert bad.problem is not None and "regular expression" in bad.problem
    assert bad.matches("temp[1]") and not bad.matches("temperature")
    assert RowFilter.parse("TEMP").matches("temperature")  # case-insensitive
