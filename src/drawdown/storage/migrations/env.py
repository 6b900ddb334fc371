"""Alembic environment: migrates the engine handed over by drawdown.storage.migrate."""

from __future__ import annotations

from alembic import context

from drawdown.storage.schema import metadata

engine = context.config.attributes["engine"]
with engine.connect() as connection:
    connection.info["write"] = True
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
