"""Leaner usage events: no stored fingerprint (a repeated key is compared with the stored
columns themselves), and the burn queue indexes only the events still to burn.

Events of accounts outside async mode are stored as already burned, so the partial index
``ix_usage_events_unburned`` holds only async-mode events waiting for ``burn_usage``.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-21 11:10:00
"""

from __future__ import annotations

import hashlib

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_UNBURNED = sa.text("burned = 0")


def upgrade() -> None:
    with op.batch_alter_table("usage_events") as batch_op:
        batch_op.drop_index("ix_usage_events_unburned")
        batch_op.drop_column("fingerprint")
    op.create_index(
        "ix_usage_events_unburned", "usage_events", ["recorded_at", "key"], sqlite_where=_UNBURNED,
        postgresql_where=_UNBURNED,
    )  # fmt: skip


def downgrade() -> None:
    op.drop_index("ix_usage_events_unburned", table_name="usage_events")
    with op.batch_alter_table("usage_events") as batch_op:
        batch_op.add_column(sa.Column("fingerprint", sa.String(length=32), nullable=False, server_default=""))
        batch_op.create_index("ix_usage_events_unburned", ["burned", "recorded_at"], unique=False)
    # The fingerprint 0005 compares a resent key with: every input is a stored column
    # (properties are stored as their canonical JSON), so it is recomputed exactly.
    conn = op.get_bind()
    page = sa.text(
        "SELECT key, account_id, event_type, event_at, quantity, properties FROM usage_events "
        "WHERE key > :after ORDER BY key LIMIT 1000"
    )
    update = sa.text("UPDATE usage_events SET fingerprint = :fp WHERE key = :key")
    after = ""
    while rows := conn.execute(page, {"after": after}).all():
        conn.execute(update, [{"key": r[0], "fp": _fingerprint(*r[1:])} for r in rows])
        after = rows[-1][0]


def _fingerprint(account_id: str, event_type: str, event_at: int, quantity: int, properties: str) -> str:
    text = f"{account_id}\x1f{event_type}\x1f{event_at}\x1f{quantity}\x1f{properties}"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]
