"""One configured device at run time: its driver, live tag values, health, enable/disable, writes.

A :class:`DeviceHost` owns one driver (one Modbus unit) and turns what the driver reports into:
- Sparkplug events for the edge node, through the :class:`DeviceSink` (``device_online`` with every
  metric and its current value -> DBIRTH, ``samples`` -> DDATA by exception, ``device_offline`` ->
  DDEATH). Online = a poll returned at least one good value; offline = the driver reports the device
  FAILED (no contact), or the device is disabled;
- the live tag table the control plane publishes (value, quality, sample timestamp);
- the device's health snapshot for the control plane, with the last error in plain words.

Writes go only to tags marked writable and inside their configured min/max (the driver checks type
ranges too); refused writes are logged with the reason. Time comes from ``drivers.utc_ms``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import drivers
from gateway.app import convert
from gateway.app.sample_merger import SampleMerger, window_for
from gateway.app.tag_table import TagTable, scalar
from gateway.config.devices import DeviceConfig, ModbusDeviceConfig
from gateway.control import contract as c
from sparkplug import MetricSpec, MetricValue
from sparkplug import Quality as SpQuality
from sparkplug import Sample as SpSample

log = logging.getLogger(__name__)

HEALTH_INTERVAL_S = 0.5

_SP_QUALITY = {
    drivers.Quality.GOOD: SpQuality.GOOD,
    drivers.Quality.UNCERTAIN: SpQuality.GOOD,
    drivers.Quality.STALE: SpQuality.STALE,
    drivers.Quality.BAD: SpQuality.BAD,
}


class DeviceSink(Protocol):
    """Where a device's news goes (the daemon forwards it to the edge node and the control plane)."""

    def device_online(
        self, device_id: str, metrics: tuple[MetricSpec, ...], samples: tuple[SpSample, ...]
    ) -> None: ...

    def device_offline(self, device_id: str) -> None: ...

    def samples(self, device_id: str, samples: tuple[SpSample, ...]) -> None: ...

    def tags_changed(self, device_id: str, names: Sequence[str]) -> None:
        """These tags changed (value or quality); their current values are in ``tag_value``."""
        ...

    def wants_tag_changes(self, device_id: str) -> bool:
        """Whether anyone watches this device's tag changes now (if not, none are built)."""
        ...

    def device_event(self, device_id: str, severity: c.Severity, kind: str, message: str) -> None: ...


@dataclass(frozen=True, slots=True)
class WriteOutcome:
    """The result of a write request: ``ok`` with the old and new value, or an error code and message."""

    ok: bool
    old_value: c.TagScalar = None
    new_value: c.TagScalar = None
    code: c.ErrorCode | None = None
    message: str = ""


def _metric_value(value: drivers.Value) -> MetricValue:
    """A driver value as a Sparkplug metric value (lists become tuples)."""
    if isinstance(value, list):
        converted: MetricValue = tuple(value)  # type: ignore[assignment]  # list[X] -> tuple[X, ...]
        return converted
    return value


