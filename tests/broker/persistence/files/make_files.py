"""Regenerate the broken broker stores shipped in this folder (catalogue T27).

    .venv/bin/python -m tests.broker.persistence.files.make_files

Each file is a ``broker.sqlite3`` as a user might find it after an accident:

- ``zero-filled.sqlite3``     8 KiB of zero bytes (a file system that lost the data blocks);
- ``random.sqlite3``          8 KiB of pseudo-random bytes (fixed seed);
- ``garbage-header.sqlite3``  a valid store whose first 16 bytes were overwritten;
- ``truncated.sqlite3``       a valid store with 200 retained messages, cut at 50 %;
- ``newer-version.sqlite3``   a valid store stamped with schema version 99 (a downgrade);
- ``foreign.sqlite3``         an SQLite database of some other program;
- ``bad-row.sqlite3``         a valid store with a retained message whose QoS is 7 (tampered by hand).
"""

from __future__ import annotations

import asyncio
import random
import sqlite3
import tempfile
from pathlib import Path

from gateway.broker.hooks import StoredMessage
from gateway.broker.persistence import STORE_NAME, SqlitePersistence

HERE = Path(__file__).parent


async def _valid_store(directory: Path, retained: int) -> bytes:
    store = SqlitePersistence(directory)
    await store.load()
    for index in range(retained):
        store.retained_set(StoredMessage(f"plant/tag/{index}", bytes(1000), 1, True))
    await store.close()
    return (directory / STORE_NAME).read_bytes()


def _stamped(data: bytes, sql: str) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "x.sqlite3"
        path.write_bytes(data)
        connection = sqlite3.connect(path)
        connection.executescript(sql)
        connection.close()
        return path.read_bytes()


def main() -> None:
    rng = random.Random(20260101)
    with tempfile.TemporaryDirectory() as tmp:
        valid = asyncio.run(_valid_store(Path(tmp) / "a", 200))
        small = asyncio.run(_valid_store(Path(tmp) / "b", 3))
    (HERE / "zero-filled.sqlite3").write_bytes(bytes(8192))
    (HERE / "random.sqlite3").write_bytes(rng.randbytes(8192))
    (HERE / "garbage-header.sqlite3").write_bytes(b"NOT A DATABASE!!" + small[16:])
    (HERE / "truncated.sqlite3").write_bytes(valid[: len(valid) // 2])
    (HERE / "newer-version.sqlite3").write_bytes(_stamped(small, "PRAGMA user_version = 99;"))
    (HERE / "bad-row.sqlite3").write_bytes(_stamped(small, "UPDATE retained SET qos = 7;"))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "other.sqlite3"
        connection = sqlite3.connect(path)
        connection.executescript("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL);")
        connection.close()
        (HERE / "foreign.sqlite3").write_bytes(path.read_bytes())


if __name__ == "__main__":
    main()
