"""Shared pieces of the C-accelerator tests (test_speedups*.py): the module, common-shape strategies,
wire-writing helpers and a comparison that sees the differences ``==`` hides (NaN, -0.0, int vs bool).
"""

from __future__ import annotations

import shutil
import sysconfig
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from hypothesis import strategies as st

from sparkplug import Metric, Payload
from tests.sparkplug.strategies import NAMES, SCALARS, TEXT, UINT64


def compiler_available() -> bool:
    """True when this machine could have built the extension: a C compiler and Python's headers."""
    compiler = (sysconfig.get_config_var("CC") or "cc").split()[0]
    header = Path(sysconfig.get_paths()["include"]) / "Python.h"
    return shutil.which(compiler) is not None and header.is_file()


def speedups() -> ModuleType:
    """The configured extension, or skip (test_extension_is_built fails instead when it should exist)."""
    from sparkplug import _accel

    module = _accel.load()
    if module is None:
        pytest.skip("sparkplug._speedups is not built or is disabled by SPARKPLUG_NO_SPEEDUPS")
    return module


# Every datatype the C path handles, with values that fit (Float values are float32-exact).
COMMON_TYPES = sorted(SCALARS)

# A Float value anywhere in the double range the encoder accepts for float32, specials included.
ANY_FLOAT = st.floats(allow_nan=True, allow_infinity=True)


@st.composite
def common_metrics(draw: st.DrawFn) -> Metric:
    datatype = draw(st.sampled_from(COMMON_TYPES))
    value = draw(st.none() | SCALARS[datatype])
    return Metric(
        name=draw(st.none() | NAMES),
        alias=draw(st.none() | UINT64),
        timestamp=draw(st.none() | UINT64),
        datatype=datatype,
        value=value,
        is_historical=draw(st.booleans()),
        is_transient=draw(st.booleans()),
    )


common_payloads = st.builds(
    Payload,
    timestamp=st.none() | UINT64,
    metrics=st.lists(common_metrics(), max_size=6).map(tuple),
    seq=st.none() | UINT64,
    uuid=st.none() | TEXT,
    body=st.none() | st.binary(max_size=12),
)


def canonical(value: Any) -> Any:
    """A form whose equality is exact: type names and reprs all the way down (NaN == NaN, -0.0 != 0.0)."""
    if isinstance(value, Payload):
        return ("Payload", canonical(value.timestamp), canonical(value.metrics), canonical(value.seq),
                canonical(value.uuid), canonical(value.body))  # fmt: skip
    if isinstance(value, tuple):
        return (type(value).__name__, tuple(canonical(item) for item in value))
    return (type(value).__name__, repr(value))


def varint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def field(number: int, wire: int, body: bytes) -> bytes:
    """One protobuf field; ``body`` is the varint/fixed bytes, or the payload of a length-delimited one."""
    return varint(number << 3 | wire) + (varint(len(body)) + body if wire == 2 else body)


def metric(*fields: bytes) -> bytes:
    return field(2, 2, b"".join(fields))
