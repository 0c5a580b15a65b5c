"""The reminder ladder end to end: a whole quarter, day by day, into a real SMTP server.

The period is 2024/25 Q1 with the default window: it opens on 16 June 2024, the return is due
on 21 July and the window closes on 11 August. Each simulated day runs the reminder job and
then the mail job at 08:00, as the scheduler would, and the test notes which messages reached
which people that day.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from itertools import count
from typing import Any

import pytest
from sqlalchemy import func, select

from jobs import tasks
from tests.factories import make_commitment, make_organisation, make_period, make_return, make_user
from tests.support.smtp import SmtpServer
from tracker.config import ladder_rules
from tracker.domain.enums import ContactRole, ReminderOutcome, ReturnState, Role
from tracker.mail import deliver_queued
from tracker.models import Notification, OrganisationContact, ReminderRecord
from tracker.services import reminders
from tracker.services.reminders import send_reminders

OPENS, DUE, CLOSES = date(2024, 6, 16), date(2024, 7, 21), date(2024, 8, 11)
EXTENDED_TO = date(2024, 8, 4)


@dataclass
class Town:
    period: Any
    quiet: Any
    prompt: Any
    extended: Any
    leaderless: Any
    admin: Any


def make_town(session) -> Town:
    period = make_period(session)
    assert (period.opens_on, period.due_on, period.closes_on) == (OPENS, DUE, CLOSES)

    quiet = make_organisation(session, "Quiet Ltd", slug="quiet")
    make_commitment(session, quiet, title="Plant 500 trees")
    make_commitment(session, quiet, title="Pay the Real Living Wage")
    make_user(session, organisations=[quiet], email="quiet-lead@example.org", name="Quinn")
    session.add(
        OrganisationContact(
            organisation=quiet, role=ContactRole.DEPUTY, name="Dee", email="deputy@example.org"
        )
    )
    session.add(
        OrganisationContact(
            organisation=quiet, role=ContactRole.SPONSOR, name="Sam", email="sponsor@example.org"
        )
    )

    prompt = make_organisation(session, "Prompt plc", slug="prompt")
    make_commitment(session, prompt, title="Offer ten apprenticeships")
    make_user(session, organisations=[prompt], email="prompt-lead@example.org", name="Pat")

    extended = make_organisation(session, "Extended Trust", slug="extended")
    make_commitment(session, extended, title="Open a food bank")
    make_user(session, organisations=[extended], email="extended-lead@example.org", name="Eve")
    make_return(
        session, extended, period, extended_due_on=EXTENDED_TO, extension_reason="Staff illness"
    )

    leaderless = make_organisation(session, "Leaderless CIC", slug="leaderless")
    make_commitment(session, leaderless, title="Run a repair cafe")
    session.add(
        OrganisationContact(
            organisation=leaderless,
            role=ContactRole.SPONSOR,
            name="Stef",
            email="leaderless-sponsor@example.org",
        )
    )
    # A former lead: deactivated people hear nothing.
    make_user(session, organisations=[leaderless], email="gone@example.org", active=False)

    # Nothing to report on: lead-in headings only.
    headings = make_organisation(session, "Headings Only", slug="headings")
    make_commitment(session, headings, is_heading=True)
    make_user(session, organisations=[headings], email="headings-lead@example.org")

    admin = make_user(session, Role.ADMIN, email="admin@example.org", name="Ada")
    make_user(session, Role.ADMIN, email="old-admin@example.org", active=False)
    make_user(session, Role.BOARD, email="board@example.org")
    session.flush()
    return Town(period, quiet, prompt, extended, leaderless, admin)


def submit(session, organisation, period, on: date) -> None:
    return_ = make_return(session, organisation, period)
    return_.state = ReturnState.SUBMITTED
    return_.submitted_at = datetime.combine(on, time(9), tzinfo=UTC)
    session.flush()


@pytest.fixture
def smtp_config(app, smtp_server: SmtpServer) -> dict[str, Any]:
    return {
        **app.config,
        "MAIL_BACKEND": "smtp",
        "MAIL_SERVER": smtp_server.host,
        "MAIL_PORT": smtp_server.port,
        "MAIL_DEFAULT_SENDER": "Pledge Tracker <tracker@example.org>",
    }


class Quarter:
    """Runs the day's jobs and keeps, per day, who received which subject."""

    def __init__(self, app, server: SmtpServer, config: dict[str, Any]) -> None:
        self.app, self.server, self.config = app, server, config
        self.received: dict[date, list[tuple[str, str]]] = defaultdict(list)
        self.rng = random.Random(2040)

    def day(self, today: date, *, runs: int = 1) -> None:
        for _ in range(runs):
            send_reminders(today, ladder_rules(self.app.config))
        seen = len(self.server.messages)
        now = datetime.combine(today, time(8), tzinfo=UTC)
        deliver_queued(now=now, config=self.config, rng=self.rng)
        for message in self.server.messages[seen:]:
            self.received[today].append((message["To"].addresses[0].addr_spec, message["Subject"]))

    def who(self) -> dict[date, list[str]]:
        return {day: sorted(to for to, _ in got) for day, got in sorted(self.received.items())}


