"""Query budgets: each signed-in page reads a fixed number of SQL statements, whatever the size.

The public pages and the board pages have their own budget tests (tests/test_public.py,
tests/test_board_pages.py, tests/test_commitments.py); this file covers the lead's and the
admins' pages, and what a visitor reads of accepted progress (issue 15): the commitment page
and its quarters, the Atom feeds, the open data and the API's commitments with every quarter;
and the organisations directory, read a page at a time, filtered and not.
Each page is read once on a small world and once after the world has grown — more
organisations, commitments, returns, updates, leads, emails, job runs and audit events of every
kind (chases among them), added with bulk INSERTs so the test stays quick — and must issue
exactly as many statements both times.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
import time_machine

from tests.factories import make_commitment, make_organisation, make_period, make_place, make_user
from tests.support.auth import sign_in
from tracker.domain.calendar import Quarter
from tracker.domain.enums import DeliveryStatus, JobOutcome, NotificationState, ReturnState, Role
from tracker.extensions import db
from tracker.models import (
    AuditEvent,
    Commitment,
    CommitmentUpdate,
    EvidenceFile,
    JobRun,
    Notification,
    Organisation,
    Pledge,
    Return,
    User,
)
from tracker.models.user import organisation_leads
from tracker.services import tallies

LAST, THIS = Quarter(2023, 4), Quarter(2024, 1)
# Four days after this quarter's due date: some returns are in, some overdue, some chased.
ON = datetime(2024, 7, 25, 10, 0, tzinfo=UTC)
STATUSES = [DeliveryStatus.ON_TRACK, DeliveryStatus.AT_RISK, DeliveryStatus.COMPLETED]
# Each extra organisation's return for this quarter, in turn (None: not started).
THIS_QUARTER = [ReturnState.SUBMITTED, ReturnState.DRAFT, ReturnState.ACCEPTED, None]


def count_statements(client, url: str) -> int:  # type: ignore[no-untyped-def]
    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        # Not the savepoints the test's outer transaction turns commits into: a real request's
        # BEGIN and COMMIT are not counted either (which request opens the next savepoint
        # depends on what the one before it read after committing).
        if not statement.startswith(("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT")):
            statements.append(statement)

    db.session.expunge_all()  # nothing cached: every row is read as a fresh request reads it
    sa.event.listen(db.engine, "before_cursor_execute", record)
    try:
        response = client.get(url)
        response.get_data()  # a streamed answer (the open data) reads as it is sent
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", record)
    assert response.status_code == 200, f"GET {url}: {response.status_code}"
    return len(statements)


class World:
    """One organisation with its lead, an admin, two quarters; more of everything on demand."""

    def __init__(self, session) -> None:  # type: ignore[no-untyped-def]
        self.session = session
        place = make_place(session)
        self.priorities = [p.id for p in place.priorities]
        self.last = make_period(session, LAST)
        self.this = make_period(session, THIS)
        self.home = make_organisation(session, name="Home Organisation", slug="home")
        self.commitments = [
            make_commitment(session, self.home, primary_priority_id=self.priorities[n % 5])
            for n in range(3)
        ]
        self.lead = make_user(session, Role.LEAD, organisations=[self.home])
        self.admin = make_user(session, Role.ADMIN)
        self.home_last = Return(
            organisation=self.home,
            period=self.last,
            state=ReturnState.ACCEPTED,
            submitted_at=datetime(2024, 4, 10, tzinfo=UTC),
        )
        self.home_this = Return(organisation=self.home, period=self.this, state=ReturnState.DRAFT)
        session.add_all([self.home_last, self.home_this])
        session.flush()
        # Ids and slugs, not objects: counting statements empties the session between pages.
        self.home_id, self.home_slug = self.home.id, self.home.slug
        self.home_pledge_id = self.home.pledges[0].id
        self.commitment_id = self.commitments[0].id
        self.lead_id, self.admin_id = self.lead.id, self.admin.id
        self.admin_email = self.admin.email
        self.last_id, self.this_id, self.this_slug = self.last.id, self.this.id, self.this.slug
        self.home_returns = (self.home_last.id, self.home_this.id)
        # Each update carries its return's quarter (year × 4 + quarter number).
        self.ordinals = {
            period.id: period.year * 4 + period.quarter for period in (self.last, self.this)
        }
        self.next_id = 100_000
        self._updates([c.id for c in self.commitments])
        self.grow(organisations=3, home_commitments=0)

    def ids(self, count: int) -> range:
        first = self.next_id
        self.next_id += count
        return range(first, first + count)

    def _updates(self, commitment_ids: list[int]) -> None:
        if not commitment_ids:
            return
        rows = []
        for n, commitment_id in enumerate(commitment_ids):
            for return_id, period_id, complete in zip(
                self.home_returns, (self.last_id, self.this_id), (True, n % 2 == 0), strict=True
            ):
                rows.append(
                    {
                        "return_id": return_id,
                        "commitment_id": commitment_id,
                        "period_ordinal": self.ordinals[period_id],
                        "status": STATUSES[n % 3],
                        "narrative": "Explained",
                        "complete": complete,
                        "version": 1,
                    }
                )
        self.session.execute(sa.insert(CommitmentUpdate), rows)
        # Two evidence files on each of this quarter's updates: pages that list files read them
        # with the updates, never one query per file or per update.
        updates = self.session.execute(
            sa.select(CommitmentUpdate.id).where(
                CommitmentUpdate.return_id == self.home_returns[1],
                CommitmentUpdate.commitment_id.in_(commitment_ids),
            )
        ).scalars()
        self.session.execute(
            sa.insert(EvidenceFile),
            [
                {
                    "update_id": update_id,
                    "key": f"{update_id:08d}-{n}".ljust(32, "k"),
                    "name": f"Evidence {n}.pdf",
                    "content_type": "application/pdf",
                    "size": 1000,
                    "uploaded_at": ON,
                }
                for update_id in updates
                for n in range(2)
            ],
        )

    def _audit_events(self, ids: list[int]) -> None:
        """Each organisation's events of every kind the audit log names, newest together, so
        every page of the log mentions every kind of record."""
        session = self.session
        updates = dict(
            session.execute(
                sa.select(CommitmentUpdate.return_id, sa.func.min(CommitmentUpdate.id))
                .where(CommitmentUpdate.return_id.in_([i * 2 for i in ids]))
                .group_by(CommitmentUpdate.return_id)
            ).all()
        )
        emails = dict(
            session.execute(
                sa.select(Notification.organisation_id, sa.func.min(Notification.id))
                .where(Notification.organisation_id.in_(ids))
                .group_by(Notification.organisation_id)
            ).all()
        )
        by_admin = {"actor_id": self.admin_id, "actor_label": "admin@example.org"}
        rows = []
        for i in ids:
            events = [
                ("chased", "organisation", i, {"after": {"period": self.this_slug, "to": ["x"]}}),
                (
                    "updated",
                    "user",
                    i,
                    {"before": {"organisations": []}, "after": {"organisations": [f"bulk-{i}"]}},
                ),
                ("accepted", "return", i * 2, {}),
                (
                    "updated",
                    "commitment",
                    i * 10,
                    {
                        "before": {"primary_priority_id": self.priorities[0]},
                        "after": {"primary_priority_id": self.priorities[1]},
                    },
                ),
                (
                    "updated from the page",
                    "commitment",
                    i * 10 + 1,
                    {"actor_id": None, "actor_label": "import of x", "after": {"themes": ["t"]}},
                ),
                ("verified evidence", "commitment_update", updates[i * 2], {}),
                ("queued again", "notification", emails[i], {"before": {"state": "failed"}}),
                ("dates changed", "period", self.this_slug, {"organisation_id": None}),
                (
                    "built board summary",
                    "board_summary",
                    1,
                    {
                        "actor_id": None,
                        "actor_label": "system",
                        "after": {"period": self.this_slug},
                    },
                ),
            ]
            for action, kind, entity, fields in events:
                rows.append(
                    {
                        "occurred_at": ON - timedelta(days=1),
                        **by_admin,
                        "before": None,
                        "after": None,
                        "action": action,
                        "entity_type": kind,
                        "entity_id": str(entity),
                        "organisation_id": i,
                        **fields,
                    }
                )
        session.execute(sa.insert(AuditEvent), rows)

    def grow(self, *, organisations: int, home_commitments: int) -> None:
        """More organisations (each with three commitments, two returns, a lead, emails and a
        chase), more commitments for the home organisation, and more job runs."""
        session = self.session
        ids = list(self.ids(organisations))
        session.execute(
            sa.insert(Organisation),
            [
                # Every other name read from a paragraph: the pledge items to check list some.
                {
                    "id": i,
                    "name": f"Bulk {i}",
                    "slug": f"bulk-{i}",
                    "version": 1,
                    "name_needs_review": i % 2 == 0,
                }
                for i in ids
            ],
        )
        session.execute(sa.insert(Pledge), [{"id": i, "organisation_id": i} for i in ids])
        commitments = [
            {
                "id": i * 10 + n,
                "pledge_id": i,
                "organisation_id": i,
                "key": f"k{n}",
                "original_text": f"Commitment {n} of {i}",
                "title": f"Commitment {n} of {i}",
                # The last one's priority a guess, a different one from organisation to
                # organisation; the second cut off on every third organisation.
                "primary_priority_id": self.priorities[i % 5 if n == 2 else n],
                "version": 1,
                "needs_review": n == 2,
                "is_truncated": n == 1 and i % 3 == 0,
            }
            for i in ids
            for n in range(3)
        ]
        commitments += [
            {
                "id": i,
                "pledge_id": self.home_pledge_id,
                "organisation_id": self.home_id,
                "key": f"home-{i}",
                "position": i,
                "original_text": f"Another commitment {i}",
                "title": f"Another commitment {i}",
                "primary_priority_id": self.priorities[i % 5],
                "version": 1,
            }
            for i in self.ids(home_commitments)
        ]
        session.execute(sa.insert(Commitment), commitments)
        self._updates([c["id"] for c in commitments if c["organisation_id"] == self.home_id])

        returns, updates = [], []
        for i in ids:
            for n, (period_id, state) in enumerate(
                ((self.last_id, ReturnState.ACCEPTED), (self.this_id, THIS_QUARTER[i % 4]))
            ):
                if state is None:
                    continue
                return_id = i * 2 + n
                submitted = None if state == ReturnState.DRAFT else ON - timedelta(days=i % 9)
                returns.append(
                    {
                        "id": return_id,
                        "organisation_id": i,
                        "period_id": period_id,
                        "state": state,
                        "submitted_at": submitted,
                        "extended_due_on": ON.date() if i % 7 == 0 else None,
                        "extension_reason": "Asked in time" if i % 7 == 0 else None,
                        "version": 1,
                    }
                )
                updates += [
                    {
                        "return_id": return_id,
                        "commitment_id": i * 10 + c,
                        "period_ordinal": self.ordinals[period_id],
                        "status": STATUSES[(i + c) % 3],
                        "narrative": "Explained",
                        "complete": state != ReturnState.DRAFT,
                        "version": 1,
                    }
                    for c in range(3)
                ]
        if returns:
            session.execute(sa.insert(Return), returns)
            session.execute(sa.insert(CommitmentUpdate), updates)

        session.execute(
            sa.insert(User),
            [
                {
                    "id": i,
                    "email": f"lead-{i}@example.org",
                    "name": f"Lead {i}",
                    "role": Role.LEAD,
                    "active": True,
                    "session_version": 1,
                }
                for i in ids
            ],
        )
        session.execute(
            sa.insert(organisation_leads), [{"user_id": i, "organisation_id": i} for i in ids]
        )
        session.execute(
            sa.insert(Notification),
            [
                {
                    "kind": "reminder",
                    "idempotency_key": f"reminder:{i}:{n}",
                    "recipient_email": f"lead-{i}@example.org",
                    "recipient_user_id": i,
                    "organisation_id": i,
                    "period_id": self.this_id,
                    "subject": "Your return is due",
                    "body_text": "Please report",
                    "state": [NotificationState.SENT, NotificationState.FAILED][n],
                    "sent_at": ON if n == 0 else None,
                    "attempts": 1,
                }
                for i in ids
                for n in range(2)
            ],
        )
        self._audit_events(ids)
        session.execute(
            sa.insert(JobRun),
            [
                {
                    "job": job,
                    "run_for": ON.date() - timedelta(days=n),
                    "started_by": "scheduler",
                    "host": "test",
                    "started_at": ON - timedelta(days=n),
                    "finished_at": ON - timedelta(days=n),
                    "outcome": JobOutcome.SUCCEEDED,
                    "summary": "done",
                }
                for job in ("reminders", "deliver_mail", "board_summary")
                for n in range(len(ids))
            ],
        )
        session.flush()


def home_pages(world: World) -> dict[str, str]:
    home, this = world.home_slug, world.this_slug
    commitment = world.commitment_id
    return {
        "task list": f"/organisations/{home}/returns/{this}",
        "update form": f"/organisations/{home}/returns/{this}/commitments/{commitment}",
        "check answers": f"/organisations/{home}/returns/{this}/check",
        "the organisation's returns": f"/organisations/{home}/returns",
        "the lead's returns": "/returns",
        "commitment page": f"/organisations/{home}/commitments/{commitment}",
    }


def admin_pages(world: World) -> dict[str, str]:
    this = world.this_slug
    return {
        "admin overview": "/admin",
        "every overdue return of a quarter": f"/admin/work/{this}/overdue",
        "review queue": f"/admin/returns/{this}",
        "review queue, not in yet": f"/admin/returns/{this}?show=not-in",
        "review of one return": f"/admin/returns/{this}/{world.home_slug}",
        "organisations": "/admin/organisations",
        "organisations, page 2": "/admin/organisations?page=2",
        "organisations found by a search": "/admin/organisations?q=BULK",
        "organisations found by a search, page 2": "/admin/organisations?q=bulk&page=2",
        "people": "/admin/users",
        "people, page 2": "/admin/users?page=2",
        "people found by a search": "/admin/users?q=Lead",
        "people found by a search, page 2": "/admin/users?q=lead&page=2",
        "pledge items to check": "/admin/pledges/review",
        "pledge items of one kind": "/admin/pledges/review/priorities",
        "pledge items of one kind, page 2": "/admin/pledges/review/priorities?page=2",
        "notifications": "/admin/notifications",
        "failed notifications": "/admin/notifications?state=failed",
        "jobs": "/admin/jobs",
        "chase everyone overdue": f"/admin/chase/{this}",
        "audit log": "/admin/audit",
        # The filters look up only the names typed, never every organisation or person.
        "audit log, filtered": (
            f"/admin/audit?organisation=Home+Organisation&user={world.admin_email}&page=2"
        ),
        "audit log, filters matching several and none": (
            "/admin/audit?organisation=bulk&user=nobody"
        ),
        # A small world lists every organisation as a checkbox, a grown one (beyond 50) lists
        # the lead's own and a box for more: one statement reads either.
        "invite someone": "/admin/users/new",
        "a lead's details": f"/admin/users/{world.lead_id}",
    }


def visitor_pages(world: World) -> dict[str, str]:
    home, commitment = world.home_slug, world.commitment_id
    return {
        "home page": "/",
        # The directory, 25 a page: 4 organisations on the small world (a page 2 asked for is
        # page 1), 66 on the grown one (3 pages). The grown ones' returns make them late.
        "organisations": "/organisations",
        "organisations, page 2": "/organisations?page=2",
        "organisations of a priority, page 2": "/organisations?priority=inclusive-economy&page=2",
        "late organisations, page 2": "/organisations?reporting_status=late&page=2",
        "organisation page": f"/organisations/{home}",
        "commitment page, quarter by quarter": f"/organisations/{home}/progress/{commitment}",
        "feed of every organisation": "/updates.atom",
        "feed of one organisation": f"/organisations/{home}/updates.atom",
        "open data JSON": "/open-data.json",
        "open data CSV": "/open-data.csv",
        "API commitments": "/api/v1/commitments?per_page=100",
        # Only the page's organisations are read, with their figures: 2 of them a page here.
        "API organisations, page 2": "/api/v1/organisations?per_page=2&page=2",
        "API late organisations, page 2": (
            "/api/v1/organisations?reporting_status=late&per_page=2&page=2"
        ),
        "API one commitment": f"/api/v1/commitments/{commitment}",
    }


def count_post_statements(client, url: str, data: dict[str, object]) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    """The status a form's answer has, and how many statements it took."""
    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        if not statement.startswith(("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT")):
            statements.append(statement)

    db.session.expunge_all()
    sa.event.listen(db.engine, "before_cursor_execute", record)
    try:
        response = client.post(url, data=data)
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", record)
    return response.status_code, len(statements)


