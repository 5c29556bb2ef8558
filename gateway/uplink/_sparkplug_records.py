"""How Sparkplug samples are kept in the backlog: the samples themselves, not a DATA payload.

A DATA payload is tied to its session (seq, aliases, which metrics were in the birth). What must survive
an outage, a server switch or a restart is the *samples*: name, value, datatype, quality, and the original
timestamp. They are stored as a Sparkplug B payload (our own codec, no new format) whose metrics carry
name, datatype, value, timestamp and the Quality property when it is not GOOD; the record's topic is
the DATA topic of the node or device, which tells the replay whose samples they are. On replay the session
feeds them to the core as ``PublishHistorical``, which builds historical NDATA/DDATA (is_historical=true,
current aliases and seq, §11).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sparkplug import (
    DataType,
    Metric,
    Payload,
    PropertySet,
    Sample,
    decode_payload,
    encode_payload,
    quality_property,
)
from sparkplug.datatypes import Quality


def encode_samples(samples: Sequence[Sample], datatypes: Mapping[str, DataType]) -> bytes:
    """Encode samples of one owner; ``datatypes`` maps each metric name to its declared datatype.

    Raises:
        KeyError: a sample names a metric that was never declared (the core would have refused it).
        sparkplug.SparkplugEncodeError: a value does not fit its datatype.
    """
    metrics = tuple(
        Metric(
            name=sample.name,
            timestamp=sample.timestamp,
            datatype=datatypes[sample.name],
            value=sample.value,
            properties=None
            if sample.quality is Quality.GOOD
            else PropertySet((("Quality", quality_property(sample.quality)),)),
        )
        for sample in samples
    )
    return encode_payload(Payload(metrics=metrics))


def decode_samples(data: bytes) -> tuple[Sample, ...]:
    """The inverse of :func:`encode_samples`.

    Raises:
        sparkplug.SparkplugDecodeError: the bytes are not such a payload.
    """
    payload = decode_payload(data)
    samples = []
    for metric in payload.metrics:
        quality = metric.properties.quality if metric.properties is not None else None
        samples.append(
            Sample(
                name=metric.name or "",
                value=metric.value,
                timestamp=metric.timestamp or 0,
                quality=Quality.GOOD if quality is None else quality,
            )
        )
    return tuple(samples)
