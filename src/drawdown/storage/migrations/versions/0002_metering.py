"""Metering and enforcement: settings, rate cards, meters, usage events, holds, decisions,
and the overdraft column of account_balances.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21 08:39:25.735278
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "enforcement_decisions",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("feature", sa.String(length=64), nullable=False),
        sa.Column("quantity", sa.String(length=48), nullable=False),
        sa.Column("unit", sa.String(length=32), nullable=False),
        sa.Column("cost_units", sa.BigInteger(), nullable=False),
        sa.Column("holdable_units", sa.BigInteger(), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("decided_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("enforcement_decisions", schema=None) as batch_op:
        batch_op.create_index("ix_decisions_account_time", ["account_id", "decided_at"], unique=False)

    op.create_table(
        "holds",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("unit", sa.String(length=32), nullable=False),
        sa.Column("feature", sa.String(length=64), nullable=False),
        sa.Column("quantity", sa.String(length=48), nullable=False),
        sa.Column("rate", sa.String(length=48), nullable=False),
        sa.Column("amount_units", sa.BigInteger(), nullable=False),
        sa.Column("requested_units", sa.BigInteger(), nullable=False),
        sa.Column("overdraft_units", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.Column("hold_tx_id", sa.String(length=64), nullable=False),
        sa.Column("resolution_tx_id", sa.String(length=64), nullable=True),
        sa.Column("captured_units", sa.BigInteger(), nullable=False),
        sa.Column("released_units", sa.BigInteger(), nullable=False),
        sa.Column("resolved_at", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("hold_tx_id"),
    )
    with op.batch_alter_table("holds", schema=None) as batch_op:
        batch_op.create_index("ix_holds_account", ["account_id", "status"], unique=False)
        batch_op.create_index("ix_holds_status_expiry", ["status", "expires_at"], unique=False)

    op.create_table(
        "meters",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("event_type", sa.String(length=64), nullable=False),
        sa.Column("aggregation", sa.String(length=16), nullable=False),
        sa.Column("property", sa.String(length=64), nullable=True),
        sa.Column("filters", sa.Text(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("meters", schema=None) as batch_op:
        batch_op.create_index("ix_meters_event_type", ["event_type"], unique=False)

    op.create_table(
        "rate_cards",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("unit", sa.String(length=32), nullable=False),
        sa.Column("effective_at", sa.BigInteger(), nullable=False),
        sa.Column("rates", sa.Text(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", "version"),
    )
    op.create_table(
        "settings",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_table(
        "usage_events",
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("event_type", sa.String(length=64), nullable=False),
        sa.Column("event_at", sa.BigInteger(), nullable=False),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.Column("properties", sa.Text(), nullable=False),
        sa.Column("fingerprint", sa.String(length=32), nullable=False),
        sa.Column("recorded_at", sa.BigInteger(), nullable=False),
        sa.Column("burned", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    with op.batch_alter_table("usage_events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_usage_events_account_type_time", ["account_id", "event_type", "event_at"], unique=False
        )
        batch_op.create_index("ix_usage_events_unburned", ["burned", "recorded_at"], unique=False)

    op.create_table(
        "account_enforcement",
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("overdraft_limits", sa.Text(), nullable=False),
        sa.Column("rate_card_id", sa.String(length=64), nullable=True),
        sa.Column("rate_card_version", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
        ),
        sa.PrimaryKeyConstraint("account_id"),
    )
    with op.batch_alter_table("account_balances", schema=None) as batch_op:
        batch_op.add_column(sa.Column("overdraft", sa.BigInteger(), server_default="0", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("account_balances", schema=None) as batch_op:
        batch_op.drop_column("overdraft")

    op.drop_table("account_enforcement")
    with op.batch_alter_table("usage_events", schema=None) as batch_op:
        batch_op.drop_index("ix_usage_events_unburned")
        batch_op.drop_index("ix_usage_events_account_type_time")

    op.drop_table("usage_events")
    op.drop_table("settings")
    op.drop_table("rate_cards")
    with op.batch_alter_table("meters", schema=None) as batch_op:
        batch_op.drop_index("ix_meters_event_type")

    op.drop_table("meters")
    with op.batch_alter_table("holds", schema=None) as batch_op:
        batch_op.drop_index("ix_holds_status_expiry")
        batch_op.drop_index("ix_holds_account")

    op.drop_table("holds")
    with op.batch_alter_table("enforcement_decisions", schema=None) as batch_op:
        batch_op.drop_index("ix_decisions_account_time")

    op.drop_table("enforcement_decisions")
