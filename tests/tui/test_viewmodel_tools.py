"""Config editing helpers (diff, add a Modbus device) and the Sparkplug traffic decoder."""

from __future__ import annotations

import yaml

from sparkplug import DataType, Metric, Payload, encode_payload
from tests.tui.support.sample import CONFIG_TEXT, T0
from tui.viewmodel.config_edit import (
    ModbusDeviceForm,
    ModbusTagForm,
    add_modbus_device,
    form_problems,
    unified_diff,
)
from tui.viewmodel.traffic import decode_record
from tui.viewmodel.traffic_feed import TrafficRecord

FORM = ModbusDeviceForm(
    "boiler-3",
    "10.0.0.9",
    502,
    2,
    0.5,
    "CDAB",
    (ModbusTagForm("Temp: inlet", 40001, "float32", "degC"), ModbusTagForm("Run", 1, "bool", writable=True)),
)


def test_add_device_keeps_the_rest_and_parses() -> None:
    new = add_modbus_device(CONFIG_TEXT, FORM)
    doc = yaml.safe_load(new)
    assert [d["id"] for d in doc["devices"]] == ["skid-1", "line-1", "boiler-3"]
    dev = doc["devices"][2]
    assert dev["tags"][0] == {"name": "Temp: inlet", "address": 40001, "type": "float32", "unit": "degC"}
    assert dev["tags"][1]["writable"] is True and dev["byte_order"] == "CDAB"
    assert doc["data_dir"] == "./demo-data"
    diff = unified_diff(CONFIG_TEXT, new)
    assert all(line[0] in "+@ -" for line in diff) and not any(d.startswith("-  ") for d in diff)


def test_add_device_to_empty_or_missing_list() -> None:
    empty = "identity:\n  group_id: G\ndevices: []  # none yet\nlogging:\n  level: info\n"
    doc = yaml.safe_load(add_modbus_device(empty, FORM))
    assert doc["devices"][0]["id"] == "boiler-3" and doc["logging"] == {"level": "info"}
    doc = yaml.safe_load(add_modbus_device("identity:\n  group_id: G\n", FORM))
    assert doc["devices"][0]["host"] == "10.0.0.9"


def test_form_problems_lists_every_problem() -> None:
    bad = ModbusDeviceForm("has space", "", 70000, 300, 0, tags=(ModbusTagForm("", -1, "float"),))
    problems = form_problems(bad)
    assert len(problems) == 8, problems
    assert form_problems(FORM) == []
    assert unified_diff("a\n", "a\n") == []


def test_traffic_decodes_sparkplug_and_survives_garbage() -> None:
    payload = Payload(
        timestamp=T0,
        seq=5,
        metrics=(
            Metric(name="temperature", datatype=DataType.Float, value=21.5),
            Metric(alias=7, datatype=DataType.Int32, value=3),
        ),
    )
    rec = TrafficRecord("spBv1.0/Demo/DDATA/demo-gateway/skid-1", encode_payload(payload), T0, False)
    d = decode_record(rec)
    assert (d.kind, d.source, d.seq) == ("DDATA", "Demo/demo-gateway/skid-1", "5")
    assert d.metrics == "temperature=21.5, #7=3"
    junk = decode_record(TrafficRecord("spBv1.0/Demo/NDATA/demo-gateway", b"\xff\xff\xff", T0, False))
    assert junk.kind == "NDATA" and junk.metrics.startswith("undecodable payload")
    odd = decode_record(TrafficRecord("spBv1.0/onlytwo", b"", T0, False))
    assert odd.kind == "?"
    state = decode_record(TrafficRecord("spBv1.0/STATE/scada-1", b'{"online":true,"timestamp":1}', T0, True))
    assert state.kind == "STATE" and "online" in state.metrics
