"""indexes for the pages' access paths

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27 12:20:00.000000

Found by reading each key page's queries on the synthetic region (tests/benchmarks/region.py):
an organisation's leads (the review of a return, sending it back, reminders), the commitments
that name a priority second (the priority's public page), the outbox filtered by state, and an
organisation's chases among its audit events.
"""

from alembic import op

# revision identifiers, used by Alembic.
revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

INDEXES = [
    ("organisation_leads", "ix_organisation_leads_organisation_id", ["organisation_id"]),
    ("commitments", "ix_commitments_secondary_priority_id", ["secondary_priority_id"]),
    ("notifications", "ix_notifications_state_id", ["state", "id"]),
    (
        "audit_events",
        "ix_audit_events_organisation_action_occurred_at",
        ["organisation_id", "action", "occurred_at"],
    ),
]


def upgrade():
    for table, name, columns in INDEXES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.create_index(name, columns, unique=False)


def downgrade():
    for table, name, _ in reversed(INDEXES):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(name)
