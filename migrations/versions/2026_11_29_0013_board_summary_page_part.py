"""the board page's stored part of each summary

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-29 09:15:00.000000

Issue 17: ``board_summaries.page`` keeps, beside the whole frozen document, the part the summary
page shows (each long list cut to its first 50 items, with its length): on the region the
document is 4.7 MB of JSON and reading it took most of the page's time. Summaries built before
this have none and the page reads their whole document, as before.
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("board_summaries", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "page", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=True
            )
        )


def downgrade():
    with op.batch_alter_table("board_summaries", schema=None) as batch_op:
        batch_op.drop_column("page")
