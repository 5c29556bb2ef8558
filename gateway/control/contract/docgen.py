"""Render ``docs/control-plane.md`` from the contract, so the document never drifts from the code.

    python -m gateway.control.contract.docgen > docs/control-plane.md

``tests/control/test_docs.py`` renders it again and compares with the committed file. Field
descriptions come from the ``Attributes:`` section of each dataclass docstring; a field without one
makes rendering fail, so an undocumented field cannot be committed.
"""

from __future__ import annotations

import dataclasses
import sys
import types
import typing
from enum import Enum
from typing import Any

from gateway.control.contract import _limits
from gateway.control.contract._codec import PAYLOAD_TYPES, encode_message, encode_request, encode_response
from gateway.control.contract._commands import (
    COMMANDS,
    CommandError,
    CommandFailed,
    CommandOk,
    ErrorCode,
    WriteTag,
)
from gateway.control.contract._results import (
    WriteResult,
)
from gateway.control.contract._status import DeviceHealth, DeviceStatus, TagScalar
from gateway.control.contract._topics import (
    RETAINED_KINDS,
    ROOT,
    SCHEMA_VERSION,
    WATCH_FILTERS,
    RelayDirection,
    TopicKind,
    command_topic,
    device_status_topic,
    reply_topic,
    sparkplug_relay_topic,
    tag_changes_topic,
    tags_topic,
)

_TOPICS: dict[TopicKind, tuple[str, str]] = {
    TopicKind.STATE: (
        "state",
        "daemon liveness: `online: false` first thing on a clean stop; a dead daemon drops the connection",
    ),
    TopicKind.GATEWAY: ("status/gateway", "identity, uptime, version, config file and last reload"),
    TopicKind.UPLINK: ("status/uplink", "upstream servers, active server, switch history, bdSeq/seq, STATE"),
    TopicKind.STORE: ("status/store", "store-and-forward backlog, rates and drops"),
    TopicKind.BROKER: ("status/broker", "embedded broker: listeners, clients, counters, `$SYS` figures"),
    TopicKind.DEVICE: (
        "status/device/{device_id}",
        "one device's health and counters; an empty retained payload means the device was removed",
    ),
    TopicKind.TAGS: ("tags/{device_id}", "all tags of one device; empty payload when the device was removed"),
    TopicKind.TAG_CHANGES: ("tags/{device_id}/changes", "tags of one device that changed, batched"),
    TopicKind.EVENTS: ("events", "one event per message"),
    TopicKind.RECENT_EVENTS: ("events/recent", "the last events, for clients that attach late"),
    TopicKind.LOGS: ("logs", "live tail of the daemon log, batched"),
    TopicKind.COMMAND: ("cmd/{command}", "requests (admin role only); see Commands"),
    TopicKind.REPLY: ("reply/{client_id}", "conventional response topic of a client"),
    TopicKind.SPARKPLUG: (
        "sparkplug/{sent|received}/{server}/{sparkplug topic}",
        "copies of the Sparkplug messages sent to (births, deaths, data) and received from (NCMD, DCMD, "
        "STATE) the upstream servers, made only while a client subscribes; the payload is the Sparkplug "
        "payload unchanged, not JSON; nothing is copied for the embedded broker itself (no upstream: "
        "the messages are already on `spBv1.0/#` there)",
    ),
}

_NO_PAYLOAD_TYPE = {TopicKind.SPARKPLUG: "Sparkplug B"}

_STATUS_RATE = (
    f"on change, at most every {_limits.STATUS_INTERVAL_S:g} s, "
    f"at least every {_limits.STATUS_HEARTBEAT_S:g} s"
)

