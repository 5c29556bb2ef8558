"""The typed Sparkplug B payload model: what the rest of the code uses instead of protobuf classes.

All classes are frozen dataclasses, slotted except :class:`Metric` (tuple-backed, see there);
encode/decode is in :mod:`sparkplug.codec`.

Python value of a metric, per :class:`~sparkplug.datatypes.DataType`:

    Int8..Int64, UInt8..UInt64     int (range-checked on encode, never wrapped)
    DateTime                       int, ms since the epoch, UTC
    Float, Double                  float (Float is rounded to 32 bits on the wire)
    Boolean                        bool
    String, Text, UUID             str
    Bytes, File                    bytes
    DataSet                        DataSet
    Template                       Template
    <X>Array                       tuple of the element type (bool for BooleanArray, str for StringArray)
    null                           None (then ``is_null`` is True on the wire)
    Unknown                        the raw wire value: a metric in DATA/CMD often has no datatype (§7);
                                   :func:`sparkplug.codec.retype` reinterprets it once the birth is known
"""

from __future__ import annotations

import collections
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any, TypeAlias

from sparkplug.datatypes import DataType, Quality
from sparkplug.errors import SparkplugEncodeError

Scalar: TypeAlias = int | float | bool | str
ArrayValue: TypeAlias = tuple[int, ...] | tuple[float, ...] | tuple[bool, ...] | tuple[str, ...]
MetricValue: TypeAlias = "Scalar | bytes | DataSet | Template | ArrayValue | None"
PropertyValueType: TypeAlias = "Scalar | PropertySet | tuple[PropertySet, ...] | None"


@dataclass(frozen=True, slots=True)
class MetaData:
    """``Payload.MetaData``: mainly for Bytes/File metrics (content type, size, md5, multi-part)."""

    is_multi_part: bool | None = None
    content_type: str | None = None
    size: int | None = None
    seq: int | None = None
    file_name: str | None = None
    file_type: str | None = None
    md5: str | None = None
    description: str | None = None


@dataclass(frozen=True, slots=True)
class PropertyValue:
    """One property: a basic type, a nested PropertySet or a tuple of PropertySets; None is null."""

    type: DataType
    value: PropertyValueType = None


@dataclass(frozen=True, slots=True)
class PropertySet:
    """``Payload.PropertySet``: ordered (key, value) pairs, so keys and values always have equal length.

    The only property the spec names is ``Quality`` (Int32, 0/192/500). Engineering units are a
    convention (``engUnit``, ``engLow``, ``engHigh``), not a spec rule (§16).
    """

    items: tuple[tuple[str, PropertyValue], ...] = ()

    @classmethod
    def from_dict(cls, values: Mapping[str, PropertyValue]) -> PropertySet:
        return cls(tuple(values.items()))

    def get(self, key: str) -> PropertyValue | None:
        for name, value in self.items:
            if name == key:
                return value
        return None

    def as_dict(self) -> dict[str, PropertyValue]:
        return dict(self.items)

    @property
    def quality(self) -> Quality | None:
        """The ``Quality`` property, or None when absent (hosts then assume GOOD)."""
        found = self.get("Quality")
        if found is None or not isinstance(found.value, int) or isinstance(found.value, bool):
            return None
        try:
            return Quality(found.value)
        except ValueError:
            return None

    def with_property(self, key: str, value: PropertyValue) -> PropertySet:
        """A copy with ``key`` set (replaced in place if present, appended otherwise)."""
        if self.get(key) is None:
            return PropertySet((*self.items, (key, value)))
        return PropertySet(tuple((k, value if k == key else v) for k, v in self.items))


def quality_property(quality: Quality) -> PropertyValue:
    """The spec's Quality property value: type Int32 (3) in ``int_value`` (§16)."""
    return PropertyValue(DataType.Int32, int(quality))


def engineering_units(unit: str, low: float | None = None, high: float | None = None) -> PropertySet:
    """Engineering-unit properties named as Ignition does: ``engUnit``, ``engLow``, ``engHigh`` (§16)."""
    items: list[tuple[str, PropertyValue]] = [("engUnit", PropertyValue(DataType.String, unit))]
    if low is not None:
        items.append(("engLow", PropertyValue(DataType.Double, float(low))))
    if high is not None:
        items.append(("engHigh", PropertyValue(DataType.Double, float(high))))
    return PropertySet(tuple(items))


