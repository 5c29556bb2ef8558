"""Conversion between the broker's stored dataclasses (:mod:`gateway.broker.hooks`) and SQLite rows.

MQTT 5.0 properties are stored as JSON text holding only the properties that are set: bytes as
``{"b64": "..."}``, tuples as lists. JSON, rather than the wire encoding, keeps the store readable with the
``sqlite3`` shell and independent of the codec's per-packet validation. Every value read back is checked
(types, QoS range), so a tampered or damaged row is reported as :class:`StoreCorruptError` naming the table,
never turned into a half-valid message.
"""

from __future__ import annotations

import base64
import dataclasses
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from gateway.broker.codec.properties import NO_PROPERTIES, Properties
from gateway.broker.hooks import QueuedMessage, StoredMessage, StoredSession, StoredSubscription
from gateway.broker.persistence.errors import StoreCorruptError

_PROPERTY_FIELDS = {f.name for f in dataclasses.fields(Properties)}


def properties_to_json(properties: Properties) -> str:
    if properties is NO_PROPERTIES or properties == NO_PROPERTIES:
        return "{}"
    out: dict[str, Any] = {}
    for name in _PROPERTY_FIELDS:
        value = getattr(properties, name)
        if value is None or value == ():
            continue
        if isinstance(value, bytes):
            out[name] = {"b64": base64.b64encode(value).decode("ascii")}
        else:
            out[name] = value
    return json.dumps(out, sort_keys=True, separators=(",", ":"))


def properties_from_json(text: str) -> Properties:
    """Raise ``ValueError`` (incl. JSON errors) or ``TypeError`` for anything that is not what we wrote."""
    raw = json.loads(text)
    if not isinstance(raw, dict):
        raise ValueError("properties are not a JSON object")
    if not raw:
        return NO_PROPERTIES
    values: dict[str, Any] = {}
    for name, value in raw.items():
        if name not in _PROPERTY_FIELDS:
            raise ValueError(f"unknown property {name!r}")
        if isinstance(value, dict):
            values[name] = base64.b64decode(value["b64"], validate=True)
        elif isinstance(value, list):
            values[name] = tuple(tuple(item) if isinstance(item, list) else item for item in value)
        else:
            values[name] = value
    return Properties(**values)


def retained_row(message: StoredMessage) -> tuple[object, ...]:
    return (
        message.topic,
        message.payload,
        message.qos,
        properties_to_json(message.properties),
        message.expires_at,
        message.origin,
        message.origin_username,
    )


def queued_row(client_id: str, queued: QueuedMessage) -> tuple[object, ...]:
    message = queued.message
    return (
        client_id,
        queued.seq,
        message.topic,
        message.payload,
        message.qos,
        int(message.retain),
        properties_to_json(message.properties),
        message.expires_at,
        queued.qos,
        _identifiers_text(queued.subscription_identifiers),
        message.origin,
        message.origin_username,
        queued.packet_id,
        int(queued.released),
    )


def _identifiers_text(identifiers: tuple[int, ...]) -> str:
    return json.dumps(list(identifiers)) if identifiers else "[]"


def session_row(session: StoredSession) -> tuple[object, ...]:
    return (
        session.client_id,
        session.protocol_version,
        session.expiry_interval,
        session.disconnected_at,
        session.username,
    )


def subscription_rows(session: StoredSession) -> list[tuple[object, ...]]:
    return [
        (
            session.client_id,
            s.topic_filter,
            s.qos,
            int(s.no_local),
            int(s.retain_as_published),
            s.retain_handling,
            s.subscription_identifier,
        )
        for s in session.subscriptions
    ]


