"""Hypothesis strategies for the Sparkplug model: every DataType, properties, DataSet, Template, payloads."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from sparkplug import (
    DataSet,
    DataType,
    MetaData,
    Metric,
    Payload,
    PropertySet,
    PropertyValue,
    Template,
    TemplateParameter,
)
from sparkplug.datatypes import BASIC_TYPES, INTEGER_RANGES

UINT64 = st.integers(0, 2**64 - 1)
TEXT = st.text(max_size=20)
NAMES = st.text(min_size=1, max_size=20)


def _int(datatype: DataType) -> st.SearchStrategy[int]:
    low, high = INTEGER_RANGES[datatype]
    return st.integers(low, high)


FLOAT32 = st.floats(width=32, allow_nan=False)
FLOAT64 = st.floats(allow_nan=False)

SCALARS: dict[DataType, st.SearchStrategy[Any]] = {
    **{dt: _int(dt) for dt in INTEGER_RANGES},
    DataType.Float: FLOAT32,
    DataType.Double: FLOAT64,
    DataType.Boolean: st.booleans(),
    DataType.String: TEXT,
    DataType.Text: TEXT,
    DataType.UUID: st.uuids().map(str),
    DataType.Bytes: st.binary(max_size=32),
    DataType.File: st.binary(max_size=32),
}

_ARRAY_ELEMENTS: dict[DataType, st.SearchStrategy[Any]] = {
    DataType.Int8Array: _int(DataType.Int8),
    DataType.Int16Array: _int(DataType.Int16),
    DataType.Int32Array: _int(DataType.Int32),
    DataType.Int64Array: _int(DataType.Int64),
    DataType.UInt8Array: _int(DataType.UInt8),
    DataType.UInt16Array: _int(DataType.UInt16),
    DataType.UInt32Array: _int(DataType.UInt32),
    DataType.UInt64Array: _int(DataType.UInt64),
    DataType.FloatArray: FLOAT32,
    DataType.DoubleArray: FLOAT64,
    DataType.BooleanArray: st.booleans(),
    DataType.StringArray: st.text(alphabet=st.characters(blacklist_characters="\x00"), max_size=10),
    DataType.DateTimeArray: _int(DataType.DateTime),
}
ARRAYS = {dt: st.lists(element, max_size=12).map(tuple) for dt, element in _ARRAY_ELEMENTS.items()}

BASIC = sorted(BASIC_TYPES)


@st.composite
def datasets(draw: st.DrawFn) -> DataSet:
    types = tuple(draw(st.lists(st.sampled_from(BASIC), max_size=4)))
    columns = tuple(draw(st.lists(NAMES, min_size=len(types), max_size=len(types))))
    rows = draw(
        st.lists(st.tuples(*(st.none() | SCALARS[t] for t in types)) if types else st.just(()), max_size=3)
    )
    return DataSet(columns, types, tuple(rows))


property_sets: st.SearchStrategy[PropertySet] = st.deferred(
    lambda: st.lists(st.tuples(NAMES, _property_values()), max_size=3).map(
        lambda items: PropertySet(tuple(items))
    )
)


@st.composite
def _property_value(draw: st.DrawFn) -> PropertyValue:
    kind = draw(st.sampled_from([*BASIC, DataType.PropertySet, DataType.PropertySetList]))
    if kind is DataType.PropertySet:
        value: Any = draw(st.none() | property_sets)
    elif kind is DataType.PropertySetList:
        value = draw(st.none() | st.lists(property_sets, max_size=2).map(tuple))
    else:
        value = draw(st.none() | SCALARS[kind])
    return PropertyValue(kind, value)


def _property_values() -> st.SearchStrategy[PropertyValue]:
    return _property_value()


metadatas = st.builds(
    MetaData,
    is_multi_part=st.none() | st.booleans(),
    content_type=st.none() | TEXT,
    size=st.none() | UINT64,
    seq=st.none() | UINT64,
    file_name=st.none() | TEXT,
    file_type=st.none() | TEXT,
    md5=st.none() | TEXT,
    description=st.none() | TEXT,
)


def values_for(datatype: DataType, depth: int = 0) -> st.SearchStrategy[Any]:
    if datatype in SCALARS:
        return SCALARS[datatype]
    if datatype in ARRAYS:
        return ARRAYS[datatype]
    if datatype is DataType.DataSet:
        return datasets()
    assert datatype is DataType.Template
    return templates(depth + 1)


def templates(depth: int) -> st.SearchStrategy[Template]:
    parameters = st.sampled_from(BASIC).flatmap(
        lambda t: st.builds(TemplateParameter, NAMES, st.just(t), st.none() | SCALARS[t])
    )
    return st.builds(
        Template,
        metrics=st.lists(metrics(depth), max_size=2 if depth < 2 else 0).map(tuple),
        parameters=st.lists(parameters, max_size=2).map(tuple),
        version=st.none() | TEXT,
        template_ref=st.none() | NAMES,
        is_definition=st.booleans(),
    )


METRIC_TYPES = sorted(set(SCALARS) | set(ARRAYS) | {DataType.DataSet, DataType.Template})


def metrics(depth: int = 0, datatype: DataType | None = None) -> st.SearchStrategy[Metric]:
    kinds = st.just(datatype) if datatype is not None else st.sampled_from(METRIC_TYPES)
    if depth >= 2:
        kinds = kinds.filter(lambda t: t is not DataType.Template)
    return kinds.flatmap(
        lambda t: st.builds(
            Metric,
            name=st.none() | NAMES,
            alias=st.none() | UINT64,
            timestamp=st.none() | UINT64,
            datatype=st.just(t),
            value=st.none() | values_for(t, depth),
            is_historical=st.booleans(),
            is_transient=st.booleans(),
            properties=st.none() | property_sets,
            metadata=st.none() | metadatas,
        )
    )


payloads = st.builds(
    Payload,
    timestamp=st.none() | UINT64,
    metrics=st.lists(metrics(), max_size=5).map(tuple),
    seq=st.none() | st.integers(0, 255),
    uuid=st.none() | TEXT,
    body=st.none() | st.binary(max_size=20),
)
