"""Commands: request shapes, result shapes, and the table that ties them to names.

A command is an MQTT 5 request/response exchange ([MQTT-4.10]): the client publishes the request to
``$GW/v1/cmd/<name>`` with a Response Topic (conventionally ``$GW/v1/reply/<client id>``) and
Correlation Data; the daemon publishes the response to that topic with the same Correlation Data.
MQTT 3.1.1 clients, which have no properties, put ``reply_to`` and ``correlation`` in the request
body instead (see :func:`encode_request`).

Only users with the admin role may publish to ``$GW/v1/cmd/+``; the daemon logs who sent each
command. Plant-affecting commands are marked so clients can ask for confirmation first.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import ClassVar, Generic, TypeVar

from gateway.control.contract._events import LogBatch, Severity
from gateway.control.contract._results import (
    BrowseResult,
    ByteOrder,
    ConfigDocument,
    ConfigValidation,
    DeviceEnabledResult,
    FailoverResult,
    ModbusReadResult,
    RebirthResult,
    WriteResult,
)
from gateway.control.contract._status import ReloadResult, TagScalar


class CommandName(StrEnum):
    """The commands the daemon accepts (the last level of the command topic)."""

    FAILOVER_NOW = "failover_now"
    REBIRTH = "rebirth"
    SET_DEVICE_ENABLED = "set_device_enabled"
    WRITE_TAG = "write_tag"
    MODBUS_READ = "modbus_read"
    BROWSE_OPCUA = "browse_opcua"
    GET_CONFIG = "get_config"
    VALIDATE_CONFIG = "validate_config"
    APPLY_CONFIG = "apply_config"
    RELOAD_CONFIG = "reload_config"
    FETCH_LOGS = "fetch_logs"


class ErrorCode(StrEnum):
    """Why a command failed (``error.code`` of a failed response)."""

    BAD_REQUEST = "bad_request"  # the request does not fit the contract
    SCHEMA_MISMATCH = "schema_mismatch"  # the request speaks another schema version
    UNKNOWN_COMMAND = "unknown_command"
    NOT_AUTHORIZED = "not_authorized"  # the sender lacks the admin role
    NOT_FOUND = "not_found"  # no such device, tag or node
    NOT_WRITABLE = "not_writable"  # the tag is not marked writable
    OUT_OF_RANGE = "out_of_range"  # the value is outside the tag's range or type
    DEVICE_ERROR = "device_error"  # the device answered with an error or not at all
    INVALID_CONFIG = "invalid_config"  # the configuration has problems; see details
    CONFLICT = "conflict"  # the configuration changed since the client read it
    UNAVAILABLE = "unavailable"  # the part that would do it is not running (e.g. no upstream)
    INTERNAL = "internal"  # a bug: the daemon log has the traceback


class ModbusTable(StrEnum):
    """Modbus data tables."""

    HOLDING = "holding"
    INPUT = "input"
    COIL = "coil"
    DISCRETE = "discrete"


class ModbusType(StrEnum):
    """How registers are decoded into a value."""

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


# ---- requests -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FailoverNow:
    """Leave the active upstream server for the next one (like NCMD ``Node Control/Next Server``).

    Attributes:
        reason: why, for the log and the switch history.
    """

    COMMAND: ClassVar[CommandName] = CommandName.FAILOVER_NOW
    reason: str = "requested from the control plane"


@dataclass(frozen=True, slots=True)
class Rebirth:
    """Publish NBIRTH and every DBIRTH again (like NCMD ``Node Control/Rebirth``)."""

    COMMAND: ClassVar[CommandName] = CommandName.REBIRTH


@dataclass(frozen=True, slots=True)
class SetDeviceEnabled:
    """Enable or disable polling of a device (a disabled device is DDEATH upstream).

    Attributes:
        device_id: the device.
        enabled: the new state.
    """

    COMMAND: ClassVar[CommandName] = CommandName.SET_DEVICE_ENABLED
    device_id: str
    enabled: bool


@dataclass(frozen=True, slots=True)
class WriteTag:
    """Write a value to a writable tag, with the same checks as a DCMD.

    Attributes:
        device_id: the device.
        tag: the tag name.
        value: the value to write.
    """

    COMMAND: ClassVar[CommandName] = CommandName.WRITE_TAG
    device_id: str
    tag: str
    value: TagScalar


@dataclass(frozen=True, slots=True)
class ModbusRead:
    """Read a Modbus address once and decode it (the probe). Reads nothing into the tag model.

    Attributes:
        device_id: a configured Modbus device to read through, or ``None`` to use host/port.
        host: the host to connect to when ``device_id`` is ``None``.
        port: the TCP port when ``device_id`` is ``None``.
        unit: the unit (slave) id.
        table: which table.
        address: zero-based address in that table.
        data_type: how to decode.
        byte_order: byte and word order for multi-register values.
        count: registers to read for ``string`` (ignored for other types).
    """

    COMMAND: ClassVar[CommandName] = CommandName.MODBUS_READ
    address: int
    data_type: ModbusType = ModbusType.UINT16
    table: ModbusTable = ModbusTable.HOLDING
    device_id: str | None = None
    host: str | None = None
    port: int = 502
    unit: int = 1
    byte_order: ByteOrder = ByteOrder.ABCD
    count: int = 1


@dataclass(frozen=True, slots=True)
class BrowseOpcUa:
    """List the children of one OPC UA node.

    Attributes:
        device_id: a configured OPC UA device to browse through, or ``None`` to use ``endpoint``.
        endpoint: an ``opc.tcp://`` URL when ``device_id`` is ``None``.
        node_id: the node to browse; the Objects folder by default.
    """

    COMMAND: ClassVar[CommandName] = CommandName.BROWSE_OPCUA
    device_id: str | None = None
    endpoint: str | None = None
    node_id: str = "i=85"


@dataclass(frozen=True, slots=True)
class GetConfig:
    """Return the configuration file in use and where each effective value came from."""

    COMMAND: ClassVar[CommandName] = CommandName.GET_CONFIG


@dataclass(frozen=True, slots=True)
class ValidateConfig:
    """Validate a configuration text without applying it.

    Attributes:
        text: the whole configuration file.
    """

    COMMAND: ClassVar[CommandName] = CommandName.VALIDATE_CONFIG
    text: str


@dataclass(frozen=True, slots=True)
class ApplyConfig:
    """Validate a configuration text, write it to the configuration file and reload.

    Attributes:
        text: the whole configuration file.
        base_sha256: the ``sha256`` from ``get_config`` the edit started from; the daemon refuses
            (``conflict``) when the file changed since. ``None`` skips the check.
    """

    COMMAND: ClassVar[CommandName] = CommandName.APPLY_CONFIG
    text: str
    base_sha256: str | None = None


@dataclass(frozen=True, slots=True)
class ReloadConfig:
    """Reload the configuration file from disk (what SIGHUP does)."""

    COMMAND: ClassVar[CommandName] = CommandName.RELOAD_CONFIG


@dataclass(frozen=True, slots=True)
class FetchLogs:
    """Return recent log lines kept in memory.

    Attributes:
        limit: at most this many lines, newest kept (1..5000).
        min_severity: the lowest severity to include.
        logger_prefix: only loggers whose name starts with this ("" for all).
    """

    COMMAND: ClassVar[CommandName] = CommandName.FETCH_LOGS
    limit: int = 200
    min_severity: Severity = Severity.INFO
    logger_prefix: str = ""


# ---- responses ------------------------------------------------------------------------------

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class CommandError:
    """The ``error`` of a failed response.

    Attributes:
        code: why it failed.
        message: what happened, in plain words.
        hint: what to try next, or ``None``.
        details: more lines, e.g. every configuration problem (``file:line: key: reason``).
    """

    code: ErrorCode
    message: str
    hint: str | None = None
    details: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class CommandOk(Generic[T]):
    """A successful response: ``{"ok": true, "data": ...}``."""

    data: T


@dataclass(frozen=True, slots=True)
class CommandFailed:
    """A failed response: ``{"ok": false, "error": {code, message, hint}}``."""

    error: CommandError


@dataclass(frozen=True, slots=True)
class CommandSpec:
    """One row of :data:`COMMANDS`.

    Attributes:
        name: the command name.
        request: the request dataclass.
        result: the dataclass in ``data`` of a successful response.
        plant_affecting: whether it changes the plant or the gateway (clients confirm first).
        summary: one line for help screens.
    """

    name: CommandName
    request: type
    result: type
    plant_affecting: bool
    summary: str


def _spec(request: type, result: type, plant_affecting: bool) -> CommandSpec:
    summary = (request.__doc__ or "").strip().splitlines()[0]
    return CommandSpec(request.COMMAND, request, result, plant_affecting, summary)  # type: ignore[attr-defined]


COMMANDS: dict[CommandName, CommandSpec] = {
    spec.name: spec
    for spec in (
        _spec(FailoverNow, FailoverResult, True),
        _spec(Rebirth, RebirthResult, True),
        _spec(SetDeviceEnabled, DeviceEnabledResult, True),
        _spec(WriteTag, WriteResult, True),
        _spec(ModbusRead, ModbusReadResult, False),
        _spec(BrowseOpcUa, BrowseResult, False),
        _spec(GetConfig, ConfigDocument, False),
        _spec(ValidateConfig, ConfigValidation, False),
        _spec(ApplyConfig, ReloadResult, True),
        _spec(ReloadConfig, ReloadResult, True),
        _spec(FetchLogs, LogBatch, False),
    )
}
"""Every command, by name."""

Request = (
    FailoverNow
    | Rebirth
    | SetDeviceEnabled
    | WriteTag
    | ModbusRead
    | BrowseOpcUa
    | GetConfig
    | ValidateConfig
    | ApplyConfig
    | ReloadConfig
    | FetchLogs
)
"""Any command request."""