def budgets(client, pages: dict[str, str]) -> dict[str, int]:  # type: ignore[no-untyped-def]
    return {name: count_statements(client, url) for name, url in pages.items()}


@pytest.mark.parametrize(
    ("who", "pages"),
    [("lead", home_pages), ("admin", admin_pages), ("visitor", visitor_pages)],
    ids=["lead", "admin", "visitor"],
)
@time_machine.travel(ON, tick=False)
def test_each_page_reads_as_many_statements_for_a_large_world_as_a_small_one(
    client, db_session, who: str, pages: Callable[[World], dict[str, str]]
):
    world = World(db_session)
    if who != "visitor":
        sign_in(client, world.lead if who == "lead" else world.admin)
    urls = pages(world)
    budgets(client, urls)  # warm up whatever a first request does once
    small = budgets(client, urls)
    # The overview counts each stored tally again when it is behind (services.tallies): that
    # first read after a change is bounded too. The change moves the tallies on when its
    # transaction commits, before anyone else can read it.
    tallies.everything_changed()
    db_session.commit()
    small_recount = count_statements(client, "/admin") if who == "admin" else 0
    # A lead for three organisations (their /returns page lists each one's return), a longer
    # history, and sixty more organisations with everything they bring.
    lead = db_session.get(User, world.lead_id)
    for _ in range(2):
        extra = make_organisation(db_session, id=world.ids(1)[0])
        make_commitment(db_session, extra, id=world.ids(1)[0])
        lead.organisations.append(extra)
    make_period(db_session, Quarter(2023, 3))  # one more quarter of history
    db_session.flush()
    world.grow(organisations=60, home_commitments=40)
    # Bulk INSERTs bypass the ORM's flush, so they say themselves that everything changed.
    tallies.everything_changed()
    db_session.commit()
    large_recount = count_statements(client, "/admin") if who == "admin" else 0
    large = budgets(client, urls)
    assert large == small
    assert large_recount == small_recount <= 30
    assert all(0 < count <= 20 for count in large.values()), large


