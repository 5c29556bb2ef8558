"""What the event loop hands to the writer thread, and the writer's counters."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from gateway.store._types import DropReason, NewMessage, StoreMode, StoreProblem

Completion = Callable[[Any], None]
Complete = Callable[[Completion, Any], None]


@dataclass(slots=True)
class AppendCommand:
    messages: Sequence[NewMessage]
    done: Completion  # receives list[int] (ids) or a StoreError


@dataclass(slots=True)
class DeleteCommand:
    ids: Sequence[int]
    done: Completion | None  # receives None or a StoreError


@dataclass(slots=True)
class ReadCommand:
    after_id: int
    limit: int
    max_bytes: int
    done: Completion  # receives list[StoredMessage] or a StoreError


@dataclass(slots=True)
class CloseCommand:
    done: Completion


Command = AppendCommand | DeleteCommand | ReadCommand | CloseCommand


@dataclass(slots=True)
class _Counters:
    mode: StoreMode = StoreMode.CLOSED
    messages: int = 0
    bytes: int = 0
    pending: int = 0
    appended: int = 0
    removed: int = 0
    left: int = 0  # rows that left the queue: removed after an acknowledgement, or dropped by a cap
    commits: int = 0
    disk_full: bool = False
    dropped: dict[DropReason, int] = field(default_factory=dict)
    problems: list[StoreProblem] = field(default_factory=list)
