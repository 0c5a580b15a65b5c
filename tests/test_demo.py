"""``tracker demo``: the seed, the demo accounts and a year of returns that every page can show.

Playing out a year through the real services takes a while (about 1,300 updates), so the story
is made once per database for the whole module, inside a transaction rolled back at the end
(as ``db_session`` does for one test), and the tests read it as a person would. The command
itself runs once, on a SQLite file of its own: the same seed must give the same history there
as in-process on each database, which is also the determinism check.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from flask import Flask, current_app
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session, scoped_session, sessionmaker

from tests.support.commands import run_tracker
from tracker.config import ladder_rules, window_rules
from tracker.domain.calendar import was_late
from tracker.domain.enums import (
    DeliveryStatus,
    EvidenceGrade,
    PeriodState,
    ReportingStatus,
    ReturnState,
)
from tracker.extensions import db
from tracker.models import (
    AuditEvent,
    BoardSummary,
    Commitment,
    CommitmentUpdate,
    Notification,
    Organisation,
    ReportingPeriod,
    Return,
    TargetChange,
    User,
)
from tracker.services import accounts, demo
from tracker.services.demo import DemoSummary
from tracker.services.returns import reporting_statuses

# The 2025/26 Q3 window is open (16 December to 11 February) and its return not yet due.
TODAY = date(2026, 1, 5)
HISTORY = ["2024/25 Q3", "2024/25 Q4", "2025/26 Q1", "2025/26 Q2"]
CURRENT = "2025/26 Q3"


def make_demo(today: date = TODAY, seed: int = demo.DEFAULT_SEED) -> DemoSummary | None:
    """What ``tracker demo`` does, without the progress bars."""
    if demo.needs_seed():
        demo.load_seed(*demo.read_seed())
    demo.prepare(today, window_rules(current_app.config))
    summary = demo.generate_history(today, seed=seed)
    db.session.commit()
    if summary is not None:
        demo.bring_to_today(today, ladder_rules(current_app.config))
    return summary


def digest(session: Session) -> str:
    """Every update, summary and past email: who, which quarter, what and when, hashed."""
    rows = session.execute(
        select(
            Organisation.slug,
            ReportingPeriod.slug,
            Commitment.key,
            CommitmentUpdate.status,
            CommitmentUpdate.progress_value,
            CommitmentUpdate.evidence_grade,
            CommitmentUpdate.narrative,
            Return.state,
            Return.submitted_at,
        )
        .join(Return, Return.id == CommitmentUpdate.return_id)
        .join(Organisation, Organisation.id == Return.organisation_id)
        .join(ReportingPeriod, ReportingPeriod.id == Return.period_id)
        .join(Commitment, Commitment.id == CommitmentUpdate.commitment_id)
    ).all()
    rows += session.execute(
        select(ReportingPeriod.slug, BoardSummary.revision, BoardSummary.published_at).join(
            BoardSummary, BoardSummary.period_id == ReportingPeriod.id
        )
    ).all()
    # Emails of the simulated past; today's are made at the clock's time.
    rows += session.execute(
        select(Notification.kind, Notification.recipient_email, Notification.sent_at).where(
            Notification.sent_at.is_not(None)
        )
    ).all()
    text = "\n".join(sorted("|".join(_plain(value) for value in row) for row in rows))
    return hashlib.sha256(text.encode()).hexdigest()


def _plain(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")  # 12.5000 on one database is 12.5 on the other
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC).isoformat()
    return str(value)


def counts() -> dict[str, int]:
    return {
        model.__name__: db.session.scalar(select(func.count()).select_from(model))
        for model in (
            Organisation,
            Commitment,
            User,
            ReportingPeriod,
            Return,
            CommitmentUpdate,
            TargetChange,
            AuditEvent,
            Notification,
        )
    }


@dataclass
class Story:
    summary: DemoSummary
    digest: str
    again: DemoSummary | None
    counts_before_again: dict[str, int]
    counts_after_again: dict[str, int]


@pytest.fixture(scope="module")
def made(app: Flask) -> Iterator[tuple[Story, scoped_session]]:
    """The demo made on each database, inside a transaction rolled back after the module."""
    with app.app_context():
        connection = db.engine.connect()
        # Engines are disposed after each test; a detached connection outlives that and is
        # closed here at the end, not left in a disposed pool.
        connection.detach()
        transaction = connection.begin()
        session = scoped_session(
            sessionmaker(bind=connection, join_transaction_mode="create_savepoint")
        )
        try:
            with using(session):
                summary = make_demo()
                assert summary is not None
                before = counts()
                again = make_demo()
                story = Story(summary, digest(session), again, before, counts())
            yield story, session
        finally:
            session.remove()
            transaction.rollback()
            connection.close()


@pytest.fixture
def story(made: tuple[Story, scoped_session]) -> Iterator[Story]:
    """The module's demo, read through its session for the length of one test."""
    story, session = made
    with using(session):
        yield story


