"""Typed model -> protobuf bytes.

Speed matters (benchmarks/sparkplug_codec.py). Each Metric becomes one plain dict literal handed to the
upb protobuf constructor, which converts it in C: several times faster than setting fields one by one.
``None`` entries in those dicts leave the field unset, so the common shape needs no branching.

When the optional C extension is built (:mod:`sparkplug._accel`), :func:`encode_payload` lets it write
the common metric shapes directly (byte-identical, tests/sparkplug/test_speedups_encode.py) and uses the
upb path here (:func:`encode_payload_upb`, the reference) for anything else, errors included.

Values are checked by one small converter per DataType (a table, not an if-chain) that returns the
wire value: signed integers are range-checked and then sign-extended to 32 bits (Int8/16/32, as Tahu
Java and Ignition send them) or masked to 64 bits (Int64), §13. Nothing is ever silently wrapped.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from sparkplug._accel import c_encode
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

Converter = Callable[[Any], Any]


def _bad_type(datatype: DataType, value: Any, expected: str) -> SparkplugEncodeError:
    kind = type(value).__name__
    return SparkplugEncodeError(f"{datatype.name} value {value!r} is a {kind}, expected {expected}")


def _int_converter(datatype: DataType, mask: int) -> Converter:
    low, high = INTEGER_RANGES[datatype]

    def convert(value: Any) -> int:
        if type(value) is int and low <= value <= high:
            return value & mask
        if isinstance(value, bool) or not isinstance(value, int):
            raise _bad_type(datatype, value, "int")
        number = int(value)  # an int subclass such as an IntEnum
        if low <= number <= high:
            return number & mask
        raise SparkplugEncodeError(
            f"{datatype.name} value {number} is out of range [{low}, {high}]; refusing to wrap it"
        )

    return convert


def _float(value: Any) -> float:
    if type(value) is not float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _bad_type(DataType.Float, value, "float")
        try:
            value = float(value)
        except OverflowError:
            raise SparkplugEncodeError(f"Float value {value!r} is beyond the float32 range") from None
    if -_F32_OVERFLOW < value < _F32_OVERFLOW or not math.isfinite(value):
        return value  # type: ignore[no-any-return]
    raise SparkplugEncodeError(f"Float value {value!r} is beyond the float32 range; use Double")


def _double(value: Any) -> float:
    if type(value) is float:
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _bad_type(DataType.Double, value, "float")
    try:
        return float(value)
    except OverflowError:
        raise SparkplugEncodeError(f"Double value {value!r} is beyond the float64 range") from None


def _boolean(value: Any) -> bool:
    if type(value) is bool:
        return value
    raise _bad_type(DataType.Boolean, value, "bool")


def _string_converter(datatype: DataType) -> Converter:
    def convert(value: Any) -> str:
        if isinstance(value, str):
            return value
        raise _bad_type(datatype, value, "str")

    return convert


def _bytes_converter(datatype: DataType) -> Converter:
    def convert(value: Any) -> bytes:
        if type(value) is bytes:
            return value
        if isinstance(value, (bytes, bytearray, memoryview)):
            return bytes(value)
        raise _bad_type(datatype, value, "bytes")

    return convert


def _array_converter(datatype: DataType) -> Converter:
    def convert(value: Any) -> bytes:
        if not isinstance(value, (tuple, list)):
            raise _bad_type(datatype, value, "tuple")
        return pack_array(datatype, value)

    return convert


def _converters(uint32_in_long_value: bool) -> dict[DataType, tuple[str, Converter]]:
    """DataType -> (value field, converter) for every type whose value is a plain wire value."""
    table: dict[DataType, tuple[str, Converter]] = {
        DataType.Int8: ("int_value", _int_converter(DataType.Int8, _M32)),
        DataType.Int16: ("int_value", _int_converter(DataType.Int16, _M32)),
        DataType.Int32: ("int_value", _int_converter(DataType.Int32, _M32)),
        DataType.Int64: ("long_value", _int_converter(DataType.Int64, _M64)),
        DataType.UInt8: ("int_value", _int_converter(DataType.UInt8, _M32)),
        DataType.UInt16: ("int_value", _int_converter(DataType.UInt16, _M32)),
        # The spec says int_value; Tahu Java, Tahu JS and Ignition write long_value (§19.8).
        DataType.UInt32: (
            "long_value" if uint32_in_long_value else "int_value",
            _int_converter(DataType.UInt32, _M32),
        ),
        DataType.UInt64: ("long_value", _int_converter(DataType.UInt64, _M64)),
        DataType.DateTime: ("long_value", _int_converter(DataType.DateTime, _M64)),
        DataType.Float: ("float_value", _float),
        DataType.Double: ("double_value", _double),
        DataType.Boolean: ("boolean_value", _boolean),
        DataType.String: ("string_value", _string_converter(DataType.String)),
        DataType.Text: ("string_value", _string_converter(DataType.Text)),
        DataType.UUID: ("string_value", _string_converter(DataType.UUID)),
        DataType.Bytes: ("bytes_value", _bytes_converter(DataType.Bytes)),
        DataType.File: ("bytes_value", _bytes_converter(DataType.File)),
    }
    for array_type in ARRAY_TYPES:
        table[array_type] = ("bytes_value", _array_converter(array_type))
    return table


CONVERTERS = _converters(uint32_in_long_value=False)
_CONVERTERS_U32_LONG = _converters(uint32_in_long_value=True)


def check_value(datatype: DataType, value: Any) -> None:
    """Raise SparkplugEncodeError now if ``value`` (not None) could not be encoded as ``datatype``."""
    entry = CONVERTERS.get(datatype)
    if entry is not None:
        entry[1](value)
    elif datatype is DataType.DataSet:
        _Encoder(with_datatype=True, uint32_in_long_value=False).dataset(value)
    elif datatype is DataType.Template:
        _Encoder(with_datatype=True, uint32_in_long_value=False).template(value)
    else:
        raise SparkplugEncodeError(f"{datatype!r} is not a metric datatype")


class _Encoder:
    """One encoding run's options; methods turn model objects into dicts for the upb constructors."""

    __slots__ = ("converters", "with_datatype")

    def __init__(self, *, with_datatype: bool, uint32_in_long_value: bool) -> None:
        self.with_datatype = with_datatype
        self.converters = _CONVERTERS_U32_LONG if uint32_in_long_value else CONVERTERS

    def metric(self, metric: Metric, with_datatype: bool) -> dict[str, Any]:
        datatype = metric.datatype
        value = metric.value
        entry = self.converters.get(datatype)
        if value is None or entry is None or metric.is_null:
            out = self._slow_value(metric)
        else:
            field, convert = entry
            try:
                raw = convert(value)
            except SparkplugEncodeError as exc:
                raise SparkplugEncodeError(f"metric {_label(metric)}: {exc}") from None
            # One dict literal: None leaves a field unset (proto2 presence).
            out = {
                "name": metric.name or _no_empty_name(metric.name),
                "alias": metric.alias,
                "timestamp": metric.timestamp,
                field: raw,
            }
        if with_datatype:
            out["datatype"] = datatype
        if metric.is_historical:
            out["is_historical"] = True
        if metric.is_transient:
            out["is_transient"] = True
        if metric.properties is not None:
            out["properties"] = self.property_set(metric.properties)
        if metric.metadata is not None:
            out["metadata"] = _metadata(metric.metadata)
        return out

    def _slow_value(self, metric: Metric) -> dict[str, Any]:
        """Null values, DataSet and Template metrics, and errors."""
        out: dict[str, Any] = {
            "name": metric.name or _no_empty_name(metric.name),
            "alias": metric.alias,
            "timestamp": metric.timestamp,
        }
        datatype = metric.datatype
        value = metric.value
        if value is None or metric.is_null:
            if value is not None:
                raise SparkplugEncodeError(f"metric {_label(metric)} has is_null=True but a value {value!r}")
            out["is_null"] = True
            return out
        try:
            if datatype is DataType.DataSet:
                out["dataset_value"] = self.dataset(value)
            elif datatype is DataType.Template:
                out["template_value"] = self.template(value)
            else:
                raise SparkplugEncodeError(f"{datatype!r} is not a metric datatype; set Metric.datatype")
        except SparkplugEncodeError as exc:
            raise SparkplugEncodeError(f"metric {_label(metric)}: {exc}") from None
        return out

    def _set_basic(self, target: dict[str, Any], kind: DataType, value: Any) -> None:
        field, convert = self.converters[kind]
        target[field] = convert(value)

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
            self._set_basic(out, kind, value)
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
                    self._set_basic(element, kind, cell)
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
                self._set_basic(entry, param.type, param.value)
            params.append(entry)
        out["parameters"] = params
        if value.version is not None:
            out["version"] = value.version
        if value.template_ref is not None:
            out["template_ref"] = value.template_ref
        out["is_definition"] = value.is_definition
        return out