def days(first: date, last: date):
    while first <= last:
        yield first
        first += timedelta(days=1)


LEADS = ["extended-lead@example.org", "prompt-lead@example.org", "quiet-lead@example.org"]


def test_a_whole_quarter_day_by_day_sends_each_email_on_its_day_once(
    app, db_session, smtp_server, smtp_config
):
    town = make_town(db_session)
    quarter = Quarter(app, smtp_server, smtp_config)
    for today in days(date(2024, 6, 1), date(2024, 8, 31)):
        if today == date(2024, 7, 18):
            submit(db_session, town.prompt, town.period, today)
        quarter.day(today)

    assert quarter.who() == {
        # The window opens: every lead with something to report on.
        date(2024, 6, 16): LEADS,
        # 7 days before the due date: Prompt has not submitted yet.
        date(2024, 7, 14): ["prompt-lead@example.org", "quiet-lead@example.org"],
        # Prompt submitted on 18 July and hears nothing more.
        date(2024, 7, 20): ["quiet-lead@example.org"],
        date(2024, 7, 22): ["quiet-lead@example.org"],
        # 3 days overdue: the deputy (not the sponsor, as there is a deputy); the leaderless
        # organisation's sponsor.
        date(2024, 7, 24): ["deputy@example.org", "leaderless-sponsor@example.org"],
        # 7 days overdue: one digest to the active admin; Extended's new deadline is 4 August,
        # so it is counted from there: 7 days before it.
        date(2024, 7, 28): ["admin@example.org", "extended-lead@example.org"],
        date(2024, 7, 29): ["quiet-lead@example.org"],  # weekly while overdue
        date(2024, 8, 3): ["extended-lead@example.org"],  # due tomorrow (its extension)
        date(2024, 8, 5): ["extended-lead@example.org", "quiet-lead@example.org"],
        # Extended is now 7 days past its extension: a new digest for the admin.
        date(2024, 8, 11): ["admin@example.org"],
        # The window closed on 11 August: nothing after it.
    }

    subjects = {(day, to): subject for day, got in quarter.received.items() for to, subject in got}
    assert subjects[date(2024, 6, 16), "quiet-lead@example.org"] == (
        "Quiet Ltd: your 2024/25 Q1 return is open"
    )
    assert subjects[date(2024, 7, 14), "quiet-lead@example.org"] == (
        "Quiet Ltd: your 2024/25 Q1 return is due in 7 days"
    )
    assert subjects[date(2024, 7, 20), "quiet-lead@example.org"] == (
        "Quiet Ltd: your 2024/25 Q1 return is due tomorrow"
    )
    assert subjects[date(2024, 7, 22), "quiet-lead@example.org"] == (
        "Quiet Ltd: your 2024/25 Q1 return is 1 day overdue"
    )
    assert subjects[date(2024, 7, 24), "deputy@example.org"] == (
        "Quiet Ltd's 2024/25 Q1 return is 3 days overdue"
    )
    assert subjects[date(2024, 7, 28), "admin@example.org"] == (
        "2024/25 Q1: 2 organisations overdue with their returns"
    )
    assert subjects[date(2024, 8, 11), "admin@example.org"] == (
        "2024/25 Q1: 3 organisations overdue with their returns"
    )
    # Every message arrived once.
    ids = smtp_server.message_ids
    assert len(ids) == len(set(ids)) == 16


def test_a_reminder_says_which_period_when_it_is_due_what_is_missing_and_links_to_it(
    app, db_session, smtp_server, smtp_config
):
    make_town(db_session)
    Quarter(app, smtp_server, smtp_config).day(date(2024, 7, 22))
    [message] = [m for m in smtp_server.messages if m["To"].addresses[0].username == "quiet-lead"]
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    for body in (text, html):
        assert "2024/25 Q1" in body
        assert "21 July 2024" in body
        assert "Plant 500 trees" in body and "Pay the Real Living Wage" in body
        assert "/organisations/quiet/returns/2024-25-q1" in body
    notification = db_session.scalar(
        select(Notification).where(Notification.recipient_email == "quiet-lead@example.org")
    )
    assert message["Message-ID"].startswith(f"<notification-{notification.id}.")