@contextmanager
def using(session: scoped_session) -> Iterator[None]:
    # Only while a test runs: closing an app context removes ``db.session``, which would end
    # the module's transaction.
    original = db.session
    db.session = session
    try:
        yield
    finally:
        db.session = original


def periods_by_label() -> dict[str, ReportingPeriod]:
    return {p.label: p for p in db.session.scalars(select(ReportingPeriod))}


def submitted_returns() -> list[Return]:
    return list(db.session.scalars(select(Return).where(Return.submitted_at.is_not(None))))


def test_forty_organisations_report_on_the_four_quarters_before_today(story):
    assert db.session.scalar(select(func.count()).select_from(Organisation)) == 40
    assert story.summary.periods == HISTORY
    per_period = Counter(r.period.label for r in submitted_returns())
    assert set(per_period) == set(HISTORY)  # nothing submitted before, nothing yet for today's
    for label in HISTORY:
        assert 36 <= per_period[label] <= 40, (label, per_period[label])
    assert db.session.scalar(select(func.count()).select_from(CommitmentUpdate)) > 1_300
    # Each organisation's lead is a person, named as the author of its updates.
    lead = accounts.find_user("lead+hightown-housing@example.org")
    assert lead is not None and lead.name == "Hightown Housing lead"
    assert lead.password_hash is None
    assert [o.slug for o in lead.organisations] == ["hightown-housing"]
    demo_lead = accounts.find_user(demo.DEMO_LEAD)
    active_luton = db.session.scalar(
        select(Organisation).where(Organisation.slug == "active-luton")
    )
    authors = set(
        db.session.scalars(
            select(CommitmentUpdate.updated_by_id)
            .join(Return)
            .where(Return.organisation_id == active_luton.id)
        )
    )
    assert authors == {demo_lead.id}


def test_most_returns_are_on_time_a_few_late_one_on_an_extension_two_sent_back(story):
    returns = submitted_returns()
    late = [
        r
        for r in returns
        if was_late(r.period.due_on, r.submitted_at.date(), extended_to=r.extended_due_on)
    ]
    assert 3 <= len(late) <= 8
    assert len(late) < len(returns) / 10

    (extended,) = [r for r in returns if r.extended_due_on]
    assert extended.extension_reason
    submitted_on = extended.submitted_at.date()
    assert extended.period.due_on < submitted_on <= extended.extended_due_on  # late but allowed
    assert extended not in late

    sent_back = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "sent back")).all()
    assert len(sent_back) == 2
    for event in sent_back:
        return_ = db.session.get(Return, int(event.entity_id))
        assert event.after["comment"].startswith("Please ")
        assert return_.state == ReturnState.ACCEPTED  # resubmitted, then accepted
        # Resubmitted after it was sent back; submitted_at keeps the first submission.
        resubmitted = db.session.scalar(
            select(AuditEvent).where(
                AuditEvent.entity_type == "return",
                AuditEvent.entity_id == event.entity_id,
                AuditEvent.action == "submitted",
                AuditEvent.id > event.id,
            )
        )
        assert resubmitted is not None
        assert return_.submitted_at < event.occurred_at
        email = db.session.scalar(
            select(Notification).where(
                Notification.kind == "return_sent_back",
                Notification.organisation_id == return_.organisation_id,
            )
        )
        assert email.state == "sent"  # it went back then, not on the next start
    awaiting = [r for r in returns if r.state == ReturnState.SUBMITTED]
    assert {r.period.label for r in awaiting} == {HISTORY[-1]}
    assert story.summary.awaiting_review == len(awaiting)


