"""Interoperability both ways with Eclipse Tahu's JavaScript codec (npm sparkplug-payload 1.0.3).

Each case is encoded by us and decoded by Tahu, and encoded by Tahu and decoded by us; both must give the
same values. Tahu's known limits are pinned by the ``test_quirk_*`` tests (see tests/interop/README.md),
so a Tahu upgrade that changes them shows up here.
"""

from __future__ import annotations

import dataclasses

import pytest

from sparkplug import (
    DataSet,
    DataType,
    MetaData,
    Metric,
    Payload,
    PropertySet,
    PropertyValue,
    Quality,
    Template,
    TemplateParameter,
    decode_payload,
    encode_payload,
    engineering_units,
    quality_property,
)
from tests.interop.tahu_node import TahuError, TahuNode, from_tahu, to_tahu

T0 = 1_656_107_875_000


def scalars(datatype: DataType, *values: object) -> Payload:
    metrics = tuple(
        Metric(name=f"{datatype.name}/{i}", alias=i + 1, timestamp=T0 + i, datatype=datatype, value=v)  # type: ignore[arg-type]
        for i, v in enumerate(values)
    )
    return Payload(timestamp=T0, metrics=metrics, seq=7)


CASES: dict[str, Payload] = {
    "Int8": scalars(DataType.Int8, -128, -1, 0, 127),
    "Int16": scalars(DataType.Int16, -32768, -87, 32767),
    "Int32": scalars(DataType.Int32, -(2**31), -1, 2**31 - 1),
    "Int64": scalars(DataType.Int64, -(2**63), -1, 0, 2**63 - 1),
    "UInt8": scalars(DataType.UInt8, 0, 255),
    "UInt16": scalars(DataType.UInt16, 0, 65535),
    "UInt64": scalars(DataType.UInt64, 0, 2**53 + 1, 2**64 - 1),
    "Float": scalars(DataType.Float, 0.0, -1.5, 3.4028234663852886e38, 1.401298464324817e-45),
    "Double": scalars(DataType.Double, 0.1, -2.5e-300, 1.7976931348623157e308),
    "Boolean": scalars(DataType.Boolean, True, False),
    "String": scalars(DataType.String, "", "plain", "ünïcödé ✓ 𝄞"),
    "Text": scalars(DataType.Text, "line1\nline2"),
    "UUID": scalars(DataType.UUID, "f81d4fae-7dec-11d0-a765-00a0c91e6bf6"),
    "DateTime": scalars(DataType.DateTime, 0, T0),
    "Bytes": scalars(DataType.Bytes, b"", b"\x00\xff\x10"),
    "nulls and flags": Payload(
        timestamp=T0,
        seq=0,
        metrics=(
            Metric(name="null int", alias=1, timestamp=T0, datatype=DataType.Int32),
            Metric(name="null string", alias=2, timestamp=T0, datatype=DataType.String),
            Metric(
                name="hist",
                alias=3,
                timestamp=T0 - 5000,
                datatype=DataType.Double,
                value=1.0,
                is_historical=True,
            ),
            Metric(
                name="trans", alias=4, timestamp=T0, datatype=DataType.Boolean, value=True, is_transient=True
            ),
        ),
    ),
    "properties": Payload(
        timestamp=T0,
        seq=1,
        metrics=(
            Metric(
                name="with props",
                timestamp=T0,
                datatype=DataType.Float,
                value=21.5,
                properties=engineering_units("degC", -40.0, 125.0)
                .with_property("Quality", quality_property(Quality.STALE))
                .with_property(
                    "nested",
                    PropertyValue(
                        DataType.PropertySet, PropertySet((("inner", PropertyValue(DataType.Boolean, True)),))
                    ),
                )
                .with_property(
                    "list",
                    PropertyValue(
                        DataType.PropertySetList,
                        (PropertySet((("a", PropertyValue(DataType.Int64, -3)),)), PropertySet()),
                    ),
                ),
            ),
        ),
    ),
    "file with metadata": Payload(
        timestamp=T0,
        seq=2,
        metrics=(
            Metric(
                name="config file",
                timestamp=T0,
                datatype=DataType.File,
                value=b"key=value\n",
                metadata=MetaData(
                    is_multi_part=False,
                    content_type="text/plain",
                    size=10,
                    seq=0,
                    file_name="gw.conf",
                    file_type="conf",
                    md5="0123456789abcdef0123456789abcdef",
                    description="gateway configuration",
                ),
            ),
        ),
    ),
    "template": Payload(
        timestamp=T0,
        seq=3,
        metrics=(
            Metric(
                name="Motor",
                timestamp=T0,
                datatype=DataType.Template,
                value=Template(
                    metrics=(
                        Metric(name="RPM", timestamp=T0, datatype=DataType.Int32, value=-1200),
                        Metric(name="Running", timestamp=T0, datatype=DataType.Boolean, value=True),
                    ),
                    parameters=(
                        TemplateParameter("Manufacturer", DataType.String, "ACME"),
                        TemplateParameter("MaxRPM", DataType.Double, 3000.0),
                        TemplateParameter("Reversible", DataType.Boolean, False),
                    ),
                    version="1.0",
                    is_definition=True,
                ),
            ),
            Metric(
                name="Motor 1",
                timestamp=T0,
                datatype=DataType.Template,
                value=Template(
                    metrics=(Metric(name="RPM", timestamp=T0, datatype=DataType.Int32, value=900),),
                    version="1.0",
                    template_ref="Motor",
                    is_definition=False,
                ),
            ),
        ),
    ),
    "dataset": Payload(
        timestamp=T0,
        seq=4,
        metrics=(
            Metric(
                name="table",
                timestamp=T0,
                datatype=DataType.DataSet,
                value=DataSet(
                    columns=("count", "ratio", "ok", "label", "f"),
                    types=(
                        DataType.Int64,
                        DataType.Double,
                        DataType.Boolean,
                        DataType.String,
                        DataType.Float,
                    ),
                    rows=((1, 0.5, True, "a", 1.25), (2**40, -1.0, False, "b", -2.0)),
                ),
            ),
        ),
    ),
    "uuid and body": Payload(timestamp=T0, seq=5, uuid="vendor-schema-1", body=b"\x01\x02", metrics=()),
}


