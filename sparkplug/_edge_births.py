"""Metric lists of the edge node's births and historical messages (digest §5, §8, §11).

Pure helpers of :class:`sparkplug.edge_node.EdgeNode`: they read (and, for births, update the RBE
baseline of) the :class:`~sparkplug._metric_table.MetricTable`; the node adds seq, timestamp and topic.
"""

from __future__ import annotations

from sparkplug._metric_table import MetricState, MetricTable, check_value
from sparkplug.datatypes import DataType
from sparkplug.edge_types import (
    BD_SEQ,
    DEVICE_REBIRTH,
    NEXT_SERVER,
    REBIRTH,
    REBOOT,
    SCAN_RATE,
    EdgeNodeConfig,
    Sample,
)
from sparkplug.model import Metric, MetricValue


def control_metric(  # noqa: PLR0917 - reads like the Metric it builds
    table: MetricTable,
    config: EdgeNodeConfig,
    name: str,
    datatype: DataType,
    value: MetricValue,
    now: int,
    *,
    alias: bool = True,
) -> Metric:
    """A node-level metric the core declares itself (bdSeq, Node Control/*), with its birth fields."""
    use_alias = alias and config.use_aliases
    return Metric(
        name=name,
        alias=table.alias_for(None, name) if use_alias else None,
        timestamp=now,
        datatype=datatype,
        value=value,
    )


def nbirth_metrics(
    table: MetricTable, config: EdgeNodeConfig, bd_seq: int, scan_rate: int | None, now: int
) -> list[Metric]:
    """Everything NBIRTH must carry (§5): bdSeq, Node Control/*, template definitions, node metrics."""
    metrics = [
        # payloads-nbirth-bdseq-repeat: the Will's bdSeq, as Int64 in long_value.
        control_metric(table, config, BD_SEQ, DataType.Int64, bd_seq, now),
        # operational-behavior-data-commands-rebirth-name-aliases: Rebirth never has an alias.
        control_metric(table, config, REBIRTH, DataType.Boolean, False, now, alias=False),
    ]
    if config.next_server_control:
        metrics.append(control_metric(table, config, NEXT_SERVER, DataType.Boolean, False, now))
    if config.reboot_control:
        metrics.append(control_metric(table, config, REBOOT, DataType.Boolean, False, now))
    if scan_rate is not None:
        metrics.append(control_metric(table, config, SCAN_RATE, DataType.Int64, scan_rate, now))
    metrics.extend(config.template_definitions)  # payloads-template-definition-nbirth
    for state in table.states(None):
        metrics.append(table.birth_metric(None, state, now, config.use_aliases))
    return metrics


def dbirth_metrics(table: MetricTable, config: EdgeNodeConfig, device_id: str, now: int) -> list[Metric]:
    """Every metric of one device with its current value or null (§5 DBIRTH)."""
    metrics = []
    if config.device_rebirth_control:
        metrics.append(Metric(name=DEVICE_REBIRTH, timestamp=now, datatype=DataType.Boolean, value=False))
    for state in table.states(device_id):
        metrics.append(table.birth_metric(device_id, state, now, config.use_aliases))
    return metrics


def historical_batches(
    table: MetricTable, owner: str | None, samples: tuple[Sample, ...], config: EdgeNodeConfig
) -> tuple[list[list[Metric]], int]:
    """Stored samples as is_historical metrics with their original timestamps and CURRENT aliases, in
    batches of ``config.historical_batch``; samples of metrics not in the current birth (or no longer
    fitting its datatype) are dropped (§11 rule 3). Returns (batches, number dropped)."""
    kept: list[tuple[MetricState, Sample]] = []
    dropped = 0
    for sample in samples:
        state = table.get(owner, sample.name)
        if state is None:
            dropped += 1
            continue
        try:
            check_value(state.spec, sample.value)
        except ValueError:
            dropped += 1
            continue
        kept.append((state, sample))
    batch = config.historical_batch
    batches = [
        [
            table.data_metric(state, sample, config.use_aliases, historical=True)
            for state, sample in kept[i : i + batch]
        ]
        for i in range(0, len(kept), batch)
    ]
    return batches, dropped
