"""Alembic environment: migrates the engine handed over by drawdown.storage.migrate.

On SQLite a batch migration rebuilds a table (copy, drop, rename), and with foreign keys on
the drop fails while other rows refer to the table (credit notes to invoices, say). SQLite's
own recipe for such changes is followed: foreign keys off for the migration (a pragma it
honours only outside a transaction), ``PRAGMA foreign_key_check`` before the commit, which
rolls everything back if any reference was broken, and foreign keys on again.
"""

from __future__ import annotations

from typing import Any

from alembic import context

from drawdown.storage.schema import metadata

engine = context.config.attributes["engine"]


def _foreign_keys(connection: Any, on: bool) -> None:
    connection.connection.driver_connection.execute(f"PRAGMA foreign_keys={'ON' if on else 'OFF'}")


with engine.connect() as connection:
    connection.info["write"] = True
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        _foreign_keys(connection, on=False)  # before SQLAlchemy begins the transaction
    try:
        context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
            if sqlite:
                broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                if broken:
                    raise RuntimeError(f"the migration would break foreign keys: {broken[:10]}")
        connection.commit()
    finally:
        if sqlite:
            _foreign_keys(connection, on=True)
