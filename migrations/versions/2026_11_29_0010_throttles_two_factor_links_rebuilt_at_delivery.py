"""sign-in throttles, two-factor authentication, and email links rebuilt at delivery

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-29 04:35:11.047253

Issue 16 (security):
- ``sign_in_throttles``: one row per account, client address or recognised device, locked while
  an attempt is checked and counted (``sign_in_attempts`` stays the record of every attempt).
- ``users.totp_*`` and ``recovery_codes``: the TOTP second factor and its single-use codes.
- ``user_tokens.link_nonce`` and ``notifications.user_token_id``: an invitation or reset email
  is stored with a placeholder for its link, which the sender rebuilds from the nonce and the
  secret key. Links already in the outbox are removed here; any still waiting to go are failed,
  so an admin sends a new one rather than a blank link going out.
"""

import re

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

LINK_KINDS = ("invitation", "password_reset")
# The path of an invitation or reset link, up to its token (a url-safe string).
RAW_LINK = re.compile(r"(/invitations/|/password-reset/)[A-Za-z0-9_\-]+")


def upgrade():
    op.create_table(
        "sign_in_throttles",
        sa.Column("key", sa.String(length=400), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_failure_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("retry_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "failures >= 0", name=op.f("ck_sign_in_throttles_failures_not_negative")
        ),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_sign_in_throttles")),
    )
    with op.batch_alter_table("sign_in_throttles", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_sign_in_throttles_last_failure_at"), ["last_failure_at"], unique=False
        )

    op.create_table(
        "recovery_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_recovery_codes_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recovery_codes")),
        sa.UniqueConstraint(
            "user_id", "code_hash", name=op.f("uq_recovery_codes_user_id_code_hash")
        ),
    )
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.add_column(sa.Column("user_token_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_notifications_user_token_id_user_tokens"),
            "user_tokens",
            ["user_token_id"],
            ["id"],
            ondelete="SET NULL",
        )

    with op.batch_alter_table("user_tokens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("link_nonce", sa.String(length=64), nullable=True))

    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("totp_secret", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("totp_enabled_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("totp_last_step", sa.BigInteger(), nullable=True))

    _remove_stored_links()


def _remove_stored_links():
    """Take the raw links out of invitation and reset emails already in the outbox."""
    notifications = sa.table(
        "notifications",
        sa.column("id", sa.Integer()),
        sa.column("kind", sa.String()),
        sa.column("state", sa.String()),
        sa.column("body_text", sa.Text()),
        sa.column("body_html", sa.Text()),
        sa.column("last_error", sa.Text()),
    )
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(
            notifications.c.id,
            notifications.c.state,
            notifications.c.body_text,
            notifications.c.body_html,
        ).where(notifications.c.kind.in_(LINK_KINDS))
    ).all()
    for row in rows:
        values = {
            "body_text": RAW_LINK.sub(r"\1removed", row.body_text or ""),
            "body_html": RAW_LINK.sub(r"\1removed", row.body_html) if row.body_html else None,
        }
        if row.state in ("queued", "sending"):
            values["state"] = "failed"
            values["last_error"] = (
                "its link was removed when links stopped being stored: send a new one"
            )
        bind.execute(sa.update(notifications).where(notifications.c.id == row.id).values(**values))


def downgrade():
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("totp_last_step")
        batch_op.drop_column("totp_enabled_at")
        batch_op.drop_column("totp_secret")

    with op.batch_alter_table("user_tokens", schema=None) as batch_op:
        batch_op.drop_column("link_nonce")

    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_notifications_user_token_id_user_tokens"), type_="foreignkey"
        )
        batch_op.drop_column("user_token_id")

    op.drop_table("recovery_codes")
    with op.batch_alter_table("sign_in_throttles", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sign_in_throttles_last_failure_at"))

    op.drop_table("sign_in_throttles")
