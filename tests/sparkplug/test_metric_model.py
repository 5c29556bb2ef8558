"""Metric is stored as a tuple (for decode speed) but must behave as the frozen dataclass it was."""

from __future__ import annotations

import copy
import dataclasses
import pickle

import pytest

from sparkplug import DataType, Metric
from sparkplug._metric_factory import new_metric
from sparkplug.errors import SparkplugEncodeError
from sparkplug.model import MetaData


def _metric() -> Metric:
    return Metric(
        name="a/b", alias=4, timestamp=9, datatype=DataType.Int16, value=-2, metadata=MetaData(size=1)
    )


def test_dataclass_protocol() -> None:
    metric = _metric()
    assert dataclasses.is_dataclass(metric)
    assert [f.name for f in dataclasses.fields(Metric)][:5] == [
        "name",
        "alias",
        "timestamp",
        "datatype",
        "value",
    ]
    assert dataclasses.asdict(metric)["metadata"] == {
        "is_multi_part": None,
        "content_type": None,
        "size": 1,
        "seq": None,
        "file_name": None,
        "file_type": None,
        "md5": None,
        "description": None,
    }
    changed = dataclasses.replace(metric, value=None)
    assert changed.is_null and changed.value is None and changed.alias == 4
    assert repr(metric).startswith("Metric(name='a/b', alias=4, timestamp=9, datatype=<DataType.Int16: 2>")
    assert Metric().is_null and Metric().datatype is DataType.Unknown


def test_frozen() -> None:
    metric = _metric()
    with pytest.raises(dataclasses.FrozenInstanceError):
        metric.alias = 5  # type: ignore[misc]
    with pytest.raises(AttributeError):
        object.__setattr__(metric, "alias", 5)
    with pytest.raises(AttributeError):
        metric.extra = 1  # type: ignore[attr-defined]
    assert metric.alias == 4


def test_equality_hash_and_no_order() -> None:
    metric = _metric()
    twin = _metric()
    assert metric == twin and (metric != twin) is False and hash(metric) == hash(twin)
    assert metric != dataclasses.replace(metric, alias=5)
    assert metric != tuple(metric) and tuple(metric) != metric  # never equal to a plain tuple
    assert not metric == tuple(metric)  # noqa: SIM201 - the == operator itself is under test
    assert metric != "a/b"
    with pytest.raises(TypeError):
        assert metric < twin
    assert len({metric, twin}) == 1


def test_copy_and_pickle_round_trip() -> None:
    metric = _metric()
    for clone in (copy.copy(metric), copy.deepcopy(metric), pickle.loads(pickle.dumps(metric))):
        assert clone == metric and type(clone) is Metric


def test_null_rules_and_fast_constructor() -> None:
    with pytest.raises(SparkplugEncodeError, match="is_null=True and a value"):
        Metric(alias=1, datatype=DataType.Int8, value=1, is_null=True)
    built = new_metric("n", 1, 2, DataType.Boolean, True, False, False, False, None, None)
    assert built == Metric(name="n", alias=1, timestamp=2, datatype=DataType.Boolean, value=True)
    assert type(built) is Metric
