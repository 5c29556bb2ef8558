"""Hypothesis strategies that build any control-plane value from its type hints."""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from enum import Enum
from typing import Any

from hypothesis import strategies as st

_text = st.text(max_size=12)
_finite = st.floats(allow_nan=False, allow_infinity=False)  # non-finite: see the dedicated tests


def strategy_for(tp: Any) -> st.SearchStrategy[Any]:
    """Values of ``tp`` the codec must round-trip exactly (finite floats; non-finite: tested apart)."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        return st.one_of(*(strategy_for(arg) for arg in typing.get_args(tp)))
    if origin is tuple:
        return st.lists(strategy_for(typing.get_args(tp)[0]), max_size=3).map(tuple)
    if origin is Mapping or origin is dict:
        value = strategy_for(typing.get_args(tp)[1])
        return st.dictionaries(_text, value, max_size=3).map(types.MappingProxyType)
    if tp is type(None):
        return st.none()
    if isinstance(tp, type) and issubclass(tp, Enum):
        return st.sampled_from(list(tp))
    if tp is bool:
        return st.booleans()
    if tp is int:
        return st.integers(min_value=-(2**63), max_value=2**64)
    if tp is float:
        return _finite
    if tp is str:
        return _text
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        hints = typing.get_type_hints(tp)
        return st.builds(tp, **{f.name: strategy_for(hints[f.name]) for f in dataclasses.fields(tp)})
    raise TypeError(f"no strategy for {tp!r}")
