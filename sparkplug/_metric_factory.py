"""Build frozen :class:`~sparkplug.model.Metric` objects at decode speed.

A Metric is stored as a tuple of its fields in declaration order (see its docstring), so the decoder
builds one with a single ``tuple.__new__(Metric, fields)`` call, in C, instead of running
``Metric.__new__``'s checks in Python. :func:`new_metric` is that call; the decoder's hot loop inlines
it. It bypasses the ``is_null`` check, so callers pass ``is_null == (value is None)`` themselves.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from sparkplug.model import Metric

FIELD_NAMES = ("name", "alias", "timestamp", "datatype", "value", "is_historical", "is_transient",
               "is_null", "properties", "metadata")  # fmt: skip

if tuple(spec.name for spec in fields(Metric)) != FIELD_NAMES:  # pragma: no cover - guards Metric edits
    raise ImportError("sparkplug._metric_factory.FIELD_NAMES must list Metric's fields in their order")

new_tuple = tuple.__new__


def new_metric(  # noqa: PLR0917 - positional on purpose: it mirrors Metric's field order
    name: Any,
    alias: Any,
    timestamp: Any,
    datatype: Any,
    value: Any,
    is_historical: Any,
    is_transient: Any,
    is_null: Any,
    properties: Any,
    metadata: Any,
) -> Metric:
    """A frozen Metric from already-validated fields (positional, in field order)."""
    fields_ = (name, alias, timestamp, datatype, value, is_historical, is_transient, is_null)
    return new_tuple(Metric, (*fields_, properties, metadata))
