"""Result shapes of the commands (``data`` of a successful response); see :mod:`._commands`."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from gateway.control.contract._status import TagScalar


class ByteOrder(StrEnum):
    """Where bytes A (most significant) to D of a multi-register value land, as the Modbus drivers name it.

    ABCD is big-endian (the Modbus default), CDAB swaps the 16-bit words, BADC swaps the bytes inside
    each word, DCBA is little-endian. For 64-bit values the same rule applies to four words.
    """

    ABCD = "ABCD"
    CDAB = "CDAB"
    BADC = "BADC"
    DCBA = "DCBA"


# ---- results --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FailoverResult:
    """Result of ``failover_now``.

    Attributes:
        from_server: the server left, or ``None`` when none was active.
        to_server: the server that will be tried next.
    """

    from_server: str | None
    to_server: str


@dataclass(frozen=True, slots=True)
class RebirthResult:
    """Result of ``rebirth``.

    Attributes:
        bd_seq: the bdSeq the births carry (unchanged by a rebirth).
        devices: the devices that got a DBIRTH.
    """

    bd_seq: int
    devices: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class DeviceEnabledResult:
    """Result of ``set_device_enabled``.

    Attributes:
        device_id: the device.
        enabled: its state now.
        changed: false when it already was in that state.
    """

    device_id: str
    enabled: bool
    changed: bool


@dataclass(frozen=True, slots=True)
class WriteResult:
    """Result of ``write_tag``: the value before and the value read back after.

    Attributes:
        device_id: the device.
        tag: the tag.
        old_value: the value before the write (as last read).
        new_value: the value read back after the write.
        timestamp_ms: when the value was read back.
    """

    device_id: str
    tag: str
    old_value: TagScalar
    new_value: TagScalar
    timestamp_ms: int


@dataclass(frozen=True, slots=True)
class DecodedValue:
    """Registers decoded in one byte order.

    Attributes:
        byte_order: the order used.
        value: the registers decoded that way, or ``None`` if they do not decode.
    """

    byte_order: ByteOrder
    value: TagScalar


@dataclass(frozen=True, slots=True)
class ModbusReadResult:
    """Result of ``modbus_read``.

    Attributes:
        registers: the raw 16-bit registers (or 0/1 for coils and discrete inputs).
        value: decoded with the requested byte order.
        decoded: the same registers decoded in every byte order, for comparison.
        response_ms: how long the read took.
    """

    registers: tuple[int, ...]
    value: TagScalar
    decoded: tuple[DecodedValue, ...]
    response_ms: float


@dataclass(frozen=True, slots=True)
class BrowseNode:
    """One child node found by ``browse_opcua``.

    Attributes:
        node_id: the node id as a string ("ns=2;i=5").
        browse_name: the browse name ("2:Temperature").
        display_name: the display name.
        node_class: "Object", "Variable", "Method", ...
        data_type: the data type name of a Variable, else ``None``.
        value: the current value of a Variable when it is a scalar, else ``None``.
        writable: whether the Variable's access level allows writes.
        has_children: whether browsing it would list anything.
    """

    node_id: str
    browse_name: str
    display_name: str
    node_class: str
    data_type: str | None = None
    value: TagScalar = None
    writable: bool = False
    has_children: bool = False


@dataclass(frozen=True, slots=True)
class BrowseResult:
    """Result of ``browse_opcua``.

    Attributes:
        node_id: the node browsed.
        children: its children (at most 1000).
    """

    node_id: str
    children: tuple[BrowseNode, ...]


@dataclass(frozen=True, slots=True)
class ConfigProblem:
    """One problem in a configuration.

    Attributes:
        location: ``file:line`` when known, else the key path.
        key_path: the key path ("devices[0].tags[2].address").
        message: what was found and what was expected.
    """

    location: str
    key_path: str
    message: str


@dataclass(frozen=True, slots=True)
class ConfigValidation:
    """Result of ``validate_config``.

    Attributes:
        valid: whether the text is a valid configuration.
        problems: every problem found (empty when valid).
    """

    valid: bool
    problems: tuple[ConfigProblem, ...]


@dataclass(frozen=True, slots=True)
class ConfigOrigin:
    """One effective configuration value and where it came from.

    Attributes:
        key_path: the key path of an effective value.
        value: the value as text; secrets are masked as ``***``.
        origin: where it came from: ``file:line``, ``env:NAME``, ``file:PATH`` (secret file) or ``default``.
    """

    key_path: str
    value: str
    origin: str


@dataclass(frozen=True, slots=True)
class ConfigDocument:
    """Result of ``get_config``.

    Attributes:
        path: the configuration file, or ``None`` for the built-in demo.
        text: its text (the demo's built-in text for the demo).
        sha256: hex SHA-256 of ``text``, for ``apply_config.base_sha256``.
        effective: every effective value with its origin.
    """

    path: str | None
    text: str
    sha256: str
    effective: tuple[ConfigOrigin, ...]
