"""A byte-for-byte picture of every table, to prove a rejected request wrote nothing."""

from __future__ import annotations

from sqlalchemy import Engine, select

from drawdown.storage.schema import metadata


def snapshot(engine: Engine) -> dict[str, list[tuple[object, ...]]]:
    with engine.connect() as conn:
        return {
            table.name: sorted((tuple(row) for row in conn.execute(select(table))), key=repr)
            for table in metadata.sorted_tables
        }
