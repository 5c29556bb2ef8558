"""Checks that need more than one value: unique ids, Modbus address arithmetic, files that must
exist, listeners that would clash. Each returns (key path, message) pairs; the loader adds lines.

The rules mirror what the drivers and the broker will enforce at start-up, so that ``check-config``
finds every problem before the daemon is started (and a reload never half-applies).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from pathlib import Path

from gateway.config.devices import (
    ModbusArea,
    ModbusDeviceConfig,
    ModbusTagConfig,
    ModbusType,
    OpcUaDeviceConfig,
    OpcUaTagConfig,
    SecurityMode,
    SecurityPolicy,
)
from gateway.config.model import BridgeDirection, BrokerConfig, GatewayConfig

Problem = tuple[str, str]
Sound = Callable[[object], bool]

_REGISTERS = {
    ModbusType.BOOL: 1,
    ModbusType.INT16: 1,
    ModbusType.UINT16: 1,
    ModbusType.INT32: 2,
    ModbusType.UINT32: 2,
    ModbusType.FLOAT32: 2,
    ModbusType.INT64: 4,
    ModbusType.UINT64: 4,
    ModbusType.FLOAT64: 4,
}
_REFERENCE_AREAS = {
    "0": ModbusArea.COIL,
    "1": ModbusArea.DISCRETE,
    "3": ModbusArea.INPUT,
    "4": ModbusArea.HOLDING,
}


def resolve_address(tag: ModbusTagConfig) -> tuple[ModbusArea, int]:
    """The (area, 0-based address) of a tag.

    A text address, or a number without ``area``, is a Modicon reference (``40001`` = holding
    register 0); a number with ``area`` is the 0-based protocol address.

    Raises:
        ValueError: the address is neither, with the reason.
    """
    if isinstance(tag.address, int) and tag.area is not None:
        return tag.area, tag.address
    text = str(tag.address).strip()
    if isinstance(tag.address, int) and tag.address < 10000:
        raise ValueError(
            f'{tag.address} is not a Modbus reference: quote references that start with 0 ("00001"; '
            "YAML reads 00001 as the number 1), or give `area:` with a 0-based address"
        )
    if not text.isdigit() or len(text) not in (5, 6):
        raise ValueError(
            f"{tag.address!r} is not a Modbus reference such as 40001 (or give a 0-based number with `area:`)"
        )
    area = _REFERENCE_AREAS.get(text[0])
    if area is None:
        raise ValueError(f"{tag.address!r}: a reference starts with 0, 1, 3 or 4 (the area)")
    number = int(text[1:])
    if number < 1:
        raise ValueError(f"{tag.address!r}: references are 1-based (the first is {text[0]}0001)")
    return area, number - 1


# Modbus function 15 writes at most 1968 coils in one request (and function 1 reads 2000).
MAX_COIL_ARRAY = 1968


def register_count(tag: ModbusTagConfig, area: ModbusArea) -> int:
    """Registers (or bits) the tag occupies."""
    if area in (ModbusArea.COIL, ModbusArea.DISCRETE):
        return max(1, tag.length)
    if tag.type is ModbusType.STRING:
        return max(1, math.ceil(tag.length / 2))
    return _REGISTERS[tag.type]


def check(config: GatewayConfig, sound: Sound) -> list[Problem]:
    """Every cross-field problem of ``config``.

    ``sound(section)`` tells whether a section was built without problems of its own; unsound
    sections (and ``None`` entries) are skipped, so a file with type errors still gets its other
    problems reported in the same run.
    """
    return [
        *_devices(config, sound),
        *_broker(config, sound),
        *_upstream(config, sound),
        *_bridge(config, sound),
        *_data_dir(config, sound),
    ]


def _devices(config: GatewayConfig, sound: Sound) -> Iterator[Problem]:
    seen: dict[str, int] = {}
    for i, device in enumerate(config.devices or ()):
        if not sound(device):
            continue
        where = f"devices[{i}]"
        if device.id in seen:
            yield f"{where}.id", f"duplicate device id {device.id!r} (also devices[{seen[device.id]}])"
        seen.setdefault(device.id, i)
        names: set[str] = set()
        tags: tuple[ModbusTagConfig | OpcUaTagConfig, ...] = device.tags
        for j, tag in enumerate(tags):
            if not sound(tag):
                continue
            if tag.name in names:
                yield f"{where}.tags[{j}].name", f"duplicate tag name {tag.name!r} in device {device.id!r}"
            names.add(tag.name)
            if tag.min is not None and tag.max is not None and tag.min > tag.max:
                yield f"{where}.tags[{j}].min", f"min {tag.min:g} is above max {tag.max:g}"
        if isinstance(device, ModbusDeviceConfig):
            yield from _modbus(where, device, sound)
        else:
            yield from _opcua(where, device, sound)


def _modbus(where: str, device: ModbusDeviceConfig, sound: Sound) -> Iterator[Problem]:
    if device.protocol in ("modbus_tcp", "modbus_rtu_over_tcp") and not device.host:
        yield f"{where}.host", f"missing: {device.protocol} needs the device's host name or address"
    if device.protocol == "modbus_rtu" and not device.serial_port:
        yield f"{where}.serial_port", "missing: modbus_rtu needs the serial device (/dev/ttyUSB0)"
    groups = {"default", *device.poll_groups}
    for j, tag in enumerate(device.tags):
        if not sound(tag):
            continue
        at = f"{where}.tags[{j}]"
        try:
            area, address = resolve_address(tag)
        except ValueError as exc:
            yield f"{at}.address", str(exc)
            continue
        bit_area = area in (ModbusArea.COIL, ModbusArea.DISCRETE)
        count = register_count(tag, area)
        if address < 0 or address + count > 65536:
            yield f"{at}.address", f"{address} (+{count} registers) is outside 0..65535"
        if bit_area and tag.type is not ModbusType.BOOL:
            yield f"{at}.type", f"{tag.type.value} in the {area.value} area, expected bool"
        if tag.bit is not None and (bit_area or tag.type is not ModbusType.BOOL):
            yield f"{at}.bit", "only for bool tags in register areas"
        if tag.bit is None and tag.type is ModbusType.BOOL and not bit_area:
            yield f"{at}.bit", "missing: a bool in a register needs the bit number 0..15"
        if tag.type is ModbusType.STRING and tag.length < 1:
            yield f"{at}.length", "missing: a string needs its length in characters (>= 1)"
        if bit_area and count > MAX_COIL_ARRAY:
            yield f"{at}.length", f"{count} bits, more than the {MAX_COIL_ARRAY} one write (FC15) may set"
        if tag.length > 1 and not bit_area and tag.type is not ModbusType.STRING:
            yield f"{at}.length", f"only for strings and coil/discrete-input arrays, not {tag.type.value}"
        if not bit_area and count > device.max_read_registers:
            yield (
                f"{at}.length",
                (f"needs {count} registers, more than the {device.max_read_registers} one read may fetch"),
            )
        if tag.writable and area in (ModbusArea.INPUT, ModbusArea.DISCRETE):
            yield f"{at}.writable", f"the {area.value} area is read-only in Modbus"
        if tag.scale == 0:
            yield f"{at}.scale", "0 would make writes impossible, expected a non-zero factor"
        if (tag.scale != 1.0 or tag.offset != 0.0) and tag.type in (ModbusType.BOOL, ModbusType.STRING):
            yield f"{at}.scale", f"scale/offset do not apply to {tag.type.value}"
        if tag.poll_group not in groups:
            yield f"{at}.poll_group", f"{tag.poll_group!r} is not one of {sorted(groups)}"


def _opcua(where: str, device: OpcUaDeviceConfig, sound: Sound) -> Iterator[Problem]:
    if not device.endpoint.startswith("opc.tcp://"):
        yield f"{where}.endpoint", f"{device.endpoint!r}, expected opc.tcp://host:port[/path]"
    secure = device.security_policy is not SecurityPolicy.NONE
    if secure != (device.security_mode is not SecurityMode.NONE):
        yield (
            f"{where}.security_mode",
            (
                f"{device.security_mode.value} with policy {device.security_policy.value}: policy None goes "
                "with mode None, any other policy with Sign or SignAndEncrypt"
            ),
        )
    if device.username is not None and device.password is None:
        yield f"{where}.password", "missing: a username needs password_env or password_file"
    if (device.certificate is None) != (device.private_key is None):
        yield f"{where}.private_key", "certificate and private_key go together"
    if device.certificate is not None and not secure:
        yield f"{where}.certificate", "an X.509 user identity needs a security policy other than None"
    for label, path in (("certificate", device.certificate), ("private_key", device.private_key)):
        yield from _readable_file(f"{where}.{label}", path)
    for j, tag in enumerate(device.tags):
        if sound(tag) and (tag.node_id is None) == (tag.browse_path is None):
            yield f"{where}.tags[{j}]", "give exactly one of node_id and browse_path"


def _broker(config: GatewayConfig, sound: Sound) -> Iterator[Problem]:
    broker = config.broker
    if not sound(broker) or not broker.enabled:
        return
    bound: dict[tuple[str, int], int] = {}
    for i, listener in enumerate(broker.listeners):
        if not sound(listener):
            continue
        key = (listener.host, listener.port)
        if listener.port != 0 and key in bound:
            yield (
                f"broker.listeners[{i}].port",
                (f"{listener.host}:{listener.port} is already used by broker.listeners[{bound[key]}]"),
            )
        bound.setdefault(key, i)
        if listener.tls is not None and sound(listener.tls):
            at = f"broker.listeners[{i}].tls"
            yield from _readable_file(f"{at}.certfile", listener.tls.certfile)
            yield from _readable_file(f"{at}.keyfile", listener.tls.keyfile)
            yield from _readable_file(f"{at}.cafile", listener.tls.cafile)
            if listener.tls.require_certificate and listener.tls.cafile is None:
                yield (
                    f"{at}.cafile",
                    "missing: require_certificate needs the CA that signs client certificates",
                )
            if listener.tls.use_identity_as_username and not listener.tls.require_certificate:
                yield (
                    f"{at}.use_identity_as_username",
                    "true, but require_certificate is false: the user name comes from the client "
                    "certificate, so clients must present one (set require_certificate: true and cafile)",
                )
    yield from _readable_file("broker.password_file", broker.password_file)
    yield from _readable_file("broker.acl_file", broker.acl_file)
    yield from _broker_limits(broker, sound)
    certificate_users = any(
        listener.tls is not None and listener.tls.use_identity_as_username for listener in broker.listeners
    )
    if not broker.allow_anonymous and broker.password_file is None and not certificate_users:
        yield (
            "broker.password_file",
            (
                "missing: with allow_anonymous false no client could log in; create one with "
                "`edge-gateway passwd FILE USER` or allow anonymous clients on a loopback-only listener"
            ),
        )


def _broker_limits(broker: BrokerConfig, sound: Sound) -> Iterator[Problem]:
    """Limits that are each in range but cannot work together."""
    limits = broker.limits
    if not sound(limits):
        return
    if limits.output_buffer_bytes * 2 < limits.max_packet_size:
        yield (
            "broker.limits.output_buffer_bytes",
            f"{limits.output_buffer_bytes}: a client is disconnected at twice this, so a packet of "
            f"max_packet_size ({limits.max_packet_size}) could never be delivered; expected at least "
            f"{(limits.max_packet_size + 1) // 2}",
        )
    if limits.max_queued_bytes < limits.max_packet_size:
        yield (
            "broker.limits.max_queued_bytes",
            f"{limits.max_queued_bytes}: smaller than max_packet_size ({limits.max_packet_size}), so a "
            "large message could never be queued for an offline session; expected at least that",
        )


def _upstream(config: GatewayConfig, sound: Sound) -> Iterator[Problem]:
    names: dict[str, int] = {}
    if not sound(config.upstream):
        return
    for i, server in enumerate(config.upstream.servers):
        if not sound(server):
            continue
        at = f"upstream.servers[{i}]"
        if server.label in names:
            yield (
                f"{at}.name",
                f"duplicate server name {server.label!r} (also upstream.servers[{names[server.label]}])",
            )
        names.setdefault(server.label, i)
        if server.tls is not None and sound(server.tls):
            yield from _readable_file(f"{at}.tls.cafile", server.tls.cafile)
            yield from _readable_file(f"{at}.tls.certfile", server.tls.certfile)
            yield from _readable_file(f"{at}.tls.keyfile", server.tls.keyfile)
            if (server.tls.certfile is None) != (server.tls.keyfile is None):
                yield f"{at}.tls.keyfile", "certfile and keyfile go together"
        if server.password is not None and server.username is None:
            yield f"{at}.username", "missing: a password is given without a username"


def _bridge(config: GatewayConfig, sound: Sound) -> Iterator[Problem]:
    servers = config.upstream.servers if sound(config.upstream) else (None,)
    for i, rule in enumerate(config.bridge or ()):
        if not sound(rule):
            continue
        at = f"bridge[{i}]"
        levels = rule.topic.split("/")
        for n, level in enumerate(levels):
            if ("#" in level and (level != "#" or n != len(levels) - 1)) or ("+" in level and level != "+"):
                yield (
                    f"{at}.topic",
                    f"{rule.topic!r} is not a valid filter: # only as the last level, + alone",
                )
                break
        for label, prefix in (("local_prefix", rule.local_prefix), ("remote_prefix", rule.remote_prefix)):
            if "+" in prefix or "#" in prefix:
                yield f"{at}.{label}", f"{prefix!r}: a prefix cannot contain wildcards"
        if rule.direction in (BridgeDirection.OUT, BridgeDirection.BOTH) and not servers:
            yield f"{at}.direction", "copies to upstream, but upstream.servers is empty"


def _data_dir(config: GatewayConfig, sound: Sound) -> Iterator[Problem]:
    if sound(config) and config.data_dir.exists() and not config.data_dir.is_dir():
        yield "data_dir", f"{config.data_dir} exists and is not a directory"


def _readable_file(key: str, path: Path | None) -> Iterator[Problem]:
    if path is None:
        return
    if not path.exists():
        yield key, f"{path} does not exist"
    elif path.is_dir():
        yield key, f"{path} is a directory, expected a file"
    else:
        try:
            with path.open("rb"):
                pass
        except OSError as exc:
            yield key, f"cannot read {path}: {exc.strerror or exc}"
