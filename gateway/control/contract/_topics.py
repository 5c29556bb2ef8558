"""Topic names of the control plane, and a parser that tells which one a topic is.

Everything lives under one reserved root, ``$GW/v1``. A ``$`` first character keeps the control
plane out of user traffic: subscriptions that start with ``#`` or ``+`` never match topics that begin
with ``$`` ([MQTT-4.7.2-1]), so an HMI subscribed to ``#`` is not flooded, just as with ``$SYS``.
The ``v1`` level is the major schema version; it changes only with an incompatible change, and every
payload repeats it in its ``schema`` field.

Device ids appear as one topic level. They follow the Sparkplug rules for device ids (no ``/``,
``+``, ``#``, no NUL), so they are always a single, literal level.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from gateway.control.contract._errors import UnknownTopicError

SCHEMA_VERSION = 1
"""The schema version of every payload; also the ``v1`` level of :data:`ROOT`."""

ROOT = f"$GW/v{SCHEMA_VERSION}"
"""The topic root of the control plane."""

ALL_FILTER = f"{ROOT}/#"
"""Subscribe to this to see everything the daemon publishes (status, events, logs)."""

STATE_TOPIC = f"{ROOT}/state"
GATEWAY_TOPIC = f"{ROOT}/status/gateway"
UPLINK_TOPIC = f"{ROOT}/status/uplink"
STORE_TOPIC = f"{ROOT}/status/store"
BROKER_TOPIC = f"{ROOT}/status/broker"
DEVICE_STATUS_FILTER = f"{ROOT}/status/device/+"
TAGS_FILTER = f"{ROOT}/tags/+"
TAG_CHANGES_FILTER = f"{ROOT}/tags/+/changes"
EVENTS_TOPIC = f"{ROOT}/events"
RECENT_EVENTS_TOPIC = f"{ROOT}/events/recent"
LOGS_TOPIC = f"{ROOT}/logs"
COMMAND_FILTER = f"{ROOT}/cmd/+"
WATCH_FILTERS = (STATE_TOPIC, f"{ROOT}/status/#", f"{ROOT}/tags/#", f"{ROOT}/events/#", LOGS_TOPIC)
"""Everything the daemon publishes (status, tags, events, logs) and nothing else (no commands, no
replies): what a status-only watcher subscribes to."""
REPLY_FILTER = f"{ROOT}/reply/+"
SPARKPLUG_RELAY_FILTER = f"{ROOT}/sparkplug/#"
"""Copies of the Sparkplug messages exchanged with the upstream servers (see
:func:`sparkplug_relay_topic`). Not in :data:`WATCH_FILTERS`: a client asks for this stream on purpose."""


class TopicKind(StrEnum):
    """Which kind of control-plane topic a topic is."""

    STATE = "state"
    GATEWAY = "gateway"
    UPLINK = "uplink"
    STORE = "store"
    BROKER = "broker"
    DEVICE = "device"
    TAGS = "tags"
    TAG_CHANGES = "tag_changes"
    EVENTS = "events"
    RECENT_EVENTS = "recent_events"
    LOGS = "logs"
    COMMAND = "command"
    REPLY = "reply"
    SPARKPLUG = "sparkplug"


class RelayDirection(StrEnum):
    """Which way a relayed Sparkplug message went on the upstream connection."""

    SENT = "sent"  # published by the daemon to the upstream server (births, deaths, data)
    RECEIVED = "received"  # received from the upstream server (NCMD, DCMD, STATE)


RETAINED_KINDS = frozenset(
    {
        TopicKind.STATE,
        TopicKind.GATEWAY,
        TopicKind.UPLINK,
        TopicKind.STORE,
        TopicKind.BROKER,
        TopicKind.DEVICE,
        TopicKind.TAGS,
        TopicKind.RECENT_EVENTS,
    }
)
"""Topic kinds the daemon publishes retained (snapshots); the others are streams or commands."""


@dataclass(frozen=True, slots=True)
class TopicRef:
    """A parsed control-plane topic.

    Attributes:
        kind: which topic it is.
        device_id: the device level, for ``device``, ``tags`` and ``tag_changes``; else ``None``.
        command: the command name, for ``command`` topics; else ``None``.
        client_id: the client level, for ``reply`` topics; else ``None``.
    """

    kind: TopicKind
    device_id: str | None = None
    command: str | None = None
    client_id: str | None = None


def _check_level(value: str, what: str) -> str:
    if not value or any(ch in value for ch in "/+#\x00"):
        raise ValueError(f"{what} {value!r} cannot be one topic level: need non-empty, no / + # or NUL")
    return value


def device_status_topic(device_id: str) -> str:
    """Retained :class:`DeviceStatus` of one device."""
    return f"{ROOT}/status/device/{_check_level(device_id, 'device id')}"


def tags_topic(device_id: str) -> str:
    """Retained :class:`TagSnapshot` of one device (all its tags)."""
    return f"{ROOT}/tags/{_check_level(device_id, 'device id')}"


def tag_changes_topic(device_id: str) -> str:
    """Non-retained :class:`TagChanges` batches of one device, at most 2 per second."""
    return f"{ROOT}/tags/{_check_level(device_id, 'device id')}/changes"


def command_topic(command: str) -> str:
    """Where a client publishes a request for ``command`` (a :class:`CommandName` value)."""
    return f"{ROOT}/cmd/{_check_level(command, 'command')}"


def reply_topic(client_id: str) -> str:
    """The conventional response topic for a client: ``$GW/v1/reply/<client id>``.

    Clients may use any response topic they can subscribe to; this one is what the broker's default
    ACL lets every authenticated client read, for its own client id only.
    """
    return f"{ROOT}/reply/{_check_level(client_id, 'client id')}"


@dataclass(frozen=True, slots=True)
class RelayRef:
    """A parsed Sparkplug relay topic.

    Attributes:
        direction: sent to or received from the upstream server.
        server: the upstream server's name (as one topic level, see :func:`relay_server_level`).
        topic: the Sparkplug topic the message had upstream (``spBv1.0/...`` or a legacy ``STATE/...``).
    """

    direction: RelayDirection
    server: str
    topic: str


def relay_server_level(name: str) -> str:
    """An upstream server's name as one topic level: ``/``, ``+``, ``#`` and NUL become ``_`` (and an
    empty name is ``_``), so any configured name can be relayed."""
    cleaned = name.translate(_LEVEL_UNSAFE)
    return cleaned or "_"


_LEVEL_UNSAFE = str.maketrans(dict.fromkeys("/+#\x00", "_"))
_RELAY_PREFIX = f"{ROOT}/sparkplug/"


def sparkplug_relay_topic(direction: RelayDirection, server: str, topic: str) -> str:
    """Where the daemon copies one Sparkplug message exchanged with an upstream server:
    ``$GW/v1/sparkplug/<sent|received>/<server>/<the Sparkplug topic>``; the payload is the Sparkplug
    payload unchanged (protobuf, or JSON for STATE), not a control-plane JSON document.

    Raises:
        ValueError: ``topic`` is empty or holds a wildcard.
    """
    if not topic or "+" in topic or "#" in topic:
        raise ValueError(f"cannot relay {topic!r}: need a topic name without wildcards")
    return f"{_RELAY_PREFIX}{direction.value}/{relay_server_level(server)}/{topic}"


def parse_sparkplug_relay(topic: str) -> RelayRef | None:
    """The parts of a relay topic, or ``None`` when ``topic`` is not one (never raises: clients call it
    on every message they receive, relay or not)."""
    if not topic.startswith(_RELAY_PREFIX):
        return None
    direction, _, rest = topic[len(_RELAY_PREFIX) :].partition("/")
    server, _, sparkplug_topic = rest.partition("/")
    if direction not in _DIRECTIONS or not server or not sparkplug_topic:
        return None
    return RelayRef(RelayDirection(direction), server, sparkplug_topic)


_DIRECTIONS = frozenset(d.value for d in RelayDirection)


_FIXED: dict[tuple[str, ...], TopicKind] = {
    ("state",): TopicKind.STATE,
    ("status", "gateway"): TopicKind.GATEWAY,
    ("status", "uplink"): TopicKind.UPLINK,
    ("status", "store"): TopicKind.STORE,
    ("status", "broker"): TopicKind.BROKER,
    ("events",): TopicKind.EVENTS,
    ("events", "recent"): TopicKind.RECENT_EVENTS,
    ("logs",): TopicKind.LOGS,
}


def parse_topic(topic: str) -> TopicRef:
    """Tell which control-plane topic ``topic`` is.

    Raises:
        UnknownTopicError: the topic is not under :data:`ROOT` or not one the contract defines
            (a topic under another version's root, such as ``$GW/v2/...``, is reported as such).
    """
    prefix = ROOT + "/"
    if not topic.startswith(prefix):
        if topic.startswith("$GW/"):
            raise UnknownTopicError(
                f"topic {topic!r} belongs to another control-plane version; this side speaks {ROOT}"
            )
        raise UnknownTopicError(f"topic {topic!r} is not under the control-plane root {ROOT}/")
    levels = tuple(topic[len(prefix) :].split("/"))
    fixed = _FIXED.get(levels)
    if fixed is not None:
        return TopicRef(fixed)
    if levels[0] == "sparkplug" and parse_sparkplug_relay(topic) is not None:
        return TopicRef(TopicKind.SPARKPLUG)
    if any(not level for level in levels):
        raise UnknownTopicError(f"topic {topic!r} has an empty level")
    match levels:
        case ("status", "device", device_id):
            return TopicRef(TopicKind.DEVICE, device_id=device_id)
        case ("tags", device_id):
            return TopicRef(TopicKind.TAGS, device_id=device_id)
        case ("tags", device_id, "changes"):
            return TopicRef(TopicKind.TAG_CHANGES, device_id=device_id)
        case ("cmd", command):
            return TopicRef(TopicKind.COMMAND, command=command)
        case ("reply", client_id):
            return TopicRef(TopicKind.REPLY, client_id=client_id)
    raise UnknownTopicError(f"topic {topic!r} is not a control-plane topic of {ROOT}")
