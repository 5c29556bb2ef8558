"""The checked-in sparkplug_b_pb2.py is exactly what protoc makes from sparkplug_b.proto today."""

from __future__ import annotations

import re
from pathlib import Path

from sparkplug._generated import regenerate as regen

CHECKED_IN = Path(regen.__file__).resolve().parent / regen.MODULE_NAME


def test_generated_module_matches_proto(tmp_path: Path) -> None:
    fresh = regen.regenerate(tmp_path).read_text(encoding="utf-8")
    assert fresh == CHECKED_IN.read_text(encoding="utf-8"), (
        "sparkplug/_generated/sparkplug_b_pb2.py is out of date with sparkplug/sparkplug_b.proto: "
        "run `.venv/bin/python -m sparkplug._generated.regenerate` and commit the result"
    )


def test_protobuf_lower_bound_covers_generated_code() -> None:
    """The generated code refuses an older protobuf runtime; pyproject must not allow one."""
    text = CHECKED_IN.read_text(encoding="utf-8")
    match = re.search(r"# Protobuf Python Version: (\d+)\.(\d+)\.(\d+)", text)
    assert match is not None
    needed = tuple(int(part) for part in match.groups())
    pyproject = (Path(__file__).resolve().parents[2] / "pyproject.toml").read_text(encoding="utf-8")
    bound = re.search(r'"protobuf>=(\d+)\.(\d+)(?:\.(\d+))?"', pyproject)
    assert bound is not None, "pyproject.toml must lower-bound protobuf"
    declared = tuple(int(part or 0) for part in bound.groups())
    assert declared >= needed, f"pyproject allows protobuf {declared} but the generated code needs {needed}"


def test_header_names_the_regenerate_command() -> None:
    assert "python -m sparkplug._generated.regenerate" in CHECKED_IN.read_text(encoding="utf-8")
