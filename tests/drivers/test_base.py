"""The bounded sample queue, the backoff core and error translation."""

from __future__ import annotations

import asyncio

import pytest

from drivers import DeviceError, ErrorKind, Quality, Sample, SampleQueue
from drivers._backoff import Backoff
from drivers.errors import from_modbus, from_opcua


def batch(n: int, tag: str = "t") -> list[Sample]:
    return [Sample(tag, i, Quality.GOOD, 0) for i in range(n)]


async def test_queue_drops_oldest_and_counts() -> None:
    q = SampleQueue(max_batches=2)
    q.put(batch(1, "a"))
    q.put(batch(2, "b"))
    q.put(batch(3, "c"))
    assert (q.dropped_batches, q.dropped_samples, q.samples_in) == (1, 1, 6)
    first = await q.get()
    assert first is not None and first[0].tag == "b"
    q.close()
    assert (await q.get()) is not None
    assert await q.get() is None


async def test_queue_get_waits_for_put() -> None:
    q = SampleQueue(4)
    getter = asyncio.create_task(q.get())
    await asyncio.sleep(0)
    q.put(batch(1))
    got = await asyncio.wait_for(getter, 1)
    assert got is not None and len(got) == 1


def test_queue_rejects_zero_bound() -> None:
    with pytest.raises(ValueError):
        SampleQueue(0)


def test_backoff_doubles_to_maximum_and_resets() -> None:
    b = Backoff(initial=1.0, maximum=8.0, jitter=0.0)
    assert [b.next_delay() for _ in range(5)] == [1.0, 2.0, 4.0, 8.0, 8.0]
    b.reset()
    assert b.next_delay() == 1.0


def test_from_modbus_exception_pdu() -> None:
    from pymodbus.pdu import ExceptionResponse

    err = from_modbus(ExceptionResponse(3, 2), "plc", "holding registers 0..9")
    assert err.kind is ErrorKind.EXCEPTION and err.code == 2
    assert "illegal data address" in str(err) and "plc at holding registers 0..9" in str(err)
    assert err.hint and "0-based" in err.hint


def test_from_modbus_exceptions() -> None:
    from pymodbus.exceptions import ConnectionException, ModbusIOException

    assert from_modbus(ConnectionException("x"), "plc", None).kind is ErrorKind.IO
    assert (
        from_modbus(ModbusIOException("No response received after 0 retries"), "plc", None).kind
        is ErrorKind.TIMEOUT
    )
    assert from_modbus(TimeoutError(), "plc", None).kind is ErrorKind.TIMEOUT
    assert from_modbus(ConnectionRefusedError(111, "refused"), "plc", None).kind is ErrorKind.IO
    assert from_modbus(ValueError("short"), "plc", None).kind is ErrorKind.DECODE


def test_from_opcua_status_codes() -> None:
    from asyncua.ua import uaerrors

    err = from_opcua(uaerrors.BadNodeIdUnknown(), "srv", "ns=2;s=X")  # type: ignore[no-untyped-call]  # asyncua generated class
    assert err.kind is ErrorKind.EXCEPTION and err.code == 0x80340000
    assert "BadNodeIdUnknown" in str(err) and err.hint and "NodeId" in err.hint
    sec = from_opcua(uaerrors.BadCertificateUntrusted(), "srv", None)  # type: ignore[no-untyped-call]
    assert sec.kind is ErrorKind.SECURITY
    assert from_opcua(ConnectionResetError(), "srv", None).kind is ErrorKind.IO
    assert from_opcua(TimeoutError(), "srv", None).kind is ErrorKind.TIMEOUT


def test_device_error_at_copies() -> None:
    e = DeviceError("d", ErrorKind.TIMEOUT, "x", address="a", hint="h")
    f = e.at("b")
    assert (f.address, f.hint, f.kind) == ("b", "h", ErrorKind.TIMEOUT)