@time_machine.travel(ON, tick=False)
def test_the_update_form_reads_its_commitment_once_and_not_the_places_first_quarter(
    client, db_session
):
    """The lead's most used page, in 7 statements: the person; the organisation with whether
    they lead it; the quarter; the commitment with its priority; the return; this quarter's and
    last quarter's update, each with its files. It read the commitment a second time for the
    task, and the place's first quarter though the quarter found was already on or after it (9).
    The task list reads neither again either."""
    world = World(db_session)
    sign_in(client, world.lead)
    pages = home_pages(world)
    count_statements(client, pages["update form"])  # warm up whatever a first request does
    assert count_statements(client, pages["update form"]) <= 7
    assert count_statements(client, pages["task list"]) <= 10


@time_machine.travel(ON, tick=False)
def test_the_user_forms_answers_read_as_many_statements_for_a_large_world_as_a_small_one(
    client, db_session, monkeypatch
):
    """However many names are typed and however many organisations there are: typed names are
    looked up in one statement, and the organisations saved are read in one more."""
    from tracker.admin import routes

    monkeypatch.setattr(routes, "ORGANISATION_CHECKBOXES_UP_TO", 2)  # both worlds type names
    world = World(db_session)
    sign_in(client, world.admin)
    sizes = []
    for size, grow in (("small", 0), ("large", 60)):
        if grow:
            world.ids(10)  # past the ids SQLite gave the people invited above
            world.grow(organisations=grow, home_commitments=0)
            tallies.everything_changed()
            db_session.commit()
        lead = db_session.get(User, world.lead_id)
        ticked = [str(o.id) for o in lead.organisations]
        sizes.append(
            {
                "invite with names": count_post_statements(
                    client,
                    "/admin/users/new",
                    {
                        "email": f"new-{size}@example.org",
                        "name": "New Lead",
                        "role": "lead",
                        "add_organisations": "Home Organisation\nhome\nHOME ORGANISATION",
                    },
                ),
                "invite with unclear names": count_post_statements(
                    client,
                    "/admin/users/new",
                    {
                        "email": f"unclear-{size}@example.org",
                        "name": "Unclear",
                        "role": "lead",
                        "add_organisations": "bulk\nnowhere\nhome",
                    },
                ),
                "edit a lead": count_post_statements(
                    client,
                    f"/admin/users/{world.lead_id}",
                    {
                        "name": f"Lead renamed {size}",
                        "role": "lead",
                        "organisations": ticked,
                        "add_organisations": "home",
                    },
                ),
            }
        )
    small, large = sizes
    assert small == large
    assert [status for status, _ in small.values()] == [302, 200, 302]