class RowReader:
    """Turns rows back into dataclasses, raising :class:`StoreCorruptError` naming the table and key."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _fail(self, table: str, key: object, exc: Exception) -> StoreCorruptError:
        return StoreCorruptError(self.path, f"table {table}, row {key!r}: unreadable value ({exc})")

    def retained(self, row: Sequence[Any]) -> StoredMessage:
        try:
            topic, payload, qos, properties, expires_at, origin, origin_username = row
            return StoredMessage(
                topic=_text(topic),
                payload=_blob(payload),
                qos=_qos(qos),
                retain=True,
                properties=properties_from_json(properties),
                expires_at=_optional_float(expires_at),
                origin=_text(origin),
                origin_username=_optional_text(origin_username),
            )
        except (ValueError, TypeError, KeyError) as exc:
            raise self._fail("retained", row[0] if row else None, exc) from exc

    def queued(self, row: Sequence[Any]) -> tuple[str, QueuedMessage]:
        try:
            (client_id, seq, topic, payload, message_qos, retain, properties, expires_at, qos, ids) = row[:10]
            origin, origin_username, packet_id, released = row[10:]
            identifiers = json.loads(ids)
            if not isinstance(identifiers, list) or not all(isinstance(i, int) for i in identifiers):
                raise ValueError("subscription identifiers are not a list of integers")
            message = StoredMessage(
                topic=_text(topic),
                payload=_blob(payload),
                qos=_qos(message_qos),
                retain=bool(retain),
                properties=properties_from_json(properties),
                expires_at=_optional_float(expires_at),
                origin=_text(origin),
                origin_username=_optional_text(origin_username),
            )
            if packet_id is not None and not 1 <= _int(packet_id) <= 65535:
                raise ValueError(f"packet id {packet_id!r}")
            return _text(client_id), QueuedMessage(
                _int(seq),
                message,
                _qos(qos),
                tuple(identifiers),
                None if packet_id is None else _int(packet_id),
                bool(released),
            )
        except (ValueError, TypeError, KeyError) as exc:
            raise self._fail("queued", tuple(row[:2]), exc) from exc

    def inbound(self, row: Sequence[Any]) -> tuple[str, int]:
        try:
            client_id, packet_id = row
            if not 1 <= _int(packet_id) <= 65535:
                raise ValueError(f"packet id {packet_id!r}")
            return _text(client_id), packet_id
        except (ValueError, TypeError) as exc:
            raise self._fail("inbound_qos2", tuple(row), exc) from exc

    def session(self, row: Sequence[Any], subscriptions: tuple[StoredSubscription, ...]) -> StoredSession:
        try:
            client_id, protocol_version, expiry_interval, disconnected_at, username = row
            if protocol_version not in (3, 4, 5):
                raise ValueError(f"protocol version {protocol_version!r}")
            return StoredSession(
                client_id=_text(client_id),
                protocol_version=protocol_version,
                expiry_interval=_int(expiry_interval),
                subscriptions=subscriptions,
                disconnected_at=_optional_float(disconnected_at),
                username=None if username is None else _text(username),
            )
        except (ValueError, TypeError) as exc:
            raise self._fail("sessions", row[0] if row else None, exc) from exc

    def subscription(self, row: Sequence[Any]) -> tuple[str, StoredSubscription]:
        try:
            client_id, topic_filter, qos, no_local, rap, retain_handling, identifier = row
            if retain_handling not in (0, 1, 2):
                raise ValueError(f"retain handling {retain_handling!r}")
            return _text(client_id), StoredSubscription(
                topic_filter=_text(topic_filter),
                qos=_qos(qos),
                no_local=bool(no_local),
                retain_as_published=bool(rap),
                retain_handling=retain_handling,
                subscription_identifier=None if identifier is None else _int(identifier),
            )
        except (ValueError, TypeError) as exc:
            raise self._fail("subscriptions", tuple(row[:2]), exc) from exc


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected text, found {type(value).__name__}")
    return value


def _optional_text(value: object) -> str | None:
    return None if value is None else _text(value)


def _blob(value: object) -> bytes:
    if not isinstance(value, bytes):
        raise TypeError(f"expected a blob, found {type(value).__name__}")
    return value


def _int(value: object) -> int:
    if not isinstance(value, int):
        raise TypeError(f"expected an integer, found {type(value).__name__}")
    return value


def _qos(value: object) -> int:
    qos = _int(value)
    if qos not in (0, 1, 2):
        raise ValueError(f"QoS {qos!r}")
    return qos


def _optional_float(value: object) -> float | None:
    if value is None:
        return None
    if not isinstance(value, int | float):
        raise TypeError(f"expected a number, found {type(value).__name__}")
    return float(value)
