"""several evidence files per update

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29 04:26:19.343152

Issue 14: an update held one evidence file in four columns of ``commitment_updates``, so a
second upload replaced the first. Files now have a table of their own, ``evidence_files``, one
row per file. Every file an update holds is copied across (uploaded when the update was last
saved, by whoever saved it), then the old columns and their checks go.

Downgrading puts each update's first file back in the columns; any later files of an update
lose their rows (the stored files stay on disk, untouched).
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

# The detected type was always stored with a file; an unknown one is served as a plain download.
UNKNOWN_TYPE = "application/octet-stream"

# The rows move through Python rather than INSERT … SELECT: on SQLite, batch mode rebuilds
# commitment_updates by dropping it, and with foreign keys on that drop deletes every row that
# refers to it, so evidence_files must not exist (or hold anything) while the table is rebuilt.
updates = sa.table(
    "commitment_updates",
    sa.column("id", sa.Integer),
    sa.column("updated_at", sa.DateTime(timezone=True)),
    sa.column("updated_by_id", sa.Integer),
    sa.column("evidence_file_key", sa.String),
    sa.column("evidence_file_name", sa.String),
    sa.column("evidence_file_type", sa.String),
    sa.column("evidence_file_size", sa.Integer),
)
files = sa.table(
    "evidence_files",
    sa.column("id", sa.Integer),
    sa.column("update_id", sa.Integer),
    sa.column("key", sa.String),
    sa.column("name", sa.String),
    sa.column("content_type", sa.String),
    sa.column("size", sa.Integer),
    sa.column("uploaded_at", sa.DateTime(timezone=True)),
    sa.column("uploaded_by_id", sa.Integer),
)


def upgrade():
    connection = op.get_bind()
    kept = [
        {
            "update_id": row.id,
            "key": row.evidence_file_key,
            "name": row.evidence_file_name,
            "content_type": row.evidence_file_type or UNKNOWN_TYPE,
            "size": row.evidence_file_size or 0,
            "uploaded_at": row.updated_at,
            "uploaded_by_id": row.updated_by_id,
        }
        for row in connection.execute(
            sa.select(updates)
            .where(updates.c.evidence_file_key.is_not(None))
            .order_by(updates.c.id)
        )
    ]

    # The checks go first: SQLite's batch mode rebuilds the table and would keep a check on a
    # column it no longer has.
    with op.batch_alter_table("commitment_updates", schema=None) as batch_op:
        for name in ("file_has_name", "file_size_not_negative"):
            batch_op.drop_constraint(batch_op.f(f"ck_commitment_updates_{name}"), type_="check")
    with op.batch_alter_table("commitment_updates", schema=None) as batch_op:
        batch_op.drop_column("evidence_file_size")
        batch_op.drop_column("evidence_file_type")
        batch_op.drop_column("evidence_file_name")
        batch_op.drop_column("evidence_file_key")

    op.create_table(
        "evidence_files",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("update_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("uploaded_by_id", sa.Integer(), nullable=True),
        sa.CheckConstraint("size >= 0", name=op.f("ck_evidence_files_size_not_negative")),
        sa.ForeignKeyConstraint(
            ["update_id"],
            ["commitment_updates.id"],
            name=op.f("fk_evidence_files_update_id_commitment_updates"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["uploaded_by_id"],
            ["users.id"],
            name=op.f("fk_evidence_files_uploaded_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evidence_files")),
        sa.UniqueConstraint("key", name=op.f("uq_evidence_files_key")),
    )
    with op.batch_alter_table("evidence_files", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_evidence_files_update_id"), ["update_id"], unique=False
        )
    if kept:
        connection.execute(files.insert(), kept)


def downgrade():
    connection = op.get_bind()
    first = {}
    for row in connection.execute(
        sa.select(files).order_by(files.c.update_id, files.c.uploaded_at, files.c.id)
    ):
        first.setdefault(row.update_id, row)

    with op.batch_alter_table("evidence_files", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_evidence_files_update_id"))
    op.drop_table("evidence_files")

    with op.batch_alter_table("commitment_updates", schema=None) as batch_op:
        batch_op.add_column(sa.Column("evidence_file_key", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("evidence_file_name", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("evidence_file_type", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("evidence_file_size", sa.Integer(), nullable=True))
        batch_op.create_check_constraint(
            "file_size_not_negative", "evidence_file_size IS NULL OR evidence_file_size >= 0"
        )
        batch_op.create_check_constraint(
            "file_has_name", "(evidence_file_key IS NULL) = (evidence_file_name IS NULL)"
        )
    if first:
        connection.execute(
            updates.update()
            .where(updates.c.id == sa.bindparam("update_id"))
            .values(
                evidence_file_key=sa.bindparam("key"),
                evidence_file_name=sa.bindparam("name"),
                evidence_file_type=sa.bindparam("content_type"),
                evidence_file_size=sa.bindparam("size"),
            ),
            [
                {
                    "update_id": row.update_id,
                    "key": row.key,
                    "name": row.name,
                    "content_type": row.content_type,
                    "size": row.size,
                }
                for row in first.values()
            ],
        )
