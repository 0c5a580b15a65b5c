"""each board summary's fingerprint, under which the page keeps its rendering

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-29 15:10:00.000000

Issue 17: a summary is frozen when built, so the summary page renders its sections once per web
worker and keeps the HTML under ``board_summaries.fingerprint``, a random token given at build
time (ids alone are not enough: a rolled-back build's id is used again on SQLite). Summaries
built before this get their token here.
"""

import secrets

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("board_summaries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("fingerprint", sa.String(32), nullable=True))
    connection = op.get_bind()
    summaries = sa.table("board_summaries", sa.column("id"), sa.column("fingerprint"))
    for (summary_id,) in connection.execute(sa.select(summaries.c.id)).all():
        connection.execute(
            summaries.update()
            .where(summaries.c.id == summary_id)
            .values(fingerprint=secrets.token_hex(16))
        )


def downgrade():
    with op.batch_alter_table("board_summaries", schema=None) as batch_op:
        batch_op.drop_column("fingerprint")
