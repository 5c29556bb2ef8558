"""Configuration sections -> the settings types of each part. Pure functions, no I/O.

The configuration model (``gateway.config``) is the stable, documented file format; the parts keep their
own settings types. These functions are the only place that knows both.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from drivers.modbus import (
    Area,
    ByteOrder,
    DataType,
    ModbusDevice,
    ModbusTag,
    RtuOverTcpLink,
    SerialLink,
    TcpLink,
)
from gateway.broker import BrokerLimits, BrokerSettings, ListenerSettings, QueueOverflow, TlsSettings
from gateway.config._checks import resolve_address
from gateway.config.devices import (
    ModbusArea,
    ModbusDeviceConfig,
    ModbusTagConfig,
    ModbusType,
    OpcUaDeviceConfig,
)
from gateway.config.model import (
    BridgeRule,
    BrokerConfig,
    GatewayConfig,
    IdentityConfig,
    MqttVersion,
    StateFormat,
    UpstreamConfig,
    UpstreamServerConfig,
)
from gateway.uplink import FailoverSettings, ServerSettings
from gateway.uplink import MqttVersion as UplinkMqttVersion
from gateway.uplink import TlsSettings as UplinkTls
from sparkplug import DataType as SpDataType
from sparkplug import EdgeNodeConfig, MetricSpec
from sparkplug import StateFormat as SpStateFormat

if TYPE_CHECKING:
    from drivers.opcua import OpcUaServer
    from gateway.uplink import BridgeRule as UplinkBridgeRule

_AREAS = {
    ModbusArea.HOLDING: Area.HOLDING_REGISTER,
    ModbusArea.INPUT: Area.INPUT_REGISTER,
    ModbusArea.COIL: Area.COIL,
    ModbusArea.DISCRETE: Area.DISCRETE_INPUT,
}

_SPARKPLUG_TYPES = {
    ModbusType.BOOL: SpDataType.Boolean,
    ModbusType.INT16: SpDataType.Int16,
    ModbusType.UINT16: SpDataType.UInt16,
    ModbusType.INT32: SpDataType.Int32,
    ModbusType.UINT32: SpDataType.UInt32,
    ModbusType.INT64: SpDataType.Int64,
    ModbusType.UINT64: SpDataType.UInt64,
    ModbusType.FLOAT32: SpDataType.Float,
    ModbusType.FLOAT64: SpDataType.Double,
    ModbusType.STRING: SpDataType.String,
}

INTERNAL_CLIENT_ID = "edge-gateway-internal"


def modbus_tag(tag: ModbusTagConfig) -> ModbusTag:
    area, address = resolve_address(tag)
    return ModbusTag(
        name=tag.name,
        area=_AREAS[area],
        address=address,
        data_type=DataType(tag.type.value),
        bit=tag.bit,
        length=tag.length,
        byte_order=None if tag.byte_order is None else ByteOrder(tag.byte_order.value),
        scale=tag.scale,
        offset=tag.offset,
        unit=tag.unit or None,
        poll_group=tag.poll_group,
        writable=tag.writable,
        min_value=tag.min,
        max_value=tag.max,
    )


def modbus_device(device: ModbusDeviceConfig) -> ModbusDevice:
    """The driver spec of one configured Modbus device (poll group ``default`` = ``poll_interval_s``)."""
    link: TcpLink | RtuOverTcpLink | SerialLink
    if device.protocol == "modbus_tcp":
        link = TcpLink(device.host or "", device.port)
    elif device.protocol == "modbus_rtu_over_tcp":
        link = RtuOverTcpLink(device.host or "", device.port)
    else:
        link = SerialLink(
            device.serial_port or "",
            baudrate=device.baudrate,
            parity=device.parity.value,
            stopbits=device.stopbits,
        )
    return ModbusDevice(
        name=device.id,
        link=link,
        unit_id=device.unit,
        tags=tuple(modbus_tag(tag) for tag in device.tags),
        poll_groups={"default": device.poll_interval_s, **device.poll_groups},
        byte_order=ByteOrder(device.byte_order.value),
        timeout=device.timeout_s,
        retries=device.retries,
        max_read_registers=device.max_read_registers,
    )


def sparkplug_type(tag: ModbusTagConfig) -> SpDataType:
    """The Sparkplug datatype a Modbus tag is published as.

    A scaled integer becomes a Double; a run of coils or discrete inputs (``length`` >= 2) becomes a
    BooleanArray, which is what the driver reads it as (``list[bool]``).
    """
    if tag.type is ModbusType.BOOL and tag.length > 1:
        return SpDataType.BooleanArray
    scaled = tag.scale != 1.0 or tag.offset != 0.0
    if scaled and tag.type not in (ModbusType.BOOL, ModbusType.STRING):
        return SpDataType.Double
    return _SPARKPLUG_TYPES[tag.type]


def modbus_metrics(device: ModbusDeviceConfig) -> tuple[MetricSpec, ...]:
    return tuple(MetricSpec(tag.name, sparkplug_type(tag), writable=tag.writable) for tag in device.tags)


def edge_node_config(
    identity: IdentityConfig, node_metrics: tuple[MetricSpec, ...], scan_rate_ms: int | None = None
) -> EdgeNodeConfig:
    """The edge-node core's configuration. ``scan_rate_ms`` declares ``Node Control/Scan Rate`` (the
    devices' default poll interval); ``Node Control/Reboot`` restarts the gateway process (§8)."""
    return EdgeNodeConfig(
        group_id=identity.group_id,
        edge_node_id=identity.edge_node_id,
        node_metrics=node_metrics,
        primary_host_id=identity.primary_host_id,
        state_format={
            StateFormat.V3: SpStateFormat.V3,
            StateFormat.V2_2: SpStateFormat.V2_2,
            StateFormat.BOTH: SpStateFormat.BOTH,
        }[identity.state_format],
        primary_host_timeout_ms=int(identity.primary_host_timeout_s * 1000),
        next_server_control=True,
        reboot_control=True,
        scan_rate_ms=scan_rate_ms,
    )


