"""``ModbusDriver``: the Driver interface over Modbus TCP, RTU (serial) and RTU over TCP."""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Sequence

from drivers._aio import cancel_and_wait
from drivers._types import DeviceHealth, DriverHealth, DriverState, Value, WriteResult, WriteStatus
from drivers.base import Driver
from drivers.errors import DeviceError, ErrorKind
from drivers.modbus._codec import EncodeError, check_range, decode_tag, encode_tag
from drivers.modbus._device import DeviceRunner
from drivers.modbus._link import ModbusLink, link_key
from drivers.modbus._spec import Area, BitWrite, DataType, ModbusDevice, ModbusTag, validate_devices

log = logging.getLogger(__name__)


class ModbusDriver(Driver):
    """Polls Modbus devices and writes to them.

    Args:
        name: the driver's name (health, logs).
        devices: the devices; validated at construction (raises :class:`~drivers.DriverConfigError`
            listing every problem).
        queue_size: bound of the sample queue, in batches (one batch per block read).
        min_reconnect_interval: seconds between connection attempts on one link (catalogue T51).

    Devices whose links are equal (same host:port, same serial port) share one connection and
    one arbiter.
    """

    def __init__(
        self,
        name: str,
        devices: Sequence[ModbusDevice],
        *,
        queue_size: int = 4096,
        min_reconnect_interval: float = 1.0,
    ) -> None:
        super().__init__(name, queue_size=queue_size)
        validate_devices(list(devices))
        self._links: dict[str, ModbusLink] = {}
        self._runners: list[DeviceRunner] = []
        self._by_tag: dict[str, tuple[DeviceRunner, ModbusTag]] = {}
        self._last: dict[str, Value] = {}
        for device in devices:
            key = link_key(device.link)
            link = self._links.get(key)
            if link is None:
                link = ModbusLink(
                    device.link,
                    min_reconnect_interval=min_reconnect_interval,
                    backoff_initial=device.backoff_initial,
                    backoff_max=device.backoff_max,
                )
                self._links[key] = link
            runner = DeviceRunner(device, link, self._emit, self._last)
            self._runners.append(runner)
            for tag in device.tags:
                self._by_tag[tag.name] = (runner, tag)
        self._tasks: list[asyncio.Task[None]] = []
        self._state = DriverState.STOPPED

    @property
    def runners(self) -> tuple[DeviceRunner, ...]:
        return tuple(self._runners)

    def tag_names(self) -> list[str]:
        return list(self._by_tag)

    def tag_spec(self, name: str) -> ModbusTag | None:
        entry = self._by_tag.get(name)
        return entry[1] if entry else None

    async def start(self) -> None:
        if self._tasks:
            return
        for runner in self._runners:
            for group in runner.planners:
                task = asyncio.create_task(
                    self._guard(runner, group), name=f"modbus:{runner.device.name}:{group}"
                )
                self._tasks.append(task)
        self._state = DriverState.RUNNING

    async def _guard(self, runner: DeviceRunner, group: str) -> None:
        """Top of a long-lived task: a bug in one device's loop is logged and the loop restarted."""
        while True:
            try:
                await runner.run_group(group)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception(
                    "%s: poll loop of group %r crashed; restarting in 1 s", runner.device.name, group
                )
                runner.errors += 1
                await asyncio.sleep(1.0)

    async def stop(self) -> None:
        await cancel_and_wait(self._tasks)
        self._tasks.clear()
        for link in self._links.values():
            link.close()
        self._queue.close()
        self._state = DriverState.STOPPED

    # ------------------------------------------------------------------ write
    async def write(self, tag: str, value: Value) -> WriteResult:
        entry = self._by_tag.get(tag)
        if entry is None:
            return WriteResult(tag, WriteStatus.REJECTED, reason=f"unknown tag {tag!r}")
        runner, spec = entry
        device = runner.device
        if not spec.writable:
            return WriteResult(
                tag, WriteStatus.REJECTED, reason=f"tag {tag!r} is not writable (set writable)"
            )
        try:
            if spec.area is Area.COIL and spec.count > 1:
                await runner.link.write_coils(
                    device.name, device.unit_id, spec.address, _bits(value, spec.count), device.timeout
                )
            elif spec.area is Area.COIL:
                if not isinstance(value, bool | int) or value not in (0, 1):
                    raise EncodeError(f"expected a bool for a coil, got {value!r}")
                await runner.link.write_coil(
                    device.name, device.unit_id, spec.address, bool(value), device.timeout
                )
            elif spec.data_type is DataType.BOOL:
                if not isinstance(value, bool | int) or value not in (0, 1):
                    raise EncodeError(f"expected a bool for a register bit, got {value!r}")
                await _write_bit(runner, spec, bool(value))
            else:
                words = encode_tag(spec, device.order_of(spec), value)
                await runner.link.write_registers(
                    device.name, device.unit_id, spec.address, words, device.timeout
                )
        except EncodeError as exc:
            return WriteResult(tag, WriteStatus.REJECTED, reason=f"{tag}: {exc}")
        except DeviceError as exc:
            runner.errors += 1
            runner.last_error = exc
            return WriteResult(tag, WriteStatus.FAILED, error=exc.at(spec.describe_address()))
        if not spec.read_back:
            return WriteResult(tag, WriteStatus.OK, value=value)
        return await self._read_back(runner, spec, value)

    async def _read_back(self, runner: DeviceRunner, spec: ModbusTag, value: Value) -> WriteResult:
        device = runner.device
        try:
            got = await runner.link.read(
                device.name,
                device.unit_id,
                spec.area,
                spec.address,
                spec.count,
                timeout=device.timeout,
                retries=device.retries,
            )
        except DeviceError as exc:
            return WriteResult(
                spec.name,
                WriteStatus.FAILED,
                error=exc.at(spec.describe_address()),
                reason="written, but the read-back failed",
            )
        if spec.area.is_bit:
            read: Value = [bool(b) for b in got] if spec.count > 1 else bool(got[0])
        else:
            read = decode_tag(spec, device.order_of(spec), [int(w) for w in got])
        if _same(read, value, spec):
            return WriteResult(spec.name, WriteStatus.OK, value=read)
        error = DeviceError(
            device.name,
            ErrorKind.DECODE,
            f"wrote {value!r} but read back {read!r}",
            address=spec.describe_address(),
            hint="another master may be writing the same address, or the device clamps values",
        )
        return WriteResult(spec.name, WriteStatus.MISMATCH, value=read, error=error)

    # ----------------------------------------------------------------- health
    def health(self) -> DriverHealth:
        devices: tuple[DeviceHealth, ...] = tuple(r.health() for r in self._runners)
        last = None
        for runner in self._runners:
            if runner.last_error is not None:
                last = runner.last_error
        state = self._state
        if state is DriverState.RUNNING and devices:
            failed = sum(1 for d in devices if d.state is DriverState.FAILED)
            if failed == len(devices):
                state = DriverState.FAILED
            elif failed or any(d.state is DriverState.DEGRADED for d in devices):
                state = DriverState.DEGRADED
        return DriverHealth(
            driver=self.name,
            state=state,
            last_error=last,
            requests=sum(d.requests for d in devices),
            errors=sum(d.errors for d in devices),
            timeouts=sum(d.timeouts for d in devices),
            samples_out=self._queue.samples_in,
            samples_dropped=self._queue.dropped_samples,
            devices=devices,
        )


