"""Invoice revisions: a voided invoice's period can be re-issued.

``revision`` numbers a period's invoices (every invoice frozen before this migration is
revision 1), and the unique constraint moves from (account, period start) to (account,
period start, revision), so a re-issue is a new row beside the voided one.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-21 21:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("invoices") as batch_op:
        batch_op.add_column(sa.Column("revision", sa.Integer(), server_default="1", nullable=False))
        batch_op.drop_constraint("uq_invoices_account_period", type_="unique")
        batch_op.create_unique_constraint(
            "uq_invoices_account_period_revision", ["account_id", "period_start", "revision"]
        )


def downgrade() -> None:
    reissued = op.get_bind().execute(sa.text("SELECT COUNT(*) FROM invoices WHERE revision > 1")).scalar_one()
    if reissued:
        raise RuntimeError(
            f"{reissued} invoices are re-issues (revision > 1); the schema before 0009 holds one invoice per period"
        )
    with op.batch_alter_table("invoices") as batch_op:
        batch_op.drop_constraint("uq_invoices_account_period_revision", type_="unique")
        batch_op.create_unique_constraint("uq_invoices_account_period", ["account_id", "period_start"])
        batch_op.drop_column("revision")