def server_settings(server: UpstreamServerConfig, identity: IdentityConfig) -> ServerSettings:
    tls = None
    if server.tls is not None:
        tls = UplinkTls(
            ca_file=server.tls.cafile,
            cert_file=server.tls.certfile,
            key_file=server.tls.keyfile,
            check_hostname=server.tls.verify,
        )
    return ServerSettings(
        host=server.host,
        port=server.port,
        client_id=server.client_id or identity.edge_node_id,
        version=UplinkMqttVersion.V5 if server.mqtt_version is MqttVersion.V5 else UplinkMqttVersion.V311,
        keepalive=server.keepalive_s,
        username=server.username,
        password=None if server.password is None else server.password.value,
        tls=tls,
        name=server.label,
    )


def failover_settings(upstream: UpstreamConfig) -> FailoverSettings:
    # hold_down=None: never fail back to a preferred server while the session is healthy
    # (sparkplug-b-edge-node.md §10: the TCK checks we stay on server 2).
    return FailoverSettings(
        connect_timeout=upstream.connect_timeout_s,
        backoff_initial=upstream.backoff_initial_s,
        backoff_max=max(upstream.backoff_max_s, upstream.backoff_initial_s),
        hold_down=None,
    )


def local_server(port: int, identity: IdentityConfig, password: str) -> ServerSettings:
    """The embedded broker as the Sparkplug server, when no upstream server is configured."""
    return ServerSettings(
        host="127.0.0.1",
        port=port,
        client_id=f"{identity.edge_node_id}-sparkplug",
        version=UplinkMqttVersion.V5,
        keepalive=30,
        username=INTERNAL_CLIENT_ID,
        password=password,
        name="embedded broker",
    )


