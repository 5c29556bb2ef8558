"""The poll loop of one Modbus device: plan, read, decode, emit; back off when the device fails.

Failure policy (catalogue T47, T49):
- timeout or I/O error on a block: the device is unreachable. Every tag of the device is emitted
  BAD with the error, and the device waits a backoff delay before its next attempt (other devices
  keep their rate: each device has its own tasks; only devices sharing a link share its lock).
- exception 02/03: the planner splits the block (remembered); a single tag still refused is BAD.
- exception 05/06 (acknowledge, busy): the block's tags are emitted STALE with their last value,
  no backoff ("retry later without escalating").
- any other exception code, or a malformed reply: the block's tags are BAD, the device goes on.
A tag is never emitted GOOD unless the value came from the reply just received.
"""

from __future__ import annotations

import asyncio
import logging
import struct
import time
from collections.abc import Callable

from drivers._backoff import Backoff
from drivers._types import DeviceHealth, DriverState, Quality, Sample, Value, utc_ms
from drivers.errors import DeviceError, ErrorKind
from drivers.modbus._codec import Decoder, make_decoder
from drivers.modbus._link import ModbusLink
from drivers.modbus._planner import Block, PollPlanner
from drivers.modbus._spec import ModbusDevice, ModbusTag

log = logging.getLogger(__name__)

_SPLIT_CODES = (0x02, 0x03)
_BUSY_CODES = (0x05, 0x06)


