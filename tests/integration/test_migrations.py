"""The Alembic migrations build exactly the schema that schema.py declares."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from drawdown.storage.engine import engine_for
from drawdown.storage.migrate import is_current, upgrade
from drawdown.storage.schema import metadata


def test_migrations_match_the_declared_schema_and_are_idempotent(store_url: str) -> None:
    engine = engine_for(store_url)
    upgrade(engine)
    upgrade(engine)
    assert is_current(engine)
    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), metadata) == []
    engine.dispose()
