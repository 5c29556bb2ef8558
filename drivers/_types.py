"""Values that cross the driver boundary: samples, qualities, write results, health snapshots.

Every driver hands out :class:`Sample` objects and answers writes with :class:`WriteResult`. The
gateway never sees a pymodbus or asyncua object. Timestamps are UTC milliseconds taken when the
value was sampled (the device's source timestamp when it has one, for OPC UA), never when sent.
"""

from __future__ import annotations

import enum
import time
from dataclasses import dataclass, field

from drivers.errors import DeviceError

#: A tag value as the gateway sees it. Lists only for OPC UA arrays.
Value = bool | int | float | str | bytes | list[bool] | list[int] | list[float] | list[str] | None


class Quality(enum.IntEnum):
    """How far a sample's value can be trusted.

    GOOD: read from the device just now. BAD: the read failed (the value is ``None``, never an old
    value presented as fresh). STALE: the device has not confirmed the value for longer than its
    staleness limit (subscription silent, connection lost: the last value is kept but marked).
    UNCERTAIN: the device said so (OPC UA Uncertain status codes).
    """

    GOOD = 0
    UNCERTAIN = 1
    STALE = 2
    BAD = 3


class DriverState(enum.Enum):
    """Lifecycle of a driver or of one device inside it."""

    STOPPED = "stopped"
    CONNECTING = "connecting"
    RUNNING = "running"
    DEGRADED = "degraded"  # some devices or tags are failing, others are fine
    FAILED = "failed"  # nothing is being read; the driver keeps retrying with backoff


def utc_ms() -> int:
    """The current UTC time in milliseconds (the Sparkplug timestamp unit)."""
    return time.time_ns() // 1_000_000


@dataclass(frozen=True, slots=True)
class Sample:
    """One observation of one tag.

    Attributes:
        tag: the tag's name, unique within the driver.
        value: the decoded, scaled value; ``None`` when ``quality`` is BAD.
        quality: see :class:`Quality`.
        timestamp_ms: UTC ms when the value was sampled (the source timestamp when the device gives one).
        error: why the quality is not GOOD, or ``None``.
        unit: engineering units from the tag spec, or ``None``.
    """

    tag: str
    value: Value
    quality: Quality
    timestamp_ms: int
    error: DeviceError | None = None
    unit: str | None = None


class WriteStatus(enum.Enum):
    OK = "ok"
    REJECTED = "rejected"  # refused before any I/O: unknown tag, read-only, out of range, wrong type
    FAILED = "failed"  # the device answered with an error or did not answer
    MISMATCH = "mismatch"  # written, but the read-back value differs


@dataclass(frozen=True, slots=True)
class WriteResult:
    """The outcome of :meth:`drivers.Driver.write`; a write never fails silently.

    Attributes:
        tag: the tag written.
        status: see :class:`WriteStatus`.
        value: the value written (after a read-back, the value read back), or ``None``.
        error: what went wrong (``None`` when ``status`` is OK).
        reason: a readable sentence for a REJECTED write, else ``None``.
    """

    tag: str
    status: WriteStatus
    value: Value = None
    error: DeviceError | None = None
    reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.status is WriteStatus.OK


@dataclass(frozen=True, slots=True)
class DeviceHealth:
    """A snapshot of one device (a Modbus unit, an OPC UA server connection).

    ``notes`` carries conditions that are not errors but deserve attention, e.g. a Modbus TCP
    connection the device keeps dropping (another master competing for its only connection).
    """

    name: str
    state: DriverState
    last_error: DeviceError | None
    requests: int
    errors: int
    timeouts: int
    late_replies: int
    reconnects: int
    latency_ms_avg: float | None
    latency_ms_max: float | None
    notes: tuple[str, ...] = ()  # conditions worth an operator's look that are not errors


@dataclass(frozen=True, slots=True)
class DriverHealth:
    """A snapshot of a driver: its state, its last error, its counters and one entry per device.

    ``samples_dropped`` counts samples discarded because the consumer was slower than the driver
    (see :class:`drivers.base.SampleQueue`).
    """

    driver: str
    state: DriverState
    last_error: DeviceError | None
    requests: int
    errors: int
    timeouts: int
    samples_out: int
    samples_dropped: int
    devices: tuple[DeviceHealth, ...] = field(default=())

    @property
    def last_error_text(self) -> str | None:
        return None if self.last_error is None else str(self.last_error)
