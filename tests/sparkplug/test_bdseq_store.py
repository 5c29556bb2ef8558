"""BdSeqStore: the next bdSeq survives restarts (topics-nbirth-bdseq-increment, TCK issue #425)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sparkplug import (
    BdSeqStore,
    BdSeqStoreError,
    ConnectStarting,
    Disconnected,
    EdgeNode,
    EdgeNodeConfig,
    PersistBdSeq,
    SetWill,
)


def test_missing_file_starts_at_zero(tmp_path: Path) -> None:
    assert BdSeqStore(tmp_path / "state" / "bdseq").load() == 0


def test_restart_continues_where_the_last_process_stopped(tmp_path: Path) -> None:
    """Two 'processes' in a row: the second one's first Will has the bdSeq after the first one's last."""
    path = tmp_path / "bdseq"
    wills = []
    for _process in range(2):
        store = BdSeqStore(path)
        node = EdgeNode(EdgeNodeConfig("G", "E"), next_bd_seq=store.load())
        for _connect in range(2):
            outputs = node.handle(ConnectStarting("s"), 1)
            persist = outputs[0]
            assert isinstance(persist, PersistBdSeq)
            store.save(persist.next_bd_seq)  # before CONNECT, as the shell must
            wills.append(next(o for o in outputs if isinstance(o, SetWill)).bd_seq)
            node.handle(Disconnected(), 2)
    assert wills == [0, 1, 2, 3]
    assert path.read_text() == "4\n"
    assert not (tmp_path / "bdseq.tmp").exists()


@pytest.mark.parametrize("content", ["", "abc", "256", "-1", "1.5"])
def test_corrupt_file_is_a_clear_error(tmp_path: Path, content: str) -> None:
    path = tmp_path / "bdseq"
    path.write_text(content)
    with pytest.raises(BdSeqStoreError, match=r"expected a number 0\.\.255; delete it"):
        BdSeqStore(path).load()


def test_unreadable_file_is_a_clear_error(tmp_path: Path) -> None:
    directory = tmp_path / "bdseq"
    directory.mkdir()  # a directory where the file should be
    with pytest.raises(BdSeqStoreError, match="cannot read bdSeq file"):
        BdSeqStore(directory).load()


def test_save_refuses_out_of_range(tmp_path: Path) -> None:
    with pytest.raises(BdSeqStoreError, match=r"0\.\.255"):
        BdSeqStore(tmp_path / "b").save(256)
