"""Typed specifications of Modbus devices and tags, with validation that reports every problem.

Addresses: a tag gives its area and a 0-based protocol address, or one Modicon-style reference
string that carries both (``parse_reference``): ``00001``-``09999``/``000001``-``065536`` coils,
``1xxxx`` discrete inputs, ``3xxxx`` input registers, ``4xxxx`` holding registers (1-based, so
``40001`` is holding register 0).
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field

from drivers.errors import DriverConfigError


class Area(enum.Enum):
    """The four Modbus data areas, with the read function code of each."""

    COIL = 1
    DISCRETE_INPUT = 2
    HOLDING_REGISTER = 3
    INPUT_REGISTER = 4

    @property
    def is_bit(self) -> bool:
        return self in (Area.COIL, Area.DISCRETE_INPUT)

    @property
    def writable(self) -> bool:
        return self in (Area.COIL, Area.HOLDING_REGISTER)

    @property
    def label(self) -> str:
        return self.name.lower().replace("_", " ")


class DataType(enum.Enum):
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


class BitWrite(enum.Enum):
    """How a bool tag in a register (``bit``) is written.

    AUTO: Mask Write Register (function 22, atomic in the device) until the device answers
    exception 01 (illegal function), then read-modify-write (FC03 + FC06) for good.
    MASK: function 22 only. READ_MODIFY_WRITE: never function 22 (not atomic against another master
    writing the same register between the read and the write).
    """

    AUTO = "auto"
    MASK = "mask"
    READ_MODIFY_WRITE = "read_modify_write"


class ByteOrder(enum.Enum):
    """Byte/word order of multi-register values, named by where bytes A (most significant) .. D land.

    ABCD: big-endian (the Modbus default). CDAB: word-swapped (low word first). BADC: bytes swapped
    inside each word. DCBA: little-endian. For 64-bit values the same rule applies to four words
    (ABCDEFGH, GHEFCDAB, BADCFEHG, HGFEDCBA); the 8-letter names are accepted as aliases.
    """

    ABCD = "ABCD"
    CDAB = "CDAB"
    BADC = "BADC"
    DCBA = "DCBA"

    @classmethod
    def parse(cls, text: str) -> ByteOrder:
        aliases = {"ABCDEFGH": "ABCD", "GHEFCDAB": "CDAB", "BADCFEHG": "BADC", "HGFEDCBA": "DCBA"}
        key = text.strip().upper()
        return cls(aliases.get(key, key))

    @property
    def swap_words(self) -> bool:
        return self in (ByteOrder.CDAB, ByteOrder.DCBA)

    @property
    def swap_bytes(self) -> bool:
        return self in (ByteOrder.BADC, ByteOrder.DCBA)


_REGISTER_COUNT = {
    DataType.BOOL: 1,
    DataType.INT16: 1,
    DataType.UINT16: 1,
    DataType.INT32: 2,
    DataType.UINT32: 2,
    DataType.INT64: 4,
    DataType.UINT64: 4,
    DataType.FLOAT32: 2,
    DataType.FLOAT64: 4,
}

#: Protocol limits (Modbus Application Protocol V1.1b3, 6.1-6.4, 6.11-6.12).
MAX_READ_REGISTERS = 125
MAX_READ_BITS = 2000
MAX_WRITE_REGISTERS = 123
MAX_WRITE_COILS = 1968

_INTEGER_RANGES = {
    DataType.INT16: (-(2**15), 2**15 - 1),
    DataType.UINT16: (0, 2**16 - 1),
    DataType.INT32: (-(2**31), 2**31 - 1),
    DataType.UINT32: (0, 2**32 - 1),
    DataType.INT64: (-(2**63), 2**63 - 1),
    DataType.UINT64: (0, 2**64 - 1),
}


def integer_range(data_type: DataType) -> tuple[int, int] | None:
    return _INTEGER_RANGES.get(data_type)


def parse_reference(reference: str) -> tuple[Area, int]:
    """Parse a Modicon reference (``40001``, ``400001``, ``30010``, ``10001``, ``00001``) to (area, 0-based).

    Raises:
        ValueError: the text is not a 5- or 6-digit reference with a known area digit.
    """
    text = reference.strip()
    if not text.isdigit() or len(text) not in (5, 6):
        raise ValueError(f"{reference!r} is not a 5- or 6-digit Modbus reference such as 40001")
    areas = {"0": Area.COIL, "1": Area.DISCRETE_INPUT, "3": Area.INPUT_REGISTER, "4": Area.HOLDING_REGISTER}
    area = areas.get(text[0])
    if area is None:
        raise ValueError(f"{reference!r}: the first digit must be 0, 1, 3 or 4 (the area)")
    number = int(text[1:])
    if number < 1:
        raise ValueError(f"{reference!r}: references are 1-based (the first is {text[0]}0001)")
    return area, number - 1


@dataclass(frozen=True, slots=True)
class ModbusTag:
    """One value on a Modbus device.

    Attributes:
        name: unique within the driver.
        area: which of the four data areas.
        address: 0-based protocol address (use :meth:`at` to give a ``40001``-style reference).
        data_type: how registers decode; coils and discrete inputs are always BOOL.
        bit: for BOOL in a register area, the bit (0 = least significant) inside the register.
        length: for STRING, the number of characters (bytes; two per register, padding NULs stripped);
            for coils and discrete inputs, ``length`` >= 2 makes the tag an array of that many
            consecutive bits (value ``list[bool]``; written with function 15).
        byte_order: overrides the device's byte order for this tag; ``None`` = the device's.
        scale, offset: engineering value = raw * scale + offset (reversed on write).
        unit: engineering units, passed through to samples.
        poll_group: the name of the device poll group that reads it.
        writable: writes are refused unless true (and the area is coil or holding register).
        read_back: after a write, read the tag back and compare.
        min_value, max_value: optional engineering range enforced on write.
    """

    name: str
    area: Area
    address: int
    data_type: DataType = DataType.UINT16
    bit: int | None = None
    length: int = 0
    byte_order: ByteOrder | None = None
    scale: float = 1.0
    offset: float = 0.0
    unit: str | None = None
    poll_group: str = "default"
    writable: bool = False
    read_back: bool = False
    min_value: float | None = None
    max_value: float | None = None

    @classmethod
    def at(
        cls, name: str, reference: str, data_type: DataType = DataType.UINT16, **kwargs: object
    ) -> ModbusTag:
        """Build a tag from a ``40001``-style reference."""
        area, address = parse_reference(reference)
        return cls(name, area, address, data_type, **kwargs)  # type: ignore[arg-type]

    @property
    def count(self) -> int:
        """Registers (or bits) the tag occupies."""
        if self.area.is_bit:
            return max(1, self.length)
        if self.data_type is DataType.STRING:
            return max(1, math.ceil(self.length / 2))
        return _REGISTER_COUNT[self.data_type]

    @property
    def end(self) -> int:
        return self.address + self.count

    @property
    def scaled(self) -> bool:
        return self.scale != 1.0 or self.offset != 0.0

    def describe_address(self) -> str:
        text = f"{self.area.label} {self.address}"
        if self.bit is not None:
            text += f".{self.bit}"
        return text


@dataclass(frozen=True, slots=True)
class TcpLink:
    """Modbus TCP (MBAP framing) to ``host:port``. One connection per host:port, shared by unit ids."""

    host: str
    port: int = 502
    connect_timeout: float = 3.0


@dataclass(frozen=True, slots=True)
class RtuOverTcpLink:
    """Modbus RTU frames (with CRC) over a TCP socket, for serial-to-Ethernet converters."""

    host: str
    port: int
    connect_timeout: float = 3.0


@dataclass(frozen=True, slots=True)
class SerialLink:
    """Modbus RTU on a serial line. Devices on the same ``port`` share one bus arbiter.

    Attributes:
        inter_frame_delay: silence kept between frames on the bus, in seconds; ``None`` = 3.5
            character times at ``baudrate`` (at least 1.75 ms, Modbus over Serial Line V1.02, 2.5.1.1).
        quiet_after_timeout: after a timeout, the bus is left silent this long so a late reply cannot
            be taken for the answer to the next request (catalogue T48).
    """

    port: str
    baudrate: int = 19200
    bytesize: int = 8
    parity: str = "N"
    stopbits: int = 1
    inter_frame_delay: float | None = None
    quiet_after_timeout: float = 0.5

    def frame_gap(self) -> float:
        if self.inter_frame_delay is not None:
            return self.inter_frame_delay
        if self.baudrate > 19200:
            return 0.00175
        return 3.5 * 11 / self.baudrate


Link = TcpLink | RtuOverTcpLink | SerialLink


@dataclass(frozen=True, slots=True)
class ModbusDevice:
    """One Modbus device (one unit id behind one link).

    Attributes:
        name: unique within the driver; appears in errors and health.
        link: how to reach it.
        unit_id: the Modbus unit (slave) id, 0-247 (0 only for TCP devices that ignore it).
        tags: what to read.
        poll_groups: poll group name -> interval in seconds; every tag's group must be listed.
        byte_order: default for multi-register tags.
        timeout: seconds to wait for one reply.
        retries: extra attempts after a timeout before the block is declared failed.
        max_read_registers / max_read_bits: the device's per-request limits (<= protocol limits).
        max_gap_registers / max_gap_bits: unused addresses a block may span to save a request.
        backoff_initial / backoff_max: retry delays of a failing device, in seconds.
        bit_write: how bools inside registers are written (:class:`BitWrite`).
    """

    name: str
    link: Link
    unit_id: int = 1
    tags: tuple[ModbusTag, ...] = ()
    poll_groups: dict[str, float] = field(default_factory=lambda: {"default": 1.0})
    byte_order: ByteOrder = ByteOrder.ABCD
    timeout: float = 1.0
    retries: int = 1
    max_read_registers: int = MAX_READ_REGISTERS
    max_read_bits: int = MAX_READ_BITS
    max_gap_registers: int = 8
    max_gap_bits: int = 32
    backoff_initial: float = 1.0
    backoff_max: float = 30.0
    bit_write: BitWrite = BitWrite.AUTO

    def order_of(self, tag: ModbusTag) -> ByteOrder:
        return tag.byte_order or self.byte_order


def validate_devices(devices: list[ModbusDevice] | tuple[ModbusDevice, ...]) -> None:
    """Check every device and tag; raise :class:`DriverConfigError` listing all problems at once."""
    problems: list[str] = []
    device_names: set[str] = set()
    tag_names: set[str] = set()
    for i, device in enumerate(devices):
        where = f"devices[{i}] ({device.name})"
        if device.name in device_names:
            problems.append(f"{where}.name: duplicate device name {device.name!r}")
        device_names.add(device.name)
        if not 0 <= device.unit_id <= 247:
            problems.append(f"{where}.unit_id: {device.unit_id} is outside 0..247")
        if not 1 <= device.max_read_registers <= MAX_READ_REGISTERS:
            problems.append(
                f"{where}.max_read_registers: {device.max_read_registers}, expected 1..{MAX_READ_REGISTERS}"
            )
        if not 1 <= device.max_read_bits <= MAX_READ_BITS:
            problems.append(f"{where}.max_read_bits: {device.max_read_bits}, expected 1..{MAX_READ_BITS}")
        if device.timeout <= 0:
            problems.append(f"{where}.timeout: {device.timeout}, expected > 0 seconds")
        if device.retries < 0:
            problems.append(f"{where}.retries: {device.retries}, expected >= 0")
        for group, interval in device.poll_groups.items():
            if interval <= 0:
                problems.append(f"{where}.poll_groups.{group}: {interval}, expected an interval > 0 seconds")
        for j, tag in enumerate(device.tags):
            problems.extend(_tag_problems(f"{where}.tags[{j}] ({tag.name})", tag, device))
            if tag.name in tag_names:
                problems.append(f"{where}.tags[{j}].name: duplicate tag name {tag.name!r}")
            tag_names.add(tag.name)
    if problems:
        raise DriverConfigError(problems)


def _tag_problems(where: str, tag: ModbusTag, device: ModbusDevice) -> list[str]:
    problems = []
    if not tag.name:
        problems.append(f"{where}.name: empty, expected a tag name")
    if tag.address < 0 or tag.end > 65536:
        problems.append(f"{where}.address: {tag.address} (+{tag.count}) is outside 0..65535")
    if tag.area.is_bit and tag.data_type is not DataType.BOOL:
        problems.append(f"{where}.data_type: {tag.data_type.value} in {tag.area.label}s, expected bool")
    if tag.bit is not None:
        if tag.area.is_bit or tag.data_type is not DataType.BOOL:
            problems.append(f"{where}.bit: only for bool tags in register areas")
        elif not 0 <= tag.bit <= 15:
            problems.append(f"{where}.bit: {tag.bit}, expected 0..15")
    elif tag.data_type is DataType.BOOL and not tag.area.is_bit:
        problems.append(f"{where}.bit: a bool in a register area needs a bit number 0..15")
    if tag.area.is_bit and tag.writable and tag.count > MAX_WRITE_COILS:
        problems.append(f"{where}.length: {tag.count} coils, more than {MAX_WRITE_COILS} per write (FC15)")
    if tag.data_type is DataType.STRING and tag.length < 1:
        problems.append(f"{where}.length: a string needs a length >= 1 (characters)")
    limit = device.max_read_bits if tag.area.is_bit else device.max_read_registers
    if tag.count > limit:
        problems.append(
            f"{where}: needs {tag.count} registers, more than the device's limit of {limit} per read"
        )
    if tag.poll_group not in device.poll_groups:
        problems.append(f"{where}.poll_group: {tag.poll_group!r} is not one of {sorted(device.poll_groups)}")
    if tag.writable and not tag.area.writable:
        problems.append(f"{where}.writable: {tag.area.label}s are read-only in Modbus")
    if tag.scale == 0:
        problems.append(f"{where}.scale: 0 would make writes impossible, expected a non-zero factor")
    if tag.scaled and tag.data_type in (DataType.BOOL, DataType.STRING):
        problems.append(f"{where}.scale/offset: not applicable to {tag.data_type.value}")
    return problems