def as_tahu_reports(payload: Payload) -> Payload:
    """What Tahu JS reports for ``payload``: it reads unset Template version/template_ref as "" (protobufjs
    prototype defaults; see test_quirk_unset_template_strings_read_as_empty)."""

    def fix(metric: Metric) -> Metric:
        if isinstance(metric.value, Template):
            template = metric.value
            return dataclasses.replace(
                metric,
                value=dataclasses.replace(
                    template,
                    metrics=tuple(fix(m) for m in template.metrics),
                    version=template.version or "",
                    template_ref=template.template_ref or "",
                ),
            )
        return metric

    return dataclasses.replace(payload, metrics=tuple(fix(m) for m in payload.metrics))


@pytest.mark.parametrize("case", sorted(CASES))
def test_we_encode_tahu_decodes(tahu: TahuNode, case: str) -> None:
    payload = CASES[case]
    assert from_tahu(tahu.decode(encode_payload(payload))) == as_tahu_reports(payload)


@pytest.mark.parametrize("case", sorted(CASES))
def test_tahu_encodes_we_decode(tahu: TahuNode, case: str) -> None:
    payload = CASES[case]
    assert decode_payload(tahu.encode(to_tahu(payload))) == payload


# ------------------------------------------------------------------------------------------- known quirks


def test_quirk_uint32_tahu_reads_only_long_value(tahu: TahuNode) -> None:
    """Tahu JS (like Tahu Java and Ignition) writes UInt32 in long_value and reads it only from there: the
    spec's int_value comes out null. Our encoder's ``uint32_in_long_value=True`` serves such peers, and our
    decoder reads both."""
    payload = scalars(DataType.UInt32, 0, 2**31, 2**32 - 1)
    spec_form = from_tahu(tahu.decode(encode_payload(payload)))
    assert [m.value for m in spec_form.metrics] == [None, None, None]
    tahu_form = from_tahu(tahu.decode(encode_payload(payload, uint32_in_long_value=True)))
    assert tahu_form == payload
    assert decode_payload(tahu.encode(to_tahu(payload))) == payload


def test_quirk_arrays_are_not_supported_by_tahu_js(tahu: TahuNode) -> None:
    """sparkplug-payload 1.0.3 predates the 3.0 array types: it encodes them as datatype 0 with no value and
    decodes ours as null. Arrays can only go to peers that implement §15 (Tahu Java, Ignition 8.1.x)."""
    ours = Payload(timestamp=T0, metrics=(Metric(name="a", datatype=DataType.Int16Array, value=(-1, 2)),))
    decoded = tahu.decode(encode_payload(ours))
    assert decoded["metrics"][0].get("value") is None
    theirs = decode_payload(tahu.encode({"metrics": [{"name": "a", "type": "Int16Array", "value": [1, 2]}]}))
    assert (theirs.metrics[0].datatype, theirs.metrics[0].value) == (DataType.Unknown, None)


