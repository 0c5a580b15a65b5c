"""Stored tallies stay true: after every step of a year, what is stored equals a fresh count.

The admin overview reads each quarter's returns and the pledges' figures from ``tallies``
(services.tallies). Every path that changes what they count must move them on; this walks a
year through the services the app and the scheduler run — windows opening, drafts, submissions,
a return sent back and resubmitted, acceptances, an extension, a return recorded as missed, a
commitment added mid-year and others retired, an organisation that joins late, one whose pledge
empties, the reporting start moved — and after each step compares every stored tally with the
same figures counted afresh from the rows, on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections import Counter
from datetime import date

import pytest
import sqlalchemy as sa
from sqlalchemy import select

from tests.factories import make_commitment, make_return
from tests.test_year_of_operation import Q1, Q2, Q3, Town, at, summary
from tracker.domain.enums import ReturnState
from tracker.domain.worklist import tally
from tracker.extensions import db
from tracker.models import Commitment, Organisation, Place, ReportingPeriod, Return, Tally
from tracker.services import returns as service
from tracker.services import tallies
from tracker.services.figures import commitment_figures, return_facts
from tracker.services.organisations import OrganisationDetails, create_organisation
from tracker.services.periods import all_periods, grant_extension
from tracker.services.pledges import add_commitment, open_item_count, retire_commitment


def fresh(periods: list[ReportingPeriod]) -> dict[int, Counter]:
    """Each quarter's expected returns counted from the rows, as the stored tally groups them."""
    facts = return_facts(periods)
    return {p.id: Counter(facts.get(p.id, {}).values()) for p in periods}


def stored(periods: list[ReportingPeriod]) -> dict[int, Counter]:
    found = tallies.stored_return_facts(periods)
    return {period_id: Counter(dict(pairs)) for period_id, pairs in found.items()}


def assert_true(today: date) -> None:
    """Every stored tally equals a fresh count, and the figures made from each agree."""
    periods = all_periods(newest_first=False)
    assert stored(periods) == fresh(periods)
    for period in periods:
        counted = tallies.stored_return_facts([period])[period.id]
        from_tally = tally([f for f, n in counted for _ in range(n)], today)
        assert from_tally == tally(return_facts([period]).get(period.id, {}).values(), today)
    pledges = tallies.stored_tallies([], pledges=True).pledges
    assert pledges is not None
    assert pledges.figures == commitment_figures()
    assert pledges.open_items == open_item_count()
    names = db.session.scalar(
        select(sa.func.count()).select_from(Organisation).where(Organisation.name_needs_review)
    )
    assert pledges.names_to_confirm == names


@pytest.fixture
def town(app, db_session):  # type: ignore[no-untyped-def]
    return Town(app, db_session)