def test_the_admin_digest_lists_every_overdue_organisation(
    app, db_session, smtp_server, smtp_config
):
    make_town(db_session)
    Quarter(app, smtp_server, smtp_config).day(date(2024, 7, 28))
    digest = next(m for m in smtp_server.messages if m["To"].addresses[0].username == "admin")
    text = digest.get_body(("plain",)).get_content()
    assert "Quiet Ltd: 7 days overdue, 2 of 2 commitments without an update (new)" in text
    assert "Leaderless CIC: 7 days overdue" in text
    assert "Extended Trust" not in text  # not overdue: it has until 4 August
    assert "/admin/returns/2024-25-q1" in text


def test_running_the_job_twice_a_day_sends_nothing_twice(app, db_session, smtp_server, smtp_config):
    make_town(db_session)
    quarter = Quarter(app, smtp_server, smtp_config)
    for today in (OPENS, date(2024, 7, 22), date(2024, 7, 28)):
        quarter.day(today, runs=2)
        quarter.day(today)
    assert quarter.who() == {
        OPENS: LEADS,
        # Catch-up: the newest rung for each lead whose return is not in.
        date(2024, 7, 22): ["prompt-lead@example.org", "quiet-lead@example.org"],
        date(2024, 7, 28): [
            "admin@example.org",
            "deputy@example.org",
            "extended-lead@example.org",
            "leaderless-sponsor@example.org",
        ],
    }
    ids = smtp_server.message_ids
    assert len(ids) == len(set(ids)) == 9
    assert db_session.scalar(select(func.count()).select_from(Notification)) == 9


def test_after_downtime_only_the_latest_reminder_goes_and_the_rest_never_do(
    app, db_session, smtp_server, smtp_config
):
    town = make_town(db_session)
    quarter = Quarter(app, smtp_server, smtp_config)
    quarter.day(OPENS)
    # The scheduler was down from 10 to 22 July: "due in 7 days", "due tomorrow" and
    # "1 day overdue" all fell due meanwhile.
    quarter.day(date(2024, 7, 23))
    assert sorted(quarter.received[date(2024, 7, 23)]) == [
        # Prompt had not submitted either, and gets one email too.
        ("prompt-lead@example.org", "Prompt plc: your 2024/25 Q1 return is 2 days overdue"),
        ("quiet-lead@example.org", "Quiet Ltd: your 2024/25 Q1 return is 2 days overdue"),
    ]
    skipped = db_session.scalars(
        select(ReminderRecord.step).where(
            ReminderRecord.organisation_id == town.quiet.id,
            ReminderRecord.outcome == ReminderOutcome.SUPERSEDED,
        )
    ).all()
    assert sorted(skipped) == ["due-in-1", "due-in-7"]
    # The next day the deputy's rung is due; the leads hear nothing new.
    quarter.day(date(2024, 7, 24))
    assert sorted(to for to, _ in quarter.received[date(2024, 7, 24)]) == [
        "deputy@example.org",
        "leaderless-sponsor@example.org",
    ]


def test_a_reminder_caught_up_on_the_due_date_says_it_is_due_today(
    app, db_session, smtp_server, smtp_config
):
    make_town(db_session)
    due_today = "your 2024/25 Q1 return is due today"
    quarter = Quarter(app, smtp_server, smtp_config)
    quarter.day(OPENS)
    # The scheduler was down from 14 to 20 July: on the due date itself the newest rung,
    # "due tomorrow", goes late, and it says what is true that morning.
    quarter.day(DUE)
    assert sorted(quarter.received[DUE]) == [
        ("prompt-lead@example.org", f"Prompt plc: {due_today}"),
        ("quiet-lead@example.org", f"Quiet Ltd: {due_today}"),
    ]
    [message] = [m for m in smtp_server.messages if m["Subject"] == "Quiet Ltd: " + due_today]
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "return for 2024/25 Q1 is due today, on 21 July 2024." in text
    assert "return for 2024/25 Q1 is due today, on <strong>21 July 2024</strong>." in html
    for body in (text, html):
        assert "0 days" not in body


def test_no_due_soon_reminder_goes_once_the_deadline_has_passed(
    app, db_session, smtp_server, smtp_config, monkeypatch
):
    # The first overdue reminder three days after the deadline; the scheduler is down on 20 July,
    # so "due tomorrow" was never sent. Back on the 22nd, it would say "due in -1 days".
    monkeypatch.setitem(app.config, "REMINDER_RULES", {"days_after_due": 3})
    make_town(db_session)
    quarter = Quarter(app, smtp_server, smtp_config)
    for today in (*days(OPENS, date(2024, 7, 19)), *days(date(2024, 7, 22), date(2024, 7, 24))):
        quarter.day(today)
    quiet = {day: s for day, got in quarter.received.items() for to, s in got if to.startswith("q")}
    assert quiet == {
        OPENS: "Quiet Ltd: your 2024/25 Q1 return is open",
        date(2024, 7, 14): "Quiet Ltd: your 2024/25 Q1 return is due in 7 days",
        date(2024, 7, 24): "Quiet Ltd: your 2024/25 Q1 return is 3 days overdue",
    }


