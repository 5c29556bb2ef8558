"""One-off reads for the technician's tools (the control plane's ``modbus_read``): never touch the tag
model, always close their connection, and translate every failure into a command error."""

from __future__ import annotations

import math
import time
from typing import Any

from drivers.modbus import Area, ByteOrder, DataType, ModbusTag, decode_tag
from gateway.control import contract as c
from gateway.control.view import CommandFailureError

PROBE_TIMEOUT_S = 3.0

_AREAS = {
    c.ModbusTable.HOLDING: Area.HOLDING_REGISTER,
    c.ModbusTable.INPUT: Area.INPUT_REGISTER,
    c.ModbusTable.COIL: Area.COIL,
    c.ModbusTable.DISCRETE: Area.DISCRETE_INPUT,
}
_WORDS = {
    c.ModbusType.BOOL: 1,
    c.ModbusType.INT16: 1,
    c.ModbusType.UINT16: 1,
    c.ModbusType.INT32: 2,
    c.ModbusType.UINT32: 2,
    c.ModbusType.FLOAT32: 2,
    c.ModbusType.INT64: 4,
    c.ModbusType.UINT64: 4,
    c.ModbusType.FLOAT64: 4,
}


def _scalar(value: object) -> c.TagScalar:
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    return str(value)


async def modbus_read(host: str, port: int, request: c.ModbusRead) -> c.ModbusReadResult:
    """Read ``request``'s address from ``host:port`` and decode it in every byte order."""
    from pymodbus.client import AsyncModbusTcpClient
    from pymodbus.exceptions import ModbusException

    area = _AREAS[request.table]
    bits = area in (Area.COIL, Area.DISCRETE_INPUT)
    data_type = c.ModbusType.BOOL if bits else request.data_type
    count = 1 if bits else (max(1, request.count) if data_type is c.ModbusType.STRING else _WORDS[data_type])
    if not 0 <= request.address <= 65535 or request.address + count > 65536:
        raise CommandFailureError(
            c.ErrorCode.BAD_REQUEST, f"address {request.address} (+{count}) is outside 0..65535"
        )
    client = AsyncModbusTcpClient(host, port=port, timeout=PROBE_TIMEOUT_S, retries=0)
    started = time.monotonic()
    try:
        if not await client.connect():
            raise CommandFailureError(
                c.ErrorCode.DEVICE_ERROR,
                f"cannot connect to {host}:{port}",
                "check the address and that the device accepts Modbus TCP",
            )
        readers = {
            Area.HOLDING_REGISTER: client.read_holding_registers,
            Area.INPUT_REGISTER: client.read_input_registers,
            Area.COIL: client.read_coils,
            Area.DISCRETE_INPUT: client.read_discrete_inputs,
        }
        response = await readers[area](request.address, count=count, device_id=request.unit)
    except ModbusException as exc:
        raise CommandFailureError(
            c.ErrorCode.DEVICE_ERROR, f"{host}:{port} unit {request.unit}: {exc}"
        ) from None
    finally:
        client.close()
    elapsed = (time.monotonic() - started) * 1000
    if response.isError():
        code = getattr(response, "exception_code", "?")
        raise CommandFailureError(
            c.ErrorCode.DEVICE_ERROR,
            f"{host}:{port} unit {request.unit} answered with Modbus exception {code}",
            "2 = illegal address, 1 = illegal function for that table",
        )
    words = [int(b) for b in response.bits[:count]] if bits else [int(w) for w in response.registers[:count]]
    tag = ModbusTag(
        "probe",
        area,
        request.address,
        DataType(data_type.value),
        bit=0 if data_type is c.ModbusType.BOOL and not bits else None,
        length=count * 2 if data_type is c.ModbusType.STRING else 0,
    )
    if bits:
        value: c.TagScalar = bool(words[0])
        decoded = tuple(c.DecodedValue(order, value) for order in c.ByteOrder)
    else:
        decoded = tuple(
            c.DecodedValue(order, _scalar(decode_tag(tag, ByteOrder(order.value), words)))
            for order in c.ByteOrder
        )
        value = next(d.value for d in decoded if d.byte_order is request.byte_order)
    return c.ModbusReadResult(tuple(words), value, decoded, round(elapsed, 2))


BROWSE_TIMEOUT_S = 8.0


def browse_result(node_id: str, entries: list[Any]) -> c.BrowseResult:
    """Contract form of ``drivers.opcua.BrowseEntry`` items (values and access are not read here)."""
    children = tuple(
        c.BrowseNode(
            node_id=entry.node_id,
            browse_name=entry.browse_name,
            display_name=entry.display_name,
            node_class=entry.node_class,
            data_type=entry.data_type,
            has_children=entry.node_class in ("Object", "ObjectType", "View"),
        )
        for entry in entries[: c.BROWSE_CHILDREN_LIMIT]
    )
    return c.BrowseResult(node_id, children)


async def browse_endpoint(endpoint: str, node_id: str) -> c.BrowseResult:
    """Browse one level of a server that is not configured yet (anonymous, security None)."""
    import asyncio

    from asyncua.client.client import Client
    from asyncua.ua.uaerrors import UaError

    # The drivers' own browse helper, so configured and ad-hoc browsing list nodes the same way.
    from drivers.opcua._browse import browse_children

    client = Client(endpoint, timeout=BROWSE_TIMEOUT_S / 2)
    try:
        await asyncio.wait_for(client.connect(), BROWSE_TIMEOUT_S)
    except (OSError, TimeoutError) as exc:
        raise CommandFailureError(
            c.ErrorCode.DEVICE_ERROR,
            f"cannot connect to {endpoint}: {exc or 'timeout'}",
            "check the endpoint; secured servers must be configured as a device",
        ) from None
    try:
        entries = await asyncio.wait_for(
            browse_children(client, None if node_id == "i=85" else node_id), BROWSE_TIMEOUT_S
        )
    except (UaError, OSError, TimeoutError, ValueError) as exc:
        # asyncua raises status-code subclasses of UaError (a RuntimeError); a dropped connection is an
        # OSError; a node id it cannot parse is a ValueError: each is the device's answer, not our bug
        raise CommandFailureError(
            c.ErrorCode.DEVICE_ERROR, f"{endpoint}: browsing {node_id} failed: {exc}"
        ) from None
    finally:
        await client.disconnect()
    return browse_result(node_id, entries)