def test_quirk_tahu_needs_datatype_in_data_messages(tahu: TahuNode) -> None:
    """The spec says DATA SHOULD NOT repeat the datatype; Tahu JS then cannot decode the value (null).
    EdgeNodeConfig.datatype_in_data=True serves such consumers."""
    metric = Metric(alias=5, timestamp=T0, datatype=DataType.Int32, value=-3)
    without = tahu.decode(encode_payload(Payload(metrics=(metric,)), include_datatype=False))
    assert without["metrics"][0].get("value") is None
    with_type = from_tahu(tahu.decode(encode_payload(Payload(metrics=(metric,)))))
    assert with_type.metrics[0].value == -3


def test_quirk_tahu_cannot_decode_int_dataset_columns_or_parameters(tahu: TahuNode) -> None:
    """Tahu JS's DataSet cell and Template parameter readers only know UInt32/Int64/Float/Double/Boolean/
    String and throw on Int8/16/32, UInt8/16 and on value-less cells/parameters."""
    table = DataSet(columns=("n",), types=(DataType.Int32,), rows=((5,),))
    with pytest.raises(TahuError, match="Invalid DataSetValue"):
        tahu.decode(
            encode_payload(Payload(metrics=(Metric(name="t", datatype=DataType.DataSet, value=table),)))
        )
    template = Template(parameters=(TemplateParameter("p", DataType.Int16, 1),), is_definition=True)
    with pytest.raises(TahuError, match="Invalid Parameter value"):
        tahu.decode(
            encode_payload(Payload(metrics=(Metric(name="T", datatype=DataType.Template, value=template),)))
        )


def test_quirk_negative_int64_dataset_cells_come_back_unsigned_from_tahu(tahu: TahuNode) -> None:
    """Tahu JS returns DataSet Int64 cells as the raw uint64 (no sign); our decoder sign-extends."""
    table = DataSet(columns=("n",), types=(DataType.Int64,), rows=((-1,),))
    decoded = from_tahu(
        tahu.decode(
            encode_payload(Payload(metrics=(Metric(name="t", datatype=DataType.DataSet, value=table),)))
        )
    )
    assert decoded.metrics[0].value == DataSet(("n",), (DataType.Int64,), ((2**64 - 1,),))
    assert (
        decode_payload(
            tahu.encode(to_tahu(Payload(metrics=(Metric(name="t", datatype=DataType.DataSet, value=table),))))
        )
        .metrics[0]
        .value
        == table
    )


def test_quirk_signed_small_ints_from_tahu_are_sign_extended(tahu: TahuNode) -> None:
    """Tahu JS writes negative Int8/Int16 sign-extended to 32 bits (4294967295 for -1), like Tahu Java;
    our decoder masks then sign-extends, so it reads them right."""
    from sparkplug._generated import sparkplug_b_pb2 as pb

    data = tahu.encode({"metrics": [{"name": "i8", "type": "Int8", "value": -1}]})
    assert pb.Payload.FromString(data).metrics[0].int_value == 0xFFFFFFFF
    assert decode_payload(data).metrics[0].value == -1


def test_quirk_unset_template_strings_read_as_empty(tahu: TahuNode) -> None:
    """Tahu JS tests Template.version/template_ref with ``!== undefined`` on protobufjs messages, whose
    prototype defaults are "": an unset template_ref (a definition) comes back as ""."""
    definition = Template(
        metrics=(Metric(name="x", datatype=DataType.Boolean, value=True),), is_definition=True
    )
    payload = Payload(metrics=(Metric(name="T", datatype=DataType.Template, value=definition),))
    template = from_tahu(tahu.decode(encode_payload(payload))).metrics[0].value
    assert isinstance(template, Template)
    assert (template.template_ref, template.version) == ("", "")


def test_missing_node_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    """Without Node.js on PATH the interop tests fail (never skip) with a message saying what to install."""
    from tests.interop.tahu_node import TahuUnavailableError

    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(TahuUnavailableError, match=r"Node\.js .* is not on PATH"):
        TahuNode()