_RATES: dict[TopicKind, str] = {
    TopicKind.STATE: "on start and stop",
    TopicKind.GATEWAY: _STATUS_RATE,
    TopicKind.UPLINK: _STATUS_RATE,
    TopicKind.STORE: _STATUS_RATE,
    TopicKind.BROKER: _STATUS_RATE,
    TopicKind.DEVICE: _STATUS_RATE,
    TopicKind.TAGS: (
        f"on change, at most every {_limits.TAG_SNAPSHOT_INTERVAL_S:g} s per device, at least every "
        f"{_limits.STATUS_HEARTBEAT_S:g} s; while no client subscribes to it, only every "
        f"{_limits.STATUS_HEARTBEAT_S:g} s, and a fresh one follows a new subscription within a second"
    ),
    TopicKind.TAG_CHANGES: (
        f"at most every {_limits.TAG_CHANGES_MIN_INTERVAL_S:g} s per device, only while a client subscribes"
    ),
    TopicKind.EVENTS: "as they happen",
    TopicKind.RECENT_EVENTS: "with every event",
    TopicKind.LOGS: (
        f"at most every {_limits.LOG_BATCH_MIN_INTERVAL_S:g} s, {_limits.LOG_BATCH_MAX_LINES} lines each"
    ),
    TopicKind.COMMAND: "-",
    TopicKind.REPLY: "-",
    TopicKind.SPARKPLUG: (
        f"as exchanged, at most {_limits.SPARKPLUG_RELAY_MAX_PER_S} messages and "
        f"{_limits.SPARKPLUG_RELAY_MAX_BYTES_PER_S} bytes per second (the excess is counted, not delayed)"
    ),
}


def field_docs(cls: type) -> dict[str, str]:
    """The ``Attributes:`` section of a dataclass docstring, as {field name: description}."""
    docs: dict[str, str] = {}
    lines = (cls.__doc__ or "").splitlines()
    inside = False
    current: str | None = None
    indent = 0
    for line in lines:
        stripped = line.strip()
        if stripped == "Attributes:":
            inside = True
            continue
        if not inside or not stripped:
            continue
        this_indent = len(line) - len(line.lstrip())
        name, sep, text = stripped.partition(": ")
        if sep and name.isidentifier() and (current is None or this_indent <= indent):
            current, indent = name, this_indent
            docs[name] = text
        elif current is not None and this_indent > indent:
            docs[current] += " " + stripped
        else:
            break
    return docs


def _type_text(tp: Any) -> str:
    if tp == TagScalar:
        return "scalar"
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_text(arg) for arg in typing.get_args(tp))
    if origin is tuple:
        return f"array of {_type_text(typing.get_args(tp)[0])}"
    if origin is not None and typing.get_args(tp) and origin.__name__ in ("Mapping", "dict"):
        return f"object of {_type_text(typing.get_args(tp)[1])}"
    if tp is type(None):
        return "null"
    if isinstance(tp, type) and (issubclass(tp, Enum) or dataclasses.is_dataclass(tp)):
        return f"`{tp.__name__}`"
    return {bool: "boolean", int: "integer", float: "number", str: "string"}.get(tp, str(tp))


def _default_text(f: dataclasses.Field[Any]) -> str:
    if f.default is not dataclasses.MISSING:
        value = f.default.value if isinstance(f.default, Enum) else f.default
        return "`null`" if value is None else f"`{value!r}`".replace("'", '"')
    if f.default_factory is not dataclasses.MISSING:
        return "`{}`"
    return "required"


def _fields_table(cls: type) -> list[str]:
    fields = dataclasses.fields(cls)
    if not fields:
        return ["No fields: send `{}` as `args`.", ""]
    docs = field_docs(cls)
    hints = typing.get_type_hints(cls)
    out = ["| field | type | default | meaning |", "|---|---|---|---|"]
    for f in fields:
        if f.name not in docs:
            raise ValueError(f"{cls.__name__}.{f.name} has no description in the Attributes section")
        out.append(f"| `{f.name}` | {_type_text(hints[f.name])} | {_default_text(f)} | {docs[f.name]} |")
    return [*out, ""]


def _summary(cls: type) -> str:
    return (cls.__doc__ or "").strip().splitlines()[0]


