"""Modbus addresses and validation: every problem is reported at once, with its key path."""

from __future__ import annotations

import pytest

from drivers import DriverConfigError
from drivers.modbus import Area, DataType, ModbusDevice, ModbusDriver, ModbusTag, TcpLink, parse_reference


@pytest.mark.parametrize(
    ("ref", "area", "address"),
    [
        ("40001", Area.HOLDING_REGISTER, 0),
        ("400010", Area.HOLDING_REGISTER, 9),
        ("30001", Area.INPUT_REGISTER, 0),
        ("10005", Area.DISCRETE_INPUT, 4),
        ("00001", Area.COIL, 0),
        ("465536", Area.HOLDING_REGISTER, 65535),
    ],
)
def test_parse_reference(ref: str, area: Area, address: int) -> None:
    assert parse_reference(ref) == (area, address)


@pytest.mark.parametrize("ref", ["40000", "50001", "4001", "abcde", "4000001", ""])
def test_parse_reference_refuses(ref: str) -> None:
    with pytest.raises(ValueError):
        parse_reference(ref)


def test_tag_at_reference() -> None:
    tag = ModbusTag.at("t", "40011", DataType.FLOAT32)
    assert (tag.area, tag.address, tag.count) == (Area.HOLDING_REGISTER, 10, 2)


def test_validation_lists_every_problem() -> None:
    bad = ModbusDevice(
        "dev",
        TcpLink("127.0.0.1", 502),
        unit_id=300,
        max_read_registers=200,
        tags=(
            ModbusTag("a", Area.COIL, 0, DataType.FLOAT32),
            ModbusTag("b", Area.HOLDING_REGISTER, 0, DataType.BOOL),
            ModbusTag("c", Area.HOLDING_REGISTER, 65535, DataType.UINT32),
            ModbusTag("d", Area.INPUT_REGISTER, 0, writable=True),
            ModbusTag("d", Area.HOLDING_REGISTER, 0, poll_group="fast"),
            ModbusTag("e", Area.HOLDING_REGISTER, 0, DataType.STRING),
        ),
    )
    with pytest.raises(DriverConfigError) as info:
        ModbusDriver("m", [bad])
    text = "\n".join(info.value.problems)
    for expected in [
        "unit_id: 300",
        "max_read_registers: 200",
        "tags[0] (a).data_type: float32 in coils",
        "tags[1] (b).bit: a bool in a register area needs a bit number",
        "tags[2] (c).address: 65535 (+2)",
        "tags[3] (d).writable: input registers are read-only",
        "tags[4] (d).poll_group: 'fast'",
        "tags[4].name: duplicate tag name 'd'",
        "tags[5] (e).length",
    ]:
        assert expected in text, expected
    assert len(info.value.problems) == 9


def test_tag_larger_than_device_limit_is_a_config_error() -> None:
    device = ModbusDevice(
        "small",
        TcpLink("127.0.0.1"),
        max_read_registers=20,
        tags=(ModbusTag("s", Area.HOLDING_REGISTER, 0, DataType.STRING, length=50),),
    )
    with pytest.raises(DriverConfigError, match="limit of 20"):
        ModbusDriver("m", [device])


def test_serial_inter_frame_gap() -> None:
    """3.5 character times (11 bits each) up to 19200 baud, a fixed 1.75 ms above (Modbus over Serial
    Line V1.02, 2.5.1.1); an explicit value wins."""
    from drivers.modbus import SerialLink

    assert SerialLink("/dev/x", baudrate=9600).frame_gap() == pytest.approx(3.5 * 11 / 9600)
    assert SerialLink("/dev/x", baudrate=19200).frame_gap() == pytest.approx(0.002005, abs=1e-5)
    assert SerialLink("/dev/x", baudrate=115200).frame_gap() == 0.00175
    assert SerialLink("/dev/x", inter_frame_delay=0.01).frame_gap() == 0.01
