"""Values that cross the boundary of the edge-node core (:mod:`sparkplug.edge_node`).

    configuration   EdgeNodeConfig, MetricSpec, Deadband, StateFormat, Sample
    events (in)     ConnectStarting, Connected, Subscribed, MessageReceived, MetricsChanged, DeviceOnline,
                    DeviceOffline, PublishHistorical, Tick, Shutdown, Disconnected
    outputs (out)   SetWill, PersistBdSeq, Subscribe, Publish                       (MQTT work)
                    WriteMetric, SetScanRate, NextServer, Disconnect, Reboot,
                    StoreForLater, FlushHistory, Notice                             (actions)

All are frozen, slotted dataclasses. Times are UTC milliseconds (int).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from enum import Enum
from typing import TypeAlias

from sparkplug.datatypes import DataType, Quality
from sparkplug.errors import SparkplugEncodeError
from sparkplug.model import Metric, MetricValue, PropertySet, Template
from sparkplug.topics import MessageType, validate_id

# ---------------------------------------------------------------------------------------------- config

#: Names the core declares itself (§8); a MetricSpec may not reuse them.
REBIRTH = "Node Control/Rebirth"
NEXT_SERVER = "Node Control/Next Server"
REBOOT = "Node Control/Reboot"
SCAN_RATE = "Node Control/Scan Rate"
DEVICE_REBIRTH = "Device Control/Rebirth"
BD_SEQ = "bdSeq"
RESERVED_NAMES = frozenset({REBIRTH, NEXT_SERVER, REBOOT, SCAN_RATE, DEVICE_REBIRTH, BD_SEQ})


class StateFormat(Enum):
    """Which Primary Host STATE form to honour (§9, §18)."""

    V3 = "v3"
    V2_2 = "v2_2"
    BOTH = "both"


@dataclass(frozen=True, slots=True)
class Deadband:
    """Report-by-exception threshold for a numeric metric (§12), against the last PUBLISHED value.

    A new value is published when ``|new - last| > absolute`` or ``|new - last| > |last| * percent / 100``
    (either one, when both are set). A quality change is always published.
    """

    absolute: float | None = None
    percent: float | None = None

    def __post_init__(self) -> None:
        for label, value in (("absolute", self.absolute), ("percent", self.percent)):
            if value is not None and not value >= 0:
                raise SparkplugEncodeError(f"deadband {label} must be >= 0, got {value!r}")


@dataclass(frozen=True, slots=True)
class MetricSpec:
    """A metric declared in a birth: its name, type, RBE deadband, and whether NCMD/DCMD may write it."""

    name: str
    datatype: DataType
    deadband: Deadband | None = None
    writable: bool = False
    properties: PropertySet | None = None
    is_transient: bool = False

    def __post_init__(self) -> None:
        if not self.name:
            raise SparkplugEncodeError("a metric name must not be empty")
        if self.name in RESERVED_NAMES:
            raise SparkplugEncodeError(f"metric name {self.name!r} is reserved for the edge-node core (§8)")
        if self.datatype in (DataType.Unknown, DataType.PropertySet, DataType.PropertySetList):
            raise SparkplugEncodeError(f"metric {self.name!r}: {self.datatype!r} is not a metric datatype")


@dataclass(frozen=True, slots=True)
class Sample:
    """One acquired value. ``timestamp`` is when it was sampled (UTC ms), not when it is sent."""

    name: str
    value: MetricValue
    timestamp: int
    quality: Quality = Quality.GOOD


@dataclass(frozen=True, slots=True)
class EdgeNodeConfig:
    """What the edge-node core needs to know; ids are validated here (§1).

    Attributes:
        group_id, edge_node_id: the Edge Node Descriptor.
        node_metrics: node-level metrics for NBIRTH (the core adds bdSeq and the Node Control metrics).
        primary_host_id: when set, births wait for this host's valid online STATE (§9).
        state_format: which STATE form to subscribe to and honour.
        use_aliases: births carry name+alias; DATA carries the alias only (§7).
        datatype_in_data: also write datatype in NDATA/DDATA (the spec says SHOULD NOT; Tahu JS needs it).
        uint32_in_long_value: write UInt32 in long_value for old hosts (§19.8).
        rebirth_debounce_ms: a Rebirth within this long after the previous one is deferred to its end.
        primary_host_timeout_ms: give up on a server when no valid online STATE came (None: wait forever).
        next_server_control, reboot_control: declare and honour these Node Control metrics.
        scan_rate_ms: declare Node Control/Scan Rate with this initial value (None: not declared).
        device_rebirth_control: declare Device Control/Rebirth in each DBIRTH.
        template_definitions: Template metrics (is_definition=True) for NBIRTH (§17).
        historical_batch: most metrics per historical NDATA/DDATA payload.
    """

    group_id: str
    edge_node_id: str
    node_metrics: tuple[MetricSpec, ...] = ()
    primary_host_id: str | None = None
    state_format: StateFormat = StateFormat.V3
    use_aliases: bool = True
    datatype_in_data: bool = False
    uint32_in_long_value: bool = False
    rebirth_debounce_ms: int = 5000
    primary_host_timeout_ms: int | None = 30000
    next_server_control: bool = True
    reboot_control: bool = False
    scan_rate_ms: int | None = None
    device_rebirth_control: bool = True
    template_definitions: tuple[Metric, ...] = ()
    historical_batch: int = 500

    def __post_init__(self) -> None:
        validate_id(self.group_id, "group_id")
        validate_id(self.edge_node_id, "edge_node_id")
        if self.primary_host_id is not None:
            validate_id(self.primary_host_id, "primary_host_id")
        names = [spec.name for spec in self.node_metrics]
        duplicates = sorted(name for name, count in Counter(names).items() if count > 1)
        if duplicates:
            raise SparkplugEncodeError(f"node metrics declared twice: {duplicates}")
        for definition in self.template_definitions:
            value = definition.value
            if (
                not definition.name
                or definition.datatype is not DataType.Template
                or not isinstance(value, Template)
                or not value.is_definition
                or value.template_ref is not None
            ):
                raise SparkplugEncodeError(
                    f"template definition {definition.name!r} must be a named Template metric with "
                    "is_definition=True and no template_ref (§17)"
                )
        if self.historical_batch < 1:
            raise SparkplugEncodeError("historical_batch must be at least 1")


# ---------------------------------------------------------------------------------------------- events


@dataclass(frozen=True, slots=True)
class ConnectStarting:
    """The shell is about to CONNECT to ``server`` (any stable key, e.g. ``"tls://a:8883"``)."""

    server: str


@dataclass(frozen=True, slots=True)
class Connected:
    """CONNACK arrived with success."""


@dataclass(frozen=True, slots=True)
class Subscribed:
    """Every SUBACK for the Subscribe outputs of :class:`Connected` arrived with a granted QoS."""


@dataclass(frozen=True, slots=True)
class MessageReceived:
    """An MQTT message on one of our subscriptions (NCMD, DCMD, STATE)."""

    topic: str
    payload: bytes


@dataclass(frozen=True, slots=True)
class MetricsChanged:
    """New samples for the node (``device_id`` None) or one device."""

    device_id: str | None
    samples: tuple[Sample, ...]


@dataclass(frozen=True, slots=True)
class DeviceOnline:
    """A device answers: declare its metrics (DBIRTH now if the node is born, else at the next birth)."""

    device_id: str
    metrics: tuple[MetricSpec, ...]
    samples: tuple[Sample, ...] = ()


@dataclass(frozen=True, slots=True)
class DeviceOffline:
    """The edge lost contact with a device (DDEATH, `operational-behavior-device-ddeath`)."""

    device_id: str


@dataclass(frozen=True, slots=True)
class PublishHistorical:
    """Stored samples to send as is_historical NDATA/DDATA (store-and-forward drain, §11)."""

    device_id: str | None
    samples: tuple[Sample, ...]


@dataclass(frozen=True, slots=True)
class Tick:
    """Time passed; call at :meth:`EdgeNode.next_deadline` (rebirth debounce, primary-host timeout)."""


@dataclass(frozen=True, slots=True)
class Shutdown:
    """Intentional stop: NDEATH (if born) then Disconnect."""


@dataclass(frozen=True, slots=True)
class Disconnected:
    """The MQTT connection is gone (lost, refused, or closed after a Disconnect action)."""


Event: TypeAlias = (
    ConnectStarting
    | Connected
    | Subscribed
    | MessageReceived
    | MetricsChanged
    | DeviceOnline
    | DeviceOffline
    | PublishHistorical
    | Tick
    | Shutdown
    | Disconnected
)

# ---------------------------------------------------------------------------------------------- outputs


@dataclass(frozen=True, slots=True)
class SetWill:
    """Use this Will (NDEATH with this connection's bdSeq) in the CONNECT about to be sent."""

    topic: str
    payload: bytes
    bd_seq: int
    qos: int = 1
    retain: bool = False


@dataclass(frozen=True, slots=True)
class PersistBdSeq:
    """Durably store ``next_bd_seq`` BEFORE sending CONNECT (`topics-nbirth-bdseq-increment`)."""

    next_bd_seq: int


@dataclass(frozen=True, slots=True)
class Subscribe:
    """Subscribe to ``topic_filter``; report :class:`Subscribed` once every SUBACK arrived."""

    topic_filter: str
    qos: int = 1


@dataclass(frozen=True, slots=True)
class Publish:
    """Publish ``payload`` on ``topic``. NDEATH comes with qos=1: wait for its PUBACK before disconnecting."""

    topic: str
    payload: bytes
    qos: int
    retain: bool
    message_type: MessageType
    device_id: str | None = None
    seq: int | None = None


@dataclass(frozen=True, slots=True)
class WriteMetric:
    """A host asked (NCMD/DCMD) to write ``value`` to a writable metric; report the result as a change."""

    device_id: str | None
    name: str
    datatype: DataType
    value: MetricValue


@dataclass(frozen=True, slots=True)
class SetScanRate:
    """Node Control/Scan Rate was written: poll at ``rate_ms`` from now on (already reported in NDATA)."""

    device_id: str | None
    rate_ms: int


@dataclass(frozen=True, slots=True)
class NextServer:
    """After the Disconnect, connect to the next server of the list (wrap around), §10."""

    reason: str


@dataclass(frozen=True, slots=True)
class Disconnect:
    """Close the connection now (after the PUBACK of a preceding NDEATH). MQTT 5: reason 0x04."""

    reason: str


@dataclass(frozen=True, slots=True)
class Reboot:
    """Node Control/Reboot: after the Disconnect, restart the gateway."""


@dataclass(frozen=True, slots=True)
class StoreForLater:
    """Samples that could not be published live (not born yet, host offline): keep them (§11)."""

    device_id: str | None
    samples: tuple[Sample, ...]


@dataclass(frozen=True, slots=True)
class FlushHistory:
    """Births are out: drain the store-and-forward queue through :class:`PublishHistorical` events."""


@dataclass(frozen=True, slots=True)
class Notice:
    """Something the shell should log (ignored command, stale STATE, dropped history); no action needed."""

    message: str


Output: TypeAlias = (
    SetWill
    | PersistBdSeq
    | Subscribe
    | Publish
    | WriteMetric
    | SetScanRate
    | NextServer
    | Disconnect
    | Reboot
    | StoreForLater
    | FlushHistory
    | Notice
)