class DeviceHost:
    """Runs one configured device (Modbus or OPC UA). ``data_dir`` holds the OPC UA client certificate;
    ``clock`` returns UTC ms (a seam for tests).

    Modbus tags have their Sparkplug type from the configuration; an OPC UA tag without ``type`` gets
    it from its first value, and the device is born with the tags whose type is known (a tag typed
    later makes the core re-birth the device with the larger metric set)."""

    def __init__(
        self,
        config: DeviceConfig,
        sink: DeviceSink,
        data_dir: Path,
        clock: Callable[[], int] = drivers.utc_ms,
    ) -> None:
        self.config = config
        self._sink = sink
        self._data_dir = data_dir
        self._clock = clock
        if isinstance(config, ModbusDeviceConfig):
            self._types = {spec.name: spec.datatype for spec in convert.modbus_metrics(config)}
        else:
            self._types = convert.opcua_types(config)
        self._writable = {tag.name: tag.writable for tag in config.tags}
        self._untyped = [tag.name for tag in config.tags if tag.name not in self._types]
        self._tags = TagTable(
            c.TagValue(
                tag.name,
                None,
                c.Quality.UNCERTAIN,
                0,
                self._types[tag.name].name if tag.name in self._types else "Unknown",
                tag.writable,
                tag.unit,
            )
            for tag in config.tags
        )
        self._limits = {tag.name: (tag.min, tag.max) for tag in config.tags}
        self._driver: drivers.Driver | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self.enabled = config.enabled
        self.online = False
        self.polls = 0
        self.last_poll_ms: int | None = None
        self.last_good_poll_ms: int | None = None
        self.consecutive_errors = 0
        self._latencies: list[float] = []

    @property
    def device_id(self) -> str:
        return self.config.id

    @property
    def metrics(self) -> tuple[MetricSpec, ...]:
        """The metrics to declare: every tag whose type is known, in configuration order."""
        return tuple(
            MetricSpec(tag.name, self._types[tag.name], writable=tag.writable)
            for tag in self.config.tags
            if tag.name in self._types
        )

    @property
    def endpoint(self) -> str:
        cfg = self.config
        if not isinstance(cfg, ModbusDeviceConfig):
            return cfg.endpoint
        if cfg.protocol == "modbus_rtu":
            return f"{cfg.serial_port} unit {cfg.unit}"
        return f"{cfg.host}:{cfg.port} unit {cfg.unit}"

    def _make_driver(self) -> drivers.Driver:
        if isinstance(self.config, ModbusDeviceConfig):
            from drivers.modbus import ModbusDriver

            return ModbusDriver(self.device_id, [convert.modbus_device(self.config)])
        from drivers.opcua import OpcUaDriver

        return OpcUaDriver(self.device_id, convert.opcua_server(self.config, self._data_dir / "opcua"))

    # ---- lifecycle ------------------------------------------------------------------------------------

    async def start(self) -> None:
        """Start polling (when enabled). Returns at once; an absent device is retried by the driver."""
        if not self.enabled or self._driver is not None:
            return
        self._driver = self._make_driver()
        await self._driver.start()
        self._tasks = [
            asyncio.create_task(self._consume(self._driver), name=f"device-{self.device_id}-samples"),
            asyncio.create_task(self._watch_health(self._driver), name=f"device-{self.device_id}-health"),
        ]
        log.info(
            "polling %s every %.3g s",
            self.endpoint,
            self.config.poll_interval_s,
            extra={"device": self.device_id},
        )

    async def stop(self) -> None:
        """Stop polling; the device goes offline (DDEATH) and its values become stale."""
        await self._stop_driver()
        self._go_offline("polling stopped")

    async def set_poll_interval(self, seconds: float) -> None:
        """Poll the default group every ``seconds`` from now on (Node Control/Scan Rate); the device
        stays born while its driver is replaced."""
        self.config = dataclasses.replace(self.config, poll_interval_s=seconds)
        if self._driver is not None:
            await self._stop_driver()
            await self.start()

    async def _stop_driver(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        if self._driver is not None:
            await self._driver.stop()
            self._driver = None

    async def set_enabled(self, enabled: bool) -> bool:
        """Enable or disable polling; returns whether the state changed."""
        if enabled == self.enabled:
            return False
        self.enabled = enabled
        if enabled:
            await self.start()
        else:
            await self.stop()
        return True

    # ---- driver output --------------------------------------------------------------------------------

    async def _consume(self, driver: drivers.Driver) -> None:
        """Batches from the driver, merged when they arrive close together (gateway/app/sample_merger.py:
        one DDATA for several Modbus blocks); the merge window's timer runs on the loop."""
        loop = asyncio.get_running_loop()
        merger = SampleMerger(window_for(self.config.poll_interval_s))
        timer: asyncio.TimerHandle | None = None

        def on_timer() -> None:
            nonlocal timer
            timer = None
            self._on_merged(merger.due(loop.time()))
            if merger.deadline is not None:
                timer = loop.call_at(merger.deadline, on_timer)

        try:
            async for batch in driver.samples():
                ready = merger.add(batch, loop.time())
                if ready is not None:
                    self._on_batch(ready)
                if timer is None and merger.deadline is not None:
                    timer = loop.call_at(merger.deadline, on_timer)
        finally:
            if timer is not None:
                timer.cancel()
            self._on_merged(merger.take())  # stopping: what was sampled still goes out, before any DDEATH

    def _on_merged(self, batch: list[drivers.Sample] | None) -> None:
        """A merged batch from a loop timer or a stopping task: a failure is logged with the device
        (it must neither vanish in the loop's handler nor replace the task's cancellation)."""
        if batch is None:
            return
        try:
            self._on_batch(batch)
        except Exception:
            log.exception("handling a batch of samples failed", extra={"device": self.device_id})

    def _on_batch(self, batch: list[drivers.Sample]) -> None:
        now = self._clock()
        self.polls += 1
        self.last_poll_ms = now
        good_quality = drivers.Quality.GOOD
        good = any(s.quality is good_quality for s in batch)  # stops at the first good one
        if good:
            self.last_good_poll_ms = now
            self.consecutive_errors = 0
        else:
            self.consecutive_errors += 1
        newly_typed = self._infer_types(batch)
        # changes are collected only while someone watches them (5,000 samples a second in
        # benchmarks/gateway.py): the table keeps the values either way, for snapshots and writes
        changes = self._tags.apply(batch, self._sink.wants_tag_changes(self.device_id))
        if changes:
            self._sink.tags_changed(self.device_id, changes)
        if self.online and newly_typed:
            # new metrics: announce again; the core re-births the device with the larger set
            self._sink.device_online(self.device_id, self.metrics, self._current_samples())
        elif good and not self.online:
            self.online = True
            log.info("device answers: births its metrics", extra={"device": self.device_id})
            self._sink.device_event(self.device_id, c.Severity.INFO, "device_up", f"{self.device_id} answers")
            self._sink.device_online(self.device_id, self.metrics, self._current_samples())
        elif self.online:
            bad, quality = drivers.Quality.BAD, _SP_QUALITY
            types = None if self._all_typed() else self._types
            # a list, not a generator, into the tuple: this runs for every sample (5,000/s)
            samples = tuple(
                [
                    SpSample(s.tag, _metric_value(s.value), s.timestamp_ms, quality[s.quality])
                    for s in batch
                    if s.quality is not bad and (types is None or s.tag in types)
                ]
            )
            if samples:
                self._sink.samples(self.device_id, samples)

    def _infer_types(self, batch: list[drivers.Sample]) -> bool:
        """Type undeclared tags from their first good value; True when any tag got a type."""
        typed = False
        if self._all_typed():
            return False  # always for Modbus: nothing to look at per sample
        for sample in batch:
            if sample.quality is not drivers.Quality.GOOD:
                continue
            if sample.tag in self._types or sample.tag not in self._tags:
                continue
            datatype = convert.inferred_type(sample.value)
            if datatype is None:
                continue
            self._types[sample.tag] = datatype
            self._tags.retype(sample.tag, datatype.name)
            typed = True
        return typed

    def _all_typed(self) -> bool:
        """Every tag has its Sparkplug type (always for Modbus; OPC UA tags may wait for a value)."""
        return not any(name not in self._types for name in self._untyped)

    def _current_samples(self) -> tuple[SpSample, ...]:
        now = self._clock()
        return tuple(
            SpSample(
                tag.name,
                tag.value,
                tag.timestamp_ms or now,
                SpQuality.GOOD if tag.quality is c.Quality.GOOD else SpQuality.STALE,
            )
            for tag in self._tags.values()
            if tag.value is not None and tag.name in self._types
        )

    async def _watch_health(self, driver: drivers.Driver) -> None:
        while True:
            await asyncio.sleep(HEALTH_INTERVAL_S)
            state, last_error, _errors, _timeouts = _health_of(driver)
            if state is drivers.DriverState.FAILED and self.online:
                self._go_offline(str(last_error) if last_error else "no answer")

    def _go_offline(self, reason: str) -> None:
        if not self.online:
            return
        self.online = False
        stale = self._tags.mark_stale(self._clock())
        log.warning("device offline: %s", reason, extra={"device": self.device_id})
        self._sink.device_event(
            self.device_id, c.Severity.WARNING, "device_down", f"{self.device_id}: {reason}"
        )
        self._sink.device_offline(self.device_id)
        if stale:
            self._sink.tags_changed(self.device_id, stale)

    # ---- writes ---------------------------------------------------------------------------------------

    async def write(self, tag: str, value: c.TagScalar, who: str) -> WriteOutcome:
        """Write ``value`` to ``tag`` after the checks; ``who`` names the requester for the log."""
        extra = {"device": self.device_id, "tag": tag}
        current = self._tags.get(tag)
        outcome = self._refuse(tag, value, current)
        if outcome is None:
            assert current is not None
            if self._driver is None:
                outcome = WriteOutcome(
                    False, code=c.ErrorCode.UNAVAILABLE, message=f"device {self.device_id} is disabled"
                )
            else:
                result = await self._driver.write(tag, value)
                if result.ok:
                    now = self._clock()
                    written = scalar(result.value if result.value is not None else value)
                    self._tags.set(tag, written, c.Quality.GOOD, now)
                    self._sink.tags_changed(self.device_id, (tag,))
                    if self.online:
                        self._sink.samples(
                            self.device_id,
                            (
                                SpSample(
                                    tag,
                                    _metric_value(result.value) if result.value is not None else value,
                                    now,
                                ),
                            ),
                        )
                    log.info("write by %s: %r -> %r", who, current.value, written, extra=extra)
                    return WriteOutcome(True, current.value, written)
                text = result.reason or (str(result.error) if result.error else result.status.value)
                code = (
                    c.ErrorCode.OUT_OF_RANGE
                    if result.status is drivers.WriteStatus.REJECTED
                    else c.ErrorCode.DEVICE_ERROR
                )
                outcome = WriteOutcome(False, code=code, message=text)
        log.warning("write by %s refused: %s", who, outcome.message, extra=extra)
        return outcome

    def _refuse(self, tag: str, value: c.TagScalar, current: c.TagValue | None) -> WriteOutcome | None:
        if current is None:
            return WriteOutcome(
                False, code=c.ErrorCode.NOT_FOUND, message=f"device {self.device_id} has no tag {tag!r}"
            )
        if not current.writable:
            return WriteOutcome(
                False,
                code=c.ErrorCode.NOT_WRITABLE,
                message=f"tag {self.device_id}/{tag} is read-only (writable: false)",
            )
        low, high = self._limits[tag]
        if isinstance(value, int | float) and not isinstance(value, bool):
            if low is not None and value < low:
                return WriteOutcome(
                    False,
                    code=c.ErrorCode.OUT_OF_RANGE,
                    message=f"{value!r} is below the minimum {low:g} of {tag}",
                )
            if high is not None and value > high:
                return WriteOutcome(
                    False,
                    code=c.ErrorCode.OUT_OF_RANGE,
                    message=f"{value!r} is above the maximum {high:g} of {tag}",
                )
        elif value is None:
            return WriteOutcome(False, code=c.ErrorCode.OUT_OF_RANGE, message="cannot write null")
        return None

    async def browse(self, node_id: str | None) -> list[Any]:
        """Children of an OPC UA node through this device's live session (``drivers.opcua.BrowseEntry``).

        Raises:
            drivers.DeviceError: not an OPC UA device, not connected, or the server refused.
        """
        browse = getattr(self._driver, "browse", None)
        if browse is None:
            raise drivers.DeviceError(self.device_id, drivers.ErrorKind.IO, "not a connected OPC UA device")
        entries: list[Any] = await browse(node_id)
        return entries

    # ---- snapshots ------------------------------------------------------------------------------------

    def tag_values(self) -> tuple[c.TagValue, ...]:
        return self._tags.values()

    def tag_value(self, name: str) -> c.TagValue | None:
        return self._tags.get(name)

    @property
    def tags_version(self) -> int:
        """Changes whenever a tag value, quality, timestamp or type changes (see TagTable.version)."""
        return self._tags.version

    def status(self) -> c.DeviceStatus:
        driver_state, last_error, errors, timeouts = (
            _health_of(self._driver) if self._driver is not None else (None, None, 0, 0)
        )
        if not self.enabled:
            state = c.DeviceHealth.DISABLED
        elif driver_state is None or self.polls == 0:
            state = c.DeviceHealth.UNKNOWN
        elif driver_state is drivers.DriverState.FAILED:
            state = c.DeviceHealth.DOWN
        elif driver_state is drivers.DriverState.DEGRADED or self.consecutive_errors:
            state = c.DeviceHealth.DEGRADED
        else:
            state = c.DeviceHealth.OK
        return c.DeviceStatus(
            timestamp_ms=self._clock(),
            device_id=self.device_id,
            protocol=self.config.protocol,
            endpoint=self.endpoint,
            enabled=self.enabled,
            health=state,
            born=self.online,
            tag_count=len(self._tags),
            poll_interval_ms=int(self.config.poll_interval_s * 1000),
            last_poll_ms=self.last_poll_ms,
            last_good_poll_ms=self.last_good_poll_ms,
            polls=self.polls,
            errors=errors,
            timeouts=timeouts,
            consecutive_errors=self.consecutive_errors,
            last_error=None if last_error is None else str(last_error),
            # the driver reports average and maximum latency, not percentiles: leave these unknown
            response_ms_p50=None,
            response_ms_p99=None,
        )


def _health_of(driver: drivers.Driver) -> tuple[drivers.DriverState, drivers.DeviceError | None, int, int]:
    """(state, last error, errors, timeouts) of the one device a driver runs for us."""
    health = driver.health()
    if health.devices:
        device = health.devices[0]
        return device.state, device.last_error, device.errors, device.timeouts
    return health.state, health.last_error, health.errors, health.timeouts
