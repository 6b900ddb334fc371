"""PostgreSQL helpers for the test suite.

``bin/test`` starts a throwaway PostgreSQL server and exports its URL as
``DRAWDOWN_TEST_PG_URL`` (a SQLAlchemy URL such as
``postgresql+psycopg://postgres@127.0.0.1:PORT/drawdown_test``). These helpers
let fixtures give every test module / xdist worker a database of its own::

    url = postgres_url()
    if url is None:
        pytest.skip("DRAWDOWN_TEST_PG_URL is not set")
    db_url = fresh_database(url)
    try:
        ...  # create_engine(db_url), run migrations, test
    finally:
        engine.dispose()
        drop_database(db_url)
"""

from __future__ import annotations

import os
import time
import uuid

import psycopg
from psycopg import sql
from psycopg.rows import TupleRow
from sqlalchemy.engine import URL, make_url

ENV_VAR = "DRAWDOWN_TEST_PG_URL"
DATABASE_PREFIX = "dd_"
_MAINTENANCE_DB = "postgres"
_CONNECT_TIMEOUT_S = 10


def postgres_url() -> str | None:
    """The test server's SQLAlchemy URL, or None when no server is configured."""
    return os.environ.get(ENV_VAR) or None


def _libpq_conninfo(url: URL, database: str) -> str:
    """A libpq URI for ``database`` on the server ``url`` points at."""
    libpq = url.set(drivername="postgresql", database=database)
    return libpq.render_as_string(hide_password=False)


def _connect_maintenance(url: URL) -> psycopg.Connection[TupleRow]:
    return psycopg.connect(
        _libpq_conninfo(url, _MAINTENANCE_DB),
        autocommit=True,
        connect_timeout=_CONNECT_TIMEOUT_S,
    )


def fresh_database(url: str, *, template: str | None = None, icu_locale: str | None = None) -> str:
    """Create a new, uniquely named database on ``url``'s server.

    Returns the SQLAlchemy URL of the new database (same driver, credentials,
    host and options as ``url``). ``template`` optionally names a database to
    clone (e.g. one migrated once per session); it must have no open
    connections while cloning. ``icu_locale`` (e.g. ``en-US``) makes an empty
    UTF-8 database whose text sorts by that ICU collation instead of the
    server's (bin/test initialises it with ``C``).
    """
    base = make_url(url)
    name = f"{DATABASE_PREFIX}{uuid.uuid4().hex[:12]}"
    statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
    if template is not None:
        statement = sql.SQL("{} TEMPLATE {}").format(statement, sql.Identifier(template))
    if icu_locale is not None:
        statement = sql.SQL(
            "{} TEMPLATE template0 ENCODING 'UTF8' LOCALE 'C' LOCALE_PROVIDER icu ICU_LOCALE {}"
        ).format(statement, sql.Literal(icu_locale))
    with _connect_maintenance(base) as conn:
        conn.execute(statement)
    return base.set(database=name).render_as_string(hide_password=False)


def drop_database(url: str) -> None:
    """Terminate every connection to ``url``'s database, then drop it.

    Only databases made by :func:`fresh_database` (named ``dd_...``) are
    dropped; anything else raises ``ValueError``. Dropping a database that no
    longer exists is a no-op.
    """
    target = make_url(url)
    name = target.database
    if not name or not name.startswith(DATABASE_PREFIX):
        raise ValueError(f"refusing to drop {name!r}: not a database made by fresh_database()")
    terminate = sql.SQL(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = {} AND pid <> pg_backend_pid()"
    ).format(sql.Literal(name))
    drop = sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name))
    with _connect_maintenance(target) as conn:
        for attempt in range(5):
            conn.execute(terminate)
            try:
                conn.execute(drop)
                return
            except psycopg.errors.ObjectInUse:
                # A client reconnected between the terminate and the drop.
                if attempt == 4:
                    raise
                time.sleep(0.1 * (attempt + 1))
