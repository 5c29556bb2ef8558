"""Protobuf bytes -> typed model.

Tolerant where real peers differ (§19): signed integers are read by masking to the type's width and
then sign-extending, so both Java-style (sign-extended to 32 bits) and Python-style (masked to the
type's width) writers decode; UInt32 is read from ``int_value`` or ``long_value``. Strict elsewhere:
a value field that does not fit the declared datatype, an unknown datatype code, or a malformed array
raises :class:`SparkplugDecodeError`, and nothing else escapes (Hypothesis fuzz property).

Speed: when the optional C extension is built (:mod:`sparkplug._accel`), :func:`decode_payload` lets it
decode the common metric shapes in one call and falls back to the upb path here for anything else
(:func:`decode_payload_upb`, the reference). On the upb path, one decoder function per DataType in a
table indexed by the wire code, and Metric objects are built as their field tuple in one C call
(:mod:`sparkplug._metric_factory`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.message import DecodeError

from sparkplug._accel import c_decode
from sparkplug._arrays import unpack_array
from sparkplug._generated import sparkplug_b_pb2 as pb
from sparkplug._metric_factory import new_metric, new_tuple
from sparkplug.datatypes import ARRAY_TYPES, BASIC_TYPES, DataType
from sparkplug.errors import SparkplugDecodeError
from sparkplug.model import (
    DataSet,
    MetaData,
    Metric,
    MetricValue,
    Payload,
    PropertySet,
    PropertyValue,
    Template,
    TemplateParameter,
)

_PbPayload = pb.Payload
_DATATYPES: tuple[DataType, ...] = tuple(DataType)
_NUM_TYPES = len(_DATATYPES)

# field names of the value oneof that carry each kind of Python value
_INT_FIELDS = frozenset({"int_value", "long_value"})

Decoder = Callable[[Any, str], Any]


def _mismatch(datatype: DataType, field: str) -> SparkplugDecodeError:
    return SparkplugDecodeError(f"datatype {datatype.name} cannot carry its value in {field}")


def _signed(datatype: DataType, field: str, bits: int) -> Decoder:
    mask = (1 << bits) - 1
    sign = 1 << (bits - 1)

    def decode(raw: Any, which: str) -> int:
        if which != field:
            raise _mismatch(datatype, which)
        value: int = ((raw & mask) ^ sign) - sign
        return value

    return decode


def _unsigned(datatype: DataType, fields: frozenset[str], bits: int) -> Decoder:
    limit = 1 << bits

    def decode(raw: Any, which: str) -> int:
        if which not in fields:
            raise _mismatch(datatype, which)
        if raw >= limit:
            raise SparkplugDecodeError(f"{datatype.name} value {raw} does not fit in {bits} bits")
        value: int = raw
        return value

    return decode


def _plain(datatype: DataType, field: str) -> Decoder:
    def decode(raw: Any, which: str) -> Any:
        if which != field:
            raise _mismatch(datatype, which)
        return raw

    return decode


def _array(datatype: DataType) -> Decoder:
    def decode(raw: Any, which: str) -> Any:
        if which != "bytes_value":
            raise _mismatch(datatype, which)
        return unpack_array(datatype, raw)

    return decode


def _dataset(raw: Any, which: str) -> DataSet:
    if which != "dataset_value":
        raise _mismatch(DataType.DataSet, which)
    return decode_dataset(raw)


def _template(raw: Any, which: str) -> Template:
    if which != "template_value":
        raise _mismatch(DataType.Template, which)
    return decode_template(raw)


def _raw(raw: Any, which: str) -> Any:
    """Datatype absent (normal in DATA/CMD): keep the wire value; :func:`retype` can interpret it later."""
    if which == "dataset_value":
        return decode_dataset(raw)
    if which == "template_value":
        return decode_template(raw)
    if which == "extension_value":
        raise SparkplugDecodeError("metric carries an extension_value, which no Sparkplug 3.0 peer defines")
    return raw


def _not_a_metric_type(datatype: DataType) -> Decoder:
    def decode(raw: Any, which: str) -> Any:
        raise SparkplugDecodeError(f"{datatype.name} is not a valid metric datatype")

    return decode


def _build_decoders() -> list[Decoder]:
    table: dict[DataType, Decoder] = {
        DataType.Unknown: _raw,
        DataType.Int8: _signed(DataType.Int8, "int_value", 8),
        DataType.Int16: _signed(DataType.Int16, "int_value", 16),
        DataType.Int32: _signed(DataType.Int32, "int_value", 32),
        DataType.Int64: _signed(DataType.Int64, "long_value", 64),
        DataType.UInt8: _unsigned(DataType.UInt8, frozenset({"int_value"}), 8),
        DataType.UInt16: _unsigned(DataType.UInt16, frozenset({"int_value"}), 16),
        DataType.UInt32: _unsigned(DataType.UInt32, _INT_FIELDS, 32),  # §19.8: both fields
        DataType.UInt64: _unsigned(DataType.UInt64, frozenset({"long_value"}), 64),
        DataType.DateTime: _unsigned(DataType.DateTime, frozenset({"long_value"}), 64),
        DataType.Float: _plain(DataType.Float, "float_value"),
        DataType.Double: _plain(DataType.Double, "double_value"),
        DataType.Boolean: _plain(DataType.Boolean, "boolean_value"),
        DataType.String: _plain(DataType.String, "string_value"),
        DataType.Text: _plain(DataType.Text, "string_value"),
        DataType.UUID: _plain(DataType.UUID, "string_value"),
        DataType.DataSet: _dataset,
        DataType.Bytes: _plain(DataType.Bytes, "bytes_value"),
        DataType.File: _plain(DataType.File, "bytes_value"),
        DataType.Template: _template,
        DataType.PropertySet: _not_a_metric_type(DataType.PropertySet),
        DataType.PropertySetList: _not_a_metric_type(DataType.PropertySetList),
    }
    for array_type in ARRAY_TYPES:
        table[array_type] = _array(array_type)
    return [table[datatype] for datatype in _DATATYPES]


_DECODERS = _build_decoders()


def decode_metric(pm: Any) -> Metric:
    """One protobuf ``Payload.Metric`` -> :class:`Metric`, any fields (raises SparkplugDecodeError)."""
    code = pm.datatype
    if code >= _NUM_TYPES:
        raise SparkplugDecodeError(f"metric {pm.name or pm.alias!r} has unknown datatype code {code}")
    which = pm.WhichOneof("value")
    if which is None:
        value: MetricValue = None
    else:
        try:
            value = _DECODERS[code](getattr(pm, which), which)
        except SparkplugDecodeError as exc:
            label = repr(pm.name) if pm.name else f"alias {pm.alias}"
            raise SparkplugDecodeError(f"metric {label}: {exc}") from None
    return new_metric(
        pm.name or None,
        pm.alias if pm.HasField("alias") else None,
        pm.timestamp if pm.HasField("timestamp") else None,
        _DATATYPES[code],
        value,
        pm.is_historical,
        pm.is_transient,
        value is None,
        decode_property_set(pm.properties) if pm.HasField("properties") else None,
        _metadata(pm.metadata) if pm.HasField("metadata") else None,
    )


def _fast_converters() -> list[tuple[str, Callable[[Any], Any] | None] | None]:
    """Per datatype code: (the value field to read, raw -> Python value), or None to take the full path."""

    def signed(bits: int) -> Callable[[Any], Any]:
        mask = (1 << bits) - 1
        sign = 1 << (bits - 1)

        def convert(raw: Any) -> Any:
            return ((raw & mask) ^ sign) - sign

        return convert

    identity = None  # no conversion: the wire value is the Python value
    table: dict[DataType, tuple[str, Callable[[Any], Any] | None]] = {
        DataType.Int8: ("int_value", signed(8)),
        DataType.Int16: ("int_value", signed(16)),
        DataType.Int32: ("int_value", signed(32)),
        DataType.Int64: ("long_value", signed(64)),
        DataType.UInt64: ("long_value", identity),
        DataType.DateTime: ("long_value", identity),
        DataType.Float: ("float_value", identity),
        DataType.Double: ("double_value", identity),
        DataType.Boolean: ("boolean_value", identity),
        DataType.String: ("string_value", identity),
        DataType.Text: ("string_value", identity),
        DataType.UUID: ("string_value", identity),
        DataType.Bytes: ("bytes_value", identity),
        DataType.File: ("bytes_value", identity),
    }

    def full(decoder: Decoder, field: str) -> Callable[[Any], Any]:
        def convert(raw: Any) -> Any:
            return decoder(raw, field)

        return convert

    # UInt8/16/32 need range checks (UInt32 in long_value takes the zero-value path): the full decoders.
    for kind in (DataType.UInt8, DataType.UInt16, DataType.UInt32):
        table[kind] = ("int_value", full(_DECODERS[kind], "int_value"))
    for array_type in ARRAY_TYPES:
        table[array_type] = ("bytes_value", full(_DECODERS[array_type], "bytes_value"))
    return [table.get(datatype) for datatype in _DATATYPES]


_FAST = _fast_converters()


def _decode_plain_metrics(pms: Any, named: bool) -> list[Metric] | None:
    """Fast path over :data:`_CommonPayload` metrics (no flags, properties, metadata, DataSet or Template):
    read only the value field the datatype implies, and ask for presence only when a value is zero or
    empty, and read names only when some metric has one (``named``). Returns None when any metric needs
    the full rules (a null, a mismatch, an unknown code, a range error), and the caller decodes the
    whole payload with the full schema instead.

    The loop is written flat on purpose (no helper calls for the common case): it is the hot path of
    ``benchmarks/sparkplug_codec.py``.
    """
    out: list[Metric] = []
    append = out.append
    fast = _FAST
    datatypes = _DATATYPES
    new = new_tuple
    frozen = Metric
    for pm in pms:
        code = pm.datatype
        if code:
            try:
                field, convert = fast[code]
            except (IndexError, TypeError):  # unknown code, or a type without a fast path (None entry)
                return None
            raw = getattr(pm, field)
            if not raw and pm.WhichOneof("value") != field:
                return None  # null, or a zero in another field (UInt32 in long_value), or a mismatch
            if convert is not None:
                try:
                    raw = convert(raw)
                except SparkplugDecodeError:
                    return None  # the full path raises it with the metric's name
        else:
            # No datatype on the wire (normal in DATA/CMD, §7): keep the raw value for retype().
            which = pm.WhichOneof("value")
            if which is None:
                return None
            raw = getattr(pm, which)
        alias = pm.alias
        if not alias and not pm.HasField("alias"):
            alias = None
        timestamp = pm.timestamp
        if not timestamp and not pm.HasField("timestamp"):
            timestamp = None
        # Inlined sparkplug._metric_factory.new_metric: the Metric's field tuple, built in one C call.
        append(
            new(
                frozen,
                (
                    (pm.name or None) if named else None,
                    alias,
                    timestamp,
                    datatypes[code],
                    raw,
                    False,
                    False,
                    False,
                    None,
                    None,
                ),
            )
        )
    return out


def _schema_file(name: str) -> Any:
    return descriptor_pb2.FileDescriptorProto(
        name=f"edge_gateway_sparkplug_{name}.proto", package=f"edge_gateway.sparkplug_{name}", syntax="proto2"
    )


def _message_class(file: Any, name: str) -> Any:
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName(f"{file.package}.{name}"))


_KINDS = descriptor_pb2.FieldDescriptorProto


# (name, number, type, in the value oneof) of the Metric fields the fast path reads (§14 numbers).
_COMMON_FIELDS = (
    ("name", 1, _KINDS.TYPE_STRING, False),
    ("alias", 2, _KINDS.TYPE_UINT64, False),
    ("timestamp", 3, _KINDS.TYPE_UINT64, False),
    ("datatype", 4, _KINDS.TYPE_UINT32, False),
    ("int_value", 10, _KINDS.TYPE_UINT32, True),
    ("long_value", 11, _KINDS.TYPE_UINT64, True),
    ("float_value", 12, _KINDS.TYPE_FLOAT, True),
    ("double_value", 13, _KINDS.TYPE_DOUBLE, True),
    ("boolean_value", 14, _KINDS.TYPE_BOOL, True),
    ("string_value", 15, _KINDS.TYPE_STRING, True),
    ("bytes_value", 16, _KINDS.TYPE_BYTES, True),
)


def _common_payload_class() -> Any:
    """The Payload schema restricted to the fields of ordinary metrics (the rest parses as unknown).

    Field numbers and types are those of sparkplug_b.proto (§14); left out are Metric fields 5-9
    (is_historical, is_transient, is_null, metadata, properties) and the DataSet, Template and extension
    values. The fast path reads metrics through it only after :data:`_RarePayload` has shown that no
    metric carries a left-out field.
    """
    file = _schema_file("common")
    metric = file.message_type.add(name="Metric")
    metric.oneof_decl.add(name="value")
    for name, number, kind, in_oneof in _COMMON_FIELDS:
        field = metric.field.add(name=name, number=number, type=kind, label=_KINDS.LABEL_OPTIONAL)
        if in_oneof:
            field.oneof_index = 0
    payload = file.message_type.add(name="Payload")
    for name, number, kind in (
        ("timestamp", 1, _KINDS.TYPE_UINT64),
        ("seq", 3, _KINDS.TYPE_UINT64),
        ("uuid", 4, _KINDS.TYPE_STRING),
        ("body", 5, _KINDS.TYPE_BYTES),
    ):
        payload.field.add(name=name, number=number, type=kind, label=_KINDS.LABEL_OPTIONAL)
    payload.field.add(
        name="metrics",
        number=2,
        type=_KINDS.TYPE_MESSAGE,
        label=_KINDS.LABEL_REPEATED,
        type_name=f".{file.package}.Metric",
    )
    return _message_class(file, "Payload")


# The Metric fields the fast path does not handle (§14 numbers). Declared with the wire type the full
# schema gives them (varint for bools, length-delimited for messages), so each occurrence the full
# decoder would read lands in a column here, and one it would skip as unknown is skipped here too.
_RARE_FIELDS = (
    ("is_historical", 5, _KINDS.TYPE_BOOL),
    ("is_transient", 6, _KINDS.TYPE_BOOL),
    ("is_null", 7, _KINDS.TYPE_BOOL),
    ("metadata", 8, _KINDS.TYPE_BYTES),
    ("properties", 9, _KINDS.TYPE_BYTES),
    ("dataset_value", 17, _KINDS.TYPE_BYTES),
    ("template_value", 18, _KINDS.TYPE_BYTES),
    ("extension_value", 19, _KINDS.TYPE_BYTES),
)


def _rare_payload_class() -> Any:
    """A schema that gathers every metric's rare fields (:data:`_RARE_FIELDS`) into one message.

    ``Payload.metrics`` (field 2) is declared here as a single, non-repeated message whose fields are
    all repeated: protobuf merges the occurrences of a non-repeated message field, so parsing a payload
    with it collects the rare fields of all metrics into one list per field, in one C call and without
    a Python object per metric. All of them empty means no metric needs the full decoder. (This replaced
    re-encoding the restricted parse and comparing its size, which cost about 200 ns per metric.)
    The common fields are declared too, as plain optional fields that each occurrence overwrites: parsing
    them costs less than keeping them as unknown bytes, and ``name`` present means some metric has a
    name (none at all, as in most DATA messages, spares the fast loop one read per metric).
    """
    file = _schema_file("rare")
    metric = file.message_type.add(name="Metric")
    for name, number, kind, _ in _COMMON_FIELDS:
        metric.field.add(name=name, number=number, type=kind, label=_KINDS.LABEL_OPTIONAL)
    for name, number, kind in _RARE_FIELDS:
        metric.field.add(name=name, number=number, type=kind, label=_KINDS.LABEL_REPEATED)
    payload = file.message_type.add(name="Payload")
    payload.field.add(
        name="metrics",
        number=2,
        type=_KINDS.TYPE_MESSAGE,
        label=_KINDS.LABEL_OPTIONAL,
        type_name=f".{file.package}.Metric",
    )
    return _message_class(file, "Payload")


_CommonPayload = _common_payload_class()
_RarePayload = _rare_payload_class()


def _scan_metrics(data: bytes) -> tuple[bool, bool]:
    """(rare, named): does some metric in ``data`` carry a field outside the fast path's restricted
    schema; does some metric carry a name field."""
    rare = _RarePayload.FromString(data).metrics
    return bool(
        rare.is_historical
        or rare.is_transient
        or rare.is_null
        or rare.metadata
        or rare.properties
        or rare.dataset_value
        or rare.template_value
        or rare.extension_value
    ), rare.HasField("name")


def _metadata(pm: Any) -> MetaData:
    return MetaData(**{fd.name: value for fd, value in pm.ListFields()})


def _basic(kind: int, which: str | None, raw: Any, where: str) -> Any:
    if which is None:
        return None
    if kind >= _NUM_TYPES or _DATATYPES[kind] not in BASIC_TYPES:
        raise SparkplugDecodeError(f"{where}: type code {kind} is not a basic type 1..14")
    try:
        return _DECODERS[kind](raw, which)
    except SparkplugDecodeError as exc:
        raise SparkplugDecodeError(f"{where}: {exc}") from None


def decode_property_set(ps: Any) -> PropertySet:
    keys = list(ps.keys)
    if len(keys) != len(ps.values):
        raise SparkplugDecodeError(f"PropertySet has {len(keys)} keys but {len(ps.values)} values (§16)")
    values = [_property_value(key, value) for key, value in zip(keys, ps.values, strict=True)]
    return PropertySet(tuple(zip(keys, values, strict=True)))


def _property_value(key: str, pv: Any) -> PropertyValue:
    kind = pv.type
    which = pv.WhichOneof("value")
    where = f"property {key!r}"
    if kind == DataType.PropertySet:
        if which not in (None, "propertyset_value"):
            raise SparkplugDecodeError(f"{where}: PropertySet carries {which}")
        value: Any = decode_property_set(pv.propertyset_value) if which else None
    elif kind == DataType.PropertySetList:
        if which not in (None, "propertysets_value"):
            raise SparkplugDecodeError(f"{where}: PropertySetList carries {which}")
        value = tuple(decode_property_set(s) for s in pv.propertysets_value.propertyset) if which else None
    else:
        value = None if pv.is_null else _basic(kind, which, getattr(pv, which) if which else None, where)
    if value is None and which is not None and not pv.is_null:
        raise SparkplugDecodeError(f"{where}: cannot read {which}")
    return PropertyValue(_DATATYPES[kind], value)


def decode_dataset(ds: Any) -> DataSet:
    columns = tuple(ds.columns)
    types = tuple(ds.types)
    if len(types) != len(columns) or (ds.HasField("num_of_columns") and ds.num_of_columns != len(columns)):
        raise SparkplugDecodeError(
            f"DataSet declares {ds.num_of_columns} columns, names {len(columns)} and types {len(types)} (§17)"
        )
    for kind in types:
        if kind >= _NUM_TYPES or _DATATYPES[kind] not in BASIC_TYPES:
            raise SparkplugDecodeError(f"DataSet column type code {kind} is not a basic type 1..14 (§17)")
    rows = []
    for number, row in enumerate(ds.rows):
        if len(row.elements) != len(columns):
            raise SparkplugDecodeError(
                f"DataSet row {number} has {len(row.elements)} cells, expected {len(columns)}"
            )
        cells = []
        for kind, element in zip(types, row.elements, strict=True):
            which = element.WhichOneof("value")
            raw = getattr(element, which) if which else None
            cells.append(_basic(kind, which, raw, f"DataSet row {number}"))
        rows.append(tuple(cells))
    return DataSet(columns, tuple(_DATATYPES[k] for k in types), tuple(rows))


def decode_template(pt: Any) -> Template:
    params = []
    for param in pt.parameters:
        which = param.WhichOneof("value")
        raw = getattr(param, which) if which else None
        value = _basic(param.type, which, raw, f"parameter {param.name!r}")
        kind = param.type
        datatype = _DATATYPES[kind] if kind < _NUM_TYPES else DataType.Unknown
        params.append(TemplateParameter(param.name, datatype, value))
    return Template(
        metrics=tuple(decode_metric(m) for m in pt.metrics),
        parameters=tuple(params),
        version=pt.version if pt.HasField("version") else None,
        template_ref=pt.template_ref if pt.HasField("template_ref") else None,
        is_definition=pt.is_definition,
    )


def decode_payload(data: bytes) -> Payload:
    """Decode Sparkplug B protobuf bytes.

    The compiled fast path (when built) returns what :func:`decode_payload_upb` would for the shapes it
    handles, and None for every other input, which then takes the upb path.

    Raises:
        SparkplugDecodeError: the bytes are not a Sparkplug B payload, or a metric's value does not fit
            its datatype; the message says which metric and why. Nothing else is raised.
    """
    if c_decode is not None:
        payload = c_decode(data)
        if payload is not None:
            return payload
    return decode_payload_upb(data)


def decode_payload_upb(data: bytes) -> Payload:
    """:func:`decode_payload` through the upb protobuf runtime only: the reference for the C path.

    Raises:
        SparkplugDecodeError: the bytes are not a Sparkplug B payload, or a metric's value does not fit
            its datatype; the message says which metric and why. Nothing else is raised.
    """
    try:
        common = _CommonPayload.FromString(data)
        rare, named = _scan_metrics(data)
        plain = None if rare else _decode_plain_metrics(common.metrics, named)
        if plain is not None:
            msg = common
            metrics = tuple(plain)
        else:
            msg = _PbPayload.FromString(data)
            metrics = tuple([decode_metric(pm) for pm in msg.metrics])
        return Payload(
            timestamp=msg.timestamp if msg.HasField("timestamp") else None,
            metrics=metrics,
            seq=msg.seq if msg.HasField("seq") else None,
            uuid=msg.uuid if msg.HasField("uuid") else None,
            body=msg.body if msg.HasField("body") else None,
        )
    except DecodeError as exc:
        raise SparkplugDecodeError(f"not a Sparkplug B protobuf payload ({len(data)} bytes): {exc}") from None
    except UnicodeDecodeError as exc:
        raise SparkplugDecodeError(f"a string field is not valid UTF-8: {exc}") from None
