"""The control-plane contract names Modbus tables, types and byte orders itself (the terminal UI imports only
the contract, never the daemon's configuration), so the same vocabulary exists twice: what the probe and the
add-device form send must be exactly what a configuration file accepts."""

from __future__ import annotations

from enum import StrEnum

import pytest

from gateway.config import devices as config
from gateway.control import contract as c


@pytest.mark.parametrize(
    ("in_contract", "in_config"),
    [
        (c.ModbusTable, config.ModbusArea),
        (c.ModbusType, config.ModbusType),
        (c.ByteOrder, config.ByteOrder),
    ],
)
def test_the_contract_and_the_configuration_name_the_same_values(
    in_contract: type[StrEnum], in_config: type[StrEnum]
) -> None:
    assert [m.value for m in in_contract] == [m.value for m in in_config]
