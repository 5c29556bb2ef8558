"""Typed model -> protobuf bytes.

Speed matters (benchmarks/sparkplug_codec.py): each Metric becomes a plain dict handed to the upb
protobuf constructor in one call, which is several times faster than setting fields one by one. Values
are checked by one small function per DataType (a table, not an if-chain): signed integers are
range-checked and then sign-extended to 32 bits (Int8/16/32, as Tahu Java and Ignition send them) or
masked to 64 bits (Int64), §13. Nothing is ever silently wrapped.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from sparkplug._arrays import pack_array
from sparkplug._generated import sparkplug_b_pb2 as pb
from sparkplug.datatypes import ARRAY_TYPES, BASIC_TYPES, INTEGER_RANGES, PROPERTY_TYPES, DataType
from sparkplug.errors import SparkplugEncodeError
from sparkplug.model import DataSet, MetaData, Metric, Payload, PropertySet, PropertyValue, Template

_PbPayload = pb.Payload
_PbMetric = pb.Payload.Metric
_M32 = 0xFFFFFFFF
_M64 = 0xFFFFFFFFFFFFFFFF
# Smallest magnitude that rounds to infinity in float32 (half an ulp above FLT_MAX).
_F32_OVERFLOW = 3.4028235677973366e38

Setter = Callable[[dict[str, Any], Any], None]


def _bad_type(datatype: DataType, value: Any, expected: str) -> SparkplugEncodeError:
    kind = type(value).__name__
    return SparkplugEncodeError(f"{datatype.name} value {value!r} is a {kind}, expected {expected}")


def _int_setter(datatype: DataType, field: str, mask: int) -> Setter:
    low, high = INTEGER_RANGES[datatype]

    def set_int(target: dict[str, Any], value: Any) -> None:
        if type(value) is not int:
            if isinstance(value, bool) or not isinstance(value, int):
                raise _bad_type(datatype, value, "int")
            value = int(value)
        if low <= value <= high:
            target[field] = value & mask
            return
        raise SparkplugEncodeError(
            f"{datatype.name} value {value} is out of range [{low}, {high}]; refusing to wrap it"
        )

    return set_int


def _set_float(target: dict[str, Any], value: Any) -> None:
    if type(value) is not float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _bad_type(DataType.Float, value, "float")
        value = float(value)
    if -_F32_OVERFLOW < value < _F32_OVERFLOW or not math.isfinite(value):
        target["float_value"] = value
        return
    raise SparkplugEncodeError(f"Float value {value!r} is beyond the float32 range; use Double")


def _set_double(target: dict[str, Any], value: Any) -> None:
    if type(value) is not float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _bad_type(DataType.Double, value, "float")
        try:
            value = float(value)
        except OverflowError:
            raise SparkplugEncodeError(f"Double value {value!r} is beyond the float64 range") from None
    target["double_value"] = value


def _set_boolean(target: dict[str, Any], value: Any) -> None:
    if type(value) is not bool:
        raise _bad_type(DataType.Boolean, value, "bool")
    target["boolean_value"] = value


def _string_setter(datatype: DataType) -> Setter:
    def set_string(target: dict[str, Any], value: Any) -> None:
        if type(value) is not str and not isinstance(value, str):
            raise _bad_type(datatype, value, "str")
        target["string_value"] = value

    return set_string


def _bytes_setter(datatype: DataType) -> Setter:
    def set_bytes(target: dict[str, Any], value: Any) -> None:
        if type(value) is not bytes:
            if not isinstance(value, (bytes, bytearray, memoryview)):
                raise _bad_type(datatype, value, "bytes")
            value = bytes(value)
        target["bytes_value"] = value

    return set_bytes


def _array_setter(datatype: DataType) -> Setter:
    def set_array(target: dict[str, Any], value: Any) -> None:
        if not isinstance(value, (tuple, list)):
            raise _bad_type(datatype, value, "tuple")
        target["bytes_value"] = pack_array(datatype, value)

    return set_array


def _setters(uint32_in_long_value: bool) -> dict[DataType, Setter]:
    table: dict[DataType, Setter] = {
        DataType.Int8: _int_setter(DataType.Int8, "int_value", _M32),
        DataType.Int16: _int_setter(DataType.Int16, "int_value", _M32),
        DataType.Int32: _int_setter(DataType.Int32, "int_value", _M32),
        DataType.Int64: _int_setter(DataType.Int64, "long_value", _M64),
        DataType.UInt8: _int_setter(DataType.UInt8, "int_value", _M32),
        DataType.UInt16: _int_setter(DataType.UInt16, "int_value", _M32),
        # The spec says int_value; Tahu Java, Tahu JS and Ignition write long_value (§19.8).
        DataType.UInt32: _int_setter(
            DataType.UInt32, "long_value" if uint32_in_long_value else "int_value", _M32
        ),
        DataType.UInt64: _int_setter(DataType.UInt64, "long_value", _M64),
        DataType.DateTime: _int_setter(DataType.DateTime, "long_value", _M64),
        DataType.Float: _set_float,
        DataType.Double: _set_double,
        DataType.Boolean: _set_boolean,
        DataType.String: _string_setter(DataType.String),
        DataType.Text: _string_setter(DataType.Text),
        DataType.UUID: _string_setter(DataType.UUID),
        DataType.Bytes: _bytes_setter(DataType.Bytes),
        DataType.File: _bytes_setter(DataType.File),
    }
    for array_type in ARRAY_TYPES:
        table[array_type] = _array_setter(array_type)
    return table


_SETTERS = _setters(uint32_in_long_value=False)
_SETTERS_U32_LONG = _setters(uint32_in_long_value=True)


class _Encoder:
    """One encoding run's options; methods turn model objects into dicts for the upb constructors."""

    __slots__ = ("setters", "with_datatype")

    def __init__(self, *, with_datatype: bool, uint32_in_long_value: bool) -> None:
        self.with_datatype = with_datatype
        self.setters = _SETTERS_U32_LONG if uint32_in_long_value else _SETTERS

    def metric(self, metric: Metric, with_datatype: bool) -> dict[str, Any]:
        out: dict[str, Any] = {}
        name = metric.name
        if name is not None:
            if not name:
                raise SparkplugEncodeError("a metric name must not be empty (omit it and use an alias)")
            out["name"] = name
        if metric.alias is not None:
            out["alias"] = metric.alias
        if metric.timestamp is not None:
            out["timestamp"] = metric.timestamp
        datatype = metric.datatype
        if with_datatype:
            out["datatype"] = datatype
        value = metric.value
        if value is None or metric.is_null:
            if value is not None:
                raise SparkplugEncodeError(f"metric {_label(metric)} has is_null=True but a value {value!r}")
            out["is_null"] = True
        else:
            setter = self.setters.get(datatype)
            try:
                if setter is not None:
                    setter(out, value)
                elif datatype is DataType.DataSet:
                    out["dataset_value"] = self.dataset(value)
                elif datatype is DataType.Template:
                    out["template_value"] = self.template(value)
                else:
                    raise SparkplugEncodeError(f"{datatype!r} is not a metric datatype; set Metric.datatype")
            except SparkplugEncodeError as exc:
                raise SparkplugEncodeError(f"metric {_label(metric)}: {exc}") from None
        if metric.is_historical:
            out["is_historical"] = True
        if metric.is_transient:
            out["is_transient"] = True
        if metric.properties is not None:
            out["properties"] = self.property_set(metric.properties)
        if metric.metadata is not None:
            out["metadata"] = _metadata(metric.metadata)
        return out

    def property_set(self, props: PropertySet) -> dict[str, Any]:
        values = [self.property_value(value) for _, value in props.items]
        return {"keys": [key for key, _ in props.items], "values": values}

    def property_value(self, prop: PropertyValue) -> dict[str, Any]:
        kind = prop.type
        if kind not in PROPERTY_TYPES:
            raise SparkplugEncodeError(f"{kind!r} is not allowed as a PropertyValue type (§16)")
        out: dict[str, Any] = {"type": kind}
        value = prop.value
        if value is None:
            out["is_null"] = True
        elif kind is DataType.PropertySet:
            if not isinstance(value, PropertySet):
                raise _bad_type(kind, value, "PropertySet")
            out["propertyset_value"] = self.property_set(value)
        elif kind is DataType.PropertySetList:
            if not isinstance(value, tuple) or not all(isinstance(v, PropertySet) for v in value):
                raise _bad_type(kind, value, "tuple of PropertySet")
            out["propertysets_value"] = {"propertyset": [self.property_set(v) for v in value]}
        else:
            self.setters[kind](out, value)
        return out

    def dataset(self, value: Any) -> dict[str, Any]:
        if not isinstance(value, DataSet):
            raise _bad_type(DataType.DataSet, value, "DataSet")
        width = len(value.columns)
        if len(value.types) != width:
            raise SparkplugEncodeError(f"DataSet has {width} columns but {len(value.types)} types (§17)")
        for kind in value.types:
            if kind not in BASIC_TYPES:
                raise SparkplugEncodeError(f"DataSet column type {kind!r} is not a basic type 1..14 (§17)")
        rows = []
        for number, row in enumerate(value.rows):
            if len(row) != width:
                raise SparkplugEncodeError(f"DataSet row {number} has {len(row)} cells, expected {width}")
            cells = []
            for kind, cell in zip(value.types, row, strict=True):
                element: dict[str, Any] = {}
                if cell is not None:
                    self.setters[kind](element, cell)
                cells.append(element)
            rows.append({"elements": cells})
        columns = list(value.columns)
        return {"num_of_columns": width, "columns": columns, "types": list(value.types), "rows": rows}

    def template(self, value: Any) -> dict[str, Any]:
        if not isinstance(value, Template):
            raise _bad_type(DataType.Template, value, "Template")
        out: dict[str, Any] = {"metrics": [self.metric(m, True) for m in value.metrics]}
        params = []
        for param in value.parameters:
            if param.type not in BASIC_TYPES:
                raise SparkplugEncodeError(f"template parameter {param.name!r}: {param.type!r} is not basic")
            entry: dict[str, Any] = {"name": param.name, "type": param.type}
            if param.value is not None:
                self.setters[param.type](entry, param.value)
            params.append(entry)
        out["parameters"] = params
        if value.version is not None:
            out["version"] = value.version
        if value.template_ref is not None:
            out["template_ref"] = value.template_ref
        out["is_definition"] = value.is_definition
        return out


