"""Wire codes: the Sparkplug ``DataType`` enum (§13) and the Quality property codes (§16).

Member names follow the specification (``DataType.Int8``, ``DataType.UInt32``) so that a reader who
knows Sparkplug recognises them; the numeric values are wire-exact.
"""

from __future__ import annotations

from enum import IntEnum


class DataType(IntEnum):
    """Sparkplug B 3.0 ``DataType`` (sparkplug_b.proto, top-level enum)."""

    Unknown = 0
    Int8 = 1
    Int16 = 2
    Int32 = 3
    Int64 = 4
    UInt8 = 5
    UInt16 = 6
    UInt32 = 7
    UInt64 = 8
    Float = 9
    Double = 10
    Boolean = 11
    String = 12
    DateTime = 13
    Text = 14
    UUID = 15
    DataSet = 16
    Bytes = 17
    File = 18
    Template = 19
    PropertySet = 20
    PropertySetList = 21
    Int8Array = 22
    Int16Array = 23
    Int32Array = 24
    Int64Array = 25
    UInt8Array = 26
    UInt16Array = 27
    UInt32Array = 28
    UInt64Array = 29
    FloatArray = 30
    DoubleArray = 31
    BooleanArray = 32
    StringArray = 33
    DateTimeArray = 34


class Quality(IntEnum):
    """Values of the ``Quality`` property (type Int32), `payloads-propertyset-quality-value`."""

    BAD = 0
    GOOD = 192
    STALE = 500


#: Inclusive value range of each integer type (DateTime is ms since the epoch in a uint64).
INTEGER_RANGES: dict[DataType, tuple[int, int]] = {
    DataType.Int8: (-(1 << 7), (1 << 7) - 1),
    DataType.Int16: (-(1 << 15), (1 << 15) - 1),
    DataType.Int32: (-(1 << 31), (1 << 31) - 1),
    DataType.Int64: (-(1 << 63), (1 << 63) - 1),
    DataType.UInt8: (0, (1 << 8) - 1),
    DataType.UInt16: (0, (1 << 16) - 1),
    DataType.UInt32: (0, (1 << 32) - 1),
    DataType.UInt64: (0, (1 << 64) - 1),
    DataType.DateTime: (0, (1 << 64) - 1),
}

#: Types a DataSet column, a Template parameter or a plain PropertyValue may have (1..14, §17).
BASIC_TYPES: frozenset[DataType] = frozenset(DataType(code) for code in range(1, 15))

#: Types allowed for a PropertyValue: basic types plus the two property-set types (§16).
PROPERTY_TYPES: frozenset[DataType] = BASIC_TYPES | {DataType.PropertySet, DataType.PropertySetList}

#: Types allowed for a Metric (everything but Unknown and the two property-set types).
METRIC_TYPES: frozenset[DataType] = frozenset(DataType) - {
    DataType.Unknown,
    DataType.PropertySet,
    DataType.PropertySetList,
}

ARRAY_TYPES: frozenset[DataType] = frozenset(DataType(code) for code in range(22, 35))