def broker_settings(broker: BrokerConfig, data_dir: Path | None) -> BrokerSettings:
    """Every option of the ``broker`` section, mapped one to one (``*_s`` fields are seconds)."""
    listeners = []
    for listener in broker.listeners:
        tls = None
        if listener.tls is not None:
            tls = TlsSettings(
                certfile=listener.tls.certfile,
                keyfile=listener.tls.keyfile,
                cafile=listener.tls.cafile,
                require_certificate=listener.tls.require_certificate,
                use_identity_as_username=listener.tls.use_identity_as_username,
                handshake_timeout=listener.tls.handshake_timeout_s,
            )
        listeners.append(
            ListenerSettings(host=listener.host, port=listener.port, tls=tls, name=listener.name)
        )
    limits = broker.limits
    return BrokerSettings(
        listeners=tuple(listeners),
        allow_anonymous=broker.allow_anonymous,
        password_file=broker.password_file,
        acl_file=broker.acl_file,
        data_dir=data_dir if broker.persistence.enabled else None,
        limits=BrokerLimits(
            connect_timeout=limits.connect_timeout_s,
            max_keepalive=limits.max_keepalive,
            max_connections=limits.max_connections,
            max_connections_per_source=limits.max_connections_per_source,
            connection_rate=limits.connection_rate,
            connection_burst=limits.connection_burst,
            max_packet_size=limits.max_packet_size,
            receive_maximum=limits.receive_maximum,
            max_inflight_messages=limits.max_inflight_messages,
            max_queued_messages=limits.max_queued_messages,
            max_queued_bytes=limits.max_queued_bytes,
            queue_overflow=QueueOverflow(limits.queue_overflow.value),
            queue_qos0_offline=limits.queue_qos0_offline,
            max_topic_length=limits.max_topic_length,
            max_topic_levels=limits.max_topic_levels,
            max_subscriptions_per_client=limits.max_subscriptions_per_client,
            max_retained_messages=limits.max_retained_messages,
            max_retained_bytes=limits.max_retained_bytes,
            output_buffer_bytes=limits.output_buffer_bytes,
            topic_alias_maximum=limits.topic_alias_maximum,
            max_session_expiry=limits.max_session_expiry_s,
        ),
        sys_interval=broker.sys_interval_s,
        durable_ack=broker.durable_ack,
        response_information=broker.response_information,
    )


def uses_certificate_identity(broker: BrokerConfig) -> bool:
    """Some listener maps the client certificate's CN to the user name (needs the password hooks)."""
    return any(
        listener.tls is not None and listener.tls.use_identity_as_username for listener in broker.listeners
    )


def has_sparkplug_devices(config: GatewayConfig) -> bool:
    return bool(config.devices)


def opcua_server(device: OpcUaDeviceConfig, data_dir: Path) -> OpcUaServer:
    """The driver spec of one configured OPC UA server (client certificate under ``data_dir``)."""
    from drivers.opcua import (
        Anonymous,
        OpcUaServer,
        OpcUaTag,
        SecurityMode,
        SecurityPolicy,
        TagMode,
        UserPassword,
        X509Identity,
    )

    identity: Anonymous | UserPassword | X509Identity = Anonymous()
    if device.certificate is not None and device.private_key is not None:
        identity = X509Identity(device.certificate, device.private_key)
    elif device.username is not None:
        identity = UserPassword(device.username, device.password.value if device.password else "")
    modes = {
        "None": SecurityMode.NONE,
        "Sign": SecurityMode.SIGN,
        "SignAndEncrypt": SecurityMode.SIGN_AND_ENCRYPT,
    }
    return OpcUaServer(
        name=device.id,
        endpoint=device.endpoint,
        tags=tuple(
            OpcUaTag(
                tag.name,
                node_id=tag.node_id,
                browse_path=tag.browse_path,
                mode=TagMode(tag.mode.value),
                sampling_interval=tag.sampling_interval_s,
                unit=tag.unit or None,
                writable=tag.writable,
            )
            for tag in device.tags
        ),
        security_policy=SecurityPolicy(device.security_policy.value),
        security_mode=modes[device.security_mode.value],
        identity=identity,
        data_dir=data_dir,
        publishing_interval=device.publishing_interval_s,
        poll_interval=device.poll_interval_s,
        request_timeout=device.request_timeout_s,
    )


def opcua_types(device: OpcUaDeviceConfig) -> dict[str, SpDataType]:
    """The declared Sparkplug types of an OPC UA device's tags (tags without ``type`` are left out)."""
    return {tag.name: SpDataType[tag.type.value] for tag in device.tags if tag.type is not None}


def inferred_type(value: object) -> SpDataType | None:
    """The Sparkplug type for a first value of an undeclared tag (None: not a scalar we declare)."""
    if isinstance(value, bool):
        return SpDataType.Boolean
    if isinstance(value, int):
        return SpDataType.Int64
    if isinstance(value, float):
        return SpDataType.Double
    if isinstance(value, str):
        return SpDataType.String
    return None


def bridge_rule(rule: BridgeRule) -> UplinkBridgeRule:
    """A configured bridge rule as the uplink's rule (validated again there)."""
    from gateway.uplink import BridgeRule as Rule
    from gateway.uplink._bridge import Direction

    return Rule(
        topic=rule.topic,
        direction=Direction(rule.direction.value),
        qos=rule.qos,
        local_prefix=rule.local_prefix,
        remote_prefix=rule.remote_prefix,
    )
