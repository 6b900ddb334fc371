"""verify() finds the first broken link after any change, deletion or reordering of stored rows.

The tests play an attacker with direct database access: they drop the append-only triggers
first, then edit the rows behind drawdown's back.
"""

from __future__ import annotations

import contextlib

import pytest
from sqlalchemy import Connection, Engine, text

from drawdown.book import Book
from drawdown.domain.errors import DrawdownError

TAMPERINGS = [
    "byte_in_reason", "entry_amount", "delete_transaction", "swap_transactions", "delete_entry", "entry_effective_at",
]  # fmt: skip


def _fill(book: Book) -> None:
    book.create_account("acme", currency="USD")
    for i in range(6):
        book.issue_grant("acme", f"{i + 1}", "USD", reason_code=f"r{i}")
        book.charge("acme", "1", "USD", reason=f"charge {i}")


def _unguard(engine: Engine) -> None:
    with engine.begin() as conn:
        for table in ("ledger_transactions", "ledger_entries"):
            if engine.dialect.name == "sqlite":
                conn.execute(text(f"DROP TRIGGER {table}_no_update"))
                conn.execute(text(f"DROP TRIGGER {table}_no_delete"))
            else:
                conn.execute(text(f"DROP TRIGGER {table}_append_only ON {table}"))


def _tamper(engine: Engine, how: str, seq: int) -> None:
    with engine.begin() as conn:
        if how == "byte_in_reason":
            conn.execute(text("UPDATE ledger_transactions SET reason = reason || 'x' WHERE seq = :s"), {"s": seq})
        elif how == "entry_amount":
            conn.execute(
                text("UPDATE ledger_entries SET amount = amount + 1 WHERE tx_seq = :s AND leg = 0"), {"s": seq}
            )
        elif how == "entry_effective_at":  # moves the leg in time: as-of balances and period caps read this column
            conn.execute(
                text("UPDATE ledger_entries SET effective_at = effective_at - :day WHERE tx_seq = :s AND leg = 0"),
                {"s": seq, "day": 86_400_000_000},
            )
        elif how == "delete_entry":
            conn.execute(text("DELETE FROM ledger_entries WHERE tx_seq = :s AND leg = 1"), {"s": seq})
        elif how == "delete_transaction":
            conn.execute(text("DELETE FROM ledger_entries WHERE tx_seq = :s"), {"s": seq})
            conn.execute(text("DELETE FROM ledger_transactions WHERE seq = :s"), {"s": seq})
        elif how == "swap_transactions":
            _swap(engine, seq)


def _swap(engine: Engine, seq: int) -> None:
    """Exchange two neighbouring transactions (with their entries), foreign keys switched off."""
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        if engine.dialect.name == "sqlite":
            cursor.execute("PRAGMA foreign_keys=OFF")
            cursor.execute("BEGIN")
        else:
            cursor.execute("SET session_replication_role = replica")
        for table, column in (("ledger_transactions", "seq"), ("ledger_entries", "tx_seq")):
            cursor.execute(f"UPDATE {table} SET {column} = -1 WHERE {column} = {seq}")
            cursor.execute(f"UPDATE {table} SET {column} = {seq} WHERE {column} = {seq + 1}")
            cursor.execute(f"UPDATE {table} SET {column} = {seq + 1} WHERE {column} = -1")
        if engine.dialect.name == "sqlite":
            cursor.execute("COMMIT")
        else:
            raw.commit()
    finally:
        raw.close()


@pytest.mark.parametrize("seq", [1, 6, 11])
@pytest.mark.parametrize("how", TAMPERINGS)
def test_verify_reports_the_first_broken_link(book: Book, how: str, seq: int) -> None:
    _fill(book)
    assert book.verify().ok
    _unguard(book.engine)
    _tamper(book.engine, how, seq)
    report = book.verify()
    assert not report.ok
    assert report.first_break is not None
    assert report.first_break.seq == seq


def test_deleting_the_newest_transaction_is_detected_against_the_head(book: Book) -> None:
    _fill(book)
    _unguard(book.engine)
    _tamper(book.engine, "delete_transaction", 12)
    report = book.verify()
    assert not report.ok
    assert report.first_break is not None
    assert report.first_break.seq == 12


def test_the_database_itself_refuses_to_update_or_delete_ledger_rows(book: Book) -> None:
    _fill(book)
    statements = [
        "UPDATE ledger_transactions SET reason = 'x'",
        "DELETE FROM ledger_transactions",
        "UPDATE ledger_entries SET amount = 0",
        "DELETE FROM ledger_entries",
    ]
    for statement in statements:
        with pytest.raises(Exception, match="append-only"), book.engine.begin() as conn:
            conn.execute(text(statement))
    assert book.verify().ok


def test_drawdown_itself_never_updates_or_deletes_ledger_rows(book: Book, monkeypatch: pytest.MonkeyPatch) -> None:
    """Record every statement a full workload sends and look for writes to ledger tables.

    Statements reach the database three ways: SQLAlchemy's execution (its events see them),
    prepared statements on the driver's cursor, and raw driver reads. On SQLite the driver's
    trace callback sees all three; on PostgreSQL the test listens to SQLAlchemy and wraps
    the prepared statements, the only raw path that writes.
    """
    from sqlalchemy import event

    from drawdown.storage.prepared import Prepared

    seen: list[str] = []

    def note(statement: str) -> None:
        seen.append(" ".join(statement.split()).lower())

    if book.engine.dialect.name == "sqlite":
        book.engine.dispose()  # every connection from here on is new, and traced
        event.listen(book.engine, "connect", lambda dbapi, _: dbapi.set_trace_callback(note))
    else:
        event.listen(book.engine, "before_cursor_execute", lambda _c, _cur, statement, *_: note(statement))
        original = Prepared._sql

        def traced(self: Prepared, conn: Connection) -> tuple[str, tuple[str, ...] | None, dict[str, object]]:
            found = original(self, conn)
            note(found[0])
            return found

        monkeypatch.setattr(Prepared, "_sql", traced)
    _fill(book)
    grant = book.grants("acme")[0].state.grant
    book.void_grant(grant.id, reason="test")
    with contextlib.suppress(DrawdownError):
        book.void_grant(grant.id, reason="again")
    book.expire_due()
    book.verify()
    assert any(s.startswith("insert into ledger_entries") for s in seen)
    offending = [s for s in seen if s.startswith(("update ledger_", "delete from ledger_"))]
    offending = [s for s in offending if not s.startswith("update ledger_head")]
    assert offending == []
