"""when reporting begins, each return's history, and the target each figure was reported against

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29 03:48:57.046355

Issue 14 (a year of operation):
- ``places.reporting_starts_on`` and ``organisations.reports_from``: no return, lateness or
  reminder exists for a quarter before reporting began, or before an organisation joined. An
  existing place starts where its returns start (none yet: the next period sync decides).
- ``return_events``: every submission (with a snapshot of what was sent), send-back, acceptance
  and extension, so a reviewer sees the history. Returns already reviewed get the events their
  columns still show; their first submissions have no snapshot.
- ``commitment_updates.reported_*``: the target in force when the figure was submitted, so a
  goalpost moved later does not rewrite how far along an earlier quarter was. Submitted updates
  get the target as it stood at their submission, rebuilt by undoing later moved goalposts.
- ``returns.missed_at``: an admin recorded that a return will not come after its window closed.
"""

from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

KINDS = "'submitted', 'sent_back', 'accepted', 'extension_granted', 'recorded_missed'"
# The commitment's fields each update keeps as they were when submitted.
REPORTED = {
    "target_value": "reported_target_value",
    "baseline_value": "reported_baseline_value",
    "direction": "reported_direction",
    "unit": "reported_unit",
    "target_date": "reported_target_date",
}


def upgrade():
    op.create_table(
        "return_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("return_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("data", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=True),
        sa.CheckConstraint(f"kind IN ({KINDS})", name=op.f("ck_return_events_kind_valid")),
        sa.ForeignKeyConstraint(
            ["actor_id"],
            ["users.id"],
            name=op.f("fk_return_events_actor_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["return_id"],
            ["returns.id"],
            name=op.f("fk_return_events_return_id_returns"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_return_events")),
    )
    with op.batch_alter_table("return_events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_return_events_return_id_occurred_at", ["return_id", "occurred_at"], unique=False
        )

    with op.batch_alter_table("commitment_updates", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("reported_target_value", sa.Numeric(precision=18, scale=4), nullable=True)
        )
        batch_op.add_column(
            sa.Column("reported_baseline_value", sa.Numeric(precision=18, scale=4), nullable=True)
        )
        batch_op.add_column(sa.Column("reported_direction", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("reported_unit", sa.String(length=50), nullable=True))
        batch_op.add_column(sa.Column("reported_target_date", sa.Date(), nullable=True))
        batch_op.create_check_constraint(
            "reported_direction_valid",
            "reported_direction IS NULL OR reported_direction IN ('increase', 'decrease')",
        )

    with op.batch_alter_table("organisations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reports_from", sa.Date(), nullable=True))

    with op.batch_alter_table("places", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reporting_starts_on", sa.Date(), nullable=True))

    with op.batch_alter_table("returns", schema=None) as batch_op:
        batch_op.add_column(sa.Column("missed_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("missed_by_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_returns_missed_by_id_users"),
            "users",
            ["missed_by_id"],
            ["id"],
            ondelete="SET NULL",
        )

    connection = op.get_bind()
    _start_where_returns_start(connection)
    _events_from_return_columns(connection)
    _reported_targets(connection)


def _start_where_returns_start(connection):
    connection.execute(
        sa.text(
            "UPDATE places SET reporting_starts_on = ("
            " SELECT min(reporting_periods.starts_on) FROM reporting_periods"
            " JOIN returns ON returns.period_id = reporting_periods.id)"
        )
    )


def _events_from_return_columns(connection):
    returns = sa.table(
        "returns",
        sa.column("id", sa.Integer),
        sa.column("state", sa.String),
        sa.column("submitted_at", sa.DateTime(timezone=True)),
        sa.column("submitted_by_id", sa.Integer),
        sa.column("reviewed_at", sa.DateTime(timezone=True)),
        sa.column("reviewed_by_id", sa.Integer),
        sa.column("review_comment", sa.Text),
    )
    events = sa.table(
        "return_events",
        sa.column("return_id", sa.Integer),
        sa.column("kind", sa.String),
        sa.column("occurred_at", sa.DateTime(timezone=True)),
        sa.column("actor_id", sa.Integer),
        sa.column("comment", sa.Text),
    )
    rows = []
    for row in connection.execute(sa.select(returns).where(returns.c.submitted_at.is_not(None))):
        rows.append(
            {
                "return_id": row.id,
                "kind": "submitted",
                "occurred_at": row.submitted_at,
                "actor_id": row.submitted_by_id,
                "comment": None,
            }
        )
        if row.reviewed_at is not None and row.state in ("accepted", "returned"):
            rows.append(
                {
                    "return_id": row.id,
                    "kind": "accepted" if row.state == "accepted" else "sent_back",
                    "occurred_at": row.reviewed_at,
                    "actor_id": row.reviewed_by_id,
                    "comment": row.review_comment if row.state == "returned" else None,
                }
            )
    if rows:
        connection.execute(events.insert(), rows)


def _decimal(text):
    if text is None:
        return None
    try:
        return Decimal(text)
    except InvalidOperation:
        return None


UPDATES = sa.table(
    "commitment_updates",
    sa.column("id", sa.Integer),
    sa.column("return_id", sa.Integer),
    sa.column("commitment_id", sa.Integer),
    sa.column("reported_target_value", sa.Numeric(18, 4)),
    sa.column("reported_baseline_value", sa.Numeric(18, 4)),
    sa.column("reported_direction", sa.String),
    sa.column("reported_unit", sa.String),
    sa.column("reported_target_date", sa.Date),
)
RETURNS = sa.table(
    "returns", sa.column("id", sa.Integer), sa.column("submitted_at", sa.DateTime(timezone=True))
)
COMMITMENTS = sa.table(
    "commitments",
    sa.column("id", sa.Integer),
    sa.column("target_value", sa.Numeric(18, 4)),
    sa.column("baseline_value", sa.Numeric(18, 4)),
    sa.column("direction", sa.String),
    sa.column("unit", sa.String),
    sa.column("target_date", sa.Date),
)
TARGET_CHANGES = sa.table(
    "target_changes",
    sa.column("id", sa.Integer),
    sa.column("commitment_id", sa.Integer),
    sa.column("field", sa.String),
    sa.column("old_value", sa.Text),
    sa.column("changed_at", sa.DateTime(timezone=True)),
)


def _reported_targets(connection):
    """Each submitted update's target as it stood when its return was first submitted."""
    rows = connection.execute(
        sa.select(
            UPDATES.c.id,
            UPDATES.c.commitment_id,
            RETURNS.c.submitted_at,
            *(COMMITMENTS.c[field] for field in REPORTED),
        )
        .join(RETURNS, RETURNS.c.id == UPDATES.c.return_id)
        .join(COMMITMENTS, COMMITMENTS.c.id == UPDATES.c.commitment_id)
        .where(RETURNS.c.submitted_at.is_not(None))
    ).all()
    if not rows:
        return
    changes = {}
    for commitment_id, field, old_value, changed_at in connection.execute(
        sa.select(
            TARGET_CHANGES.c.commitment_id,
            TARGET_CHANGES.c.field,
            TARGET_CHANGES.c.old_value,
            TARGET_CHANGES.c.changed_at,
        )
        .where(TARGET_CHANGES.c.field.in_(list(REPORTED)))
        .order_by(TARGET_CHANGES.c.changed_at.desc(), TARGET_CHANGES.c.id.desc())
    ):
        changes.setdefault(commitment_id, []).append((field, old_value, _aware(changed_at)))
    for update_id, commitment_id, submitted_at, *current in rows:
        values = dict(zip(REPORTED, current, strict=True))
        submitted = _aware(submitted_at)
        # Newest first: undo every move made after the submission, back to what it saw.
        for field, old_value, changed_at in changes.get(commitment_id, []):
            if changed_at <= submitted:
                break
            values[field] = _parsed(field, old_value)
        connection.execute(
            UPDATES.update()
            .where(UPDATES.c.id == update_id)
            .values({REPORTED[field]: value for field, value in values.items()})
        )


def _parsed(field, text):
    if field in ("target_value", "baseline_value"):
        return _decimal(text)
    if field == "target_date" and text is not None:
        return date.fromisoformat(text)
    return text


def _aware(moment):
    if isinstance(moment, str):  # SQLite hands back text from a raw query
        moment = datetime.fromisoformat(moment)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def downgrade():
    with op.batch_alter_table("returns", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_returns_missed_by_id_users"), type_="foreignkey")
        batch_op.drop_column("missed_by_id")
        batch_op.drop_column("missed_at")

    with op.batch_alter_table("places", schema=None) as batch_op:
        batch_op.drop_column("reporting_starts_on")

    with op.batch_alter_table("organisations", schema=None) as batch_op:
        batch_op.drop_column("reports_from")

    with op.batch_alter_table("commitment_updates", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("ck_commitment_updates_reported_direction_valid"), type_="check"
        )
        batch_op.drop_column("reported_target_date")
        batch_op.drop_column("reported_unit")
        batch_op.drop_column("reported_direction")
        batch_op.drop_column("reported_baseline_value")
        batch_op.drop_column("reported_target_value")

    with op.batch_alter_table("return_events", schema=None) as batch_op:
        batch_op.drop_index("ix_return_events_return_id_occurred_at")

    op.drop_table("return_events")
