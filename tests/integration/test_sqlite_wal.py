"""SQLite's WAL is checkpointed by a background thread, not inside a request's commit."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from drawdown.book import open_book
from drawdown.storage import engine


def checkpointers() -> int:
    return sum(1 for t in threading.enumerate() if t.name == "drawdown-wal-checkpoint" and t.is_alive())


def test_committed_pages_reach_the_database_file_without_an_automatic_checkpoint(tmp_path: Path) -> None:
    before = checkpointers()
    db = tmp_path / "wal.db"
    with open_book(f"sqlite:///{db}") as book:
        assert checkpointers() == before + 1
        with book.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 0  # no checkpoint inside a commit
        book.create_account("acme", currency="USD")
        time.sleep(1.2)  # let the migrations' pages settle
        size = db.stat().st_size
        for i in range(200):
            book.issue_grant("acme", "1", "USD", reason_code=f"r{i}")
        deadline = time.monotonic() + 10
        while db.stat().st_size <= size and time.monotonic() < deadline:
            time.sleep(0.05)
        assert db.stat().st_size > size  # the grants' pages were copied from the WAL into the file
    assert checkpointers() == before  # disposing the engine stops its thread


def wal_restarts(wal: Path) -> int:
    """The WAL header's checkpoint sequence number: SQLite adds one each time it starts the WAL over."""
    return int.from_bytes(wal.read_bytes()[12:16], "big")


def test_the_wal_starts_over_from_its_beginning_under_a_steady_stream_of_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engine, "SQLITE_WAL_RESTART_FRAMES", 256)  # a long WAL, for this test's pace
    db = tmp_path / "steady.db"
    with open_book(f"sqlite:///{db}") as book:
        book.create_account("acme", currency="USD")
        before = wal_restarts(db.with_name("steady.db-wal"))
        deadline = time.monotonic() + 2.5  # five checkpointer rounds, each with commits landing during it
        i = 0
        while time.monotonic() < deadline:
            book.issue_grant("acme", "1", "USD", reason_code=f"r{i}")
            i += 1
        # Each round's FULL pass leaves nothing behind, so the next commit restarts the WAL
        # instead of appending to it for ever (a PASSIVE pass alone never got there).
        assert wal_restarts(db.with_name("steady.db-wal")) - before >= 2
