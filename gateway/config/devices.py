"""Configuration of southbound devices and their tags (Modbus TCP/RTU, OPC UA).

Each device is one Sparkplug device of the edge node; its ``id`` is the Sparkplug device id and its
tags are the device's metrics. The ``protocol`` key picks the shape of the device entry.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, ClassVar

from gateway.config._types import Count, NonEmpty, NonNegative, Port, Range, Seconds, Secret, SparkplugId


class ModbusArea(StrEnum):
    """Modbus data area of a tag (when ``address`` is a plain number)."""

    HOLDING = "holding"
    INPUT = "input"
    COIL = "coil"
    DISCRETE = "discrete"


class ModbusType(StrEnum):
    """How the registers of a Modbus tag decode."""

    BOOL = "bool"
    INT16 = "int16"
    UINT16 = "uint16"
    INT32 = "int32"
    UINT32 = "uint32"
    INT64 = "int64"
    UINT64 = "uint64"
    FLOAT32 = "float32"
    FLOAT64 = "float64"
    STRING = "string"


class ByteOrder(StrEnum):
    """Byte/word order of multi-register values (ABCD = big-endian, the Modbus default)."""

    ABCD = "ABCD"
    CDAB = "CDAB"
    BADC = "BADC"
    DCBA = "DCBA"


class Parity(StrEnum):
    """Serial parity."""

    NONE = "N"
    EVEN = "E"
    ODD = "O"


@dataclass(frozen=True, slots=True)
class ModbusTagConfig:
    """One Modbus tag (a Sparkplug metric of its device).

    Attributes:
        name: the metric name, unique within the device (``/`` makes folders: ``Motor/Speed``).
        address: a Modicon reference as text (``"40001"`` = holding register 0, ``"30001"`` input
            register 0, ``"00001"`` coil 0, ``"10001"`` discrete input 0), or a 0-based number with ``area``.
        area: the data area when ``address`` is a plain 0-based number; ignored for references.
        type: how the registers decode.
        bit: for ``bool`` in a register area, the bit 0..15 (0 = least significant).
        length: for ``string``, the number of characters (two per register); for ``bool`` in the coil
            or discrete-input area, 2 or more reads that many consecutive bits as one array (a Sparkplug
            BooleanArray, written with function 15).
        byte_order: overrides the device's byte order for this tag.
        scale: engineering value = raw * scale + offset (reversed on writes).
        offset: see ``scale``.
        unit: engineering unit shown with the value.
        writable: Sparkplug DCMD and the control plane may write it (coils and holding registers only).
        min: lowest engineering value a write may set (``null`` = the type's limit).
        max: highest engineering value a write may set (``null`` = the type's limit).
        poll_group: name of the device's poll group that reads it.
        description: free text for people.
    """

    name: NonEmpty
    address: str | int
    area: ModbusArea | None = None
    type: ModbusType = ModbusType.UINT16
    bit: Annotated[int, Range(0, 15)] | None = None
    length: NonNegative = 0
    byte_order: ByteOrder | None = None
    scale: float = 1.0
    offset: float = 0.0
    unit: str = ""
    writable: bool = False
    min: float | None = None
    max: float | None = None
    poll_group: str = "default"
    description: str = ""


@dataclass(frozen=True, slots=True)
class ModbusDeviceConfig:
    """A Modbus device: one unit id behind one TCP connection or serial line.

    Attributes:
        id: the Sparkplug device id, unique within the gateway.
        protocol: ``modbus_tcp``, ``modbus_rtu`` (serial) or ``modbus_rtu_over_tcp`` (serial converter).
        host: host name or address, for the TCP protocols.
        port: TCP port, for the TCP protocols.
        serial_port: serial device (``/dev/ttyUSB0``), for ``modbus_rtu``.
        baudrate: serial speed, for ``modbus_rtu``.
        parity: serial parity, ``N``, ``E`` or ``O``.
        stopbits: serial stop bits, 1 or 2.
        unit: the Modbus unit (slave) id, 0..247.
        enabled: poll it; a disabled device is dead (DDEATH) upstream.
        poll_interval_s: seconds between polls of the ``default`` poll group.
        poll_groups: more poll groups by name, with their intervals in seconds.
        timeout_s: seconds to wait for one reply.
        retries: extra attempts after a timeout.
        byte_order: default byte order of multi-register tags.
        max_read_registers: the device's per-request register limit (1..125).
        tags: the tags to read.
    """

    PROTOCOLS: ClassVar[tuple[str, ...]] = ("modbus_tcp", "modbus_rtu", "modbus_rtu_over_tcp")
    id: SparkplugId
    protocol: str
    host: str | None = None
    port: Port = 502
    serial_port: str | None = None
    baudrate: Count = 19200
    parity: Parity = Parity.NONE
    stopbits: Annotated[int, Range(1, 2)] = 1
    unit: Annotated[int, Range(0, 247)] = 1
    enabled: bool = True
    poll_interval_s: Seconds = 1.0
    poll_groups: Mapping[str, Seconds] = field(default_factory=lambda: MappingProxyType({}))
    timeout_s: Seconds = 1.0
    retries: NonNegative = 1
    byte_order: ByteOrder = ByteOrder.ABCD
    max_read_registers: Annotated[int, Range(1, 125)] = 125
    tags: tuple[ModbusTagConfig, ...] = ()


class OpcUaTagMode(StrEnum):
    """How an OPC UA tag is read."""

    SUBSCRIBE = "subscribe"
    POLL = "poll"


class SecurityPolicy(StrEnum):
    """OPC UA security policy."""

    NONE = "None"
    BASIC256SHA256 = "Basic256Sha256"
    AES128_SHA256_RSAOAEP = "Aes128_Sha256_RsaOaep"
    AES256_SHA256_RSAPSS = "Aes256_Sha256_RsaPss"


class SecurityMode(StrEnum):
    """OPC UA message security mode."""

    NONE = "None"
    SIGN = "Sign"
    SIGN_AND_ENCRYPT = "SignAndEncrypt"


class MetricType(StrEnum):
    """Sparkplug data type of an OPC UA tag (DBIRTH declares it)."""

    BOOLEAN = "Boolean"
    INT32 = "Int32"
    INT64 = "Int64"
    UINT32 = "UInt32"
    UINT64 = "UInt64"
    FLOAT = "Float"
    DOUBLE = "Double"
    STRING = "String"


@dataclass(frozen=True, slots=True)
class OpcUaTagConfig:
    """One OPC UA variable (a Sparkplug metric of its device).

    Attributes:
        name: the metric name, unique within the device.
        node_id: the NodeId (``ns=2;s=Line1.Temperature``); give this or ``browse_path``.
        type: the Sparkplug data type to declare; ``null`` = taken from the first value read
            (Boolean, Int64, Double or String).
        browse_path: a path from the Objects folder (``2:Plant/2:Line1/2:Temperature``).
        mode: ``subscribe`` (monitored item) or ``poll``.
        sampling_interval_s: requested sampling interval; ``null`` = the publishing interval.
        unit: engineering unit shown with the value.
        writable: Sparkplug DCMD and the control plane may write it.
        min: lowest value a write may set.
        max: highest value a write may set.
        description: free text for people.
    """

    name: NonEmpty
    node_id: str | None = None
    type: MetricType | None = None
    browse_path: str | None = None
    mode: OpcUaTagMode = OpcUaTagMode.SUBSCRIBE
    sampling_interval_s: Annotated[float, Range(0, None)] | None = None
    unit: str = ""
    writable: bool = False
    min: float | None = None
    max: float | None = None
    description: str = ""


@dataclass(frozen=True, slots=True)
class OpcUaDeviceConfig:
    """An OPC UA server connection (one session, one subscription).

    Attributes:
        id: the Sparkplug device id, unique within the gateway.
        protocol: ``opcua``.
        endpoint: ``opc.tcp://host:port[/path]``.
        enabled: read it; a disabled device is dead (DDEATH) upstream.
        security_policy: must match an endpoint the server offers.
        security_mode: ``None`` with policy ``None``; ``Sign`` or ``SignAndEncrypt`` otherwise.
        username: user name for a user/password identity; ``null`` = anonymous.
        password: the password of ``username`` (``password_env`` or ``password_file``).
        certificate: user certificate file for an X.509 identity.
        private_key: private key of ``certificate``.
        publishing_interval_s: subscription publishing interval (how often the server sends what
            changed); ``null`` = the fastest ``sampling_interval_s`` of the subscribed tags (at
            least 0.05 s; 0.5 s when no tag sets one), so a value never waits longer than one
            sampling interval for its publishing cycle.
        poll_interval_s: seconds between reads of polled tags.
        request_timeout_s: seconds per service call.
        tags: the variables to read.
    """

    PROTOCOLS: ClassVar[tuple[str, ...]] = ("opcua",)
    id: SparkplugId
    protocol: str
    endpoint: NonEmpty
    enabled: bool = True
    security_policy: SecurityPolicy = SecurityPolicy.NONE
    security_mode: SecurityMode = SecurityMode.NONE
    username: str | None = None
    password: Secret | None = None
    certificate: Path | None = None
    private_key: Path | None = None
    publishing_interval_s: Seconds | None = None
    poll_interval_s: Seconds = 1.0
    request_timeout_s: Seconds = 4.0
    tags: tuple[OpcUaTagConfig, ...] = ()


DeviceConfig = ModbusDeviceConfig | OpcUaDeviceConfig
"""Any device entry."""