def test_an_smtp_outage_delays_reminders_and_each_arrives_exactly_once(
    app, db_session, smtp_server, smtp_config
):
    make_town(db_session)
    quarter = Quarter(app, smtp_server, smtp_config)
    quarter.day(OPENS)
    smtp_server.stop()
    for today in days(date(2024, 7, 13), date(2024, 7, 16)):
        quarter.day(today)  # the 14 July reminders are queued but cannot go
    queued = db_session.scalars(
        select(Notification.recipient_email).where(Notification.state == "queued")
    ).all()
    assert sorted(queued) == ["prompt-lead@example.org", "quiet-lead@example.org"]
    smtp_server.start()
    for today in days(date(2024, 7, 17), date(2024, 7, 19)):
        quarter.day(today)
    assert sorted(to for to, _ in quarter.received[date(2024, 7, 17)]) == [
        "prompt-lead@example.org",
        "quiet-lead@example.org",
    ]
    assert date(2024, 7, 18) not in quarter.received
    ids = smtp_server.message_ids
    assert len(ids) == len(set(ids)) == 5


def test_an_extension_granted_after_the_first_reminders_restarts_the_countdown(
    app, db_session, smtp_server, smtp_config
):
    town = make_town(db_session)
    quarter = Quarter(app, smtp_server, smtp_config)
    quarter.day(date(2024, 7, 14))  # Quiet hears "due in 7 days" for 21 July
    make_return(
        db_session,
        town.quiet,
        town.period,
        extended_due_on=date(2024, 8, 1),
        extension_reason="Flooded office",
    )
    for today in days(date(2024, 7, 15), date(2024, 8, 2)):
        quarter.day(today)
    quiet = {
        day: subject
        for day, got in quarter.received.items()
        for to, subject in got
        if to == "quiet-lead@example.org"
    }
    assert quiet == {
        date(2024, 7, 14): "Quiet Ltd: your 2024/25 Q1 return is due in 7 days",
        date(2024, 7, 25): "Quiet Ltd: your 2024/25 Q1 return is due in 7 days",
        date(2024, 7, 31): "Quiet Ltd: your 2024/25 Q1 return is due tomorrow",
        date(2024, 8, 2): "Quiet Ltd: your 2024/25 Q1 return is 1 day overdue",
    }


def test_the_reminder_job_reports_what_it_did(app, db_session):
    make_town(db_session)
    first = tasks.remind(OPENS)
    assert str(first) == "3 emails queued about 3 organisations; 1 rung(s) with nobody to tell"
    assert str(tasks.remind(OPENS)) == "no reminders due"


class JobDied(BaseException):
    """The scheduler's process stopping dead in the middle of the reminder job."""


def test_a_run_that_dies_half_way_keeps_whole_batches_and_the_next_run_finishes_once(
    app, db_session, smtp_server, smtp_config, monkeypatch
):
    make_town(db_session)
    # The first run of the quarter, on 6 August: catching up, so each organisation's newest rung
    # goes and the older ones are recorded as superseded.
    today = date(2024, 8, 6)
    monkeypatch.setattr(reminders, "COMMIT_EVERY", 1)
    organisations = count()
    real_remind_one = reminders._remind_one

    def dies_at_the_second_organisation(*args):  # type: ignore[no-untyped-def]
        if next(organisations) == 1:
            raise JobDied
        return real_remind_one(*args)

    monkeypatch.setattr(reminders, "_remind_one", dies_at_the_second_organisation)
    with pytest.raises(JobDied):
        send_reminders(today, ladder_rules(app.config))
    db_session.rollback()

    # The first organisation's batch committed whole: its email and every rung it dealt with,
    # the superseded ones too; nothing of the second's.
    def rungs() -> set[tuple[int, str]]:
        return set(db_session.execute(select(ReminderRecord.organisation_id, ReminderRecord.step)))

    [first] = db_session.scalars(select(Notification.organisation_id)).all()
    kept = rungs()
    assert {organisation for organisation, _ in kept} == {first}
    assert len(kept) >= 2

    monkeypatch.setattr(reminders, "_remind_one", real_remind_one)
    run = send_reminders(today, ladder_rules(app.config))
    deliver_queued(now=datetime.combine(today, time(8), tzinfo=UTC), config=smtp_config)

    # The next run did the rest and nothing of the first organisation's again.
    assert run.emails == len(smtp_server.messages) - 1
    assert first not in {organisation for organisation, _ in rungs() - kept}
    received = [(m["To"].addresses[0].addr_spec, m["Subject"]) for m in smtp_server.messages]
    assert len(received) == len(set(received)) >= 3
    records = db_session.scalar(select(func.count()).select_from(ReminderRecord))
    assert records == len(rungs())
