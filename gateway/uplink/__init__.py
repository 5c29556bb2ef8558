"""The uplink: connections to upstream MQTT servers, failover, store-and-forward, bridging.

Filled in as the modules land; see each module's docstring for its contract.
"""

from gateway.uplink._config import FailoverSettings, MqttVersion, ServerSettings, TlsSettings
from gateway.uplink._exceptions import (
    BridgeRuleError,
    ConnectRefusedError,
    ConnectTimeoutError,
    CredentialsRejectedError,
    LinkClosedError,
    LinkError,
    UplinkError,
)
from gateway.uplink._link import ConnectionInfo, InboundMessage, PahoLink, WillMessage

__all__ = [
    "BridgeRuleError",
    "ConnectRefusedError",
    "ConnectTimeoutError",
    "ConnectionInfo",
    "CredentialsRejectedError",
    "FailoverSettings",
    "InboundMessage",
    "LinkClosedError",
    "LinkError",
    "MqttVersion",
    "PahoLink",
    "ServerSettings",
    "TlsSettings",
    "UplinkError",
    "WillMessage",
]
