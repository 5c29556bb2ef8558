"""Modbus TCP, RTU and RTU-over-TCP driver (pymodbus underneath).

Public surface: :class:`ModbusDriver`, the specs (:class:`ModbusDevice`, :class:`ModbusTag`,
:class:`TcpLink`, :class:`RtuOverTcpLink`, :class:`SerialLink`, :class:`Area`, :class:`DataType`,
:class:`ByteOrder`), :func:`parse_reference`, and the planner core (:class:`PollPlanner`).
"""

from drivers.modbus._codec import EncodeError, decode_tag, encode_tag
from drivers.modbus._driver import ModbusDriver
from drivers.modbus._planner import Block, PollPlanner, minimum_requests
from drivers.modbus._spec import (
    MAX_READ_BITS,
    MAX_READ_REGISTERS,
    Area,
    BitWrite,
    ByteOrder,
    DataType,
    ModbusDevice,
    ModbusTag,
    RtuOverTcpLink,
    SerialLink,
    TcpLink,
    parse_reference,
    validate_devices,
)

__all__ = [
    "MAX_READ_BITS",
    "MAX_READ_REGISTERS",
    "Area",
    "BitWrite",
    "Block",
    "ByteOrder",
    "DataType",
    "EncodeError",
    "ModbusDevice",
    "ModbusDriver",
    "ModbusTag",
    "PollPlanner",
    "RtuOverTcpLink",
    "SerialLink",
    "TcpLink",
    "decode_tag",
    "encode_tag",
    "minimum_requests",
    "parse_reference",
    "validate_devices",
]
