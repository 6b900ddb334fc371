"""SQLite keeps usage events in their key's B-tree (``WITHOUT ROWID``).

A rowid table with a text primary key is two B-trees, the rows by rowid and the key index;
every ingested event wrote both, plus the meter index. Clustered on the key, it is one B-tree
and the meter index, which now refers to rows by key. PostgreSQL is unchanged.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-21 15:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_UNBURNED = sa.text("burned = 0")
_COLUMNS = "key, account_id, event_type, event_at, quantity, properties, recorded_at, burned"


def upgrade() -> None:
    _rebuild(with_rowid=False)


def downgrade() -> None:
    _rebuild(with_rowid=True)


def _rebuild(*, with_rowid: bool) -> None:
    """Copy ``usage_events`` into a table of the other kind (SQLite only), indexes included."""
    if op.get_bind().dialect.name != "sqlite":
        return
    op.create_table(
        "usage_events_rebuilt",
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("event_type", sa.String(length=64), nullable=False),
        sa.Column("event_at", sa.BigInteger(), nullable=False),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.Column("properties", sa.Text(), nullable=False),
        sa.Column("recorded_at", sa.BigInteger(), nullable=False),
        sa.Column("burned", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
        sqlite_with_rowid=with_rowid,
    )
    op.execute(f"INSERT INTO usage_events_rebuilt ({_COLUMNS}) SELECT {_COLUMNS} FROM usage_events ORDER BY key")
    op.drop_table("usage_events")  # its indexes go with it
    op.rename_table("usage_events_rebuilt", "usage_events")
    op.create_index("ix_usage_events_account_type_time", "usage_events", ["account_id", "event_type", "event_at"])
    op.create_index(
        "ix_usage_events_unburned", "usage_events", ["recorded_at", "key"], sqlite_where=_UNBURNED,
        postgresql_where=_UNBURNED,
    )  # fmt: skip