def test_the_stored_tallies_stay_true_through_a_year(town, db_session):
    q1_opens = date(2024, 6, 16)
    town.day(q1_opens)
    assert_true(q1_opens)

    # A draft, then a submission; another organisation's draft only.
    prompt = town.orgs["Prompt"]
    view = service.return_view(prompt, town.period(Q1), q1_opens)
    assert view.tasks
    assert town.file("Prompt", Q1, date(2024, 7, 10)).submitted
    assert_true(date(2024, 7, 10))
    service.return_for(town.orgs["Slow"], town.period(Q1))
    assert_true(date(2024, 7, 12))

    # Sent back, resubmitted, accepted; Slow late; Quiet never starts and is recorded missed.
    town.send_back("Prompt", Q1, date(2024, 7, 15), "Add the evidence")
    assert_true(date(2024, 7, 15))
    assert town.file("Prompt", Q1, date(2024, 7, 16)).submitted
    town.accept("Prompt", Q1, date(2024, 7, 17))
    assert_true(date(2024, 7, 17))
    assert town.file("Slow", Q1, date(2024, 7, 25)).submitted
    town.accept("Slow", Q1, date(2024, 7, 26))
    closed = date(2024, 8, 12)
    town.day(closed)
    assert_true(closed)
    with town.app.test_request_context():
        assert service.record_missed(
            town.orgs["Quiet"], town.period(Q1), actor=town.admin, now=at(closed), today=closed
        )
    assert_true(closed)

    # Q2: an extension for Quiet; a commitment added mid-year; another retired.
    q2_opens = date(2024, 9, 16)
    town.day(q2_opens)
    with town.app.test_request_context():
        grant_extension(
            town.orgs["Quiet"],
            town.period(Q2),
            new_due=date(2024, 11, 1),
            reason="Staff illness",
            actor=town.admin,
            today=q2_opens,
            now=at(q2_opens),
        )
        added = add_commitment(
            prompt, "Plant 100 trees", actor=town.admin, today=q2_opens, title="Trees"
        )
    assert added.reports_from == Q2.starts_on
    assert_true(q2_opens)
    with town.app.test_request_context():
        retire_commitment(
            town.orgs["Slow"].pledges[0].commitments[0],
            "Done elsewhere",
            actor=town.admin,
            now=at(q2_opens),
        )
    assert_true(q2_opens)

    # An organisation whose pledge empties owes nothing from the quarter whose window was open
    # then; what it owed before stays owed (its missed Q1): every quarter's tally is recounted.
    quiet_commitments = db_session.scalars(
        select(Commitment).where(Commitment.organisation_id == town.orgs["Quiet"].id)
    ).all()
    with town.app.test_request_context():
        for commitment in quiet_commitments:
            retire_commitment(commitment, "Left the town", actor=town.admin, now=at(q2_opens))
    assert_true(q2_opens)
    owed = {
        period.slug: town.orgs["Quiet"].id in return_facts([period]).get(period.id, {})
        for period in all_periods()
    }
    assert owed == {Q1.slug: True, Q2.slug: False, Q3.slug: False}

    # A newcomer joins in Q3 and owes from then on; a lead-in heading is added and cleared.
    joined = date(2024, 12, 2)
    with town.app.test_request_context():
        newcomer = create_organisation(
            OrganisationDetails(name="Newcomer", sector=None, website=None),
            actor=town.admin,
            today=joined,
        )
    town.add("Newcomer", newcomer)
    heading = make_commitment(db_session, newcomer, is_heading=True)
    town.day(date(2024, 12, 17))
    assert_true(date(2024, 12, 17))
    heading.is_heading = False
    db_session.flush()
    assert_true(date(2024, 12, 17))
    assert town.file("Newcomer", Q3, date(2025, 1, 10)).submitted
    assert_true(date(2025, 1, 10))

    # The reporting start moves back a quarter: that quarter's returns are owed too.
    place = db_session.scalars(select(Place)).one()
    place.reporting_starts_on = date(2024, 1, 1)
    db_session.flush()
    town.day(date(2025, 1, 24))
    assert_true(date(2025, 1, 24))

    # A return deleted with its organisation's history, and a renamed organisation.
    db_session.delete(town.the_return("Slow", Q1))
    town.orgs["Slow"].name = "Slow and Steady"
    db_session.flush()
    assert_true(date(2025, 1, 24))
    # The work list reads the same tallies: it agrees with itself at the end too.
    assert summary(date(2025, 1, 24))["quarters"]


def test_bulk_sql_says_what_changed_and_the_tally_is_counted_again(town, db_session):
    town.day(date(2024, 6, 16))
    period = town.period(Q1)
    assert_true(date(2024, 6, 16))
    # Bulk SQL bypasses the flush: the tally is behind until told.
    db_session.execute(
        sa.insert(Return),
        [
            {"organisation_id": org.id, "period_id": period.id, "state": ReturnState.DRAFT}
            for org in town.orgs.values()
        ],
    )
    assert stored([period]) != fresh([period])
    tallies.returns_changed([period.id])
    assert stored([period]) == fresh([period])  # counted again from what this transaction sees
    db_session.commit()  # moves the tally on: the next read counts it again and keeps it
    assert stored([period]) == fresh([period])
    db_session.execute(
        sa.update(Return)
        .where(Return.period_id == period.id)
        .values(state=ReturnState.NOT_STARTED)
        .execution_options(synchronize_session=False)
    )
    assert stored([period]) != fresh([period])
    tallies.everything_changed()
    assert stored([period]) == fresh([period])