class DeviceRunner:
    """Polls one device's groups through ``link`` and passes sample batches to ``emit``."""

    def __init__(
        self,
        device: ModbusDevice,
        link: ModbusLink,
        emit: Callable[[list[Sample]], None],
        last_values: dict[str, Value],
    ) -> None:
        self.device = device
        self.link = link
        self._emit = emit
        self._last = last_values
        self.mask_write: bool | None = None  # FC22 works (True), is refused (False), untried (None)
        self._decoders: dict[str, Decoder] = {
            t.name: make_decoder(t, device.order_of(t)) for t in device.tags if not t.area.is_bit
        }
        self.planners: dict[str, PollPlanner] = {}
        for group in device.poll_groups:
            tags = [t for t in device.tags if t.poll_group == group]
            if tags:
                self.planners[group] = PollPlanner(
                    tags,
                    max_registers=device.max_read_registers,
                    max_bits=device.max_read_bits,
                    max_gap_registers=device.max_gap_registers,
                    max_gap_bits=device.max_gap_bits,
                )
        self._backoff = Backoff(initial=device.backoff_initial, maximum=device.backoff_max)
        self._offline_until = 0.0
        self.state = DriverState.CONNECTING
        self.last_error: DeviceError | None = None
        self.requests = 0
        self.errors = 0
        self.timeouts = 0
        self.cycles = 0
        self.overruns = 0
        self._latency_sum = 0.0
        self._latency_n = 0
        self._latency_max = 0.0

    def _send(self, batch: list[Sample]) -> None:
        self._emit(batch)

    # ------------------------------------------------------------------ loops
    async def run_group(self, group: str) -> None:
        """Poll ``group`` at its interval until cancelled. Missed cycles are skipped, not queued."""
        interval = self.device.poll_groups[group]
        planner = self.planners[group]
        next_at = time.monotonic()
        while True:
            now = time.monotonic()
            if now < self._offline_until:
                await asyncio.sleep(self._offline_until - now)
                next_at = time.monotonic()
            await self.poll_once(planner)
            self.cycles += 1
            next_at += interval
            now = time.monotonic()
            if next_at < now:
                self.overruns += 1
                next_at = now
            await asyncio.sleep(next_at - now)

    async def poll_once(self, planner: PollPlanner) -> None:
        """One cycle of one poll group; never raises DeviceError."""
        device = self.device
        failed_block = False
        for block in list(planner.plan()):
            started = time.monotonic()
            self.requests += 1
            try:
                values = await self.link.read(
                    device.name,
                    device.unit_id,
                    block.area,
                    block.start,
                    block.count,
                    timeout=device.timeout,
                    retries=device.retries,
                )
            except DeviceError as exc:
                self.errors += 1
                self.last_error = exc
                if exc.kind in (ErrorKind.TIMEOUT, ErrorKind.IO):
                    self._device_down(exc)
                    return
                failed_block = True
                self._block_failed(planner, block, exc)
                continue
            self._record_latency(time.monotonic() - started)
            self._send(self._decode(block, values))
        self._backoff.reset()
        self.state = DriverState.DEGRADED if failed_block else DriverState.RUNNING

    # ------------------------------------------------------------- outcomes
    def _decode(self, block: Block, values: list[int] | list[bool]) -> list[Sample]:
        ts = utc_ms()
        batch: list[Sample] = []
        last = self._last
        if block.area.is_bit:
            for tag in block.tags:
                at = tag.address - block.start
                v: Value = (
                    [bool(b) for b in values[at : at + tag.count]] if tag.length > 1 else bool(values[at])
                )
                last[tag.name] = v
                batch.append(Sample(tag.name, v, Quality.GOOD, ts, None, tag.unit))
            return batch
        words: list[int] = values  # type: ignore[assignment]
        raw = struct.pack(f">{len(words)}H", *words)
        decoders = self._decoders
        for tag in block.tags:
            try:
                v = decoders[tag.name](raw, words, tag.address - block.start)
            except (struct.error, UnicodeDecodeError, IndexError) as exc:
                error = DeviceError(
                    self.device.name,
                    ErrorKind.DECODE,
                    f"cannot decode: {exc}",
                    address=tag.describe_address(),
                )
                batch.append(Sample(tag.name, None, Quality.BAD, ts, error, tag.unit))
                continue
            last[tag.name] = v
            batch.append(Sample(tag.name, v, Quality.GOOD, ts, None, tag.unit))
        return batch

    def _block_failed(self, planner: PollPlanner, block: Block, exc: DeviceError) -> None:
        ts = utc_ms()
        if exc.kind is ErrorKind.EXCEPTION and exc.code in _SPLIT_CODES:
            bad = planner.reject(block)
            if not bad:
                log.info(
                    "%s: %s refused with exception %02X; splitting the block",
                    self.device.name,
                    block.describe(),
                    exc.code,
                )
                return
            self._send(
                [Sample(t.name, None, Quality.BAD, ts, exc.at(t.describe_address()), t.unit) for t in bad]
            )
            return
        if exc.kind is ErrorKind.EXCEPTION and exc.code in _BUSY_CODES:
            self._send(
                [Sample(t.name, self._last.get(t.name), Quality.STALE, ts, exc, t.unit) for t in block.tags]
            )
            return
        self._send(
            [Sample(t.name, None, Quality.BAD, ts, exc.at(t.describe_address()), t.unit) for t in block.tags]
        )

    def _device_down(self, exc: DeviceError) -> None:
        if exc.kind is ErrorKind.TIMEOUT:
            self.timeouts += 1
        delay = self._backoff.next_delay()
        self._offline_until = time.monotonic() + delay
        if self.state is not DriverState.FAILED:
            log.warning("%s: %s; retrying in %.1f s", self.device.name, exc, delay)
        self.state = DriverState.FAILED
        ts = utc_ms()
        self._send([Sample(t.name, None, Quality.BAD, ts, exc, t.unit) for t in self.device.tags])

    def _record_latency(self, seconds: float) -> None:
        self._latency_sum += seconds
        self._latency_n += 1
        self._latency_max = max(self._latency_max, seconds)

    def health(self) -> DeviceHealth:
        n = self._latency_n
        return DeviceHealth(
            name=self.device.name,
            state=self.state,
            last_error=self.last_error,
            requests=self.requests,
            errors=self.errors,
            timeouts=self.timeouts,
            late_replies=self.link.late_replies,
            reconnects=self.link.connects,
            latency_ms_avg=(self._latency_sum / n * 1000) if n else None,
            latency_ms_max=self._latency_max * 1000 if n else None,
            notes=self.link.notes()
            + (
                ("no Mask Write Register (FC22): register bits are written read-modify-write",)
                if self.mask_write is False
                else ()
            ),
        )

    def tag(self, name: str) -> ModbusTag | None:
        for tag in self.device.tags:
            if tag.name == name:
                return tag
        return None