def test_one_organisation_has_stopped_reporting_and_one_missed_the_latest_return(story):
    statuses = reporting_statuses(TODAY)
    by_status = Counter(statuses.values())
    assert by_status[ReportingStatus.NON_COMMUNICATING] == 1
    assert by_status[ReportingStatus.LATE] == 1
    assert by_status[ReportingStatus.ACTIVE] == 38

    periods = periods_by_label()
    (quiet,) = [i for i, s in statuses.items() if s == ReportingStatus.NON_COMMUNICATING]
    reported = {r.period.label for r in submitted_returns() if r.organisation_id == quiet}
    assert reported == set(HISTORY[:2])
    (late,) = [i for i, s in statuses.items() if s == ReportingStatus.LATE]
    reported = {r.period.label for r in submitted_returns() if r.organisation_id == late}
    assert reported == set(HISTORY[:3])
    # It started the latest return and never sent it: a draft in the admins' queue.
    latest = db.session.scalar(
        select(Return).where(
            Return.organisation_id == late, Return.period_id == periods[HISTORY[-1]].id
        )
    )
    assert latest.state == ReturnState.DRAFT
    assert story.summary.missing == 3
    # The reporting-status job has stored what the returns show (filters and pages read it).
    stored = dict(db.session.execute(select(Organisation.id, Organisation.reporting_status)).all())
    assert stored == statuses


def test_commitments_drift_across_statuses_with_believable_narratives(story):
    updates = db.session.scalars(
        select(CommitmentUpdate).join(Return).where(Return.submitted_at.is_not(None))
    ).all()
    statuses = Counter(u.status for u in updates)
    assert set(statuses) == set(DeliveryStatus)
    assert statuses[DeliveryStatus.ON_TRACK] > len(updates) / 2  # mostly on track
    off_track = [u for u in updates if u.status == DeliveryStatus.OFF_TRACK]
    assert all(u.narrative for u in off_track)
    # The narrative talks about the commitment's theme or priority, not a placeholder.
    assert not any("{" in (u.narrative or "") for u in updates)
    topics = [
        topic.lower() for topic in (*demo._THEME_TOPICS.values(), *demo._PRIORITY_TOPICS.values())
    ] + ["this commitment"]  # the few with neither a theme nor a priority
    assert all(any(t in u.narrative.lower() for t in topics) for u in off_track)

    discontinued = {u.commitment_id for u in updates if u.status == DeliveryStatus.DISCONTINUED}
    assert len(discontinued) == 1
    assert all(u.narrative for u in updates if u.status == DeliveryStatus.DISCONTINUED)
    assert any(u.no_change for u in updates)
    assert any(u.unchanged_quarters >= 2 for u in updates)

    # Numeric targets: values move across quarters, toward the target for most.
    by_commitment: dict[int, list] = {}
    for u in sorted(updates, key=lambda u: (u.return_.period.year, u.return_.period.quarter)):
        if u.progress_value is not None:
            by_commitment.setdefault(u.commitment_id, []).append(u.progress_value)
    moving = [values for values in by_commitment.values() if len(set(values)) > 1]
    assert len(moving) >= 20


def test_evidence_of_every_grade_and_verified_by_the_admin(story):
    grades = Counter(
        db.session.scalars(
            select(CommitmentUpdate.evidence_grade)
            .join(Return)
            .where(Return.submitted_at.is_not(None))
        )
    )
    assert set(grades) == set(EvidenceGrade)
    assert grades[EvidenceGrade.SELF_DECLARED] > grades[EvidenceGrade.VERIFIED] > 0
    admin = accounts.find_user(demo.DEMO_ADMIN)
    verified = db.session.scalars(
        select(CommitmentUpdate).where(CommitmentUpdate.evidence_grade == EvidenceGrade.VERIFIED)
    ).all()
    assert {u.verified_by_id for u in verified} == {admin.id}
    assert all(u.evidence_url.startswith("https://www.example.org/") for u in verified)
    assert all(u.return_.state in {ReturnState.ACCEPTED} for u in verified)


def test_accepted_returns_set_each_commitments_current_status(story):
    commitments = db.session.scalars(select(Commitment)).all()
    assert (
        Counter(c.current_status for c in commitments)[DeliveryStatus.NOT_STARTED]
        < len(commitments) / 4
    )
    # Each commitment's status is its latest accepted update's.
    latest: dict[int, tuple[tuple[int, int], DeliveryStatus]] = {}
    for update, period in db.session.execute(
        select(CommitmentUpdate, ReportingPeriod)
        .join(Return, Return.id == CommitmentUpdate.return_id)
        .join(ReportingPeriod, ReportingPeriod.id == Return.period_id)
        .where(Return.state == ReturnState.ACCEPTED)
    ):
        key = (period.year, period.quarter)
        if update.commitment_id not in latest or latest[update.commitment_id][0] < key:
            latest[update.commitment_id] = (key, update.status)
    assert latest
    for commitment in commitments:
        expected = latest.get(commitment.id, (None, DeliveryStatus.NOT_STARTED))[1]
        assert commitment.current_status == expected, commitment.id


