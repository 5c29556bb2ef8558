"""A simulated Modbus TCP device (a real pymodbus server) with changing values and setpoints.

Start it in any event loop, read the bound port back, and get a ready driver spec::

    sim = ModbusSimulator(port=0)
    await sim.start()
    device = sim.modbus_device("plc-1")      # a drivers.modbus.ModbusDevice for sim.port
    ...
    await sim.stop()

The register map (unit id 1 by default) is :func:`default_points`; ``extra_tags`` adds that many
mixed-type holding-register tags from address 1000 (benchmarks). Values are recomputed every
``update_interval`` seconds into our own store; the pymodbus server reads the store through its
``action`` hook, and writes from clients land in it, so setpoints keep what a client wrote.
The ``clock_ms`` tag (uint64) carries the wall-clock ms of the last update: a latency probe.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from drivers._types import Value
from drivers.modbus._codec import encode_tag
from drivers.modbus._spec import Area, ByteOrder, DataType, ModbusDevice, ModbusTag, TcpLink
from drivers.simulators._signals import Signal

log = logging.getLogger(__name__)

_STRUCT = {
    DataType.INT16: "h",
    DataType.UINT16: "H",
    DataType.INT32: "i",
    DataType.UINT32: "I",
    DataType.INT64: "q",
    DataType.UINT64: "Q",
    DataType.FLOAT32: "f",
    DataType.FLOAT64: "d",
}

_STORE_SIZE = {
    Area.COIL: 256,
    Area.DISCRETE_INPUT: 256,
    Area.HOLDING_REGISTER: 1000,
    Area.INPUT_REGISTER: 256,
}


@dataclass(frozen=True, slots=True)
class SimPoint:
    """One simulated value: where it lives, how it is encoded, and what drives it.

    ``signal`` is ``None`` for a setpoint: only client writes change it, from ``initial``.
    """

    tag: ModbusTag
    signal: Signal | None
    initial: Value = 0
    description: str = ""


def default_points() -> list[SimPoint]:
    """The demo device: a small process skid."""
    hr, ir = Area.HOLDING_REGISTER, Area.INPUT_REGISTER
    f32, f64 = DataType.FLOAT32, DataType.FLOAT64
    return [
        SimPoint(
            ModbusTag("temperature", hr, 0, f32, unit="degC"),
            Signal("sine", 5.0, 60.0, 20.0),
            description="sine around 20 degC, period 60 s",
        ),
        SimPoint(
            ModbusTag("pressure", hr, 2, f32, unit="bar"),
            Signal("random_walk", step=0.05, minimum=1.0, maximum=3.0),
            description="random walk 1..3 bar",
        ),
        SimPoint(
            ModbusTag("level", hr, 4, DataType.UINT16, scale=0.1, unit="%"),
            Signal("ramp", 1000.0, 120.0, integer=True),
            description="ramp 0..100 % in 120 s (raw x0.1)",
        ),
        SimPoint(
            ModbusTag("motor_speed", hr, 5, DataType.INT16, unit="rpm"),
            Signal("sine", 1500.0, 30.0, integer=True),
            description="sine -1500..1500 rpm",
        ),
        SimPoint(
            ModbusTag("production_count", hr, 6, DataType.UINT32),
            Signal("counter", step=2.0),
            description="counter, +2 per second",
        ),
        SimPoint(
            ModbusTag("energy_total", hr, 8, f64, unit="kWh"),
            Signal("ramp", 1e6, 3600.0),
            description="float64 ramp",
        ),
        SimPoint(
            ModbusTag("clock_ms", hr, 12, DataType.UINT64, unit="ms"),
            Signal("clock_ms"),
            description="wall-clock ms of the simulator's last update (latency probe)",
        ),
        SimPoint(
            ModbusTag("running", hr, 16, DataType.BOOL, bit=0),
            Signal("toggle", step=5.0),
            description="bit 0 of the status word, toggles every 5 s",
        ),
        SimPoint(
            ModbusTag("batch_name", hr, 20, DataType.STRING, length=16),
            Signal("text", period=20.0),
            description="16-character string, changes every 20 s",
        ),
        SimPoint(
            ModbusTag(
                "temperature_setpoint",
                hr,
                100,
                f32,
                unit="degC",
                writable=True,
                read_back=True,
                min_value=0.0,
                max_value=90.0,
            ),
            None,
            21.5,
            "writable setpoint",
        ),
        SimPoint(
            ModbusTag("speed_setpoint", hr, 102, DataType.UINT16, unit="rpm", writable=True, max_value=3000),
            None,
            1500,
            "writable setpoint",
        ),
        SimPoint(ModbusTag("trim", hr, 103, DataType.INT32, writable=True), None, 0, "writable int32"),
        SimPoint(
            ModbusTag("pump_run", Area.COIL, 0, DataType.BOOL),
            Signal("toggle", step=3.0),
            description="coil toggling every 3 s",
        ),
        SimPoint(
            ModbusTag("valve_open", Area.COIL, 1, DataType.BOOL, writable=True), None, False, "writable coil"
        ),
        SimPoint(
            ModbusTag("door_closed", Area.DISCRETE_INPUT, 0, DataType.BOOL),
            Signal("toggle", step=7.0),
            description="discrete input toggling every 7 s",
        ),
        SimPoint(
            ModbusTag("flow", ir, 0, f32, unit="m3/h"),
            Signal("sine", 10.0, 45.0, 50.0),
            description="input register sine 40..60 m3/h",
        ),
        SimPoint(
            ModbusTag("vibration", ir, 2, DataType.INT16, scale=0.01, unit="mm/s"),
            Signal("random_walk", step=20, minimum=0, maximum=1000, integer=True),
            description="random walk, raw x0.01",
        ),
    ]


_BENCH_TYPES = (
    DataType.UINT16,
    DataType.INT16,
    DataType.UINT32,
    DataType.INT32,
    DataType.FLOAT32,
    DataType.FLOAT64,
    DataType.INT64,
)


def mixed_points(count: int, start: int = 1000) -> list[SimPoint]:
    """``count`` mixed-type holding-register tags from ``start``, contiguous (benchmarks)."""
    points, address = [], start
    for i in range(count):
        dt = _BENCH_TYPES[i % len(_BENCH_TYPES)]
        tag = ModbusTag(f"bench_{i:05d}", Area.HOLDING_REGISTER, address, dt)
        integer = dt not in (DataType.FLOAT32, DataType.FLOAT64)
        amplitude = 100.0 if dt in (DataType.UINT16, DataType.UINT32) else 1000.0
        kind = "ramp" if dt in (DataType.UINT16, DataType.UINT32) else "sine"
        points.append(SimPoint(tag, Signal(kind, amplitude, 5.0 + i % 11, integer=integer)))
        address += tag.count
    return points


class ModbusSimulator:
    """A pymodbus TCP server serving :func:`default_points` (+ ``extra_tags``).

    Args:
        host, port: where to listen; port 0 picks a free port (read :attr:`port` after start).
        unit_id: the unit id answered (other ids get exception 0x04 from pymodbus... or no answer).
        extra_tags: mixed-type tags added from holding register 1000.
        update_interval: seconds between value updates.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        unit_id: int = 1,
        extra_tags: int = 0,
        update_interval: float = 0.1,
    ) -> None:
        self.host = host
        self._requested_port = port
        self.unit_id = unit_id
        self.update_interval = update_interval
        self.points: tuple[SimPoint, ...] = tuple(default_points() + mixed_points(extra_tags))
        self._by_name = {p.tag.name: p for p in self.points}
        size = dict(_STORE_SIZE)
        for p in self.points:
            size[p.tag.area] = max(size[p.tag.area], p.tag.end + 16)
        self._size = size
        self._regs: dict[Area, list[int]] = {
            a: [0] * size[a] for a in (Area.HOLDING_REGISTER, Area.INPUT_REGISTER)
        }
        self.function_codes: dict[int, int] = {}  # function code -> requests served (tests)
        self._bits: dict[Area, list[bool]] = {a: [False] * size[a] for a in (Area.COIL, Area.DISCRETE_INPUT)}
        self._server: Any = None
        self._task: asyncio.Task[None] | None = None
        self._t0 = time.monotonic()
        self.port = 0
        self.requests = 0
        self._writers = [(p, self._fast_writer(p.tag)) for p in self.points]
        for p in self.points:
            if p.signal is None:
                self.set_value(p.tag.name, p.initial)
        self._update(0.0)

    # ------------------------------------------------------------------ values
    def set_value(self, name: str, value: Value) -> None:
        """Write a value into the store as a client would (tests, demo)."""
        point = self._by_name[name]
        tag = point.tag
        if tag.area.is_bit:
            self._bits[tag.area][tag.address] = bool(value)
        elif tag.data_type is DataType.BOOL:
            regs = self._regs[tag.area]
            mask = 1 << (tag.bit or 0)
            regs[tag.address] = (regs[tag.address] | mask) if value else (regs[tag.address] & ~mask)
        else:
            words = encode_tag(_unbounded(tag), ByteOrder.ABCD, value)
            self._regs[tag.area][tag.address : tag.address + len(words)] = words

    def value(self, name: str) -> Value:
        """The value currently in the store."""
        from drivers.modbus._codec import decode_tag

        tag = self._by_name[name].tag
        if tag.area.is_bit:
            return self._bits[tag.area][tag.address]
        return decode_tag(tag, ByteOrder.ABCD, self._regs[tag.area][tag.address : tag.end])

    def _update(self, t: float) -> None:
        now_ms = time.time_ns() // 1_000_000
        for point, fast in self._writers:
            signal = point.signal
            if signal is None:
                continue
            if signal.kind == "clock_ms":
                self.set_value(point.tag.name, now_ms)
                continue
            v = signal.value(t)
            if fast is not None:
                # signals produce raw register values (a scaled tag's signal is in raw units)
                fast(v)  # type: ignore[arg-type]
                continue
            if point.tag.scaled and isinstance(v, int | float) and not isinstance(v, bool):
                v = v * point.tag.scale + point.tag.offset
            self.set_value(point.tag.name, v)

    def _fast_writer(self, tag: ModbusTag) -> Callable[[float | int], None] | None:
        """A direct struct-based writer for numeric register tags: ~10x cheaper than set_value,
        which matters with thousands of tags updated ten times a second (benchmarks)."""
        if tag.area.is_bit or tag.data_type in (DataType.BOOL, DataType.STRING):
            return None
        fmt = _STRUCT[tag.data_type]
        pack = struct.Struct(">" + fmt).pack
        unpack = struct.Struct(f">{tag.count}H").unpack
        regs, first, end = self._regs[tag.area], tag.address, tag.end
        integer = fmt in "hHiIqQ"

        def write(value: float | int) -> None:
            try:
                regs[first:end] = unpack(pack(round(value) if integer else value))
            except struct.error:
                log.debug("simulated value %r does not fit %s", value, tag.name)

        return write

    async def _run_updates(self) -> None:
        while True:
            await asyncio.sleep(self.update_interval)
            self._update(time.monotonic() - self._t0)

    # ------------------------------------------------------------------ server
    async def _action(  # noqa: PLR0917 (the signature is pymodbus's action hook)
        self,
        function_code: int,
        start_address: int,
        address: int,
        count: int,
        current_registers: list[int],
        set_values: list[int] | list[bool] | None,
    ) -> None:
        """pymodbus hook: serve reads from our store and keep client writes in it."""
        self.requests += 1
        self.function_codes[function_code] = self.function_codes.get(function_code, 0) + 1
        area = {
            1: Area.COIL,
            5: Area.COIL,
            15: Area.COIL,
            2: Area.DISCRETE_INPUT,
            4: Area.INPUT_REGISTER,
        }.get(function_code, Area.HOLDING_REGISTER)
        if set_values is not None:
            if area.is_bit:
                for i, bit in enumerate(set_values):
                    self._bits[area][address + i] = bool(bit)
            else:
                self._regs[area][address : address + len(set_values)] = [int(v) for v in set_values]
            return
        if area.is_bit:
            # pymodbus packs bits 16 per register, least significant bit first.
            bits = self._bits[area]
            first, last = address // 16, (address + max(count, 1) * 16 - 1) // 16
            for word_index in range(first, min(last + 1, start_address + len(current_registers))):
                base = word_index * 16
                word = 0
                for b in range(16):
                    if base + b < len(bits) and bits[base + b]:
                        word |= 1 << b
                current_registers[word_index - start_address] = word
            return
        offset = address - start_address
        current_registers[offset : offset + count] = self._regs[area][address : address + count]

    async def start(self) -> None:
        """Listen and start updating values; returns once the port is bound (:attr:`port`)."""
        from pymodbus.server import ModbusTcpServer
        from pymodbus.simulator import DataType as SimType
        from pymodbus.simulator import SimData, SimDevice

        def block(area: Area) -> list[Any]:
            if area.is_bit:
                return [SimData(0, count=self._size[area], values=False, datatype=SimType.BITS)]
            return [SimData(0, count=self._size[area], values=0, datatype=SimType.REGISTERS)]

        device = SimDevice(
            self.unit_id,
            simdata=(
                block(Area.COIL),
                block(Area.DISCRETE_INPUT),
                block(Area.HOLDING_REGISTER),
                block(Area.INPUT_REGISTER),
            ),
            action=self._action,
        )
        self._server = ModbusTcpServer(device, address=(self.host, self._requested_port))
        await self._server.serve_forever(background=True)
        self.port = int(self._server.transport.sockets[0].getsockname()[1])
        self._task = asyncio.create_task(self._run_updates(), name="modbus-simulator-updates")
        log.info(
            "Modbus simulator listening on %s:%d (unit %d, %d tags)",
            self.host,
            self.port,
            self.unit_id,
            len(self.points),
        )

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._server is not None:
            await self._server.shutdown()
            self._server = None

    async def __aenter__(self) -> ModbusSimulator:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # ------------------------------------------------------------ description
    def modbus_device(
        self, name: str = "simulated-plc", *, poll_interval: float = 1.0, host: str | None = None
    ) -> ModbusDevice:
        """A driver spec for this simulator: every point as a tag, one poll group."""
        return ModbusDevice(
            name=name,
            link=TcpLink(host or self.host, self.port),
            unit_id=self.unit_id,
            tags=tuple(p.tag for p in self.points),
            poll_groups={"default": poll_interval},
        )

    def describe(self) -> list[dict[str, object]]:
        """The register map as plain data (for the CLI and demo config generation)."""
        return [
            {
                "name": p.tag.name,
                "area": p.tag.area.name.lower(),
                "address": p.tag.address,
                "data_type": p.tag.data_type.value,
                "bit": p.tag.bit,
                "length": p.tag.length or None,
                "scale": p.tag.scale,
                "unit": p.tag.unit,
                "writable": p.tag.writable,
                "description": p.description,
            }
            for p in self.points
        ]


def _unbounded(tag: ModbusTag) -> ModbusTag:
    """The simulator itself ignores the write range a client is held to."""
    if tag.min_value is None and tag.max_value is None:
        return tag
    from dataclasses import replace

    return replace(tag, min_value=None, max_value=None)