def _metadata(meta: MetaData) -> dict[str, Any]:
    return {name: getattr(meta, name) for name in MetaData.__slots__ if getattr(meta, name) is not None}


def _label(metric: Metric) -> str:
    if metric.name is not None:
        return repr(metric.name)
    return f"alias {metric.alias}"


def encode_payload(
    payload: Payload, *, include_datatype: bool = True, uint32_in_long_value: bool = False
) -> bytes:
    """Encode ``payload`` to Sparkplug B protobuf bytes.

    Args:
        include_datatype: write ``Metric.datatype``; births need it, DATA messages should omit it (§7).
        uint32_in_long_value: write UInt32 in ``long_value`` (Tahu/Ignition style) instead of ``int_value``.

    Raises:
        SparkplugEncodeError: a value does not fit its datatype, or a field is out of its wire range;
            the message names the metric.
    """
    encoder = _Encoder(with_datatype=include_datatype, uint32_in_long_value=uint32_in_long_value)
    metric_dict = encoder.metric
    metrics = [metric_dict(m, include_datatype) for m in payload.metrics]
    fields: dict[str, Any] = {"metrics": metrics}
    if payload.timestamp is not None:
        fields["timestamp"] = payload.timestamp
    if payload.seq is not None:
        fields["seq"] = payload.seq
    if payload.uuid is not None:
        fields["uuid"] = payload.uuid
    if payload.body is not None:
        fields["body"] = payload.body
    try:
        return _PbPayload(**fields).SerializeToString()  # type: ignore[no-any-return]
    except (ValueError, TypeError) as exc:
        raise _locate(payload, metrics, exc) from None


def _locate(payload: Payload, metrics: list[dict[str, Any]], exc: Exception) -> SparkplugEncodeError:
    """Slow path after protobuf refused a field: find which metric or header field it was."""
    for metric, fields in zip(payload.metrics, metrics, strict=True):
        try:
            _PbMetric(**fields)
        except (ValueError, TypeError) as inner:
            return SparkplugEncodeError(f"metric {_label(metric)} cannot be encoded: {inner}")
    return SparkplugEncodeError(
        f"payload header cannot be encoded (timestamp={payload.timestamp!r}, seq={payload.seq!r}): {exc}"
    )
