"""Encode and decode Sparkplug B payloads to and from the typed model (:mod:`sparkplug.model`).

    encode_payload(payload, include_datatype=True, uint32_in_long_value=False) -> bytes
    decode_payload(data) -> Payload
    retype(metric, datatype) -> Metric    interpret a DATA/CMD metric that came without a datatype

Error contract: encoding raises :class:`~sparkplug.errors.SparkplugEncodeError` for a value that does not
fit (never wraps); decoding raises only :class:`~sparkplug.errors.SparkplugDecodeError`.

Speed: when the optional C extension ``sparkplug._speedups`` was built at install time (a C compiler was
present), the common metric shapes are encoded and decoded by it, with identical results; everything else,
errors included, goes through the protobuf (upb) path. ``SPARKPLUG_NO_SPEEDUPS=1`` in the environment
turns it off (:mod:`sparkplug._accel`).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from sparkplug._decode import _DECODERS, decode_payload
from sparkplug._encode import CONVERTERS, encode_payload
from sparkplug.datatypes import DataType
from sparkplug.errors import SparkplugDecodeError
from sparkplug.model import DataSet, Metric, Template

__all__ = ["decode_payload", "encode_payload", "retype"]

# Which wire field the decoder tables expect for a raw Python value that came without a datatype.
_RAW_FIELD: dict[type, str] = {
    bool: "boolean_value",
    float: "double_value",
    str: "string_value",
    bytes: "bytes_value",
}
_LONG_TYPES = frozenset({DataType.Int64, DataType.UInt64, DataType.DateTime})


def retype(metric: Metric, datatype: DataType) -> Metric:
    """Interpret ``metric.value`` as ``datatype`` (known from the birth) and return the typed metric.

    A metric in NDATA/DDATA/NCMD/DCMD normally carries no datatype (§7), so :func:`decode_payload`
    returns its raw wire value (int, float, bool, str, bytes). This applies the same rules a decoder with
    the datatype would: signed masking, UInt ranges, array unpacking.

    Raises:
        SparkplugDecodeError: the value cannot be a ``datatype`` (e.g. a str for an Int32 metric).
    """
    if metric.datatype is datatype or metric.value is None:
        return dataclasses.replace(metric, datatype=datatype)
    if metric.datatype is not DataType.Unknown:
        raise SparkplugDecodeError(
            f"metric {metric.name or metric.alias!r} is declared {metric.datatype.name}, not {datatype.name}"
        )
    raw: Any = metric.value
    if isinstance(raw, (DataSet, Template)):
        expected = DataType.DataSet if isinstance(raw, DataSet) else DataType.Template
        if datatype is not expected:
            raise SparkplugDecodeError(
                f"metric {metric.name or metric.alias!r} carries a {expected.name}, not a {datatype.name}"
            )
        return dataclasses.replace(metric, datatype=datatype)
    if type(raw) is int:
        which = "long_value" if datatype in _LONG_TYPES else "int_value"
        if datatype is DataType.UInt32 and raw > 0xFFFFFFFF:
            which = "long_value"
    else:
        which = _RAW_FIELD.get(type(raw), "")
        if which == "double_value" and datatype is DataType.Float:
            which = "float_value"
    if datatype not in CONVERTERS and datatype not in (DataType.DataSet, DataType.Template):
        raise SparkplugDecodeError(f"{datatype!r} is not a metric datatype")
    try:
        value = _DECODERS[datatype](raw, which)
    except SparkplugDecodeError as exc:
        raise SparkplugDecodeError(f"metric {metric.name or metric.alias!r}: {exc}") from None
    return dataclasses.replace(metric, datatype=datatype, value=value)
