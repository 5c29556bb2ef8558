"""One connection to Modbus devices (a TCP socket or a serial bus) and its arbiter.

A :class:`ModbusLink` owns one pymodbus client. Every device behind the link (unit ids on one
host:port, slaves on one RS-485 bus) sends its requests through :meth:`ModbusLink.read` and
:meth:`ModbusLink.write_*`, which hold the link's lock for the whole exchange: one request in
flight per link, so a late reply can only ever meet a request that is already over. On a serial
bus the lock also keeps the inter-frame silence and, after a timeout, a longer quiet period so a
late reply lands between requests where it is discarded (catalogue T48, T52).

Reply validation (catalogue T48, T50): MBAP replies whose transaction id differs from the request's
are dropped by pymodbus's framer; we count them as late replies from the raw bytes. Every reply is
then checked against the request (function code, count of registers or bits); a mismatch is a
DECODE error, never a value.

Reconnects: at most one connection attempt per ``min_reconnect_interval`` and, after failures, one
per backoff delay (catalogue T47, T51). A peer that closed an idle connection is reconnected on the
next request without an error.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from typing import Any

from drivers._aio import within
from drivers._backoff import Backoff
from drivers.errors import DeviceError, ErrorKind, from_modbus
from drivers.modbus._spec import Area, Link, RtuOverTcpLink, SerialLink

log = logging.getLogger(__name__)

#: peer-initiated closes within DROP_WINDOW seconds that make a health note (catalogue T51)
DROP_WINDOW = 60.0
DROP_NOTE_THRESHOLD = 5


def link_key(link: Link) -> str:
    if isinstance(link, SerialLink):
        return f"rtu:{link.port}"
    if isinstance(link, RtuOverTcpLink):
        return f"rtu+tcp:{link.host}:{link.port}"
    return f"tcp:{link.host}:{link.port}"


class ModbusLink:
    """A shared connection; see the module docstring.

    Args:
        link: the link spec.
        min_reconnect_interval: seconds between two connection attempts, even after a clean close.
        backoff_initial, backoff_max: delays between attempts while connecting fails.
        close_after_timeouts: a TCP connection on which this many requests in a row got no answer
            is closed and reopened (serial ports never are).
    """

    def __init__(
        self,
        link: Link,
        *,
        min_reconnect_interval: float = 1.0,
        backoff_initial: float = 1.0,
        backoff_max: float = 30.0,
        close_after_timeouts: int = 3,
    ) -> None:
        self.spec = link
        self.key = link_key(link)
        self._client: Any = None
        self._lock = asyncio.Lock()
        self._min_reconnect = min_reconnect_interval
        self._backoff = Backoff(initial=backoff_initial, maximum=backoff_max)
        self._next_connect_at = 0.0
        self._last_io_end = 0.0
        self._quiet_until = 0.0
        self._expected_tid = 0
        self.late_replies = 0
        self._was_connected = False
        self._drops: collections.deque[float] = collections.deque()
        self._drop_noted = False
        self.consecutive_timeouts = 0
        self.close_after_timeouts = close_after_timeouts
        self.connects = 0
        self.connect_failures = 0
        self.last_connect_error: DeviceError | None = None
        self._serial = isinstance(link, SerialLink)
        self._gap = link.frame_gap() if isinstance(link, SerialLink) else 0.0

    # ----------------------------------------------------------------- client
    def _make_client(self) -> Any:
        from pymodbus import FramerType
        from pymodbus.client import AsyncModbusSerialClient, AsyncModbusTcpClient

        # pymodbus's own reconnect (reconnect_delay) and retries are disabled: this class owns both,
        # so backoff and retry counts follow the device configuration.
        if isinstance(self.spec, SerialLink):
            return AsyncModbusSerialClient(
                self.spec.port,
                framer=FramerType.RTU,
                baudrate=self.spec.baudrate,
                bytesize=self.spec.bytesize,
                parity=self.spec.parity,
                stopbits=self.spec.stopbits,
                timeout=60.0,
                retries=0,
                reconnect_delay=0,
                name=self.key,
            )
        framer = FramerType.RTU if isinstance(self.spec, RtuOverTcpLink) else FramerType.SOCKET
        return AsyncModbusTcpClient(
            self.spec.host,
            port=self.spec.port,
            framer=framer,
            timeout=60.0,
            retries=0,
            reconnect_delay=0,
            name=self.key,
            trace_packet=self._trace_packet if framer is FramerType.SOCKET else None,
        )

    def _trace_packet(self, sending: bool, data: bytes) -> bytes:
        """Count MBAP frames whose transaction id is not the outstanding request's (late replies)."""
        if sending:
            if len(data) >= 2:
                self._expected_tid = int.from_bytes(data[0:2], "big")
            return data
        view = data
        while len(view) >= 7:
            frame_len = 6 + int.from_bytes(view[4:6], "big")
            if len(view) < frame_len:
                break
            if int.from_bytes(view[0:2], "big") != self._expected_tid:
                self.late_replies += 1
                log.debug(
                    "%s: discarded a reply with transaction id %d (expected %d)",
                    self.key,
                    int.from_bytes(view[0:2], "big"),
                    self._expected_tid,
                )
            view = view[frame_len:]
        return data

    @property
    def connected(self) -> bool:
        return self._client is not None and bool(self._client.connected)

    async def _ensure_connected(self, device: str) -> None:
        if self.connected:
            return
        now = time.monotonic()
        if self._client is not None and self._was_connected:
            self._record_drop(now)
        self._was_connected = False
        if now < self._next_connect_at:
            if self.last_connect_error is not None:
                raise DeviceError(
                    device,
                    ErrorKind.IO,
                    self.last_connect_error.detail,
                    hint=f"next connection attempt in {self._next_connect_at - now:.1f} s",
                )
            await asyncio.sleep(self._next_connect_at - now)
        if self._client is None:
            self._client = self._make_client()
        self._next_connect_at = time.monotonic() + self._min_reconnect
        ok = await self._client.connect()
        if ok and bool(self._client.connected):
            self._was_connected = True
            self.connects += 1
            self._backoff.reset()
            self.last_connect_error = None
            log.info("%s: connected", self.key)
            return
        self.connect_failures += 1
        self._next_connect_at = time.monotonic() + max(self._min_reconnect, self._backoff.next_delay())
        where = self.spec.port if isinstance(self.spec, SerialLink) else f"{self.spec.host}:{self.spec.port}"
        self.last_connect_error = DeviceError(
            device,
            ErrorKind.IO,
            f"cannot connect to {where}",
            hint="check that the device is on, the address/port or serial device is right, and nothing "
            "else holds the connection",
        )
        raise self.last_connect_error

    def _record_drop(self, now: float) -> None:
        """The peer closed a connection we did not close (catalogue T51): an idle timeout, or a
        device that allows one connection and gave it to another master. Many drops in a minute
        become a note in the health snapshot, logged once per episode."""
        self._drops.append(now)
        while self._drops and now - self._drops[0] > DROP_WINDOW:
            self._drops.popleft()
        if len(self._drops) >= DROP_NOTE_THRESHOLD and not self._drop_noted:
            self._drop_noted = True
            log.warning("%s: %s", self.key, self._drop_note())

    def _drop_note(self) -> str:
        return (
            f"the device closed the connection {len(self._drops)} times in {DROP_WINDOW:.0f} s: another "
            "master may be taking a device that allows one connection, or the device closes idle "
            "connections sooner than the poll interval"
        )

    def notes(self) -> tuple[str, ...]:
        now = time.monotonic()
        while self._drops and now - self._drops[0] > DROP_WINDOW:
            self._drops.popleft()
        if len(self._drops) < DROP_NOTE_THRESHOLD:
            self._drop_noted = False
            return ()
        return (self._drop_note(),)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    # --------------------------------------------------------------- requests
    async def _exchange(
        self, device: str, address: str, *, timeout: float, retries: int, call: Any, validate: Any
    ) -> Any:
        """Run one request under the lock, with retries on timeout; return the validated reply."""
        async with self._lock:
            await self._ensure_connected(device)
            attempt = 0
            while True:
                await self._keep_gap()
                try:
                    reply = await within(timeout, call(self._client))
                except TimeoutError:
                    self._after_io(timed_out=True)
                    attempt += 1
                    if attempt > retries:
                        self._link_timed_out()
                        raise DeviceError(
                            device,
                            ErrorKind.TIMEOUT,
                            f"no reply within {timeout:g} s ({retries + 1} attempt(s))",
                            address=address,
                            hint="check that the device is powered and reachable and uses this unit id",
                        ) from None
                    continue
                except Exception as exc:  # pymodbus raises several unrelated types; translated here
                    self._after_io(timed_out=False)
                    if not self.connected:
                        if self._was_connected:
                            self._record_drop(time.monotonic())
                            self._was_connected = False
                        self.close()
                    raise from_modbus(exc, device, address) from exc
                self._after_io(timed_out=False)
                self.consecutive_timeouts = 0  # any answer, even an exception, shows the link is alive
                if reply is None:
                    raise DeviceError(device, ErrorKind.DECODE, "empty reply", address=address)
                if reply.isError():
                    raise from_modbus(reply, device, address)
                problem = validate(reply)
                if problem:
                    if self._serial:
                        self.late_replies += 1
                    raise DeviceError(
                        device,
                        ErrorKind.DECODE,
                        f"malformed reply: {problem}",
                        address=address,
                        hint="the reply does not match the request; check for another master on the bus",
                    )
                return reply

    def _link_timed_out(self) -> None:
        """Nothing on this TCP link answered ``close_after_timeouts`` times in a row: drop the
        connection so the next request reconnects (a device whose TCP stack hung often recovers on a
        new connection). A serial port is never closed for timeouts: one dead slave must not take
        the bus from the others (catalogue T52a); any answer on the link resets the count."""
        self.consecutive_timeouts += 1
        if self._serial or self.consecutive_timeouts < self.close_after_timeouts:
            return
        log.warning(
            "%s: %d requests in a row without an answer; reconnecting", self.key, self.consecutive_timeouts
        )
        self.consecutive_timeouts = 0
        self.close()

    async def _keep_gap(self) -> None:
        if not self._serial:
            return
        wait = max(self._last_io_end + self._gap, self._quiet_until) - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)

    def _after_io(self, *, timed_out: bool) -> None:
        self._last_io_end = time.monotonic()
        if timed_out and isinstance(self.spec, SerialLink):
            self._quiet_until = self._last_io_end + self.spec.quiet_after_timeout

    async def read(
        self, device: str, unit: int, area: Area, start: int, count: int, *, timeout: float, retries: int
    ) -> list[int] | list[bool]:
        """Read ``count`` registers or bits; returns exactly ``count`` values or raises DeviceError."""
        address = f"{area.label}s {start}..{start + count - 1}"
        expected_fc = area.value

        def call(client: Any) -> Any:
            if area is Area.HOLDING_REGISTER:
                return client.read_holding_registers(start, count=count, device_id=unit)
            if area is Area.INPUT_REGISTER:
                return client.read_input_registers(start, count=count, device_id=unit)
            if area is Area.COIL:
                return client.read_coils(start, count=count, device_id=unit)
            return client.read_discrete_inputs(start, count=count, device_id=unit)

        def validate(reply: Any) -> str | None:
            if reply.function_code != expected_fc:
                return f"function code {reply.function_code}, expected {expected_fc}"
            if area.is_bit:
                got = len(reply.bits)
                if got < count or got > count + 7:
                    return f"{got} bits for {count} requested"
            elif len(reply.registers) != count:
                return f"{len(reply.registers)} registers for {count} requested"
            return None

        reply = await self._exchange(
            device, address, timeout=timeout, retries=retries, call=call, validate=validate
        )
        if area.is_bit:
            bits: list[bool] = list(reply.bits[:count])
            return bits
        registers: list[int] = list(reply.registers)
        return registers

    async def write_registers(
        self, device: str, unit: int, start: int, words: list[int], timeout: float
    ) -> None:
        """Write holding registers: FC06 for one word, FC16 for several. No retry (no retry storm)."""
        address = f"holding register {start}" + (f"..{start + len(words) - 1}" if len(words) > 1 else "")

        def call(client: Any) -> Any:
            if len(words) == 1:
                return client.write_register(start, words[0], device_id=unit)
            return client.write_registers(start, words, device_id=unit)

        expected_fc = 6 if len(words) == 1 else 16
        await self._exchange(
            device,
            address,
            timeout=timeout,
            retries=0,
            call=call,
            validate=lambda r: None if r.function_code == expected_fc else f"function code {r.function_code}",
        )

    async def write_coils(
        self, device: str, unit: int, start: int, values: list[bool], timeout: float
    ) -> None:
        """Write consecutive coils with function 15 (no retry)."""
        await self._exchange(
            device,
            f"coils {start}..{start + len(values) - 1}",
            timeout=timeout,
            retries=0,
            call=lambda c: c.write_coils(start, values, device_id=unit),
            validate=lambda r: None if r.function_code == 15 else f"function code {r.function_code}",
        )

    async def mask_write_register(
        self, device: str, unit: int, address_: int, masks: tuple[int, int], timeout: float
    ) -> None:
        """Function 22: register = (register AND and_mask) OR (or_mask AND NOT and_mask), in the
        device, atomically (Modbus Application Protocol v1.1b3, 6.16); ``masks`` is (AND, OR).
        No retry."""
        and_mask, or_mask = masks
        await self._exchange(
            device,
            f"holding register {address_}",
            timeout=timeout,
            retries=0,
            call=lambda c: c.mask_write_register(
                address=address_, and_mask=and_mask, or_mask=or_mask, device_id=unit
            ),
            validate=lambda r: None if r.function_code == 22 else f"function code {r.function_code}",
        )

    async def write_coil(self, device: str, unit: int, address_: int, value: bool, timeout: float) -> None:
        await self._exchange(
            device,
            f"coil {address_}",
            timeout=timeout,
            retries=0,
            call=lambda c: c.write_coil(address_, value, device_id=unit),
            validate=lambda r: None if r.function_code == 5 else f"function code {r.function_code}",
        )