def test_a_change_made_while_counting_leaves_the_tally_behind_not_wrong(town, db_session):
    town.day(date(2024, 6, 16))
    period = town.period(Q1)
    key = tallies.returns_key(period.id)
    # Another writer's commit moves the version on with one statement: as it would look here.
    tallies._move_on(db_session.connection(), [key])

    def count_while_someone_submits(keys):  # type: ignore[no-untyped-def]
        counted = {k: {"facts": []} for k in keys}  # what was counted before the change
        tallies._move_on(db_session.connection(), [key])  # the change commits meanwhile
        return counted

    tallies._stored([key], count_while_someone_submits)
    row = db_session.get(Tally, key)
    db_session.refresh(row)
    assert row.built_version != row.version  # not kept as current: counted again next time
    assert stored([period]) == fresh([period])
    db_session.refresh(row)
    assert row.built_version == row.version


def as_stored(key: str) -> sa.Row:
    """The tally's row as the database has it now (not as the session remembers it)."""
    return db.session.execute(
        select(Tally.version, Tally.built_version, Tally.built_at, Tally.data).where(
            Tally.key == key
        )
    ).one()


def test_a_transaction_moves_its_tallies_on_once_as_it_commits(town, db_session):
    town.day(date(2024, 6, 16))
    period = town.period(Q1)
    key = tallies.returns_key(period.id)
    db_session.commit()  # the town's own changes move their tallies on
    assert stored([period]) == fresh([period])  # counted again, and kept
    before = as_stored(key)
    assert before.built_version == before.version

    # Each flush of a change has the quarter counted again, from what this transaction sees;
    # nothing is moved on or stored until it commits.
    for name in ("Prompt", "Slow"):
        make_return(db_session, town.orgs[name], period, state=ReturnState.DRAFT)
        assert stored([period]) == fresh([period])
        assert as_stored(key) == before
    db_session.commit()
    after = as_stored(key)
    assert after.version == before.version + 1  # once, for both flushes
    assert stored([period]) == fresh([period])
    db_session.commit()  # as the admin's page does, to keep what it counted
    kept = as_stored(key)
    assert kept.built_version == kept.version

    # A transaction rolled back leaves nothing pending for the next one.
    make_return(db_session, town.orgs["Quiet"], period, state=ReturnState.DRAFT)
    tallies.everything_changed()
    pledges = as_stored(tallies.PLEDGES)
    db_session.rollback()
    db_session.commit()
    assert as_stored(key) == kept
    assert as_stored(tallies.PLEDGES) == pledges

    # A savepoint rolled back may leave its change noted: the tally is counted again for
    # nothing, never wrong.
    with db_session.begin_nested() as savepoint:
        make_return(db_session, town.orgs["Quiet"], period, state=ReturnState.DRAFT)
        savepoint.rollback()
    db_session.commit()
    assert as_stored(key).version == kept.version + 1
    assert stored([period]) == fresh([period])


def test_a_quarter_without_a_tally_is_counted_when_first_read(town, db_session):
    # The scheduler makes each quarter with one INSERT, which no flush sees: no tally yet.
    town.day(date(2024, 6, 16))
    key = tallies.returns_key(town.period(Q1).id)
    db_session.execute(sa.delete(Tally).where(Tally.key == key))
    assert_true(date(2024, 6, 16))
    row = db_session.get(Tally, key)
    assert row is not None
    db_session.refresh(row)
    assert row.built_version == row.version
