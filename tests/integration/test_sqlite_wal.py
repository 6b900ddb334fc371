"""SQLite's WAL is checkpointed by a background thread, not inside a request's commit."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from drawdown.book import open_book


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
