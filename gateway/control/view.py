"""What the control plane needs from the daemon: snapshots to publish and actions to run.

The daemon implements :class:`GatewayView`; the publisher and the command handler use nothing else,
so they can be tested against any object with these methods (and the daemon's parts stay unknown to
them). Every value crossing this boundary is a contract type.

    ControlError
     +-- CommandFailureError     a command could not be done; carries the contract CommandError to send back
"""

from __future__ import annotations

from typing import Protocol

from gateway.control import contract as c


class ControlError(Exception):
    """Base of the control plane's errors."""


class CommandFailureError(ControlError):
    """A command failed in a way the client should hear about (becomes ``{ok: false, error}``)."""

    def __init__(
        self, code: c.ErrorCode, message: str, hint: str | None = None, details: tuple[str, ...] = ()
    ) -> None:
        super().__init__(message)
        self.error = c.CommandError(code, message, hint, details)


class GatewayView(Protocol):
    """Snapshots (cheap, no I/O) and actions (may await I/O) of a running daemon."""

    def gateway_status(self) -> c.GatewayStatus: ...

    def uplink_status(self) -> c.UplinkStatus: ...

    def store_status(self) -> c.StoreStatus: ...

    def broker_status(self) -> c.BrokerStatus: ...

    def device_ids(self) -> tuple[str, ...]: ...

    def device_status(self, device_id: str) -> c.DeviceStatus | None: ...

    def device_tags(self, device_id: str) -> tuple[c.TagValue, ...] | None: ...

    def device_tag(self, device_id: str, name: str) -> c.TagValue | None:
        """One tag's current value; ``None`` for an unknown device or tag."""
        ...

    def device_tags_version(self, device_id: str) -> int | None:
        """A number that changes whenever any of the device's tags changes (value, quality, time or
        type), without building them; ``None`` for an unknown device."""
        ...

    async def failover_now(self, request: c.FailoverNow) -> c.FailoverResult: ...

    async def rebirth(self, request: c.Rebirth) -> c.RebirthResult: ...

    async def set_device_enabled(self, request: c.SetDeviceEnabled) -> c.DeviceEnabledResult: ...

    async def write_tag(self, request: c.WriteTag, who: str) -> c.WriteResult: ...

    async def modbus_read(self, request: c.ModbusRead) -> c.ModbusReadResult: ...

    async def browse_opcua(self, request: c.BrowseOpcUa) -> c.BrowseResult: ...

    async def get_config(self, request: c.GetConfig) -> c.ConfigDocument: ...

    async def validate_config(self, request: c.ValidateConfig) -> c.ConfigValidation: ...

    async def apply_config(self, request: c.ApplyConfig) -> c.ReloadResult: ...

    async def reload_config(self, request: c.ReloadConfig) -> c.ReloadResult: ...

    async def fetch_logs(self, request: c.FetchLogs) -> c.LogBatch: ...
