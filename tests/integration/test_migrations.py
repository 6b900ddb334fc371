"""The Alembic migrations build exactly the schema that schema.py declares."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect, text

from drawdown.book import open_book
from drawdown.domain.usage import Window, parse_event
from drawdown.storage.engine import engine_for
from drawdown.storage.migrate import downgrade, is_current, upgrade
from drawdown.storage.schema import metadata
from tests import pg
from tests.conftest import START, FixedClock
from tests.integration.test_invoicing import at, setup, use


def test_migrations_match_the_declared_schema_and_are_idempotent(store_url: str) -> None:
    engine = engine_for(store_url)
    upgrade(engine)
    upgrade(engine)
    assert is_current(engine)
    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), metadata) == []
    engine.dispose()


def test_downgrading_below_0006_restores_every_event_fingerprint(store_url: str, clock: FixedClock) -> None:
    """0006 dropped the stored fingerprint; rolling back must recompute it exactly, or every
    resent key would look like a conflict to the older code."""
    url = store_url if store_url.startswith("sqlite") else pg.fresh_database(str(pg.postgres_url()))
    raws = [
        {"key": f"e{i}", "account": "acme", "type": "call", "time": (START - timedelta(minutes=i)).isoformat(),
         "quantity": str(i), "properties": {"region": "eu", "tier": i, "gold": i % 2 == 0}}
        for i in range(1_205)  # more than one page of the downgrade's keyset loop
    ]  # fmt: skip
    with open_book(url, clock=clock) as book:
        book.create_account("acme", currency="USD")
        book.define_meter("calls", event_type="call", aggregation="sum")
        assert book.ingest(raws).accepted == len(raws)
        engine = book.engine
        downgrade(engine, "0005")
        with engine.connect() as conn:
            stored = dict(conn.execute(text("SELECT key, fingerprint FROM usage_events")).all())
        window = Window(clock.now(), timedelta(days=7))
        assert stored == {raw["key"]: parse_event(raw, window).fingerprint() for raw in raws}
        upgrade(engine)
    if url != store_url:
        pg.drop_database(url)


def test_sqlite_keeps_usage_events_in_their_key_order_and_a_downgrade_keeps_every_event(
    tmp_path: Path, clock: FixedClock
) -> None:
    """0008 rebuilds the table WITHOUT ROWID (one B-tree fewer per event); both ways copy every row."""
    raws = [
        {"key": f"e{i}", "account": "acme", "type": "call", "time": (START - timedelta(minutes=i)).isoformat(),
         "quantity": f"{i}.5", "properties": {"region": "eu", "tier": i}}
        for i in range(50)
    ]  # fmt: skip
    with open_book(f"sqlite:///{tmp_path}/book.db", clock=clock) as book:
        book.create_account("acme", currency="USD")
        book.define_meter("calls", event_type="call", aggregation="sum")
        assert book.ingest(raws).accepted == len(raws)
        engine = book.engine
        assert "WITHOUT ROWID" in _table_sql(engine)
        before = _events(engine)
        downgrade(engine, "0007")
        assert "WITHOUT ROWID" not in _table_sql(engine)
        assert _events(engine) == before
        upgrade(engine)
        assert "WITHOUT ROWID" in _table_sql(engine)
        assert _events(engine) == before
        with engine.connect() as conn:
            assert compare_metadata(MigrationContext.configure(conn), metadata) == []
        assert book.ingest(raws).duplicates == len(raws)


def test_0009_numbers_every_earlier_invoice_revision_1_and_lets_its_period_be_reissued(
    store_url: str, clock: FixedClock
) -> None:
    """An invoice frozen before 0009 reads back as revision 1 after the upgrade, keeps its
    period's uniqueness per revision, and can be voided and re-issued; a downgrade refuses
    while a re-issue exists (the older schema holds one invoice per period)."""
    url = store_url if store_url.startswith("sqlite") else pg.fresh_database(str(pg.postgres_url()))
    with open_book(url, clock=clock) as book:
        setup(book, clock)
        use(book, ("e1", "api", "1000", "2026-10-03T10:00:00+00:00"))
        clock.at = at("2026-11-02T00:00:00")
        old = book.finalize_invoice("acme", "2026-10")
        note = book.issue_credit_note(old.id or "", "1.00", reason="goodwill")  # a row referring to the invoice
        engine = book.engine
        downgrade(engine, "0008")
        with engine.connect() as conn:
            assert "revision" not in {c["name"] for c in inspect(conn).get_columns("invoices")}
        upgrade(engine)  # on SQLite it rebuilds invoices, which credit_notes refers to
        with engine.connect() as conn:
            assert compare_metadata(MigrationContext.configure(conn), metadata) == []
            if engine.dialect.name == "sqlite":  # foreign keys were off for the rebuild only
                assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar_one() == 1
        stored = book.invoice(old.id or "")
        assert (stored.revision, stored.status, stored.document) == (1, "finalized", old.document)
        assert [n.id for n in stored.credit_notes] == [note.id]
        book.void_invoice(old.id or "", reason="wrong entity")
        again = book.reissue_invoice(old.id or "", reason="right entity")
        assert (again.revision, again.document["totals"]) == (2, old.document["totals"])
        with pytest.raises(RuntimeError, match="re-issues"):
            downgrade(engine, "0008")
        assert book.invoice(again.id or "").revision == 2
        assert book.verify().ok
    if url != store_url:
        pg.drop_database(url)


def _table_sql(engine: Engine) -> str:
    with engine.connect() as conn:
        return str(conn.execute(text("SELECT sql FROM sqlite_master WHERE name = 'usage_events'")).scalar_one())


def _events(engine: Engine) -> list[tuple[object, ...]]:
    with engine.connect() as conn:
        return [tuple(row) for row in conn.execute(text("SELECT * FROM usage_events ORDER BY key"))]
