"""Build frozen :class:`~sparkplug.model.Metric` objects at decode speed.

A frozen dataclass ``__init__`` stores each field through ``object.__setattr__`` (about twice the cost
of a plain slotted ``__init__``), and decoding builds one Metric per metric on the wire, so it shows in
``benchmarks/sparkplug_codec.py``. :func:`new_metric` instead runs the plain ``__init__`` of a mutable
twin class with the very same ``__slots__`` layout and then switches the object's class to ``Metric``
(legal because the layouts are identical; checked below at import). The result is an ordinary frozen
``Metric``: equal to, hashing like and as immutable as one built by ``Metric(...)`` (tested).
It bypasses ``Metric.__post_init__``, so callers pass ``is_null == (value is None)`` themselves.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sparkplug.model import Metric


@dataclass(slots=True)
class MutableMetric:
    name: Any
    alias: Any
    timestamp: Any
    datatype: Any
    value: Any
    is_historical: Any
    is_transient: Any
    is_null: Any
    properties: Any
    metadata: Any


if MutableMetric.__slots__ != Metric.__slots__:  # pragma: no cover - a guard for whoever edits Metric
    raise ImportError("sparkplug._metric_factory.MutableMetric must list Metric's fields in the same order")


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
    twin: Any = MutableMetric(
        name, alias, timestamp, datatype, value, is_historical, is_transient, is_null, properties, metadata
    )
    twin.__class__ = Metric
    metric: Metric = twin
    return metric
