"""Sparkplug history in the SQLite store of ``gateway.store`` (survives kill -9 and restarts).

Each ``StoreForLater`` becomes one stored message: topic = the device id (``""`` for the node),
kind 1 (Sparkplug), ``created_ms`` = the oldest sample's timestamp (the store's age cap measures from
it), payload = the samples as compact JSON ``[[name, value, timestamp, quality], ...]`` (bytes values
as ``{"hex": ...}``, arrays as lists). A message leaves the store only when the session acknowledges
that its samples were handed to the MQTT client (§11 rule 6: QoS 0 cannot confirm more), or through the
store's counted drops (byte cap, age cap, disk full).
"""

from __future__ import annotations

import json
import logging
from typing import Any

from gateway.app.history import HistoryChunk, HistoryStatus
from gateway.store import MessageStore, NewMessage, StoreError
from sparkplug import Quality, Sample

log = logging.getLogger(__name__)

SPARKPLUG_KIND = 1  # gateway.uplink.RecordKind: 1 = Sparkplug


def encode_samples(samples: tuple[Sample, ...]) -> bytes:
    rows = []
    for sample in samples:
        value: Any = sample.value
        if isinstance(value, bytes):
            value = {"hex": value.hex()}
        elif isinstance(value, tuple):
            value = list(value)
        elif not (value is None or isinstance(value, bool | int | float | str)):
            continue  # DataSet/Template values are not buffered (none of our drivers produce them)
        rows.append([sample.name, value, sample.timestamp, int(sample.quality)])
    return json.dumps(rows, separators=(",", ":"), allow_nan=True).encode()


def decode_samples(payload: bytes) -> tuple[Sample, ...]:
    samples = []
    for name, raw, timestamp, quality in json.loads(payload):
        value = raw
        if isinstance(raw, dict) and "hex" in raw:
            value = bytes.fromhex(raw["hex"])
        elif isinstance(raw, list):
            value = tuple(raw)
        samples.append(Sample(name, value, int(timestamp), Quality(quality)))
    return tuple(samples)


class DurableHistory:
    """The :class:`~gateway.app.history.History` over an open :class:`MessageStore`."""

    def __init__(self, store: MessageStore) -> None:
        self._store = store
        self._cursor = 0
        self.drained = 0
        self.dropped = 0
        self.oldest_ms: int | None = None

    def store(self, device_id: str | None, samples: tuple[Sample, ...]) -> None:
        if not samples:
            return
        message = NewMessage(
            device_id or "",
            encode_samples(samples),
            0,
            False,
            SPARKPLUG_KIND,
            min(s.timestamp for s in samples),
        )
        try:
            future = self._store.append(message)
        except StoreError as exc:
            self.dropped += len(samples)
            log.warning("store: %d samples dropped: %s", len(samples), exc, extra={"device": device_id})
            return
        future.add_done_callback(self._committed)
        if self.oldest_ms is None:
            self.oldest_ms = message.created_ms

    def _committed(self, future: Any) -> None:
        if not future.cancelled() and future.exception() is not None:
            log.warning("store: a batch of samples was not stored: %s", future.exception())

    async def take(self, limit: int) -> list[HistoryChunk]:
        rows = await self._store.read_after(self._cursor, limit=max(1, limit))
        chunks = []
        for row in rows:
            self._cursor = max(self._cursor, row.id)
            try:
                samples = decode_samples(row.payload)
            except (ValueError, TypeError, KeyError) as exc:
                log.error("store: message %d is not readable sample data (%s): dropped", row.id, exc)
                self._store.delete([row.id])
                continue
            chunks.append(HistoryChunk(row.topic or None, samples, (row.id,)))
        return chunks

    def ack(self, chunks: list[HistoryChunk]) -> None:
        ids = [i for chunk in chunks for i in chunk.ids]
        if ids:
            self._store.delete(ids)
        self.drained += sum(len(chunk.samples) for chunk in chunks)

    def requeue(self, chunks: list[HistoryChunk]) -> None:
        ids = [i for chunk in chunks for i in chunk.ids]
        if ids:
            self._cursor = min(self._cursor, min(ids) - 1)

    def reset(self) -> None:
        """Read from the oldest stored message again (a new session: nothing taken is in flight)."""
        self._cursor = 0

    async def refresh_oldest(self) -> None:
        rows = await self._store.read_after(0, limit=1)
        self.oldest_ms = rows[0].created_ms if rows else None

    def status(self) -> HistoryStatus:
        status = self._store.status()
        dropped = self.dropped + sum(status.dropped.values())
        return HistoryStatus(
            status.messages + status.pending,
            dropped,
            self.oldest_ms,
            self.drained,
            status.bytes,
            durable=status.mode.value == "disk",
        )