def test_some_goalposts_moved_with_reasons_and_smart_scores_vary(story):
    changes = db.session.scalars(select(TargetChange)).all()
    assert 3 <= len(changes) <= 6
    assert len({c.commitment_id for c in changes}) in {3, 4}
    periods = {p.id: p.label for p in db.session.scalars(select(ReportingPeriod))}
    for change in changes:
        assert change.reason.strip()
        assert change.changed_by_id is not None
        assert periods[change.period_id] in HISTORY[1:]  # after reporting began
        assert change.old_value is not None and change.new_value != change.old_value
    homes = db.session.scalar(
        select(Commitment).where(Commitment.original_text.contains("400 new affordable homes"))
    )
    assert homes.metric and homes.owner_name and homes.target_date  # SMART set up first
    # Each moved goalpost is in the audit log with the reason, as the edit page records it.
    audited = db.session.scalars(
        select(AuditEvent).where(
            AuditEvent.entity_type == "commitment",
            AuditEvent.entity_id.in_([str(c.commitment_id) for c in changes]),
        )
    ).all()
    assert {e.after.get("reason for change") for e in audited} >= {c.reason for c in changes}

    scores = Counter(
        c.smart.score
        for c in db.session.scalars(select(Commitment).where(Commitment.is_heading.is_(False)))
    )
    assert len(scores) >= 4 and scores[5] > 0
    assert story.summary.smart == dict(scores)


def test_the_open_period_is_half_done(story):
    current = periods_by_label()[CURRENT]
    returns = db.session.scalars(select(Return).where(Return.period_id == current.id)).all()
    assert 3 <= len(returns) <= 8
    assert {r.state for r in returns} == {ReturnState.DRAFT}
    active_luton = db.session.scalar(
        select(Organisation).where(Organisation.slug == "active-luton")
    )
    (theirs,) = [r for r in returns if r.organisation_id == active_luton.id]
    complete = Counter(u.complete for u in theirs.updates)
    assert complete[True] >= 1 and complete[False] >= 1
    assert story.summary.current == CURRENT
    assert story.summary.drafts == len(returns)


def test_times_are_the_simulated_ones_not_the_clock(story):
    periods = periods_by_label()
    for r in submitted_returns():
        assert r.period.opens_on <= r.submitted_at.date() < TODAY
        assert r.submitted_at.date() <= r.period.closes_on
    events = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action.in_(["submitted", "accepted", "sent back"]))
    ).all()
    assert all(e.occurred_at.date() < TODAY for e in events)
    first_open = periods[HISTORY[0]].opens_on
    started = db.session.scalars(
        select(AuditEvent.occurred_at).where(AuditEvent.action == "started update")
    ).all()
    assert min(started).date() >= first_open


def london(moment: datetime) -> datetime:
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(demo.LONDON)


def test_each_closed_quarter_has_a_board_summary_the_admin_published(story):
    admin = accounts.find_user(demo.DEMO_ADMIN)
    summaries = db.session.scalars(select(BoardSummary)).all()
    assert sorted(s.period.label for s in summaries) == HISTORY
    for summary in summaries:
        period = summary.period
        assert summary.revision == 1 and summary.built_by_id is None  # built by the night job
        assert london(summary.built_at).date() == period.closes_on + timedelta(days=1)
        assert summary.built_at < summary.published_at
        assert london(summary.published_at).date() < TODAY
        assert period.state == PeriodState.PUBLISHED
        assert summary.data  # the frozen figures the board reads
    published = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "published board summary")
    ).all()
    assert len(published) == len(HISTORY)
    assert {e.actor_id for e in published} == {admin.id}
    emails = db.session.scalars(
        select(Notification).where(Notification.kind == "board_published")
    ).all()
    assert len(emails) == len(HISTORY)
    assert {(e.recipient_email, e.state) for e in emails} == {("board@example.org", "sent")}
    assert story.summary.published == HISTORY


