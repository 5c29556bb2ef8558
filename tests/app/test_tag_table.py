"""The live tag table of one device: values kept always, TagValues built only when asked for."""

from __future__ import annotations

import drivers
from gateway.app.tag_table import TagTable
from gateway.control import contract as c


def table() -> TagTable:
    return TagTable(
        c.TagValue(name, None, c.Quality.UNCERTAIN, 0, "Int16", name == "b", "rpm") for name in ("a", "b")
    )


def sample(
    tag: str, value: drivers.Value, ts: int, quality: drivers.Quality = drivers.Quality.GOOD
) -> drivers.Sample:
    return drivers.Sample(tag, value, quality, ts)


def test_values_keep_configuration_order_and_static_fields() -> None:
    tags = table()
    assert [t.name for t in tags.values()] == ["a", "b"] and len(tags) == 2
    assert tags.get("b") == c.TagValue("b", None, c.Quality.UNCERTAIN, 0, "Int16", True, "rpm")
    assert "a" in tags and "zz" not in tags and tags.get("zz") is None


def test_apply_names_value_and_quality_changes_only_when_collecting() -> None:
    tags = table()
    changes = tags.apply([sample("a", 1, 10), sample("b", 2, 10), sample("unknown", 3, 10)], collect=True)
    assert changes == ["a", "b"]
    assert [(t.name, t.value, t.quality, t.timestamp_ms) for t in tags.values()] == [
        ("a", 1, c.Quality.GOOD, 10),
        ("b", 2, c.Quality.GOOD, 10),
    ]
    again = tags.apply([sample("a", 1, 20), sample("b", 3, 20)], collect=True)
    assert again == ["b"], "a fresh timestamp alone is not a change"
    assert tags.get("a") == c.TagValue("a", 1, c.Quality.GOOD, 20, "Int16", False, "rpm"), "but it is kept"
    assert tags.apply([sample("a", 5, 30)], collect=False) == []
    assert tags.get("a") is not None and tags.get("a").value == 5  # type: ignore[union-attr]


def test_a_bad_sample_keeps_the_last_value_and_marks_it() -> None:
    tags = table()
    tags.apply([sample("a", 7, 10)], collect=False)
    assert tags.apply([sample("a", None, 20, drivers.Quality.BAD)], collect=True) == ["a"]
    bad = tags.get("a")
    assert bad is not None and (bad.value, bad.quality, bad.timestamp_ms) == (7, c.Quality.BAD, 20)


def test_non_scalar_driver_values_become_text() -> None:
    tags = table()
    tags.apply([sample("a", b"\x01\xff", 10)], collect=True)
    assert tags.get("a") == c.TagValue("a", "01ff", c.Quality.GOOD, 10, "Int16", False, "rpm")


def test_the_version_moves_on_every_update_and_built_values_are_reused() -> None:
    tags = table()
    seen = {tags.version}
    tags.apply([sample("a", 1, 10)], collect=False)
    seen.add(tags.version)
    first = tags.values()
    assert tags.values()[0] is first[0], "built once until the next update"
    tags.set("a", 2, c.Quality.GOOD, 11)
    seen.add(tags.version)
    tags.retype("b", "Float")
    seen.add(tags.version)
    assert tags.get("b") is not None and tags.get("b").datatype == "Float"  # type: ignore[union-attr]
    assert len(seen) == 4
    assert TagTable(()).version not in seen, "a new table never repeats a version"


def test_mark_stale_returns_only_those_not_already_stale() -> None:
    tags = table()
    tags.apply([sample("a", 1, 10)], collect=False)
    assert tags.mark_stale(50) == ["a", "b"]
    assert [(t.name, t.value, t.quality, t.timestamp_ms) for t in tags.values()] == [
        ("a", 1, c.Quality.STALE, 50),
        ("b", None, c.Quality.STALE, 50),
    ]
    assert tags.mark_stale(60) == []


def test_built_values_are_ordinary_tag_values() -> None:
    """The table sets the frozen dataclass's slots directly (half the cost of its __init__): what it
    builds must be indistinguishable from the constructor's TagValue."""
    tags = table()
    tags.apply([sample("b", 2.5, 10)], collect=False)
    built = tags.get("b")
    expected = c.TagValue("b", 2.5, c.Quality.GOOD, 10, "Int16", True, "rpm")
    assert type(built) is c.TagValue and built == expected and hash(built) == hash(expected)
    assert repr(built) == repr(expected)
    assert c.encode_message(c.TagSnapshot(1, "d", (built,))) == c.encode_message(
        c.TagSnapshot(1, "d", (expected,))
    )
