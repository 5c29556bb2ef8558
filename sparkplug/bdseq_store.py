"""A small file that keeps the next bdSeq across restarts (digest §6, `topics-nbirth-bdseq-increment`).

This is the only I/O in the package; the edge-node core never touches it. The shell loads the value
before building :class:`~sparkplug.edge_node.EdgeNode` and saves every ``PersistBdSeq`` output before it
sends CONNECT. Writes are atomic (temporary file, fsync, rename, fsync of the directory), so a power
cut leaves either the old or the new value, never a torn file.
"""

from __future__ import annotations

import os
from pathlib import Path

from sparkplug.errors import SparkplugError


class BdSeqStoreError(SparkplugError):
    """The bdSeq file exists but cannot be read or holds something other than 0..255."""


class BdSeqStore:
    """The next bdSeq (0..255) in one text file; a missing file means 0."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> int:
        """The stored next bdSeq, or 0 when the file does not exist yet.

        Raises:
            BdSeqStoreError: unreadable file or a value outside 0..255 (says which file and what it held).
        """
        try:
            text = self.path.read_text(encoding="ascii").strip()
        except FileNotFoundError:
            return 0
        except (OSError, UnicodeDecodeError) as exc:
            raise BdSeqStoreError(f"cannot read bdSeq file {self.path}: {exc}") from None
        if not text.isdigit() or not 0 <= int(text) <= 255:
            raise BdSeqStoreError(
                f"bdSeq file {self.path} holds {text[:20]!r}, expected a number 0..255; "
                "delete it to restart at 0 (hosts may then flag one bdSeq mismatch)"
            )
        return int(text)

    def save(self, next_bd_seq: int) -> None:
        """Durably replace the stored value (atomic rename, fsync)."""
        if not 0 <= next_bd_seq <= 255:
            raise BdSeqStoreError(f"bdSeq must be 0..255, got {next_bd_seq}")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(self.path.name + ".tmp")
        with open(temporary, "w", encoding="ascii") as handle:
            handle.write(f"{next_bd_seq}\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, self.path)
        directory = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