def test_the_outbox_has_last_quarters_reminders_and_chases_and_todays_reminders(story):
    periods = periods_by_label()
    latest, current = periods[HISTORY[-1]], periods[CURRENT]
    quiet = {i for i, s in reporting_statuses(TODAY).items() if s != ReportingStatus.ACTIVE}
    past = db.session.scalars(
        select(Notification).where(
            Notification.period_id == latest.id, Notification.kind != "board_published"
        )
    ).all()
    kinds = Counter()
    for email in past:
        kinds[email.kind] += 1
        assert email.state == "sent", email.kind
        if email.kind.startswith("return_"):
            continue  # the receipts and notices of returns that came in: below
        assert latest.opens_on <= london(email.sent_at).date() <= latest.closes_on
        if email.kind != "reminder_admins_overdue":
            assert email.organisation_id in quiet, email.kind  # only those who never sent it
    assert kinds["reminder_opened"] == kinds["chase"] == len(quiet) == 2
    assert kinds["reminder_due_soon"] == 4  # 7 days and 1 day before
    assert kinds["reminder_overdue"] >= 4  # the day after, then weekly
    assert kinds["reminder_admins_overdue"] == 1  # one digest for the one admin
    chases = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "chased")).all()
    assert sorted(bool(e.after["note"]) for e in chases) == [False, True]
    assert all(london(e.occurred_at).date() == latest.due_on + timedelta(days=10) for e in chases)
    # Each return that came in got its lead a receipt, and each accepted one a notice, then.
    returns = db.session.scalars(
        select(Return).where(Return.period_id == latest.id, Return.submitted_at.is_not(None))
    ).all()
    receipts = {e.organisation_id: e for e in past if e.kind == "return_submitted"}
    assert set(receipts) == {r.organisation_id for r in returns}
    for return_ in returns:
        assert receipts[return_.organisation_id].sent_at >= return_.submitted_at
    accepted = {r.organisation_id for r in returns if r.state == ReturnState.ACCEPTED}
    assert {e.organisation_id for e in past if e.kind == "return_accepted"} == accepted

    # Today: the open quarter's first reminder waits in the outbox for every organisation.
    today = db.session.scalars(select(Notification).where(Notification.period_id == current.id))
    assert Counter((e.kind, e.state) for e in today) == {("reminder_opened", "queued"): 40}


def test_running_it_again_changes_nothing(story):
    assert story.again is None
    assert story.counts_after_again == story.counts_before_again


@dataclass
class CommandRun:
    made: object  # the finished processes
    again: object
    digest: str


# Session, not module: pytest runs every SQLite test of the suite, then every PostgreSQL one, then
# the rest, so this module's tests come in three runs and a module fixture was made three times.
@pytest.fixture(scope="session")
def command_run(tmp_path_factory: pytest.TempPathFactory) -> CommandRun:
    """``tracker demo`` run twice on a SQLite file of its own, as ``make run`` does."""
    folder = tmp_path_factory.mktemp("demo-command")
    instance, url = folder / "instance", f"sqlite:///{folder / 'demo.db'}"
    assert run_tracker("db", "upgrade", instance=instance, DATABASE_URL=url).returncode == 0
    made = run_tracker("demo", "--today", TODAY.isoformat(), instance=instance, DATABASE_URL=url)
    assert made.returncode == 0, made.stderr
    again = run_tracker("demo", "--today", TODAY.isoformat(), instance=instance, DATABASE_URL=url)
    engine = create_engine(url)
    try:
        with Session(engine) as session:
            return CommandRun(made, again, digest(session))
    finally:
        engine.dispose()


def test_the_same_seed_gives_the_same_history(story, command_run):
    # A separate process, and on the PostgreSQL run another database: the same story.
    assert story.digest == command_run.digest


def test_tracker_demo_fills_an_empty_database_once(command_run):
    made = command_run.made
    lines = made.stdout.splitlines()
    assert lines[0] == "Demo history as of 5 January 2026 (seed 2040), 40 organisations:"
    assert lines[1] == f"  Periods:     {', '.join(HISTORY)}"
    assert lines[3] == "  Reporting:   38 active, 1 late, 1 not communicating"
    assert f"  Board:       {', '.join(HISTORY)} summaries published" in lines
    assert f"  {CURRENT}: open, 6 draft returns in progress, none submitted" in lines
    assert "  Reporting status stored: now 1 late, 1 non-communicating" in lines
    assert "reminders and chases sent for 2025/26 Q2, 40 reminders queued today" in made.stdout
    assert "lead@example.org     lead of active-luton" in made.stdout
    assert "Importing organisations" in made.stderr and "Playing out returns" in made.stderr

    again = command_run.again
    assert again.returncode == 0, again.stderr
    assert again.stdout.startswith("Returns already exist: the demo history is not added again.")


def test_tracker_demo_refuses_production(tmp_path):
    result = run_tracker(
        "demo",
        instance=tmp_path,
        TRACKER_ENV="production",
        # Random: production refuses a typed key before the demo can refuse production.
        SECRET_KEY="77d981a91e37fb85e868fb9ddae7ecd06106b817e1bae16fa99e597d849d5729",
        DATABASE_URL=f"sqlite:///{tmp_path / 'prod.db'}",
    )
    assert result.returncode == 1
    assert result.stderr.strip() == "Error: demo data is for development: not in production"
    assert not (tmp_path / "prod.db").exists()  # refused before touching the database
