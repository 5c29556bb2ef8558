"""Southbound drivers (Modbus, OPC UA) and device simulators. Knows nothing of MQTT or Sparkplug.

Public surface: the :class:`Driver` interface and the values that cross it (:class:`Sample`,
:class:`Quality`, :class:`WriteResult`, :class:`DriverHealth`), the errors (:class:`DeviceError`,
:class:`DriverConfigError`). The drivers live in :mod:`drivers.modbus` and :mod:`drivers.opcua`,
the simulators in :mod:`drivers.simulators`; import those subpackages explicitly (they pull in
pymodbus/asyncua).
"""

from drivers._types import (
    DeviceHealth,
    DriverHealth,
    DriverState,
    Quality,
    Sample,
    Value,
    WriteResult,
    WriteStatus,
    utc_ms,
)
from drivers.base import Driver, SampleQueue
from drivers.errors import (
    CertificateTrustError,
    DeviceError,
    DriverConfigError,
    DriverError,
    ErrorKind,
    ModbusExceptionCode,
)

__all__ = [
    "CertificateTrustError",
    "DeviceError",
    "DeviceHealth",
    "Driver",
    "DriverConfigError",
    "DriverError",
    "DriverHealth",
    "DriverState",
    "ErrorKind",
    "ModbusExceptionCode",
    "Quality",
    "Sample",
    "SampleQueue",
    "Value",
    "WriteResult",
    "WriteStatus",
    "utc_ms",
]