def _bits(value: Value, count: int) -> list[bool]:
    """A coil array's value: exactly ``count`` bools (0/1 accepted)."""
    if not isinstance(value, list | tuple) or len(value) != count:
        raise EncodeError(f"expected a list of {count} bools for a coil array, got {value!r}")
    if any(not isinstance(v, bool | int) or v not in (0, 1) for v in value):
        raise EncodeError(f"expected bools (or 0/1) for a coil array, got {value!r}")
    return [bool(v) for v in value]


async def _write_bit(runner: DeviceRunner, spec: ModbusTag, value: bool) -> None:
    """One bit of a holding register: Mask Write Register (FC22) when the device has it, else
    read-modify-write, per ``device.bit_write`` (:class:`~drivers.modbus.BitWrite`)."""
    device, link = runner.device, runner.link
    mask = 1 << (spec.bit or 0)
    if device.bit_write is not BitWrite.READ_MODIFY_WRITE and runner.mask_write is not False:
        try:
            # AND keeps every other bit; OR sets ours when wanted (it only lands where AND is 0)
            await link.mask_write_register(
                device.name,
                device.unit_id,
                spec.address,
                (0xFFFF & ~mask, mask if value else 0),
                device.timeout,
            )
            runner.mask_write = True
            return
        except DeviceError as exc:
            # exception 01 (illegal function): the device has no FC22; anything else is a real failure
            if device.bit_write is BitWrite.MASK or exc.kind is not ErrorKind.EXCEPTION or exc.code != 1:
                raise
            log.info("%s: no Mask Write Register (FC22); writing bits read-modify-write", device.name)
            runner.mask_write = False
    # Read-modify-write of one register: not atomic against other masters writing the same register.
    words = await link.read(
        device.name,
        device.unit_id,
        spec.area,
        spec.address,
        1,
        timeout=device.timeout,
        retries=device.retries,
    )
    word = int(words[0])
    word = (word | mask) if value else (word & ~mask)
    await link.write_registers(device.name, device.unit_id, spec.address, [word], device.timeout)


def _same(read: Value, wanted: Value, spec: ModbusTag) -> bool:
    if isinstance(read, float) and isinstance(wanted, int | float) and not isinstance(wanted, bool):
        tolerance = 1e-6 if spec.data_type is DataType.FLOAT64 else 1e-4
        return math.isclose(
            read, float(wanted), rel_tol=tolerance, abs_tol=abs(spec.scale) / 2 if spec.scaled else 1e-9
        )
    if isinstance(read, bool) or isinstance(wanted, bool):
        return bool(read) == bool(wanted)
    return read == wanted


__all__ = ["ModbusDriver", "check_range"]