def _metric_dicts(
    encoder: _Encoder, metrics: tuple[Metric, ...], with_datatype: bool
) -> list[dict[str, Any]]:
    """One dict per metric. Ordinary metrics (a value, no flags, properties or metadata) are handled in
    this flat loop, the hot path of ``benchmarks/sparkplug_codec.py``; the rest go to the encoder."""
    out: list[dict[str, Any]] = []
    append = out.append
    converters = encoder.converters
    for metric in metrics:
        # One unpack instead of nine attribute reads: a Metric is its field tuple (sparkplug.model).
        name, alias, timestamp, datatype, value, historical, transient, _, properties, metadata = metric
        entry = converters.get(datatype)
        if (
            entry is None
            or value is None
            or properties is not None
            or metadata is not None
            or historical
            or transient
            or name == ""
        ):
            append(encoder.metric(metric, with_datatype))
            continue
        field, convert = entry
        try:
            raw = convert(value)
        except SparkplugEncodeError as exc:
            raise SparkplugEncodeError(f"metric {_label(metric)}: {exc}") from None
        # Each key costs upb time even when None, so the usual shapes get their own literals.
        if name is None:
            if with_datatype:
                fields = {"alias": alias, "timestamp": timestamp, "datatype": datatype, field: raw}
            else:
                fields = {"alias": alias, "timestamp": timestamp, field: raw}
        elif with_datatype:
            fields = {"name": name, "alias": alias, "timestamp": timestamp, "datatype": datatype, field: raw}
        else:
            fields = {"name": name, "alias": alias, "timestamp": timestamp, field: raw}
        append(fields)
    return out


