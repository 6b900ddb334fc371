"""Engines for the two supported stores.

SQLite (the embedded default) runs in WAL mode; a write unit of work starts with
``BEGIN IMMEDIATE`` so it holds the single writer lock from its first statement, and readers
never block it. PostgreSQL runs at READ COMMITTED; a write unit of work first locks the
ledger head row (``SELECT … FOR UPDATE``), which serialises every ledger writer, so each
check-then-post sees the latest committed state. Neither store relies on REPEATABLE READ.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.pool import StaticPool

from drawdown.domain.errors import InvalidField

SQLITE_BUSY_TIMEOUT_MS = 30_000


def engine_for(url: str) -> Engine:
    """Create an engine for ``sqlite:///path`` or ``postgresql+psycopg://…``."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(url, in_memory=parsed.database in (None, "", ":memory:"))
    if parsed.get_backend_name() == "postgresql":
        if parsed.get_driver_name() != "psycopg":
            raise InvalidField("PostgreSQL URLs must use the psycopg 3 driver: postgresql+psycopg://…", field="db")
        return create_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True)
    raise InvalidField(
        f"unsupported database URL {parsed.render_as_string()}; use sqlite:/// or postgresql+psycopg://", field="db"
    )


def _sqlite_engine(url: str, *, in_memory: bool) -> Engine:
    kwargs: dict[str, Any] = {"connect_args": {"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}}
    if in_memory:
        kwargs["poolclass"] = StaticPool  # one shared connection, or each would see an empty database
    engine = create_engine(url, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        if not in_memory:
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # Straight on the driver: every unit of work begins here, and exec_driver_sql's
        # execution context costs more than the statement itself.
        writing = connection.info.get("write", False)
        connection.connection.driver_connection.execute("BEGIN IMMEDIATE" if writing else "BEGIN")

    return engine
