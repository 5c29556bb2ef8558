"""The Sparkplug topic namespace (§2) and id rules (§1), plus the STATE topic in both forms (§9).

    spBv1.0/<group_id>/<message_type>/<edge_node_id>[/<device_id>]     node and device messages
    spBv1.0/STATE/<host_id>                                             3.0 STATE, JSON payload
    STATE/<host_id>                                                     2.2 STATE, "ONLINE"/"OFFLINE"

The device level is required for DBIRTH/DDEATH/DDATA/DCMD and forbidden for the node types.
Parsing returns a :class:`Topic`; anything else raises :class:`~sparkplug.errors.TopicError`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from sparkplug.errors import InvalidIdError, TopicError

NAMESPACE = "spBv1.0"
STATE_V3_PREFIX = f"{NAMESPACE}/STATE/"
STATE_V22_PREFIX = "STATE/"


class MessageType(Enum):
    """The ``message_type`` topic element; STATE is the host's birth/death certificate."""

    NBIRTH = "NBIRTH"
    NDEATH = "NDEATH"
    DBIRTH = "DBIRTH"
    DDEATH = "DDEATH"
    NDATA = "NDATA"
    DDATA = "DDATA"
    NCMD = "NCMD"
    DCMD = "DCMD"
    STATE = "STATE"

    @property
    def is_device(self) -> bool:
        return self in _DEVICE_TYPES


_DEVICE_TYPES = frozenset({MessageType.DBIRTH, MessageType.DDEATH, MessageType.DDATA, MessageType.DCMD})
_BY_NAME = {member.value: member for member in MessageType if member is not MessageType.STATE}


def validate_id(value: str, what: str = "id") -> str:
    """Return ``value`` if it is a legal group/edge-node/device/host id (§1), else raise InvalidIdError.

    Refused: empty, ``+ / #`` (MQTT wildcards and the level separator), NUL and other control
    characters, and a leading ``$`` (MQTT reserves those topics for the broker).
    """
    if not isinstance(value, str) or not value:
        raise InvalidIdError(f"{what} must be a non-empty string, got {value!r}")
    for char in value:
        if char in "+/#":
            raise InvalidIdError(
                f"{what} {value!r} contains {char!r}; Sparkplug ids must not contain + / # (§1)"
            )
        if ord(char) < 0x20 or ord(char) == 0x7F:
            raise InvalidIdError(f"{what} {value!r} contains control character U+{ord(char):04X} (§1)")
    if value.startswith("$"):
        raise InvalidIdError(f"{what} {value!r} starts with '$', which MQTT reserves for broker topics")
    return value


@dataclass(frozen=True, slots=True)
class Topic:
    """A parsed Sparkplug topic. For STATE, ``host_id`` is set and the other ids are empty/None."""

    message_type: MessageType
    group_id: str = ""
    edge_node_id: str = ""
    device_id: str | None = None
    host_id: str | None = None
    legacy_state: bool = False

    def __str__(self) -> str:
        if self.message_type is MessageType.STATE:
            assert self.host_id is not None
            return state_topic(self.host_id, legacy=self.legacy_state)
        return build_topic(self.message_type, self.group_id, self.edge_node_id, self.device_id)


def build_topic(
    message_type: MessageType, group_id: str, edge_node_id: str, device_id: str | None = None
) -> str:
    """Build a node or device topic; raises TopicError/InvalidIdError if ids or the device level are wrong."""
    if message_type is MessageType.STATE:
        raise TopicError("use state_topic() for STATE topics")
    validate_id(group_id, "group_id")
    validate_id(edge_node_id, "edge_node_id")
    if message_type.is_device:
        if device_id is None:
            raise TopicError(f"{message_type.value} needs a device_id (§2)")
        validate_id(device_id, "device_id")
        return f"{NAMESPACE}/{group_id}/{message_type.value}/{edge_node_id}/{device_id}"
    if device_id is not None:
        raise TopicError(f"{message_type.value} must not have a device_id (§2)")
    return f"{NAMESPACE}/{group_id}/{message_type.value}/{edge_node_id}"


def state_topic(host_id: str, *, legacy: bool = False) -> str:
    """``spBv1.0/STATE/<host_id>``, or the 2.2 form ``STATE/<host_id>`` when ``legacy``."""
    validate_id(host_id, "host_id")
    return (STATE_V22_PREFIX if legacy else STATE_V3_PREFIX) + host_id


def parse_topic(topic: str) -> Topic:
    """Parse any Sparkplug B topic (including both STATE forms); raises TopicError otherwise."""
    parts = topic.split("/")
    try:
        if len(parts) == 3 and parts[0] == NAMESPACE and parts[1] == "STATE":
            return Topic(MessageType.STATE, host_id=validate_id(parts[2], "host_id"))
        if len(parts) == 2 and parts[0] == "STATE":
            return Topic(MessageType.STATE, host_id=validate_id(parts[1], "host_id"), legacy_state=True)
    except InvalidIdError as exc:
        raise InvalidIdError(f"topic {topic!r}: {exc}") from None
    if len(parts) not in (4, 5) or parts[0] != NAMESPACE:
        raise TopicError(f"topic {topic!r} is not spBv1.0/<group>/<type>/<edge node>[/<device>] (§2)")
    message_type = _BY_NAME.get(parts[2])
    if message_type is None:
        raise TopicError(f"topic {topic!r} has unknown message type {parts[2]!r}")
    if message_type.is_device != (len(parts) == 5):
        need = "needs" if message_type.is_device else "must not have"
        raise TopicError(f"topic {topic!r}: {message_type.value} {need} a device_id level (§2)")
    try:
        group_id = validate_id(parts[1], "group_id")
        edge_node_id = validate_id(parts[3], "edge_node_id")
        device_id = validate_id(parts[4], "device_id") if len(parts) == 5 else None
    except InvalidIdError as exc:
        raise InvalidIdError(f"topic {topic!r}: {exc}") from None
    return Topic(message_type, group_id, edge_node_id, device_id)