@dataclass(frozen=True, slots=True)
class DataSet:
    """``Payload.DataSet``: ``columns`` and ``types`` of equal length; each row has one cell per column.

    Cells hold the Python value for the column's basic type, or None for a cell with no value.
    """

    columns: tuple[str, ...]
    types: tuple[DataType, ...]
    rows: tuple[tuple[Scalar | None, ...], ...] = ()


@dataclass(frozen=True, slots=True)
class TemplateParameter:
    """``Payload.Template.Parameter``: name and basic type are required in births (§17)."""

    name: str
    type: DataType
    value: Scalar | None = None


@dataclass(frozen=True, slots=True)
class Template:
    """``Payload.Template``: a definition (NBIRTH only, no ``template_ref``) or an instance of one."""

    metrics: tuple[Metric, ...] = ()
    parameters: tuple[TemplateParameter, ...] = ()
    version: str | None = None
    template_ref: str | None = None
    is_definition: bool = False


@dataclass(frozen=True, init=False, eq=False)
class Metric(tuple[Any, ...]):
    """One ``Payload.Metric``.

    ``value`` None means null, and ``is_null`` always equals ``value is None`` (set for you): the encoder
    then writes ``is_null=true`` and no value field (§7). Giving a value with ``is_null=True`` raises.
    ``datatype`` must be set to encode a value; it is written on the wire unless the encoder is told to
    omit it (DATA messages, §7).

    A frozen dataclass (``dataclasses.fields``/``replace``/``asdict`` work, assignment raises
    ``FrozenInstanceError``) whose storage is a tuple of its fields in declaration order: the decoder
    builds one Metric per metric on the wire, and a tuple is created in one C call where a slotted
    ``__init__`` costs several times more (``benchmarks/sparkplug_codec.py``). Equality and hashing are
    those of the field tuple, as for any dataclass, but a Metric never equals a plain tuple and does not
    order. Indexing and iterating are an implementation detail: use the field names.
    """

    __slots__ = ()

    name: str | None = None
    alias: int | None = None
    timestamp: int | None = None
    datatype: DataType = DataType.Unknown
    value: MetricValue = None
    is_historical: bool = False
    is_transient: bool = False
    is_null: bool = False
    properties: PropertySet | None = None
    metadata: MetaData | None = None

    def __new__(  # noqa: PLR0917 - one parameter per field, positional too, as a dataclass __init__ has
        cls,
        name: str | None = None,
        alias: int | None = None,
        timestamp: int | None = None,
        datatype: DataType = DataType.Unknown,
        value: MetricValue = None,
        is_historical: bool = False,
        is_transient: bool = False,
        is_null: bool = False,
        properties: PropertySet | None = None,
        metadata: MetaData | None = None,
    ) -> Metric:
        if value is None:
            is_null = True
        elif is_null:
            raise SparkplugEncodeError(f"metric {name or alias!r} has is_null=True and a value")
        fields = (name, alias, timestamp, datatype, value, is_historical, is_transient, is_null)
        return tuple.__new__(cls, (*fields, properties, metadata))

    def __getnewargs__(self) -> tuple[Any, ...]:
        return tuple(self)  # copy and pickle rebuild through __new__ with the fields

    def __eq__(self, other: object) -> bool:
        if other.__class__ is Metric:
            return tuple.__eq__(self, other)
        if isinstance(other, tuple):
            return False  # not equal to a plain tuple with the same items
        return NotImplemented

    def __ne__(self, other: object) -> bool:
        equal = self.__eq__(other)
        return equal if equal is NotImplemented else not equal

    __hash__ = tuple.__hash__  # the field tuple's hash, as the generated dataclass __hash__ gives


def _unordered(self: object, other: object) -> bool:
    return NotImplemented  # type: ignore[no-any-return]


def _install_field_getters() -> None:
    """Replace the dataclass defaults left on the class by C-level read-only getters of tuple items."""
    make: Callable[[int, str], Any] = getattr(collections, "_tuplegetter", None) or (
        lambda index, doc: property(operator.itemgetter(index), doc=doc)
    )
    for index, spec in enumerate(fields(Metric)):
        setattr(Metric, spec.name, make(index, f"Metric.{spec.name}"))
    for name in ("__lt__", "__le__", "__gt__", "__ge__"):  # a dataclass without order=True
        setattr(Metric, name, _unordered)


_install_field_getters()


@dataclass(frozen=True, slots=True)
class Payload:
    """A whole Sparkplug B payload. ``seq`` is None when absent (NDEATH, NCMD, DCMD)."""

    timestamp: int | None = None
    metrics: tuple[Metric, ...] = field(default=())
    seq: int | None = None
    uuid: str | None = None
    body: bytes | None = None
