"""each update's quarter beside its commitment in one index; summaries stored as plain JSON

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-29 12:30:00.000000

Issue 17: the board summary reads every commitment's accepted updates newest quarter first. The
quarter lived on the update's return's period, so each build joined and sorted ~300,000 updates
on a region. ``commitment_updates.period_ordinal`` (year × 4 + quarter, copied from the return,
which never changes quarter) and an index on (commitment, quarter) give that order
without a join or a full sort; it replaces the index on the commitment alone. Existing updates are
filled from their returns.

``board_summaries.data`` and ``page`` become ``json`` on PostgreSQL: the document is written
once and read whole, never queried inside, and decomposing a region's 5 MB into ``jsonb`` took
longer than building it. SQLite stores both as text either way.
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

INDEX = "ix_commitment_updates_commitment_id_period_ordinal"


def upgrade():
    with op.batch_alter_table("commitment_updates", schema=None) as batch_op:
        batch_op.add_column(sa.Column("period_ordinal", sa.Integer(), nullable=True))
    op.execute(
        "UPDATE commitment_updates SET period_ordinal = ("
        " SELECT reporting_periods.year * 4 + reporting_periods.quarter"
        " FROM returns JOIN reporting_periods ON reporting_periods.id = returns.period_id"
        " WHERE returns.id = commitment_updates.return_id)"
    )
    with op.batch_alter_table("commitment_updates", schema=None) as batch_op:
        batch_op.alter_column("period_ordinal", existing_type=sa.Integer(), nullable=False)
        batch_op.drop_index("ix_commitment_updates_commitment_id")
    op.create_index(
        INDEX,
        "commitment_updates",
        ["commitment_id", "period_ordinal"],
        unique=False,
        postgresql_include=["status", "progress_value", "no_change", "return_id"],
    )
    if op.get_bind().dialect.name == "postgresql":
        for column in ("data", "page"):
            op.alter_column(
                "board_summaries",
                column,
                type_=sa.JSON(),
                existing_type=postgresql.JSONB(),
                postgresql_using=f"{column}::json",
            )


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        for column in ("data", "page"):
            op.alter_column(
                "board_summaries",
                column,
                type_=postgresql.JSONB(),
                existing_type=sa.JSON(),
                postgresql_using=f"{column}::jsonb",
            )
    op.drop_index(INDEX, table_name="commitment_updates")
    with op.batch_alter_table("commitment_updates", schema=None) as batch_op:
        batch_op.create_index(
            "ix_commitment_updates_commitment_id", ["commitment_id"], unique=False
        )
        batch_op.drop_column("period_ordinal")
