"""draft updates may be partial

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27 09:03:08.986995

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


STATUSES = "'not_started', 'on_track', 'at_risk', 'off_track', 'completed', 'discontinued'"
EXPLAINED = (
    "status NOT IN ('at_risk', 'off_track', 'discontinued') OR length(coalesce(narrative, '')) > 0"
)


def upgrade():
    # Updates written before drafts could be partial were all complete.
    with op.batch_alter_table("commitment_updates", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("complete", sa.Boolean(), nullable=False, server_default=sa.true())
        )
    with op.batch_alter_table("commitment_updates", schema=None) as batch_op:
        batch_op.alter_column("complete", server_default=None)
        batch_op.alter_column("status", existing_type=sa.VARCHAR(length=32), nullable=True)
        batch_op.drop_constraint(batch_op.f("ck_commitment_updates_status_valid"), type_="check")
        batch_op.drop_constraint(
            batch_op.f("ck_commitment_updates_explained_when_not_on_track"), type_="check"
        )
        batch_op.create_check_constraint(
            "status_valid", f"status IS NULL OR status IN ({STATUSES})"
        )
        batch_op.create_check_constraint(
            "explained_when_not_on_track", f"NOT complete OR {EXPLAINED}"
        )
        batch_op.create_check_constraint(
            "complete_has_status", "NOT complete OR status IS NOT NULL"
        )


def downgrade():
    # Half-done drafts have no place in the older schema.
    op.execute("DELETE FROM commitment_updates WHERE NOT complete")
    with op.batch_alter_table("commitment_updates", schema=None) as batch_op:
        for name in ("complete_has_status", "explained_when_not_on_track", "status_valid"):
            batch_op.drop_constraint(batch_op.f(f"ck_commitment_updates_{name}"), type_="check")
        batch_op.create_check_constraint("status_valid", f"status IN ({STATUSES})")
        batch_op.create_check_constraint("explained_when_not_on_track", EXPLAINED)
        batch_op.alter_column("status", existing_type=sa.VARCHAR(length=32), nullable=False)
        batch_op.drop_column("complete")
