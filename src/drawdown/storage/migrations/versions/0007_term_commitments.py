"""Term commitments: each invoice keeps the spend it counts toward commitments.

``commit_spend_units`` is Σ (line amount − discount) without term true-ups. Invoices frozen
before this migration have no term true-up line, so their spend is ``amount_due_units +
credits_units`` (every line's due plus the credits it drew is its net, and a line's due is
never negative).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-21 11:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("invoices") as batch_op:
        batch_op.add_column(sa.Column("commit_spend_units", sa.BigInteger(), server_default="0", nullable=False))
    op.execute("UPDATE invoices SET commit_spend_units = amount_due_units + credits_units")


def downgrade() -> None:
    with op.batch_alter_table("invoices") as batch_op:
        batch_op.drop_column("commit_spend_units")
