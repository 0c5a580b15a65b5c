"""stored tallies for the admin's work list

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-29 12:05:00.000000

Issue 17: on a region of 2,000 organisations the admin overview recounted every quarter's
returns and every commitment on each visit. ``tallies`` keeps those counts under a key, with a
version its writers move on (``services.tallies``). Each existing quarter and the commitments
get their row here, not yet counted (``built_version`` NULL): the first reader counts them from
the existing rows, and from then on every change is counted in.
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade():
    tallies = op.create_table(
        "tallies",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("built_version", sa.Integer(), nullable=True),
        sa.Column("data", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=True),
        sa.Column("built_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_tallies")),
    )
    periods = op.get_bind().execute(sa.text("SELECT id FROM reporting_periods ORDER BY id"))
    rows = [{"key": "commitments", "version": 0}]
    rows += [{"key": f"returns:{period_id}", "version": 0} for (period_id,) in periods]
    op.bulk_insert(tallies, rows)


def downgrade():
    op.drop_table("tallies")
