"""a pledge statement edited in the app is kept by a later import

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-29 13:00:00.000000

``pledges.statement_maintained_in_app``: an admin edited the statement in the app, so a later
import of the page leaves it (and says so) instead of putting the page's wording back, as
``commitments.maintained_in_app`` does for commitments. Existing statements all came from the
page, or were edited before this: the audit log says which, and an admin who finds one reverted
saves it again.
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("pledges", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "statement_maintained_in_app",
                sa.Boolean(),
                nullable=False,
                server_default=sa.false(),
            )
        )


def downgrade():
    with op.batch_alter_table("pledges", schema=None) as batch_op:
        batch_op.drop_column("statement_maintained_in_app")