def _no_empty_name(name: str | None) -> str | None:
    """``metric.name or ...`` lands here for None (kept) and "" (refused: a name is a path, §7)."""
    if name is not None:
        raise SparkplugEncodeError("a metric name must not be empty (omit it and use an alias)")
    return None


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
    if c_encode is not None:
        data = c_encode(payload, include_datatype, uint32_in_long_value)
        if data is not None:
            return data
    return encode_payload_upb(
        payload, include_datatype=include_datatype, uint32_in_long_value=uint32_in_long_value
    )


def encode_payload_upb(
    payload: Payload, *, include_datatype: bool = True, uint32_in_long_value: bool = False
) -> bytes:
    """:func:`encode_payload` through the upb protobuf runtime only: the reference for the C path.

    Raises:
        SparkplugEncodeError: as :func:`encode_payload`.
    """
    encoder = _Encoder(with_datatype=include_datatype, uint32_in_long_value=uint32_in_long_value)
    metrics = _metric_dicts(encoder, payload.metrics, include_datatype)
    try:
        message = _PbPayload(
            timestamp=payload.timestamp,
            metrics=metrics,
            seq=payload.seq,
            uuid=payload.uuid,
            body=payload.body,
        )
        return message.SerializeToString()  # type: ignore[no-any-return]
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