def _walk_types(roots: list[type]) -> tuple[list[type], list[type[Enum]]]:
    """Every dataclass and enum reachable from ``roots``, in first-seen order."""
    classes: list[type] = []
    enums: list[type[Enum]] = []

    def visit(tp: Any) -> None:
        for arg in typing.get_args(tp):
            visit(arg)
        if isinstance(tp, type) and issubclass(tp, Enum) and tp not in enums:
            enums.append(tp)
        elif isinstance(tp, type) and dataclasses.is_dataclass(tp) and tp not in classes:
            classes.append(tp)
            for hint in typing.get_type_hints(tp).values():
                visit(hint)

    for root in roots:
        visit(root)
    return classes, enums


_INTRO = f"""\
# Control plane (schema v{SCHEMA_VERSION})

<!-- Generated by `python -m gateway.control.contract.docgen > docs/control-plane.md`; edit the
     contract (gateway/control/contract/) instead: tests/control/test_docs.py fails when they differ. -->

The daemon publishes its status on its embedded MQTT broker under one reserved topic root,
`{ROOT}`, and takes commands there as MQTT 5 request/response messages. The terminal UI uses
nothing else, so anything that speaks MQTT can watch the gateway too:

```sh
mosquitto_sub -V mqttv5 -h 127.0.0.1 -p PORT -t '{ROOT}/#' -v
```

`{ROOT}/#` also matches the command and reply topics; a watcher that wants status only subscribes to
`WATCH_FILTERS`: {", ".join(f"`{f}`" for f in WATCH_FILTERS)}.

The `$` first character keeps these topics out of user traffic: a subscription to `#` or `+/...`
never matches a topic that starts with `$` ([MQTT-4.7.2-1]). The `v{SCHEMA_VERSION}` level and the
`schema` field of every payload carry the schema version. A client that receives another version
reports it ("the peer speaks control-plane schema v2, this side speaks v1") instead of misreading it.
Within a version, fields may be added with a default: decoders ignore unknown fields.

Conventions: times are UTC milliseconds since the epoch (`*_ms`), durations seconds (`*_s`);
`null` means never or unknown. Non-finite numbers travel as the strings `"NaN"`, `"Infinity"`,
`"-Infinity"` (number fields decode them back; a tag value stays that string, its `datatype` says
Float or Double). Payloads are UTF-8 JSON objects of at most 1 MiB.

## Envelopes

Status, events and logs:

```json
{
    encode_message(
        DeviceStatus(
            1767225600000,
            "pump-1",
            "modbus_tcp",
            "10.0.0.5:502 unit 1",
            True,
            DeviceHealth.OK,
            True,
            12,
            1000,
        )
    ).decode()
}
```

A request, published to `{command_topic("write_tag")}` with the MQTT 5 Response Topic
(conventionally `{reply_topic("<client id>")}`) and Correlation Data properties:

```json
{encode_request(WriteTag("pump-1", "Setpoint", 42.5))[1].decode()}
```

MQTT 3.1.1 clients cannot set properties; they add `"reply_to": "<topic>"` and `"correlation": "<text>"`
to the request body; the response arrives on that topic with `"correlation"` repeated in its body.
The responses:

```json
{encode_response(CommandOk(WriteResult("pump-1", "Setpoint", 40.0, 42.5, 1767225600250))).decode()}
{
    encode_response(
        CommandFailed(
            CommandError(
                ErrorCode.NOT_WRITABLE,
                "tag pump-1/Speed is read-only",
                "mark it `writable: true` in the configuration",
            )
        )
    ).decode()
}
```

Only users with the admin role may publish to `{ROOT}/cmd/+`; the broker refuses others (PUBACK
0x87 "not authorized" on MQTT 5), and the daemon logs the client id and user of every command it runs.
"""


