"""A year of operation: four quarters in sequence, and the admin's work list at every step.

DESIGN.md ("A year of operation") and issue 14: the quarterly cycle must hold across quarter
boundaries — last quarter's unfinished work stays on the admin's list until it is done, windows
close, an organisation that joins late owes nothing before it joined, and no return, lateness
or reminder exists before reporting began. Each step runs the services the web app and the
scheduler run, on the day it happens, and reads the work list as an admin would see it then.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import pytest
import time_machine
from bs4 import BeautifulSoup
from sqlalchemy import select

from tests.factories import make_commitment, make_organisation, make_place, make_user
from tests.support.auth import sign_in
from tests.support.commands import run_tracker
from tests.support.pages import Page, get_page
from tracker.config import ladder_rules, window_rules
from tracker.domain.calendar import Quarter
from tracker.domain.enums import ContactRole, DeliveryStatus, ReportingStatus, ReturnState, Role
from tracker.models import (
    Commitment,
    Notification,
    Organisation,
    OrganisationContact,
    ReportingPeriod,
    Return,
    ReturnEvent,
)
from tracker.services import public
from tracker.services import returns as service
from tracker.services.board import build_summary
from tracker.services.figures import return_figures
from tracker.services.organisations import OrganisationDetails, create_organisation
from tracker.services.periods import ensure_periods, grant_extension, period_by_slug
from tracker.services.pledges import add_commitment, retire_commitment
from tracker.services.reminders import chaseable, outstanding, send_reminders
from tracker.services.worklist import work_list

Q1, Q2, Q3, Q4 = (Quarter(2024, n) for n in (1, 2, 3, 4))
START = date(2024, 4, 1)


def at(day: date) -> datetime:
    return datetime.combine(day, time(10, 0), tzinfo=UTC)


def summary(today: date) -> dict[str, object]:
    """The work list as words: {quarter: {kind: [organisation names]}}, counts kept honest."""
    work = work_list(today)
    quarters = {}
    for quarter in work.quarters:
        kinds = {}
        for kind, count, items in quarter.kinds:
            names = sorted(item.organisation.name for item in items)
            assert count == len(names)
            kinds[kind.value] = names
        label = quarter.period.label + (" (latest)" if quarter.current else "")
        quarters[label] = kinds
    silent = sorted(s.organisation.name for s in work.not_communicating)
    return {"quarters": quarters, "not communicating": silent}


class Town:
    """Three organisations from the start, a fourth that joins in the third quarter."""

    def __init__(self, app, session) -> None:  # type: ignore[no-untyped-def]
        self.app = app
        self.session = session
        place = make_place(session)
        place.reporting_starts_on = START
        self.admin = make_user(session, Role.ADMIN, name="Ada Admin", email="ada@example.org")
        self.orgs = {}
        self.leads = {}
        for name in ("Prompt", "Slow", "Quiet"):
            self.add(name)
        session.flush()

    def add(self, name: str, organisation=None):  # type: ignore[no-untyped-def]
        organisation = organisation or make_organisation(self.session, name, slug=name.lower())
        self.orgs[name] = organisation
        make_commitment(self.session, organisation, title=f"{name}'s homes", target_value=400)
        make_commitment(self.session, organisation, title=f"{name}'s wage")
        self.leads[name] = make_user(
            self.session, organisations=[organisation], email=f"{name.lower()}@example.org"
        )
        return organisation

    def day(self, today: date) -> None:
        """What the scheduler does each morning: periods, then reminders."""
        ensure_periods(today, window_rules(self.app.config))
        with self.app.test_request_context():
            send_reminders(today, ladder_rules(self.app.config))

    def period(self, quarter: Quarter) -> ReportingPeriod:
        found = period_by_slug(quarter.slug)
        assert found is not None
        return found

    def file(self, name: str, quarter: Quarter, today: date) -> service.SubmitOutcome:
        """The lead fills in every commitment and submits."""
        organisation, period = self.orgs[name], self.period(quarter)
        view = service.return_view(organisation, period, today)
        for task in view.tasks:
            service.save_update(
                organisation,
                period,
                task.commitment,
                service.UpdateInput(
                    status=DeliveryStatus.ON_TRACK,
                    progress_value=Decimal(100) if task.commitment.target_value else None,
                    narrative=f"{name} in {quarter.label}",
                ),
                version=task.update.version if task.update else None,
                complete=True,
                actor=self.leads[name],
                today=today,
            )
        with self.app.test_request_context():
            return service.submit(organisation, period, actor=self.leads[name], now=at(today))

    def the_return(self, name: str, quarter: Quarter) -> Return:
        return service.find_return(self.orgs[name], self.period(quarter))

    def report(self, names: tuple[str, ...], quarter: Quarter, filed: date, accepted: date) -> None:
        """Each of ``names`` files the quarter's return on ``filed``; each is accepted on
        ``accepted``."""
        for name in names:
            assert self.file(name, quarter, filed).submitted
            self.accept(name, quarter, accepted)

    def accept(self, name: str, quarter: Quarter, today: date) -> None:
        with self.app.test_request_context():
            return_ = self.the_return(name, quarter)
            assert service.accept(return_, version=return_.version, actor=self.admin, now=at(today))

    def send_back(self, name: str, quarter: Quarter, today: date, comment: str) -> None:
        with self.app.test_request_context():
            return_ = self.the_return(name, quarter)
            assert service.send_back(
                return_, comment, version=return_.version, actor=self.admin, now=at(today)
            )


@pytest.fixture
def town(app, db_session):  # type: ignore[no-untyped-def]
    return Town(app, db_session)


def facts_agree(monkeypatch, today: date) -> None:  # type: ignore[no-untyped-def]
    """Reading only the newest quarter or two first (and older ones for whoever they leave
    open) gives every organisation the facts that reading every quarter gives."""
    with monkeypatch.context() as patched:
        patched.setattr(service, "RECENT_QUARTERS", 100)
        whole = service.reporting_facts(today)
        for recent in (1, 2):
            patched.setattr(service, "RECENT_QUARTERS", recent)
            assert service.reporting_facts(today) == whole, recent
    assert service.reporting_facts(today) == whole


def public_agrees(town, today: date) -> dict[str, ReportingStatus]:  # type: ignore[no-untyped-def]
    """Each organisation's reporting status as its public page shows it, checked against the
    one every list reads (the page works out when it joined from the commitments it shows)."""
    everyone = service.reporting_statuses(today)
    shown = {}
    for name, organisation in town.orgs.items():
        page = public.organisation_page(organisation.slug, today)
        assert page is not None
        shown[name] = page.summary.reporting_status
        assert shown[name] == everyone[organisation.id], name
    return shown


def test_four_quarters_in_sequence(town, db_session, monkeypatch):
    # --- 2024/25 Q1 opens on 16 June 2024 ---------------------------------------------------
    opens = date(2024, 6, 16)
    town.day(opens)
    assert summary(opens) == {
        "quarters": {"2024/25 Q1 (latest)": {}},
        "not communicating": [],
    }
    opened = db_session.scalars(
        select(Notification.recipient_email).where(Notification.kind == "reminder_opened")
    ).all()
    assert sorted(opened) == ["prompt@example.org", "quiet@example.org", "slow@example.org"]

    # Prompt submits early; it waits for review.
    assert town.file("Prompt", Q1, date(2024, 7, 10)).submitted
    assert summary(date(2024, 7, 10))["quarters"] == {
        "2024/25 Q1 (latest)": {"awaiting_review": ["Prompt"]}
    }

    # The day after the deadline: Slow and Quiet are overdue, and reminded.
    overdue_day = date(2024, 7, 22)
    town.day(overdue_day)
    assert summary(overdue_day)["quarters"] == {
        "2024/25 Q1 (latest)": {"awaiting_review": ["Prompt"], "overdue": ["Quiet", "Slow"]}
    }
    reminded = db_session.scalars(
        select(Notification.recipient_email).where(Notification.kind == "reminder_overdue")
    ).all()
    assert sorted(reminded) == ["quiet@example.org", "slow@example.org"]

    # Slow submits late; the admin sends Prompt's back; Prompt fixes and resubmits.
    assert town.file("Slow", Q1, date(2024, 7, 25)).submitted
    town.send_back("Prompt", Q1, date(2024, 7, 26), "Say what support you need for the wage.")
    assert summary(date(2024, 7, 26))["quarters"] == {
        "2024/25 Q1 (latest)": {
            "awaiting_review": ["Slow"],
            "sent_back": ["Prompt"],
            "overdue": ["Quiet"],
        }
    }
    assert town.file("Prompt", Q1, date(2024, 7, 28)).submitted
    town.accept("Prompt", Q1, date(2024, 7, 30))
    town.accept("Slow", Q1, date(2024, 7, 30))
    assert summary(date(2024, 7, 30))["quarters"] == {"2024/25 Q1 (latest)": {"overdue": ["Quiet"]}}
    prompt_events = [
        e.kind.value
        for e in db_session.scalars(
            select(ReturnEvent)
            .where(ReturnEvent.return_id == town.the_return("Prompt", Q1).id)
            .order_by(ReturnEvent.occurred_at)
        )
    ]
    assert prompt_events == ["submitted", "sent_back", "submitted", "accepted"]
    assert town.the_return("Slow", Q1).state == ReturnState.ACCEPTED

    # --- The Q1 window closes on 11 August: Quiet's return is missed, and cannot be sent --------
    closed = date(2024, 8, 12)
    town.day(closed)
    assert summary(closed)["quarters"] == {"2024/25 Q1 (latest)": {"missed": ["Quiet"]}}
    with pytest.raises(service.ReturnError, match="closed on 11 August 2024"):
        town.file("Quiet", Q1, closed)

    # --- 2024/25 Q2 opens on 16 September: Q1's unfinished work is still on the list ------------
    q2_opens = date(2024, 9, 16)
    town.day(q2_opens)
    assert summary(q2_opens)["quarters"] == {
        "2024/25 Q1": {"missed": ["Quiet"]},
        "2024/25 Q2 (latest)": {},
    }

    # An extension for Quiet's Q1 return to 30 September: off the list until it is ending.
    grant_extension(
        town.orgs["Quiet"],
        town.period(Q1),
        new_due=date(2024, 9, 30),
        reason="Their lead was ill all summer.",
        actor=town.admin,
        today=q2_opens,
        now=at(q2_opens),
    )
    assert summary(q2_opens)["quarters"] == {"2024/25 Q2 (latest)": {}}
    assert summary(date(2024, 9, 25))["quarters"] == {
        "2024/25 Q1": {"extension_ending": ["Quiet"]},
        "2024/25 Q2 (latest)": {},
    }
    assert town.file("Quiet", Q1, date(2024, 9, 26)).submitted
    town.accept("Quiet", Q1, date(2024, 9, 27))
    assert summary(date(2024, 9, 27))["quarters"] == {"2024/25 Q2 (latest)": {}}

    # Q2: Prompt and Slow report on time; Quiet misses the quarter.
    for name in ("Prompt", "Slow"):
        assert town.file(name, Q2, date(2024, 10, 15)).submitted
        town.accept(name, Q2, date(2024, 10, 18))
    town.day(date(2024, 10, 22))
    assert summary(date(2024, 10, 22))["quarters"] == {
        "2024/25 Q2 (latest)": {"overdue": ["Quiet"]}
    }
    q2_closed = date(2024, 11, 12)
    town.day(q2_closed)
    assert summary(q2_closed)["quarters"] == {"2024/25 Q2 (latest)": {"missed": ["Quiet"]}}

    # --- A fourth organisation joins in Q3; it owes nothing for the quarters before -----------
    joined = date(2024, 12, 2)
    with town.app.test_request_context():
        newcomer = create_organisation(
            OrganisationDetails(name="Newcomer", sector=None, website=None),
            actor=town.admin,
            today=joined,
        )
    town.add("Newcomer", newcomer)
    assert newcomer.reports_from == Q3.starts_on
    town.day(joined)
    assert summary(joined)["quarters"] == {"2024/25 Q2 (latest)": {"missed": ["Quiet"]}}

    # --- 2024/25 Q3 opens on 17 December; the admin records Quiet's Q2 as missed --------------
    q3_opens = date(2024, 12, 17)
    town.day(q3_opens)
    with town.app.test_request_context():
        assert service.record_missed(
            town.orgs["Quiet"], town.period(Q2), actor=town.admin, now=at(q3_opens), today=q3_opens
        )
    assert summary(q3_opens)["quarters"] == {"2024/25 Q3 (latest)": {}}
    newcomer_opened = db_session.scalars(
        select(Notification.idempotency_key).where(
            Notification.recipient_email == "newcomer@example.org"
        )
    ).all()
    assert newcomer_opened and all(":2024-25-q3:" in key for key in newcomer_opened)

    # Everyone but Quiet reports Q3, the newcomer late; Quiet has now missed two in a row.
    for name, day in (("Prompt", date(2025, 1, 10)), ("Slow", date(2025, 1, 12))):
        assert town.file(name, Q3, day).submitted
        town.accept(name, Q3, day + timedelta(days=1))
    q3_overdue = date(2025, 1, 22)
    town.day(q3_overdue)
    assert summary(q3_overdue) == {
        "quarters": {"2024/25 Q3 (latest)": {"overdue": ["Newcomer", "Quiet"]}},
        "not communicating": ["Quiet"],
    }
    assert town.file("Newcomer", Q3, date(2025, 1, 24)).submitted
    assert summary(date(2025, 1, 24)) == {
        "quarters": {
            "2024/25 Q3 (latest)": {"awaiting_review": ["Newcomer"], "overdue": ["Quiet"]}
        },
        "not communicating": ["Quiet"],
    }
    statuses = service.reporting_statuses(date(2025, 1, 24))
    assert statuses[newcomer.id] == ReportingStatus.ACTIVE
    assert statuses[town.orgs["Quiet"].id] == ReportingStatus.NON_COMMUNICATING
    assert public_agrees(town, q3_overdue)["Newcomer"] == ReportingStatus.LATE
    assert public_agrees(town, date(2025, 1, 24))["Quiet"] == ReportingStatus.NON_COMMUNICATING
    for day in (q2_closed, q3_opens, q3_overdue, date(2025, 1, 24)):
        facts_agree(monkeypatch, day)

    # --- 2024/25 Q4 opens on 17 March 2025 with Q3's review still to do -------------------------
    q4_opens = date(2025, 3, 17)
    town.day(q4_opens)
    assert summary(q4_opens) == {
        "quarters": {
            "2024/25 Q3": {"awaiting_review": ["Newcomer"], "missed": ["Quiet"]},
            "2024/25 Q4 (latest)": {},
        },
        "not communicating": ["Quiet"],
    }
    town.accept("Newcomer", Q3, q4_opens)
    # Quiet comes back in Q4: it is active again, and only Q3's missed return is left.
    assert town.file("Quiet", Q4, date(2025, 4, 10)).submitted
    assert summary(date(2025, 4, 10)) == {
        "quarters": {
            "2024/25 Q3": {"missed": ["Quiet"]},
            "2024/25 Q4 (latest)": {"awaiting_review": ["Quiet"]},
        },
        "not communicating": [],
    }
    facts_agree(monkeypatch, date(2025, 4, 10))
    facts_agree(monkeypatch, date(2025, 5, 1))


def outbox(session) -> list[tuple[str, str, str]]:  # type: ignore[no-untyped-def]
    """Every email queued so far, as (kind, to, subject), in the order queued."""
    return [
        tuple(row)
        for row in session.execute(
            select(Notification.kind, Notification.recipient_email, Notification.subject).order_by(
                Notification.id
            )
        )
    ]


def test_a_return_sent_back_after_it_was_in_on_time_is_never_chased_as_overdue(
    town, db_session, client
):
    # Prompt, which has a deputy, sends its Q1 return on 10 July; the reviewer sends it back on
    # the afternoon of 20 July, the day before it is due. It was on time: every page says so, and
    # it waits on the admins' list as sent back. Its leads were told by the send-back email, so
    # the ladder says nothing more: no "due in 0 days" on the due date, no "overdue" to the
    # leads, no escalation to the deputy and no place in the admins' overdue digest.
    db_session.add(
        OrganisationContact(
            organisation=town.orgs["Prompt"],
            role=ContactRole.DEPUTY,
            name="Dee Deputy",
            email="deputy@example.org",
        )
    )
    town.day(date(2024, 6, 16))
    for name in ("Slow", "Quiet"):
        assert town.file(name, Q1, date(2024, 7, 5)).submitted
        town.accept(name, Q1, date(2024, 7, 6))
    day = date(2024, 6, 17)
    while day <= date(2024, 8, 11):
        town.day(day)
        if day == date(2024, 7, 10):
            assert town.file("Prompt", Q1, day).submitted
        if day == date(2024, 7, 20):
            town.send_back("Prompt", Q1, day, "Please add the figure for the wage.")
        day += timedelta(days=1)

    assert summary(date(2024, 8, 11))["quarters"] == {
        "2024/25 Q1 (latest)": {"sent_back": ["Prompt"]}
    }
    assert chaseable(town.period(Q1), date(2024, 8, 11)) == []  # nothing to chase as overdue
    prompt = [
        (kind, to, subject)
        for kind, to, subject in outbox(db_session)
        if to in {"prompt@example.org", "deputy@example.org", "ada@example.org"}
    ]
    assert prompt == [
        ("reminder_opened", "prompt@example.org", "Prompt: your 2024/25 Q1 return is open"),
        (
            "return_submitted",
            "prompt@example.org",
            "Prompt: your 2024/25 Q1 return has been submitted",
        ),
        (
            "return_sent_back",
            "prompt@example.org",
            "Prompt: your 2024/25 Q1 return needs changes",
        ),
    ]
    # Nor does the lead's own task list call it overdue.
    with time_machine.travel(at(date(2024, 8, 11)), tick=False):
        sign_in(client, town.leads["Prompt"])
        page = get_page(client, f"/organisations/prompt/returns/{Q1.slug}")
    assert "overdue" not in page.text
    assert (
        page.soup.select_one("#sent-back-status")
        .get_text(" ", strip=True)
        .startswith("First submitted on 10 July 2024")
    )
    assert "on time. The programme team sent it back" in page.text


def test_no_return_or_lateness_exists_before_reporting_began(town, db_session, client):
    town.day(date(2024, 7, 22))
    # The database knows an earlier quarter (made before the start moved), but nobody owes it.
    earlier = ReportingPeriod(
        slug=Quarter(2023, 4).slug,
        year=2023,
        quarter=4,
        starts_on=date(2024, 1, 1),
        ends_on=date(2024, 3, 31),
        opens_on=date(2024, 3, 17),
        due_on=date(2024, 4, 21),
        closes_on=date(2024, 5, 12),
    )
    db_session.add(earlier)
    db_session.flush()
    assert [q.period.label for q in work_list(date(2024, 7, 22)).quarters] == ["2024/25 Q1"]
    statuses = service.reporting_statuses(date(2024, 7, 22))
    assert set(statuses.values()) == {ReportingStatus.LATE}  # Q1 only, not non-communicating
    with time_machine.travel(at(date(2024, 7, 22)), tick=False):
        sign_in(client, town.leads["Slow"])
        assert client.get("/organisations/slow/returns/2023-24-q4").status_code == 404
        page = get_page(client, "/organisations/slow/returns")
        assert "2023/24 Q4" not in page.text and "2024/25 Q1" in page.text


def test_an_organisation_that_joins_late_owes_nothing_before_it_joined(town, db_session, client):
    town.day(date(2024, 12, 2))
    with town.app.test_request_context():
        newcomer = create_organisation(
            OrganisationDetails(name="Newcomer", sector=None, website=None),
            actor=town.admin,
            today=date(2024, 12, 2),
        )
    town.add("Newcomer", newcomer)
    assert newcomer.reports_from == Q3.starts_on
    with time_machine.travel(at(date(2024, 12, 2)), tick=False):
        sign_in(client, town.leads["Newcomer"])
        assert client.get("/organisations/newcomer/returns/2024-25-q1").status_code == 404
        returns = get_page(client, "/returns")
        assert "Newcomer — 2024/25 Q1" not in returns.text
        assert "The next return, for 2024/25 Q3, opens on 17 December 2024" in returns.text


def test_a_closed_window_says_so_and_whom_to_ask(town, client):
    town.day(date(2024, 8, 12))
    with time_machine.travel(at(date(2024, 8, 12)), tick=False):
        sign_in(client, town.leads["Quiet"])
        page = get_page(client, "/organisations/quiet/returns/2024-25-q1")
        assert "The window for this return closed on 11 August 2024" in page.text
        assert "To send it now, ask the programme team" in page.text
        assert (
            page.soup.find("a", href="mailto:ada@example.org").text == "Ada Admin, ada@example.org"
        )
        assert page.soup.find("a", string="Check your answers and submit") is None
        commitment = town.orgs["Quiet"].pledges[0].commitments[0]
        form = client.get(f"/organisations/quiet/returns/2024-25-q1/commitments/{commitment.id}")
        assert form.status_code == 302  # back to the task list, which says why
        posted = client.post(
            "/organisations/quiet/returns/2024-25-q1/submit", follow_redirects=True
        )
        assert "closed on 11 August 2024" in posted.get_data(as_text=True)
        mine = get_page(client, "/returns")
        assert "The window closed on 11 August 2024" in mine.text


def test_the_lead_sees_every_return_owed_overdue_first(town, client):
    # Slow missed Q1's deadline (its window still open) and Q2's window is open too.
    town.day(date(2024, 10, 1))
    grant_extension(
        town.orgs["Slow"],
        town.period(Q1),
        new_due=date(2024, 10, 20),
        reason="Staff changes.",
        actor=town.admin,
        today=date(2024, 10, 1),
    )
    with time_machine.travel(at(date(2024, 10, 25)), tick=False):
        sign_in(client, town.leads["Slow"])
        page = get_page(client, "/returns")
        owed = [a.get_text(strip=True) for a in page.soup.select("a.govuk-task-list__link")]
        # Q2 can still be sent, so it comes first; Q1's extension has run out and its window
        # has closed: it needs the programme team, who are named once, below the list.
        assert owed == ["Slow — 2024/25 Q2", "Slow — 2024/25 Q1"]
        assert "4 days overdue (it was due 21 October 2024)" in page.text
        assert "The window closed on 20 October 2024" in page.text
        assert "2 returns are overdue" in page.text
        assert len(page.soup.find_all("a", href="mailto:ada@example.org")) == 1


@time_machine.travel(at(date(2024, 9, 20)), tick=False)
def test_admins_say_when_reporting_began_but_never_hide_reported_work(town, client, db_session):
    town.day(date(2024, 9, 20))
    assert town.file("Prompt", Q1, date(2024, 7, 10)).submitted
    sign_in(client, town.admin)
    periods = get_page(client, "/admin/periods")
    assert "Reporting began with 2024/25 Q1" in periods.text
    form = get_page(client, periods.link("Change when reporting began"))
    assert form.h1 == "When reporting began"

    # Q2 would hide Prompt's Q1 return: refused, with the reason.
    refused = client.post("/admin/reporting-start", data={"quarter": "2024-25-q2"})
    assert refused.status_code == 200
    assert "Reporting cannot start after 2024/25 Q1: returns were submitted for it" in (
        refused.get_data(as_text=True)
    )
    # Earlier is always possible: the periods from then on are made at once, and owed.
    moved = client.post("/admin/reporting-start", data={"quarter": "2023-24-q4"})
    assert moved.status_code == 302
    assert period_by_slug("2023-24-q4") is not None
    assert "2023/24 Q4" in [q.period.label for q in work_list(date(2024, 9, 20)).quarters]


@time_machine.travel(at(date(2024, 12, 2)), tick=False)
def test_an_admin_adds_an_organisation_that_reports_from_the_quarter_it_joined(town, client):
    town.day(date(2024, 12, 2))
    sign_in(client, town.admin)
    form = get_page(client, "/admin/organisations/new")
    chosen = form.soup.find("select", id="reports_from").find("option", selected=True)
    assert chosen.text == "2024/25 Q3"
    response = client.post(
        "/admin/organisations/new", data={"name": "Late Joiner", "reports_from": "2024-25-q3"}
    )
    assert response.status_code == 302
    joiner = town.session.scalar(select(Organisation).where(Organisation.name == "Late Joiner"))
    assert joiner.reports_from == Q3.starts_on

    # Prompt reported for Q1, so it cannot be made to start reporting later than that.
    assert town.file("Prompt", Q1, date(2024, 7, 10)).submitted
    page = get_page(client, "/admin/organisations/prompt")
    fields = {
        "name": "Prompt",
        "reports_from": "2024-25-q2",
        "version": page.soup.find("input", attrs={"name": "version"})["value"],
    }
    refused = client.post("/admin/organisations/prompt", data=fields)
    assert refused.status_code == 200
    assert "Prompt sent a return for 2024/25 Q1, so it must report from then or earlier" in (
        refused.get_data(as_text=True)
    )


def test_the_command_line_sets_when_reporting_began(tmp_path):
    url = f"sqlite:///{tmp_path / 'start.db'}"
    instance = tmp_path / "instance"
    assert run_tracker("db", "upgrade", instance=instance, DATABASE_URL=url).returncode == 0
    page = tmp_path / "page.txt"
    page.write_text("Hearth Housing\nWe pledge to build homes.\n- Build 400 homes by 2030\n")
    loaded = run_tracker("seed", "load", str(page), instance=instance, DATABASE_URL=url)
    assert loaded.returncode == 0, loaded.stderr
    started = run_tracker(
        "periods",
        "start",
        "2025-26-q3",
        "--today",
        "2026-01-05",
        instance=instance,
        DATABASE_URL=url,
    )
    assert started.returncode == 0, started.stderr
    assert started.stdout.strip() == "Reporting begins with 2025/26 Q3."
    bad = run_tracker("periods", "start", "2025-q3", instance=instance, DATABASE_URL=url)
    assert bad.returncode == 1 and "Traceback" not in bad.stderr
    assert "is not a reporting period" in bad.stderr


def test_a_commitment_retired_mid_year_stays_on_the_public_record(town, db_session, client):
    # Prompt reports on both commitments in Q1; in August the programme team retires the wage
    # commitment, with a reason; Prompt's Q2 return covers the homes alone. A resident who read
    # about the wage in Q1 still finds it: apart from the pledge, with why and when it went.
    town.day(date(2024, 6, 16))
    assert town.file("Prompt", Q1, date(2024, 7, 10)).submitted
    town.accept("Prompt", Q1, date(2024, 7, 12))
    homes, wage = (
        db_session.scalars(select(Commitment).where(Commitment.title == f"Prompt's {what}")).one()
        for what in ("homes", "wage")
    )
    retire_commitment(
        wage,
        "Paid through the council's scheme from August",
        actor=town.admin,
        now=at(date(2024, 8, 15)),
    )
    town.day(date(2024, 9, 16))
    view = service.return_view(town.orgs["Prompt"], town.period(Q2), date(2024, 9, 16))
    assert [task.commitment.id for task in view.tasks] == [homes.id]
    assert town.file("Prompt", Q2, date(2024, 10, 1)).submitted
    town.accept("Prompt", Q2, date(2024, 10, 2))

    page = get_page(client, "/organisations/prompt")
    current = [h.get_text(strip=True) for h in page.soup.select("h3.govuk-summary-card__title")]
    assert current == ["Prompt's homes", "Prompt's wage"]  # the wage under "Retired" alone
    retired = page.soup.select_one("#retired ~ .govuk-summary-card")
    assert retired is not None and "Prompt's wage" in retired.get_text()
    assert retired.select_one("[data-field=retired]").get_text(strip=True) == "15 August 2024"
    assert "council's scheme" in retired.select_one("[data-field=reason]").get_text()
    assert "On track reported for 2024/25 Q1" in " ".join(retired.get_text(" ").split())
    # Counted nowhere: one commitment, one on track, and the retired one's link still works.
    assert "Commitments 1: 1 on track" in page.text
    assert public.organisation_page("prompt", date(2024, 10, 2)).summary.commitment_count == 1

    wage_page = get_page(client, page.link("Quarter by quarter for Prompt's wage"))
    assert "Retired on 15 August 2024." in wage_page.text
    assert "Reason: Paid through the council's scheme from August" in wage_page.text
    # Its Q1 words stay; Q2's window closed after it was retired, so Q2 is not missing from it.
    quarters = [li["data-quarter"] for li in wage_page.soup.select("#quarters > li")]
    assert quarters == [Q1.slug]
    assert "Prompt in 2024/25 Q1" in wage_page.text
    homes_page = get_page(client, f"/organisations/prompt/progress/{homes.id}")
    # Still on the pledge, the homes list every quarter whose window has opened since.
    assert [li["data-quarter"] for li in homes_page.soup.select("#quarters > li")] == [
        Q3.slug,
        Q2.slug,
        Q1.slug,
    ]
    assert "Retired" not in homes_page.text

    # The feeds keep what was published for it.
    feed = client.get("/organisations/prompt/updates.atom").get_data(as_text=True)
    assert feed.count("Prompt in 2024/25 Q1") == 2 and "Prompt in 2024/25 Q2" in feed

    # Re-imported onto the page by no one, retired by the import (no reason): said so.
    wage.retired_reason = None
    db_session.flush()
    assert (
        "Reason: No longer on the published pledge page"
        in get_page(client, f"/organisations/prompt/progress/{wage.id}").text
    )
    # A lead-in heading is never a commitment page, on the pledge or off it.
    heading = make_commitment(db_session, town.orgs["Prompt"], title="We will:", is_heading=True)
    heading.removed_from_page_at = at(date(2024, 8, 15))
    db_session.flush()
    get_page(client, f"/organisations/prompt/progress/{heading.id}", status=404)


def test_a_draft_left_on_a_commitment_retired_before_the_return_went_in_stays_private(
    town, db_session, client
):
    # The lead drafts words on the wage, the programme team retires it, the return goes in
    # without it and is accepted: the draft was never submitted nor reviewed, so it is never
    # published and never the wage's status. Retired after the return went in, its update is
    # part of what was submitted, and is published when the return is accepted.
    town.day(date(2024, 6, 16))
    prompt, q1 = town.orgs["Prompt"], town.period(Q1)
    wage = db_session.scalars(select(Commitment).where(Commitment.title == "Prompt's wage")).one()
    service.save_update(
        prompt,
        q1,
        wage,
        service.UpdateInput(status=DeliveryStatus.OFF_TRACK, narrative="DRAFT: thinking aloud"),
        version=None,
        complete=False,
        actor=town.leads["Prompt"],
        today=date(2024, 7, 1),
    )
    retire_commitment(wage, "Paid by the council", actor=town.admin, now=at(date(2024, 7, 2)))
    assert town.file("Prompt", Q1, date(2024, 7, 10)).submitted
    town.accept("Prompt", Q1, date(2024, 7, 12))
    db_session.refresh(wage)
    assert wage.current_status == DeliveryStatus.NOT_STARTED
    for url in (
        f"/organisations/prompt/progress/{wage.id}",
        "/organisations/prompt",
        "/organisations/prompt/updates.atom",
        "/updates.atom",
        f"/api/v1/commitments/{wage.id}",
    ):
        response = client.get(url)
        assert response.status_code == 200 and "DRAFT" not in response.get_data(as_text=True), url
    assert "Prompt in 2024/25 Q1" in get_page(client, "/organisations/prompt").text  # the homes
    assert client.get(f"/api/v1/commitments/{wage.id}").json["data"]["accepted_updates"] == []

    # Slow's wage is retired after Slow's return went in: it stays in that return.
    slow_wage = db_session.scalars(
        select(Commitment).where(Commitment.title == "Slow's wage")
    ).one()
    assert town.file("Slow", Q1, date(2024, 7, 11)).submitted
    retire_commitment(slow_wage, "Merged", actor=town.admin, now=at(date(2024, 7, 12)))
    town.accept("Slow", Q1, date(2024, 7, 13))
    db_session.refresh(slow_wage)
    assert slow_wage.current_status == DeliveryStatus.ON_TRACK
    page = get_page(client, f"/organisations/slow/progress/{slow_wage.id}")
    assert "Slow in 2024/25 Q1" in page.text


def test_revising_a_pledge_never_rewrites_what_was_owed_before(town, db_session):
    # Prompt reports Q1 and Q2; Quiet misses both. In November both revise their pledges: the
    # old commitments retired, a reworded one added (from Q3). What was owed in Q1 and Q2 was
    # owed then: Quiet's missed returns, and its not communicating, stay on the record, or a
    # failing organisation could wipe its record by rewording its pledge.
    town.day(date(2024, 6, 16))
    town.report(("Prompt", "Slow"), Q1, date(2024, 7, 10), date(2024, 7, 12))
    town.day(date(2024, 9, 16))
    town.report(("Prompt", "Slow"), Q2, date(2024, 10, 10), date(2024, 10, 12))
    today = date(2024, 11, 20)
    town.day(today)

    def record() -> tuple[object, ...]:
        figures = [return_figures(town.period(q), today) for q in (Q1, Q2)]
        statuses = service.reporting_statuses(today)
        return (
            [(f.expected, f.accepted, f.missed) for f in figures],
            {name: statuses.get(org.id) for name, org in town.orgs.items()},
            summary(today),
        )

    before = record()
    assert before[0] == [(3, 2, 1), (3, 2, 1)]
    assert before[1]["Quiet"] == ReportingStatus.NON_COMMUNICATING
    for name in ("Prompt", "Quiet"):
        organisation = town.orgs[name]
        for commitment in db_session.scalars(
            select(Commitment).where(Commitment.organisation_id == organisation.id)
        ).all():
            retire_commitment(commitment, "Pledge revised", actor=town.admin, now=at(today))
        add_commitment(organisation, f"{name} builds 500 homes", actor=town.admin, today=today)
    assert record() == before
    # Given an extension for Q1, Quiet reports on what its pledge said then, and it counts.
    with town.app.test_request_context():
        grant_extension(
            town.orgs["Quiet"],
            town.period(Q1),
            new_due=date(2024, 11, 29),
            reason="Catching up after the revision",
            actor=town.admin,
            today=today,
            now=at(today),
        )
    view = service.return_view(town.orgs["Quiet"], town.period(Q1), today)
    assert sorted(t.commitment.title for t in view.tasks) == ["Quiet's homes", "Quiet's wage"]
    # And its reminders ask for the same two, not for today's pledge.
    (owed,) = outstanding(town.period(Q1), [town.orgs["Quiet"].id])
    assert (owed.total, sorted(owed.missing)) == (2, ["Quiet's homes", "Quiet's wage"])
    assert town.file("Quiet", Q1, date(2024, 11, 21)).submitted
    town.accept("Quiet", Q1, date(2024, 11, 22))
    assert return_figures(town.period(Q1), date(2024, 11, 22)).accepted == 3
    # Q3's return is owed by all three, on their pledges as they stand.
    town.day(date(2024, 12, 17))
    assert return_figures(town.period(Q3), date(2024, 12, 17)).expected == 3


def test_the_board_expects_a_return_only_where_every_other_page_does(town, db_session):
    # Newcomer joins in September (Q2); its first commitment is typed in on 5 October, while
    # Q2's window is open, so it reports from Q3. Nobody expects a Q2 return from it — nor
    # may the board's Q2 summary call one missing and Newcomer late.
    town.day(date(2024, 6, 16))
    town.report(("Prompt", "Slow", "Quiet"), Q1, date(2024, 7, 10), date(2024, 7, 11))
    town.day(date(2024, 9, 10))
    with town.app.test_request_context():
        newcomer = create_organisation(
            OrganisationDetails(name="Newcomer", sector=None, website=None),
            actor=town.admin,
            today=date(2024, 9, 10),
        )
    add_commitment(newcomer, "Build 50 homes", actor=town.admin, today=date(2024, 10, 5))
    town.report(("Prompt", "Slow", "Quiet"), Q2, date(2024, 10, 10), date(2024, 10, 11))
    today = date(2024, 11, 12)
    town.day(today)
    assert return_figures(town.period(Q2), today).expected == 3
    with town.app.test_request_context():
        data = build_summary(town.period(Q2), actor=None, now=at(today)).data
    assert data["headline"]["returns"]["missing"] == 0
    assert "Newcomer" not in str(data)


def test_no_change_chosen_from_an_answer_later_corrected_must_be_checked_again(
    town, db_session, client
):
    # Prompt's Q1 return (on track) waits for review when the lead chooses "no change" for
    # every Q2 commitment. The programme team sends Q1 back; the lead corrects it to off track.
    # Q2's copies now say what last quarter no longer does: the lead is asked to check them
    # again, cannot submit until they do, and the reviewer is told if it went in before.
    town.day(date(2024, 6, 16))
    prompt, lead = town.orgs["Prompt"], town.leads["Prompt"]
    assert town.file("Prompt", Q1, date(2024, 7, 10)).submitted
    town.day(date(2024, 9, 16))
    q1, q2 = town.period(Q1), town.period(Q2)

    def no_change_for_all(today: date) -> None:
        for task in service.return_view(prompt, q2, today).tasks:
            service.save_update(
                prompt,
                q2,
                task.commitment,
                service.carried_forward(prompt, q2, task.commitment),
                version=task.update.version if task.update else None,
                complete=True,
                actor=lead,
                today=today,
            )

    no_change_for_all(date(2024, 9, 16))
    town.send_back("Prompt", Q1, date(2024, 9, 17), "Your board paused the wage.")
    # Sent back, Q1 is no longer last quarter's answer: nothing to repeat.
    assert {t.state for t in service.return_view(prompt, q2, date(2024, 9, 17)).tasks} == {
        "check_again"
    }
    for task in service.return_view(prompt, q1, date(2024, 9, 18)).tasks:
        service.save_update(
            prompt,
            q1,
            task.commitment,
            service.UpdateInput(
                status=DeliveryStatus.OFF_TRACK,
                narrative="Paused by our board",
                progress_value=Decimal(100) if task.commitment.target_value else None,
            ),
            version=task.update.version,
            complete=True,
            actor=lead,
            today=date(2024, 9, 18),
        )
    with town.app.test_request_context():
        assert service.submit(prompt, q1, actor=lead, now=at(date(2024, 9, 18))).submitted

    with time_machine.travel(at(date(2024, 9, 18)), tick=False):
        sign_in(client, lead)
        tasks = get_page(client, f"/organisations/prompt/returns/{Q2.slug}")
        assert tasks.text.count("Check again") == 2
        assert "Last quarter's answer changed after you chose “no change”" in tasks.text
    with town.app.test_request_context():
        refused = service.submit(prompt, q2, actor=lead, now=at(date(2024, 9, 18)))
    assert not refused.submitted
    assert refused.message == (
        "Last quarter's answer changed after you chose “no change” for 2 commitments: "
        "check them again"
    )

    # Chosen again, "no change" repeats the corrected answer, and Q2 goes in.
    no_change_for_all(date(2024, 9, 18))
    with town.app.test_request_context():
        assert service.submit(prompt, q2, actor=lead, now=at(date(2024, 9, 18))).submitted
    town.accept("Prompt", Q1, date(2024, 9, 19))
    town.accept("Prompt", Q2, date(2024, 9, 20))
    q2_updates = [t.update for t in service.return_view(prompt, q2, date(2024, 9, 20)).tasks]
    assert {(u.status, u.narrative, u.no_change) for u in q2_updates} == {
        (DeliveryStatus.OFF_TRACK, "Paused by our board", True)
    }


def test_the_reviewer_is_told_when_a_no_change_answer_no_longer_repeats_last_quarter(town, client):
    # Q2 went in with "no change" before Q1 was sent back and corrected: the Q2 review says so.
    town.day(date(2024, 6, 16))
    prompt, lead = town.orgs["Prompt"], town.leads["Prompt"]
    assert town.file("Prompt", Q1, date(2024, 7, 10)).submitted
    town.day(date(2024, 9, 16))
    q2 = town.period(Q2)
    for task in service.return_view(prompt, q2, date(2024, 9, 16)).tasks:
        service.save_update(
            prompt,
            q2,
            task.commitment,
            service.carried_forward(prompt, q2, task.commitment),
            version=None,
            complete=True,
            actor=lead,
            today=date(2024, 9, 16),
        )
    with town.app.test_request_context():
        assert service.submit(prompt, q2, actor=lead, now=at(date(2024, 9, 16))).submitted
    town.send_back("Prompt", Q1, date(2024, 9, 17), "Your board paused the wage.")
    with time_machine.travel(at(date(2024, 9, 17)), tick=False):
        sign_in(client, town.admin)
        review = get_page(client, f"/admin/returns/{Q2.slug}/prompt")
    warnings = review.soup.select("[data-warning=no-change-outdated]")
    assert len(warnings) == 2
    assert "Last quarter's answer has changed since “no change” was chosen" in review.text
    # Accepting it would make the stale copy the newer quarter's status: refused, and why.
    version = review.soup.select_one("form input[name=version]")["value"]
    with time_machine.travel(at(date(2024, 9, 17)), tick=False):
        response = client.post(f"/admin/returns/{Q2.slug}/prompt/accept", data={"version": version})
    assert response.status_code == 422
    refused = Page(response, BeautifulSoup(response.get_data(as_text=True), "html.parser"))
    assert refused.errors == [
        "Last quarter's answer changed after this return chose “no change” for 2 commitments: "
        "send it back so Prompt can check them again"
    ]
    assert service.find_return(prompt, q2).state == ReturnState.SUBMITTED


def test_a_rebuilt_summary_counts_the_pledge_as_it_stood_that_quarter(town, db_session):
    # Q1's summary is built when its window closes; Quiet's late return is accepted after it.
    # In Q2 Prompt's wage (accepted on track in Q1) is retired and Slow adds a commitment.
    # Rebuilt for Quiet's return, Q1's summary still counts the wage and not the newcomer.
    town.day(date(2024, 6, 16))
    town.report(("Prompt", "Slow"), Q1, date(2024, 7, 10), date(2024, 7, 12))
    town.day(date(2024, 8, 12))
    q1 = town.period(Q1)
    with town.app.test_request_context():
        first = build_summary(q1, actor=town.admin, now=at(date(2024, 8, 13))).data
        grant_extension(
            town.orgs["Quiet"],
            q1,
            new_due=date(2024, 8, 30),
            reason="Staff illness",
            actor=town.admin,
            today=date(2024, 8, 14),
            now=at(date(2024, 8, 14)),
        )
    assert town.file("Quiet", Q1, date(2024, 8, 20)).submitted
    town.accept("Quiet", Q1, date(2024, 8, 21))
    wage = db_session.scalars(select(Commitment).where(Commitment.title == "Prompt's wage")).one()
    retire_commitment(wage, "Merged", actor=town.admin, now=at(date(2024, 8, 25)))
    add_commitment(town.orgs["Slow"], "Slow's new one", actor=town.admin, today=date(2024, 8, 25))
    with town.app.test_request_context():
        rebuilt = build_summary(
            q1, actor=town.admin, reason="Quiet's late return", now=at(date(2024, 8, 26))
        ).data
    assert first["headline"]["commitments"] == rebuilt["headline"]["commitments"] == 6
    assert rebuilt["headline"]["status_counts"]["on_track"] == 6
    assert rebuilt["headline"]["status_counts"].get("not_started", 0) == 0
    assert "Slow's new one" not in str(rebuilt)


def test_the_reporting_status_counts_only_the_quarters_a_pledge_owed(town, db_session):
    # Slow reports Q1, then its pledge empties before Q2's window opens; a new commitment comes
    # in January (from Q4). Quiet misses Q1 and Q2, then its pledge empties. Every page reads
    # the reporting status from the quarters each owed (periods.counted_in), as the figures do:
    # Slow owed nothing in Q2 and Q3, so it is never late for them; Quiet's missed quarters
    # stay missed after its pledge empties.
    town.day(date(2024, 6, 16))
    town.report(("Prompt", "Slow"), Q1, date(2024, 7, 10), date(2024, 7, 12))

    def empty(name: str, on: date) -> None:
        for commitment in db_session.scalars(
            select(Commitment).where(Commitment.organisation_id == town.orgs[name].id)
        ).all():
            retire_commitment(commitment, "Pledge withdrawn", actor=town.admin, now=at(on))

    empty("Slow", date(2024, 9, 1))
    town.day(date(2024, 9, 16))
    town.report(("Prompt",), Q2, date(2024, 10, 10), date(2024, 10, 12))
    today = date(2024, 11, 20)
    town.day(today)
    empty("Quiet", today)
    add_commitment(
        town.orgs["Slow"], "Slow plants 200 trees", actor=town.admin, today=date(2025, 1, 5)
    )
    later = date(2025, 1, 25)
    town.day(later)

    def everywhere(on: date) -> dict[str, ReportingStatus]:
        statuses = service.reporting_statuses(on)
        pages = {
            name: public.organisation_page(org.slug, on).summary.reporting_status
            for name, org in town.orgs.items()
        }
        assert pages == {name: statuses.get(org.id) for name, org in town.orgs.items()}
        return pages

    assert [return_figures(town.period(q), later).expected for q in (Q1, Q2, Q3)] == [3, 2, 1]
    assert everywhere(today)["Quiet"] == ReportingStatus.NON_COMMUNICATING
    assert everywhere(later) == {
        "Prompt": ReportingStatus.LATE,  # its Q3 return is a few days overdue
        "Slow": ReportingStatus.ACTIVE,  # it owed Q1 (in) and nothing since
        "Quiet": ReportingStatus.NON_COMMUNICATING,  # Q1 and Q2 missed, nothing owed since
    }
