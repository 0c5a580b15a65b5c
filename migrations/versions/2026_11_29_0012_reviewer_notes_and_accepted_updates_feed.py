"""a private note for the reviewer on each update; an index for the feeds of accepted updates

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-29 09:00:00.000000

Issue 15: once a return is accepted its updates' narratives and evidence links are public, so
what a lead wants only the programme team to read goes in a separate note that is never
published. The Atom feeds list the newest accepted updates first: the index on (state,
reviewed_at) lets them read the latest acceptances without sorting every return.
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("commitment_updates", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reviewer_note", sa.Text(), nullable=True))
    with op.batch_alter_table("returns", schema=None) as batch_op:
        batch_op.create_index(
            "ix_returns_state_reviewed_at", ["state", "reviewed_at"], unique=False
        )


def downgrade():
    with op.batch_alter_table("returns", schema=None) as batch_op:
        batch_op.drop_index("ix_returns_state_reviewed_at")
    with op.batch_alter_table("commitment_updates", schema=None) as batch_op:
        batch_op.drop_column("reviewer_note")
