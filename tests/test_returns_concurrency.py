"""On PostgreSQL, with real commits from many threads at once: nothing lost, nothing doubled."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from flask import Flask

from tests.conftest import postgres_app
from tests.factories import (
    make_commitment,
    make_organisation,
    make_period,
    make_place,
    make_return,
    make_user,
)
from tests.test_tallies import fresh, stored
from tracker.domain.calendar import Quarter
from tracker.domain.enums import DeliveryStatus, ReturnState, Role
from tracker.extensions import db
from tracker.models import AuditEvent, Commitment, CommitmentUpdate, ReportingPeriod, Return, Tally
from tracker.services import returns as service
from tracker.services import tallies
from tracker.services.figures import commitment_figures

TODAY = datetime(2024, 7, 1, 10, tzinfo=UTC)


@pytest.fixture(scope="module")
def pg_app(tmp_path_factory) -> Iterator[Flask]:
    # Enough connections for every thread at once: they all wait at one barrier.
    with postgres_app(
        tmp_path_factory.mktemp("concurrency"),
        SQLALCHEMY_ENGINE_OPTIONS={"pool_size": 25, "max_overflow": 5, "pool_timeout": 10},
    ) as app:
        yield app


@pytest.fixture
def setting(pg_app):
    with pg_app.app_context():
        make_place(db.session)
        org = make_organisation(db.session)
        commitments = [make_commitment(db.session, org) for _ in range(3)]
        period = make_period(db.session, Quarter(2024, 1))
        leads = [make_user(db.session, Role.LEAD, organisations=[org]) for _ in range(20)]
        db.session.commit()
        ids = {
            "org": org.id,
            "period": period.id,
            "commitments": [c.id for c in commitments],
            "leads": [u.id for u in leads],
        }
    return ids


def run_at_once(count: int, work) -> list:  # type: ignore[no-untyped-def]
    """Start ``count`` threads that begin together; collect what each returned or raised."""
    barrier = threading.Barrier(count, timeout=30)
    results: list = [None] * count

    def worker(index: int) -> None:
        try:
            results[index] = work(index, barrier)
        except Exception as error:
            results[index] = error

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def test_two_people_saving_the_same_update_lose_nothing(pg_app, setting):
    from tracker.models import Commitment, Organisation, ReportingPeriod, User

    def save(index: int, barrier: threading.Barrier):  # type: ignore[no-untyped-def]
        with pg_app.app_context(), pg_app.test_request_context():
            org = db.session.get(Organisation, setting["org"])
            period = db.session.get(ReportingPeriod, setting["period"])
            commitment = db.session.get(Commitment, setting["commitments"][0])
            lead = db.session.get(User, setting["leads"][index])
            barrier.wait()
            try:
                service.save_update(
                    org,
                    period,
                    commitment,
                    service.UpdateInput(
                        status=DeliveryStatus.ON_TRACK, narrative=f"words of person {index}"
                    ),
                    version=None,
                    complete=True,
                    actor=lead,
                    today=TODAY.date(),
                )
                db.session.commit()
                return "saved"
            except service.StaleUpdate as stale:
                db.session.rollback()
                return ("told", stale.theirs.narrative)
            finally:
                db.session.remove()

    results = run_at_once(2, save)
    assert sorted(r if isinstance(r, str) else r[0] for r in results) == ["saved", "told"]
    with pg_app.app_context():
        rows = db.session.scalars(
            sa.select(CommitmentUpdate).where(
                CommitmentUpdate.commitment_id == setting["commitments"][0]
            )
        ).all()
        assert len(rows) == 1
        told = next(r for r in results if not isinstance(r, str))
        # The one who was told sees exactly what the other saved.
        assert told[1] == rows[0].narrative
        db.session.remove()


def test_twenty_submissions_at_once_make_one(pg_app, setting):
    from tracker.models import Commitment, Organisation, ReportingPeriod, User

    with pg_app.app_context(), pg_app.test_request_context():
        org = db.session.get(Organisation, setting["org"])
        period = db.session.get(ReportingPeriod, setting["period"])
        lead = db.session.get(User, setting["leads"][0])
        for commitment_id in setting["commitments"][1:] + setting["commitments"][:1]:
            commitment = db.session.get(Commitment, commitment_id)
            existing = db.session.scalar(
                sa.select(CommitmentUpdate).where(CommitmentUpdate.commitment_id == commitment_id)
            )
            service.save_update(
                org,
                period,
                commitment,
                service.UpdateInput(status=DeliveryStatus.COMPLETED),
                version=existing.version if existing else None,
                complete=True,
                actor=lead,
                today=TODAY.date(),
            )
        db.session.commit()
        db.session.remove()

    def submit(index: int, barrier: threading.Barrier):  # type: ignore[no-untyped-def]
        with pg_app.app_context(), pg_app.test_request_context():
            org = db.session.get(Organisation, setting["org"])
            period = db.session.get(ReportingPeriod, setting["period"])
            lead = db.session.get(User, setting["leads"][index])
            barrier.wait()
            try:
                outcome = service.submit(org, period, actor=lead, now=TODAY)
                if outcome.submitted:
                    db.session.commit()
                else:
                    db.session.rollback()
                return outcome
            finally:
                db.session.remove()

    outcomes = run_at_once(20, submit)
    assert not [o for o in outcomes if isinstance(o, Exception)], outcomes
    assert sum(o.submitted for o in outcomes) == 1
    assert {o.message for o in outcomes if not o.submitted} == {
        "This return has already been submitted"
    }
    with pg_app.app_context():
        return_ = db.session.scalar(
            sa.select(Return).where(Return.organisation_id == setting["org"])
        )
        assert return_.state == ReturnState.SUBMITTED
        submissions = db.session.scalar(
            sa.select(sa.func.count())
            .select_from(AuditEvent)
            .where(
                AuditEvent.entity_type == "return",
                AuditEvent.action == "submitted",
                AuditEvent.organisation_id == setting["org"],
            )
        )
        assert submissions == 1
        db.session.remove()


def test_two_people_changing_what_two_tallies_count_in_opposite_orders_both_save(pg_app):
    """One changes a return, then a commitment; the other a commitment, then a return of the
    same quarter, each flushing as they go. Both tallies move on in each transaction, the two
    in opposite orders: both must save (one may wait), never be refused as a deadlock."""
    with pg_app.app_context():
        make_place(db.session)
        period = make_period(db.session, Quarter(2024, 2))
        organisations = [make_organisation(db.session) for _ in range(2)]
        ids = {
            "period": period.id,
            "returns": [make_return(db.session, org, period).id for org in organisations],
            "commitments": [make_commitment(db.session, org).id for org in organisations],
        }
        db.session.commit()
        keys = [tallies.PLEDGES, tallies.returns_key(period.id)]
        versions = {key: db.session.get(Tally, key).version for key in keys}
        db.session.remove()

    def change(thing: Return | Commitment, index: int) -> None:
        if isinstance(thing, Return):
            thing.state = ReturnState.DRAFT
        else:
            thing.title = f"Renamed by person {index}"
        db.session.flush()

    def save(index: int, barrier: threading.Barrier):  # type: ignore[no-untyped-def]
        with pg_app.app_context():
            try:
                # Whatever goes wrong, nobody waits for a lock for ever (the barriers time out).
                db.session.execute(sa.text("SET LOCAL lock_timeout = '10s'"))
                return_ = db.session.get(Return, ids["returns"][index])
                commitment = db.session.get(Commitment, ids["commitments"][index])
                first, then = (return_, commitment) if index == 0 else (commitment, return_)
                change(first, index)
                barrier.wait()  # each has moved its first tally on (or, now, noted it)
                change(then, index)
                barrier.wait()
                db.session.commit()
                return "saved"
            except Exception:
                barrier.abort()  # the other is not left waiting for one who gave up
                db.session.rollback()
                raise
            finally:
                db.session.remove()

    assert run_at_once(2, save) == ["saved", "saved"]
    with pg_app.app_context():
        # Each transaction moved each tally on once, and what is stored is a fresh count.
        assert {key: db.session.get(Tally, key).version for key in keys} == {
            key: version + 2 for key, version in versions.items()
        }
        period = db.session.get(ReportingPeriod, ids["period"])
        assert stored([period]) == fresh([period])
        pledges = tallies.stored_tallies([], pledges=True).pledges
        assert pledges is not None
        assert pledges.figures == commitment_figures()
        db.session.commit()
        db.session.remove()
