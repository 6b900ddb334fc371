"""FinOps cloud credits: hierarchy nodes, mapping rules, imports, period summaries, spend per
node, the import change log and the detected-credit queue.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-21 09:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "finops_nodes",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("parent_id", sa.String(length=64), nullable=True),
        sa.Column("currency", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "finops_rules",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("match_key", sa.String(length=255), nullable=False),
        sa.Column("match_value", sa.String(length=255), nullable=False),
        sa.Column("node_id", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "finops_imports",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("file_name", sa.String(length=255), nullable=False),
        sa.Column("format", sa.String(length=32), nullable=False),
        sa.Column("row_count", sa.BigInteger(), nullable=False),
        sa.Column("imported_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("sha256"),
    )
    op.create_table(
        "finops_periods",
        sa.Column("period_start", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=32), nullable=False),
        sa.Column("import_id", sa.String(length=64), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("period_start", "currency"),
    )
    op.create_table(
        "finops_spend",
        sa.Column("period_start", sa.BigInteger(), nullable=False),
        sa.Column("node_id", sa.String(length=64), nullable=False),
        sa.Column("service", sa.String(length=255), nullable=False),
        sa.Column("currency", sa.String(length=32), nullable=False),
        sa.Column("spend_units", sa.BigInteger(), nullable=False),
        sa.Column("covered_units", sa.BigInteger(), nullable=False),
        sa.Column("import_id", sa.String(length=64), nullable=False),
        sa.Column("imported_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("period_start", "node_id", "service", "currency"),
    )
    op.create_index("ix_finops_spend_node", "finops_spend", ["node_id", "period_start"], unique=False)
    op.create_table(
        "finops_import_changes",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("import_id", sa.String(length=64), nullable=False),
        sa.Column("period_start", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("before", sa.Text(), nullable=True),
        sa.Column("after", sa.Text(), nullable=True),
        sa.Column("recorded_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_finops_changes_period", "finops_import_changes", ["period_start", "currency"], unique=False)
    op.create_table(
        "finops_credits",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("payer_account_id", sa.String(length=64), nullable=False),
        sa.Column("usage_account_id", sa.String(length=64), nullable=False),
        sa.Column("currency", sa.String(length=32), nullable=False),
        sa.Column("key_kind", sa.String(length=16), nullable=False),
        sa.Column("key_value", sa.String(length=512), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("applied", sa.Text(), nullable=False),
        sa.Column("first_seen", sa.BigInteger(), nullable=False),
        sa.Column("last_seen", sa.BigInteger(), nullable=False),
        sa.Column("issue_date", sa.String(length=10), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("node_id", sa.String(length=64), nullable=True),
        sa.Column("grant_id", sa.String(length=64), nullable=True),
        sa.Column("amount_units", sa.BigInteger(), nullable=True),
        sa.Column("end_date", sa.String(length=10), nullable=True),
        sa.Column("reference", sa.String(length=255), nullable=True),
        sa.Column("allocations", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("payer_account_id", "usage_account_id", "currency", "key_kind", "key_value"),
    )


def downgrade() -> None:
    op.drop_table("finops_credits")
    op.drop_table("finops_import_changes")
    op.drop_table("finops_spend")
    op.drop_table("finops_periods")
    op.drop_table("finops_imports")
    op.drop_table("finops_rules")
    op.drop_table("finops_nodes")
