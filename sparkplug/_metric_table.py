"""Per-metric state of the edge node: alias, current value, last published value, and RBE (§12).

One :class:`MetricTable` holds the node's metrics (owner ``None``) and each device's (owner = device id).
Aliases are allocated once per (owner, name) and never reused, so they are stable across rebirths and
reconnects and unique across the node and all its devices (§7, pitfall 5).

Report by exception compares a new sample with the last value PUBLISHED (or handed to the store), not
the last one sampled, so slow drifts below the deadband still get reported once they add up.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sparkplug._encode import check_value as _check
from sparkplug.datatypes import DataType, Quality
from sparkplug.edge_types import Deadband, MetricSpec, Sample
from sparkplug.errors import EdgeNodeUsageError, SparkplugEncodeError
from sparkplug.model import Metric, MetricValue, PropertySet, quality_property

_NUMERIC = frozenset(
    {
        DataType.Int8,
        DataType.Int16,
        DataType.Int32,
        DataType.Int64,
        DataType.UInt8,
        DataType.UInt16,
        DataType.UInt32,
        DataType.UInt64,
        DataType.Float,
        DataType.Double,
    }
)


@dataclass(slots=True)
class MetricState:
    """Mutable bookkeeping for one metric (internal to the core)."""

    spec: MetricSpec
    alias: int
    value: MetricValue = None
    timestamp: int | None = None
    quality: Quality = Quality.GOOD
    published: bool = False
    published_value: MetricValue = None
    published_quality: Quality = Quality.GOOD


def check_value(spec: MetricSpec, value: MetricValue) -> None:
    """Raise SparkplugEncodeError now if ``value`` could not be encoded as ``spec.datatype``."""
    if value is None:
        return
    try:
        _check(spec.datatype, value)
    except SparkplugEncodeError as exc:
        raise SparkplugEncodeError(f"metric {spec.name!r}: {exc}") from None


def changed_enough(deadband: Deadband | None, datatype: DataType, last: Any, new: Any) -> bool:
    """True when ``new`` differs from ``last`` by more than the deadband (any change without one)."""
    if datatype in _NUMERIC and isinstance(new, (int, float)) and isinstance(last, (int, float)):
        if isinstance(new, float) and isinstance(last, float) and math.isnan(new) and math.isnan(last):
            return False
        if deadband is None or (deadband.absolute is None and deadband.percent is None):
            return bool(new != last)
        delta = abs(new - last)
        if math.isnan(delta):
            return True
        if deadband.absolute is not None and delta > deadband.absolute:
            return True
        if deadband.percent is not None:
            return delta > abs(last) * deadband.percent / 100.0 if last != 0 else new != 0
        return False
    return bool(new != last)


@dataclass(slots=True)
class MetricTable:
    """Metrics of the node and its devices, with node-wide alias allocation."""

    _owners: dict[str | None, dict[str, MetricState]] = field(default_factory=dict)
    _aliases: dict[tuple[str | None, str], int] = field(default_factory=dict)
    _by_alias: dict[int, tuple[str | None, str]] = field(default_factory=dict)
    _next_alias: int = 1

    def alias_for(self, owner: str | None, name: str) -> int:
        """The alias of (owner, name), allocated on first use and never changed or reused."""
        key = (owner, name)
        alias = self._aliases.get(key)
        if alias is None:
            alias = self._next_alias
            self._next_alias += 1
            self._aliases[key] = alias
            self._by_alias[alias] = key
        return alias

    def allocated_alias(self, owner: str | None, name: str) -> int | None:
        """The alias of (owner, name) if one was ever allocated (declared metrics and node controls)."""
        return self._aliases.get((owner, name))

    def declare(self, owner: str | None, specs: tuple[MetricSpec, ...]) -> None:
        """(Re)declare the metric set of an owner, keeping current values of metrics that stay."""
        names = [spec.name for spec in specs]
        duplicates = sorted(name for name, count in Counter(names).items() if count > 1)
        if duplicates:
            raise EdgeNodeUsageError(f"{_owner(owner)} declares metrics twice: {duplicates}")
        old = self._owners.get(owner, {})
        table: dict[str, MetricState] = {}
        for spec in specs:
            previous = old.get(spec.name)
            if previous is not None and previous.spec.datatype is spec.datatype:
                previous.spec = spec
                table[spec.name] = previous
            else:
                table[spec.name] = MetricState(spec, self.alias_for(owner, spec.name))
        self._owners[owner] = table

    def specs(self, owner: str | None) -> tuple[MetricSpec, ...]:
        return tuple(state.spec for state in self._owners.get(owner, {}).values())

    def has_owner(self, owner: str | None) -> bool:
        return owner in self._owners

    def get(self, owner: str | None, name: str) -> MetricState | None:
        return self._owners.get(owner, {}).get(name)

    def resolve_alias(self, alias: int) -> tuple[str | None, str] | None:
        return self._by_alias.get(alias)

    def states(self, owner: str | None) -> list[MetricState]:
        return list(self._owners.get(owner, {}).values())

    def validate(self, owner: str | None, samples: tuple[Sample, ...]) -> list[MetricState]:
        """The states of ``samples`` in order; raises before any change if one is unknown or ill-typed."""
        table = self._owners.get(owner)
        if table is None:
            raise EdgeNodeUsageError(f"{_owner(owner)} has not been declared (DeviceOnline first)")
        states = []
        for sample in samples:
            state = table.get(sample.name)
            if state is None:
                raise EdgeNodeUsageError(
                    f"{_owner(owner)} has no metric {sample.name!r} in its birth; declare it (a new birth)"
                )
            check_value(state.spec, sample.value)
            states.append(state)
        return states

    def apply(self, state: MetricState, sample: Sample) -> bool:
        """Record ``sample`` as current; True when it must be reported (RBE passed or quality changed)."""
        state.value = sample.value
        state.timestamp = sample.timestamp
        state.quality = sample.quality
        if not state.published or sample.quality is not state.published_quality:
            return True
        return changed_enough(state.spec.deadband, state.spec.datatype, state.published_value, sample.value)

    def mark_published(self, state: MetricState, value: MetricValue, quality: Quality) -> None:
        state.published = True
        state.published_value = value
        state.published_quality = quality

    def birth_metric(self, owner: str | None, state: MetricState, now: int, use_aliases: bool) -> Metric:
        """The NBIRTH/DBIRTH entry: name (+alias), datatype, current value or null, timestamp (§5)."""
        self.mark_published(state, state.value, state.quality)
        return Metric(
            name=state.spec.name,
            alias=state.alias if use_aliases else None,
            timestamp=state.timestamp if state.timestamp is not None else now,
            datatype=state.spec.datatype,
            value=state.value,
            is_transient=state.spec.is_transient,
            properties=_properties(state.spec.properties, state.quality, birth=True, was=Quality.GOOD),
        )

    def data_metric(
        self, state: MetricState, sample: Sample, use_aliases: bool, *, historical: bool = False
    ) -> Metric:
        """An NDATA/DDATA entry: alias only when aliases are on (§5), the sample's own timestamp."""
        was = Quality.GOOD if historical else state.published_quality
        if not historical:
            self.mark_published(state, sample.value, sample.quality)
        return Metric(
            name=None if use_aliases else state.spec.name,
            alias=state.alias if use_aliases else None,
            timestamp=sample.timestamp,
            datatype=state.spec.datatype,
            value=sample.value,
            is_historical=historical,
            is_transient=state.spec.is_transient,
            properties=_properties(None, sample.quality, birth=False, was=was),
        )


def _properties(
    static: PropertySet | None, quality: Quality, *, birth: bool, was: Quality
) -> PropertySet | None:
    """Static properties (births only) plus Quality when not GOOD, or once when it returns to GOOD (§16)."""
    props = static if birth else None
    if quality is not Quality.GOOD or (not birth and was is not Quality.GOOD):
        props = (props or PropertySet()).with_property("Quality", quality_property(quality))
    return props


def _owner(owner: str | None) -> str:
    return "the node" if owner is None else f"device {owner!r}"
