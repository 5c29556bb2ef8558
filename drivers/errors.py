"""Errors of the drivers package, and the one place where third-party errors become ours.

    DriverError                      base of everything raised or reported by drivers/
     +-- DriverConfigError           a tag or device spec is invalid; ``problems`` lists every one
     +-- DeviceError                 talking to a device failed; carries device, address, kind, hint
          +-- CertificateTrustError  an OPC UA server certificate is not in the trust list

:func:`from_modbus` turns pymodbus exceptions *and* exception PDUs (``isError()``) into a
:class:`DeviceError`; :func:`from_opcua` does the same for asyncua's status-code exceptions and
socket errors. Nothing else in drivers/ inspects a pymodbus or asyncua error, so callers only ever
see these classes. Both functions import the third-party package lazily: this module stays cheap
to import.
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Sequence
from typing import Any


class ErrorKind(enum.Enum):
    """What kind of failure a :class:`DeviceError` is."""

    TIMEOUT = "timeout"  # no answer within the configured time
    EXCEPTION = "exception"  # the device answered with an error (Modbus exception code, OPC UA Bad status)
    IO = "io"  # connection refused/closed/reset, serial port gone
    DECODE = "decode"  # malformed, short or mismatched reply; a value that cannot be decoded
    SECURITY = "security"  # certificate, policy or identity rejected
    STALE = "stale"  # no confirmation of the value within its staleness limit


class ModbusExceptionCode(enum.IntEnum):
    """Modbus exception codes (Modbus Application Protocol V1.1b3, section 7)."""

    ILLEGAL_FUNCTION = 0x01
    ILLEGAL_DATA_ADDRESS = 0x02
    ILLEGAL_DATA_VALUE = 0x03
    SERVER_DEVICE_FAILURE = 0x04
    ACKNOWLEDGE = 0x05
    SERVER_DEVICE_BUSY = 0x06
    MEMORY_PARITY_ERROR = 0x08
    GATEWAY_PATH_UNAVAILABLE = 0x0A
    GATEWAY_TARGET_FAILED_TO_RESPOND = 0x0B


_MODBUS_HINTS: dict[int, str] = {
    0x01: "the device does not support this function code; check the tag's area (coil/register type)",
    0x02: "the address is not valid on this device; check the tag address and 0-based vs 40001 notation",
    0x03: "the device rejected the value or the count; check the tag's data type, length and range",
    0x04: "the device reported an internal failure; check the device itself",
    0x05: "the device accepted a long-running command; the value will follow",
    0x06: "the device is busy; the request is retried on the next cycle",
    0x08: "the device reported a memory parity error",
    0x0A: "the gateway in front of the device has no path to it; check the unit id",
    0x0B: "the gateway in front of the device got no answer from it; check the unit id and the bus",
}


class DriverError(Exception):
    """Base of every error of the drivers package."""


class DriverConfigError(DriverError):
    """A device or tag specification is invalid.

    Attributes:
        problems: every problem found, each naming the key path (``devices[0].tags[3].address``),
            what was found and what is expected. Validation reports them all at once.
    """

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = tuple(problems)
        super().__init__("; ".join(self.problems))


class DeviceError(DriverError):
    """Talking to a device failed.

    Attributes:
        device: the device's name (from the config) or endpoint.
        address: what was being read or written (``holding 40001+10``, ``ns=2;s=Temp``), or ``None``.
        kind: see :class:`ErrorKind`.
        detail: what happened, in words.
        code: the Modbus exception code or the OPC UA status code, when the device gave one.
        hint: what to try.
    """

    def __init__(
        self,
        device: str,
        kind: ErrorKind,
        detail: str,
        *,
        address: str | None = None,
        code: int | None = None,
        hint: str | None = None,
    ) -> None:
        self.device = device
        self.kind = kind
        self.detail = detail
        self.address = address
        self.code = code
        self.hint = hint
        super().__init__(self.__str__())

    def __str__(self) -> str:
        where = f"{self.device}" + (f" at {self.address}" if self.address else "")
        text = f"{where}: {self.kind.value}: {self.detail}"
        if self.hint:
            text += f" (hint: {self.hint})"
        return text

    def __repr__(self) -> str:
        return (
            f"DeviceError({self.device!r}, {self.kind}, {self.detail!r}, "
            f"address={self.address!r}, code={self.code})"
        )

    def at(self, address: str) -> DeviceError:
        """A copy of this error naming another address (a block error reported per tag)."""
        return DeviceError(
            self.device, self.kind, self.detail, address=address, code=self.code, hint=self.hint
        )


class CertificateTrustError(DeviceError):
    """An OPC UA server presented a certificate that is not in the trust list.

    Attributes:
        thumbprint: SHA-1 thumbprint of the untrusted certificate (hex), as OPC UA tools show it.
        subject: the certificate's subject.
        saved_to: where the untrusted certificate was written so an operator can inspect it, or ``None``.
    """

    def __init__(
        self, device: str, thumbprint: str, subject: str, trust_dir: str, saved_to: str | None
    ) -> None:
        self.thumbprint = thumbprint
        self.subject = subject
        self.saved_to = saved_to
        hint = (
            f"if this is the right server, copy {saved_to or 'its certificate (DER or PEM)'} into the "
            f"trust directory {trust_dir} and the driver will connect on its next attempt"
        )
        super().__init__(
            device,
            ErrorKind.SECURITY,
            f"server certificate is not trusted (subject {subject!r}, SHA-1 thumbprint {thumbprint})",
            hint=hint,
        )


def modbus_exception_hint(code: int) -> str:
    return _MODBUS_HINTS.get(code, "unknown exception code; see the device manual")


def modbus_exception_name(code: int) -> str:
    try:
        return ModbusExceptionCode(code).name.lower().replace("_", " ")
    except ValueError:
        return f"exception code {code}"


def from_modbus(failure: Any, device: str, address: str | None) -> DeviceError:
    """Translate a pymodbus exception or an exception-response PDU into a :class:`DeviceError`.

    Args:
        failure: a ``BaseException`` raised by a pymodbus client call, or a PDU whose ``isError()``
            is true (pymodbus returns device exception responses instead of raising).
        device: the device name for the message.
        address: what was being read or written.
    """
    from pymodbus.exceptions import ConnectionException, ModbusIOException

    if isinstance(failure, DeviceError):
        return failure
    if not isinstance(failure, BaseException):
        code = getattr(failure, "exception_code", None)
        if isinstance(code, int) and hasattr(failure, "isError") and failure.isError():
            return DeviceError(
                device,
                ErrorKind.EXCEPTION,
                f"device answered with exception {code:02X} ({modbus_exception_name(code)})",
                address=address,
                code=code,
                hint=modbus_exception_hint(code),
            )
        return DeviceError(
            device, ErrorKind.DECODE, f"unexpected reply {type(failure).__name__}", address=address
        )
    if isinstance(failure, asyncio.TimeoutError | TimeoutError):
        return DeviceError(
            device,
            ErrorKind.TIMEOUT,
            "no reply within the timeout",
            address=address,
            hint="check that the device is powered, reachable and uses this unit id",
        )
    if isinstance(failure, ConnectionException):
        return DeviceError(
            device,
            ErrorKind.IO,
            "not connected",
            address=address,
            hint="check the host, port or serial device and that the device accepts connections",
        )
    if isinstance(failure, ModbusIOException):
        text = str(failure)
        if "No response" in text:
            return DeviceError(
                device,
                ErrorKind.TIMEOUT,
                "no reply within the timeout",
                address=address,
                hint="check that the device is powered, reachable and uses this unit id",
            )
        if "device id" in text or "transaction id" in text or "decode" in text.lower():
            return DeviceError(device, ErrorKind.DECODE, "reply does not match the request", address=address)
        return DeviceError(device, ErrorKind.IO, "input/output error", address=address)
    if isinstance(failure, OSError):
        return DeviceError(
            device,
            ErrorKind.IO,
            f"{type(failure).__name__}: {failure.strerror or failure}",
            address=address,
            hint="check the host, port or serial device",
        )
    # Anything else pymodbus raises (ParameterException, struct errors on a short frame...) is a
    # reply we could not make sense of.
    return DeviceError(device, ErrorKind.DECODE, f"{type(failure).__name__}: {failure}", address=address)


# OPC UA status codes that mean "security refused" (Part 4, 7.39).
_OPCUA_SECURITY_CODES = {
    0x80130000,  # BadSecurityChecksFailed
    0x80120000,  # BadCertificateInvalid
    0x801A0000,  # BadCertificateUntrusted
    0x80140000,  # BadCertificateTimeInvalid
    0x80210000,  # BadIdentityTokenInvalid
    0x80200000,  # BadIdentityTokenRejected
    0x80550000,  # BadSecurityPolicyRejected
    0x801F0000,  # BadUserAccessDenied
    0x80E60000,  # BadSecurityModeRejected
}


def from_opcua(failure: BaseException, device: str, address: str | None) -> DeviceError:
    """Translate an asyncua exception (status-code errors, timeouts, socket errors) into a DeviceError."""
    from asyncua.ua.uaerrors import UaError, UaStatusCodeError

    if isinstance(failure, DeviceError):
        return failure
    if isinstance(failure, asyncio.TimeoutError | TimeoutError):
        return DeviceError(
            device,
            ErrorKind.TIMEOUT,
            "no reply within the timeout",
            address=address,
            hint="check that the OPC UA server is running and reachable",
        )
    if isinstance(failure, UaStatusCodeError):
        code = int(failure.code)
        kind = ErrorKind.SECURITY if code in _OPCUA_SECURITY_CODES else ErrorKind.EXCEPTION
        hint = None
        if kind is ErrorKind.SECURITY:
            hint = (
                "check the security policy and mode, the identity, and that the server trusts the "
                "client certificate (servers usually keep rejected certificates in a 'rejected' folder)"
            )
        elif code in (0x80340000, 0x80330000):  # BadNodeIdUnknown, BadNodeIdInvalid
            hint = "check the tag's NodeId or browse path against the server's address space"
        return DeviceError(device, kind, str(failure), address=address, code=code, hint=hint)
    if isinstance(failure, ConnectionError | OSError):
        return DeviceError(
            device,
            ErrorKind.IO,
            f"{type(failure).__name__}: {failure}",
            address=address,
            hint="check the endpoint URL and that the server is running",
        )
    if isinstance(failure, UaError):
        return DeviceError(device, ErrorKind.DECODE, f"{type(failure).__name__}: {failure}", address=address)
    return DeviceError(device, ErrorKind.IO, f"{type(failure).__name__}: {failure}", address=address)