def render() -> str:
    """The whole document."""
    out = [_INTRO, "## Topics", ""]
    out += ["| topic | retained | rate | payload | what |", "|---|---|---|---|---|"]
    for kind in TopicKind:
        suffix, what = _TOPICS[kind]
        payload = PAYLOAD_TYPES.get(kind)
        default_text = _NO_PAYLOAD_TYPE.get(kind, "request / response")
        payload_text = f"`{payload.__name__}`" if payload else default_text
        retained = "yes" if kind in RETAINED_KINDS else "no"
        out.append(f"| `{ROOT}/{suffix}` | {retained} | {_RATES[kind]} | {payload_text} | {what} |")
    out += [
        "",
        f"Builders: `device_status_topic(id)` = `{device_status_topic('{id}')}`, `tags_topic(id)` = "
        f"`{tags_topic('{id}')}`, `tag_changes_topic(id)` = `{tag_changes_topic('{id}')}`, "
        f"`command_topic(name)`, `reply_topic(client_id)`, "
        f"`sparkplug_relay_topic(direction, server, topic)` = "
        f"`{sparkplug_relay_topic(RelayDirection.SENT, 'site-a', 'spBv1.0/G/NBIRTH/E')}`; "
        f"`parse_topic(topic)` tells which one a topic is, `parse_sparkplug_relay(topic)` the parts of a "
        f"relay topic.",
        "",
        "## Commands",
        "",
        "| command | changes the plant | request (`args`) | result (`data`) | what |",
        "|---|---|---|---|---|",
    ]
    for spec in COMMANDS.values():
        affecting = "yes: confirm first" if spec.plant_affecting else "no"
        out.append(
            f"| `{spec.name.value}` | {affecting} | `{spec.request.__name__}` | `{spec.result.__name__}` "
            f"| {spec.summary} |"
        )
    out += ["", "Error codes (`error.code`):", "", "| code | meaning |", "|---|---|"]
    for code in ErrorCode:
        out.append(f"| `{code.value}` | {_ERROR_TEXT[code]} |")
    out += ["", "## Message shapes", ""]
    roots: list[type] = list(PAYLOAD_TYPES.values())
    for spec in COMMANDS.values():
        roots += [spec.request, spec.result]
    roots.append(CommandError)
    classes, enums = _walk_types(roots)
    for cls in classes:
        kind_name = getattr(cls, "KIND", None)
        title = f"### `{cls.__name__}`" + (
            f" (kind `{kind_name}`)" if kind_name and cls in PAYLOAD_TYPES.values() else ""
        )
        out += [title, "", _summary(cls), "", *_fields_table(cls)]
    out += ["## Enumerations", ""]
    for enum in enums:
        values = ", ".join(f"`{member.value}`" for member in enum)
        out += [f"- `{enum.__name__}`: {values}"]
    out += ["", "## Limits", ""]
    for name in sorted(n for n in dir(_limits) if n.isupper()):
        out.append(f"- `{name}` = {getattr(_limits, name)!r}")
    # Docstrings use reStructuredText literals; Markdown wants single backticks.
    return "\n".join(out).replace("``", "`") + "\n"


_ERROR_TEXT: dict[ErrorCode, str] = {
    ErrorCode.BAD_REQUEST: "the request does not fit the contract (the message names the JSON path)",
    ErrorCode.SCHEMA_MISMATCH: "the request speaks another schema version",
    ErrorCode.UNKNOWN_COMMAND: "no command of that name",
    ErrorCode.NOT_AUTHORIZED: "the sender lacks the admin role",
    ErrorCode.NOT_FOUND: "no such device, tag or node",
    ErrorCode.NOT_WRITABLE: "the tag is not marked writable",
    ErrorCode.OUT_OF_RANGE: "the value is outside the tag's range or does not fit its type",
    ErrorCode.DEVICE_ERROR: "the device answered with an error, or not at all",
    ErrorCode.INVALID_CONFIG: "the configuration has problems; `details` lists every one",
    ErrorCode.CONFLICT: "the configuration file changed since `get_config`; fetch it again",
    ErrorCode.UNAVAILABLE: "the part that would do it is not running (no upstream, no such driver)",
    ErrorCode.INTERNAL: "a bug: the daemon log has the traceback",
}


if __name__ == "__main__":
    sys.stdout.write(render())
