"""The constraints that protect the data hold on SQLite and on PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy.orm.exc import StaleDataError

from tests.factories import (
    make_commitment,
    make_organisation,
    make_period,
    make_place,
    make_return,
    make_user,
)
from tracker.domain.enums import DeliveryStatus, ReturnState, Role
from tracker.models import CommitmentUpdate, Notification, Return


def flush_fails(session, *objects) -> None:  # type: ignore[no-untyped-def]
    """Adding ``objects`` breaks a constraint; the session is usable afterwards."""
    savepoint = session.begin_nested()
    session.add_all(objects)
    with pytest.raises(sa.exc.IntegrityError):
        session.flush()
    savepoint.rollback()


def test_one_return_per_organisation_and_period(db_session):
    organisation = make_organisation(db_session)
    period = make_period(db_session)
    make_return(db_session, organisation, period)
    flush_fails(db_session, Return(organisation_id=organisation.id, period_id=period.id))


def test_one_update_per_commitment_per_return(db_session):
    commitment = make_commitment(db_session)
    return_ = make_return(db_session, commitment.pledge.organisation, make_period(db_session))
    db_session.add(
        CommitmentUpdate(return_id=return_.id, commitment_id=commitment.id, status="on_track")
    )
    db_session.flush()
    flush_fails(
        db_session,
        CommitmentUpdate(return_id=return_.id, commitment_id=commitment.id, status="completed"),
    )


def test_notification_idempotency_key_is_unique(db_session):
    def notification() -> Notification:
        return Notification(
            kind="reminder",
            idempotency_key="reminder:org-1:2024-25-q1:lead@example.org:due-7",
            recipient_email="lead@example.org",
            subject="Your return is due",
            body_text="…",
        )

    db_session.add(notification())
    db_session.flush()
    flush_fails(db_session, notification())


@pytest.mark.parametrize(
    ("field", "value"),
    [("role", "superuser"), ("email", "Mixed@Example.org"), ("session_version", 0)],
)
def test_user_check_constraints(db_session, field, value):
    user = make_user(db_session, role=Role.LEAD)
    db_session.flush()
    savepoint = db_session.begin_nested()
    # Raw SQL: the database itself refuses, whatever code wrote it.
    with pytest.raises(sa.exc.IntegrityError):
        db_session.execute(
            sa.text(f"UPDATE users SET {field} = :value WHERE id = :id"),
            {"value": value, "id": user.id},
        )
    savepoint.rollback()


def test_status_outside_the_vocabulary_is_refused(db_session):
    commitment = make_commitment(db_session)
    return_ = make_return(db_session, commitment.pledge.organisation, make_period(db_session))
    savepoint = db_session.begin_nested()
    with pytest.raises(sa.exc.IntegrityError):
        db_session.execute(
            sa.text(
                "INSERT INTO commitment_updates (return_id, commitment_id, status, evidence_grade,"
                " no_change, unchanged_quarters, version, created_at, updated_at, period_ordinal)"
                " VALUES (:r, :c, 'green', 'self_declared', false, 0, 1, :t, :t, 8097)"
            ),
            {"r": return_.id, "c": commitment.id, "t": "2024-07-01 00:00:00+00:00"},
        )
    savepoint.rollback()
    # And the models refuse it before it gets that far.
    savepoint = db_session.begin_nested()
    db_session.add(
        CommitmentUpdate(return_id=return_.id, commitment_id=commitment.id, status="green")
    )
    with pytest.raises(sa.exc.StatementError, match="'green' is not a valid DeliveryStatus"):
        db_session.flush()
    savepoint.rollback()


def test_a_complete_off_track_update_needs_a_narrative(db_session):
    commitment = make_commitment(db_session)
    return_ = make_return(db_session, commitment.pledge.organisation, make_period(db_session))
    flush_fails(
        db_session,
        CommitmentUpdate(
            return_id=return_.id,
            commitment_id=commitment.id,
            status=DeliveryStatus.OFF_TRACK,
            complete=True,
        ),
    )
    flush_fails(
        db_session,
        CommitmentUpdate(return_id=return_.id, commitment_id=commitment.id, complete=True),
    )
    # A draft may be saved half done, to come back to.
    db_session.add(
        CommitmentUpdate(
            return_id=return_.id, commitment_id=commitment.id, status=DeliveryStatus.OFF_TRACK
        )
    )
    db_session.flush()


def test_returned_needs_a_comment(db_session):
    organisation = make_organisation(db_session)
    flush_fails(
        db_session,
        Return(
            organisation_id=organisation.id,
            period_id=make_period(db_session).id,
            state=ReturnState.RETURNED,
        ),
    )


def test_period_window_must_be_in_order(db_session):
    flush_fails(db_session, make_period(db_session, flush=False, due_on=date(2024, 6, 1)))


def test_foreign_keys_are_enforced(db_session):
    # SQLite ignores foreign keys unless every connection turns them on.
    make_place(db_session)
    savepoint = db_session.begin_nested()
    with pytest.raises(sa.exc.IntegrityError):
        db_session.execute(
            sa.text("INSERT INTO organisation_leads (user_id, organisation_id) VALUES (999, 999)")
        )
    savepoint.rollback()


def test_commitment_cannot_disagree_with_its_pledge_about_the_organisation(db_session):
    commitment = make_commitment(db_session)
    other = make_organisation(db_session, name="Someone Else")
    savepoint = db_session.begin_nested()
    with pytest.raises(sa.exc.IntegrityError):
        db_session.execute(
            sa.text("UPDATE commitments SET organisation_id = :org WHERE id = :id"),
            {"org": other.id, "id": commitment.id},
        )
    savepoint.rollback()


def test_stale_write_is_refused_by_the_version_column(db_session):
    commitment = make_commitment(db_session)
    assert commitment.version == 1
    # Someone else saves first: the row's version moves on under us.
    db_session.execute(
        sa.text("UPDATE commitments SET version = version + 1, title = 'theirs' WHERE id = :id"),
        {"id": commitment.id},
    )
    savepoint = db_session.begin_nested()
    commitment.title = "ours"
    with pytest.raises(StaleDataError):
        db_session.flush()
    savepoint.rollback()


def test_times_are_stored_and_read_back_in_utc(db_session):
    user = make_user(db_session)
    user.last_signed_in_at = datetime(2024, 7, 1, 9, 30, tzinfo=UTC)
    db_session.flush()
    db_session.expire_all()
    assert user.last_signed_in_at == datetime(2024, 7, 1, 9, 30, tzinfo=UTC)
    assert user.last_signed_in_at.tzinfo is not None


def test_naive_times_are_refused(db_session):
    user = make_user(db_session)
    savepoint = db_session.begin_nested()
    user.last_signed_in_at = datetime(2024, 7, 1, 9, 30)
    with pytest.raises(sa.exc.StatementError, match="naive datetime"):
        db_session.flush()
    savepoint.rollback()


def test_smart_score_and_flags_come_from_the_fields(db_session):
    place = make_place(db_session)
    commitment = make_commitment(db_session, title="Plant 500 trees")
    assert commitment.smart.missing == ("M", "A", "R", "T")
    commitment.primary_priority_id = place.priorities[3].id
    commitment.metric, commitment.target_value = "trees planted", 500
    commitment.owner_name = "A. Gardener"
    commitment.target_date = date(2030, 12, 31)
    assert commitment.smart.score == 5
    commitment.needs_review = True
    commitment.is_truncated = True
    assert commitment.flags == ["needs_review", "truncated"]
