"""Interpretation of NCMD/DCMD payloads for the edge-node core (digest §5 NCMD/DCMD, §8 Node Control).

Pure functions: a decoded command payload plus the current birth (the metric table) become a list of
intents; :class:`sparkplug.edge_node.EdgeNode` turns intents into publishes and actions. Lenient as
§19.14 asks: a metric is resolved by alias first (within the addressed node or device), then by name;
a missing datatype is filled from the birth; unknown metrics, read-only metrics and values that do not
fit become :class:`~sparkplug.edge_types.Notice` entries, never exceptions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

from sparkplug._metric_table import MetricTable, check_value
from sparkplug.codec import retype
from sparkplug.datatypes import DataType
from sparkplug.edge_types import (
    DEVICE_REBIRTH,
    NEXT_SERVER,
    REBIRTH,
    REBOOT,
    SCAN_RATE,
    EdgeNodeConfig,
    Notice,
    WriteMetric,
)
from sparkplug.errors import SparkplugDecodeError
from sparkplug.model import Metric, MetricValue, Payload


@dataclass(frozen=True, slots=True)
class RebirthRequested:
    """Node Control/Rebirth = true."""


@dataclass(frozen=True, slots=True)
class DeviceRebirthRequested:
    """Device Control/Rebirth = true on a DCMD."""

    device_id: str


@dataclass(frozen=True, slots=True)
class NextServerRequested:
    """Node Control/Next Server = true."""


@dataclass(frozen=True, slots=True)
class RebootRequested:
    """Node Control/Reboot = true."""


@dataclass(frozen=True, slots=True)
class ScanRateRequested:
    """Node Control/Scan Rate written with a positive number of milliseconds."""

    rate_ms: int


Intent: TypeAlias = (
    RebirthRequested
    | DeviceRebirthRequested
    | NextServerRequested
    | RebootRequested
    | ScanRateRequested
    | WriteMetric
    | Notice
)


def _resolve(table: MetricTable, owner: str | None, metric: Metric) -> str | None:
    if metric.alias is not None:
        found = table.resolve_alias(metric.alias)
        if found is not None and found[0] == owner:
            return found[1]
    return metric.name


def _typed_value(metric: Metric, datatype: DataType) -> tuple[MetricValue, str | None]:
    """The command's value as ``datatype``, or an explanation why it cannot be."""
    if metric.datatype is not DataType.Unknown and metric.datatype is not datatype:
        return None, f"declared {metric.datatype.name}, expected {datatype.name}"
    try:
        return retype(metric, datatype).value, None
    except SparkplugDecodeError as exc:
        return None, str(exc)


def _write(table: MetricTable, owner: str | None, name: str | None, metric: Metric) -> Intent:
    where = "NCMD" if owner is None else f"DCMD for device {owner!r}"
    state = table.get(owner, name) if name is not None else None
    if state is None:
        label = name if name is not None else f"alias {metric.alias}"
        return Notice(f"{where}: unknown metric {label!r} ignored")
    if not state.spec.writable:
        return Notice(f"{where}: metric {name!r} is read-only")
    value, problem = _typed_value(metric, state.spec.datatype)
    if problem is None:
        try:
            check_value(state.spec, value)
        except ValueError as exc:
            problem = str(exc)
    if problem is not None:
        return Notice(f"{where}: metric {name!r} value refused: {problem}")
    return WriteMetric(owner, state.spec.name, state.spec.datatype, value)


def _flag(metric: Metric, label: str) -> tuple[bool, Notice | None]:
    """A Boolean control: (True when set to true, a Notice when the value is unusable)."""
    value, problem = _typed_value(metric, DataType.Boolean)
    if problem is not None:
        return False, Notice(f"{label}: {problem}")
    return value is True, None


def interpret_ncmd(
    payload: Payload, table: MetricTable, config: EdgeNodeConfig, scan_rate_enabled: bool
) -> list[Intent]:
    """Intents of one NCMD, in the order of its metrics. ``false`` on a control does nothing (§8)."""
    intents: list[Intent] = []
    for metric in payload.metrics:
        name = _resolve(table, None, metric)
        control = {
            REBIRTH: RebirthRequested(),
            NEXT_SERVER: NextServerRequested() if config.next_server_control else None,
            REBOOT: RebootRequested() if config.reboot_control else None,
        }
        if name in control and control[name] is not None:
            requested, notice = _flag(metric, f"NCMD {name}")
            intent = control[name]
            if requested and intent is not None:
                intents.append(intent)
            elif notice is not None:
                intents.append(notice)
        elif name == SCAN_RATE and scan_rate_enabled:
            value, problem = _typed_value(metric, DataType.Int64)
            if isinstance(value, int) and value > 0:
                intents.append(ScanRateRequested(value))
            else:
                intents.append(Notice(f"NCMD {SCAN_RATE}: refused {metric.value!r} {problem or ''}".strip()))
        else:
            intents.append(_write(table, None, name, metric))
    return intents


def interpret_dcmd(
    device_id: str, payload: Payload, table: MetricTable, config: EdgeNodeConfig
) -> list[Intent]:
    """Intents of one DCMD for a born device."""
    intents: list[Intent] = []
    for metric in payload.metrics:
        name = _resolve(table, device_id, metric)
        if name == DEVICE_REBIRTH and config.device_rebirth_control:
            requested, notice = _flag(metric, f"DCMD {DEVICE_REBIRTH}")
            if requested:
                intents.append(DeviceRebirthRequested(device_id))
            elif notice is not None:
                intents.append(notice)
        else:
            intents.append(_write(table, device_id, name, metric))
    return intents
