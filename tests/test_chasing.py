"""Admins see who is overdue on /admin and chase them: one or all, with a note, once a day."""

from __future__ import annotations

from datetime import UTC, datetime

import time_machine
from bs4 import BeautifulSoup
from sqlalchemy import select

from tests.factories import make_commitment, make_organisation, make_period, make_user
from tests.support.auth import sign_in
from tests.support.pages import get_page
from tracker.domain.enums import Role
from tracker.models import AuditEvent, Notification

# 2024/25 Q1 was due on 21 July 2024: on 30 July returns not in are 9 days overdue.
OVERDUE_DAY = datetime(2024, 7, 30, 10, tzinfo=UTC)


def overdue_town(session):
    period = make_period(session)
    slow = make_organisation(session, "Slow Steps", slug="slow")
    make_commitment(session, slow, title="Insulate every school")
    lead = make_user(session, organisations=[slow], email="slow-lead@example.org", name="Sol")
    other = make_organisation(session, "Other Org", slug="other")
    make_commitment(session, other)
    make_user(session, organisations=[other], email="other-lead@example.org")
    admin = make_user(session, Role.ADMIN, email="chaser@example.org", name="Chris Chaser")
    return period, slow, lead, admin


def overdue_rows(page, quarter="2024/25 Q1"):
    section = page.soup.find("section", attrs={"aria-labelledby": "work-" + quarter_slug(quarter)})
    table = section.find("h4", string=lambda text: text and text.startswith("Overdue")).find_next(
        "table"
    )
    return [
        [cell.get_text(" ", strip=True) for cell in row.find_all(["th", "td"])]
        for row in table.tbody.find_all("tr")
    ]


def quarter_slug(label: str) -> str:
    return label.replace("/", "-").replace(" Q", "-q")


@time_machine.travel(OVERDUE_DAY, tick=False)
def test_the_work_list_shows_overdue_organisations_with_a_chase_link(client, db_session):
    *_, admin = overdue_town(db_session)
    sign_in(client, admin)
    page = get_page(client, "/admin")
    assert "2024/25 Q1 (the latest return): 2 to do" in page.text
    rows = overdue_rows(page)
    assert [
        "Other Org",
        "9 days",
        "0 of 1",
        "Not yet",
        "Chase now Other Org Extend the deadline for Other Org",
    ] in rows
    assert [
        "Slow Steps",
        "9 days",
        "0 of 1",
        "Not yet",
        "Chase now Slow Steps Extend the deadline for Slow Steps",
    ] in rows
    assert page.soup.find("a", string="Chase all 2 overdue with their 2024/25 Q1 return")
    assert "0 of 2 returns in" in page.text and "2 overdue" in page.text


@time_machine.travel(OVERDUE_DAY, tick=False)
def test_a_long_overdue_list_shows_the_longest_and_links_to_the_rest(client, db_session):
    period, *_, admin = overdue_town(db_session)
    for n in range(50):
        organisation = make_organisation(db_session, f"Late {n:02d}", slug=f"late-{n:02d}")
        make_commitment(db_session, organisation)
    sign_in(client, admin)
    page = get_page(client, "/admin")
    assert len(overdue_rows(page)) == 3
    assert "And 49 more: see all 52" in page.text
    assert page.soup.find("a", string="Chase all 52 overdue with their 2024/25 Q1 return")

    # "See all" lists every one, fifty at a time, each page going on from where the last ended.
    [see_all] = [a for a in page.soup.find_all("a") if a.get_text().startswith("see all 52")]
    assert see_all.get_text(" ", strip=True) == "see all 52 2024/25 Q1 returns: overdue"
    url = see_all["href"]
    assert url == "/admin/work/2024-25-q1/overdue"
    first = get_page(client, url)
    assert first.h1 == "Overdue"
    assert "52 returns, the most urgent first" in first.text
    first_rows = first_table_rows(first)
    assert len(first_rows) == 50
    assert first.soup.find("a", string="Chase all 52 overdue with their 2024/25 Q1 return")
    # Meanwhile an extension takes one of the first page off the list: nobody is skipped.
    granted = client.post(
        f"/admin/periods/{period.slug}/extensions/late-00",
        data={"due_on": ["10", "8", "2024"], "reason": "Staff illness"},
    )
    assert granted.status_code == 302
    assert "Late 00" not in [row[0] for row in overdue_rows(get_page(client, "/admin"))]
    following = first.soup.find("a", rel="next")["href"]
    second = get_page(client, following)
    second_rows = first_table_rows(second)
    assert second.soup.find("a", rel="next") is None
    assert second.soup.find("a", rel="prev")["href"] == url
    names = [row[0] for row in first_rows + second_rows]
    assert len(names) == len(set(names)) == 52
    assert {"Slow Steps", "Other Org"} <= set(names)
    assert all(row[1] == "9 days" for row in first_rows + second_rows)


def first_table_rows(page):
    return [
        [cell.get_text(" ", strip=True) for cell in row.find_all(["th", "td"])]
        for row in page.soup.find("table").tbody.find_all("tr")
    ]


@time_machine.travel(OVERDUE_DAY, tick=False)
def test_chasing_one_organisation_emails_its_leads_with_the_note_once_a_day(client, db_session):
    period, slow, _lead, admin = overdue_town(db_session)
    sign_in(client, admin)
    url = f"/admin/chase/{period.slug}/slow"
    page = get_page(client, url)
    assert page.h1 == "Chase Slow Steps"
    assert "9 days overdue" in page.text and "Sol" in page.text

    response = client.post(url, data={"note": "The board meets on Friday."})
    assert response.status_code == 302
    [email] = db_session.scalars(select(Notification).where(Notification.kind == "chase")).all()
    assert email.recipient_email == "slow-lead@example.org"
    assert email.subject == "Slow Steps: a reminder about your 2024/25 Q1 return"
    assert "Chris Chaser adds:" in email.body_text
    assert "The board meets on Friday." in email.body_text
    assert "Insulate every school" in email.body_text
    assert "/organisations/slow/returns/2024-25-q1" in email.body_text
    flash = get_page(client, "/admin").soup.find(class_="govuk-notification-banner")
    assert "Chased Slow Steps: 1 email on the way" in flash.text

    # Again the same day: the same idempotent path sends nothing twice.
    client.post(url, data={"note": "Again!"})
    assert (
        len(db_session.scalars(select(Notification).where(Notification.kind == "chase")).all()) == 1
    )
    again = get_page(client, "/admin").soup.find(class_="govuk-notification-banner")
    assert "1 already chased today, so not emailed again" in again.text

    # Logged, and shown on the organisation.
    [event] = db_session.scalars(select(AuditEvent).where(AuditEvent.action == "chased")).all()
    assert event.actor_id == admin.id and event.organisation_id == slow.id
    assert event.after["note"] == "The board meets on Friday."
    organisation_page = get_page(client, "/admin/organisations/slow")
    chased = organisation_page.soup.find("h2", string="Chased").find_next("ul").text
    assert "30 July 2024" in chased and "The board meets on Friday." in chased
    overview = get_page(client, "/admin")
    assert [
        "Slow Steps",
        "9 days",
        "0 of 1",
        "30 July",
        "Chase now Slow Steps Extend the deadline for Slow Steps",
    ] in overdue_rows(overview)


@time_machine.travel(OVERDUE_DAY, tick=False)
def test_chasing_all_overdue_organisations(client, db_session):
    period, *_, admin = overdue_town(db_session)
    sign_in(client, admin)
    page = get_page(client, f"/admin/chase/{period.slug}")
    assert page.h1 == "Chase 2 overdue organisations"
    client.post(f"/admin/chase/{period.slug}", data={"note": ""})
    emails = db_session.scalars(select(Notification).where(Notification.kind == "chase")).all()
    assert sorted(e.recipient_email for e in emails) == [
        "other-lead@example.org",
        "slow-lead@example.org",
    ]
    assert all("adds:" not in e.body_text for e in emails)
    banner = get_page(client, "/admin").soup.find(class_="govuk-notification-banner")
    assert "Chased 2 organisations: 2 emails on the way" in banner.text


@time_machine.travel(OVERDUE_DAY, tick=False)
def test_a_note_too_long_gets_an_error_summary_and_sends_nothing(client, db_session):
    period, *_, admin = overdue_town(db_session)
    sign_in(client, admin)
    response = client.post(f"/admin/chase/{period.slug}/slow", data={"note": "x" * 1001})
    assert response.status_code == 200
    page = BeautifulSoup(response.data, "html.parser")
    summary = page.find(class_="govuk-error-summary")
    assert "Your note must be 1,000 characters or fewer" in summary.text
    assert db_session.scalar(select(Notification)) is None


@time_machine.travel(OVERDUE_DAY, tick=False)
def test_only_admins_chase(client, db_session):
    period, _slow, lead, _ = overdue_town(db_session)
    sign_in(client, lead)
    assert client.post(f"/admin/chase/{period.slug}/slow", data={}).status_code == 403
    assert db_session.scalar(select(Notification)) is None


@time_machine.travel(OVERDUE_DAY, tick=False)
def test_the_jobs_page_shows_the_ladder_timings_and_each_jobs_last_run(client, db_session):
    from jobs import tasks
    from tracker.services.job_runs import run_job

    *_, admin = overdue_town(db_session)
    run_job("send-reminders", tasks.remind, started_by="scheduler")
    sign_in(client, admin)
    page = get_page(client, "/admin/jobs")
    ladder = page.soup.find("h2", string="The reminder ladder").find_next("ul").text
    assert "a reminder 7 days before the return is due" in ladder
    assert "its deputy (or, without one, its sponsor) an email 3 days after it was due" in ladder
    assert "admins a digest of every overdue organisation once one is 7 days overdue" in ladder
    row = page.soup.find("span", string="send-reminders").find_parent("tr")
    assert "Succeeded" in row.text and "emails queued" in row.text
    assert "daily at 07:00" in row.text and "31 July 2024 at 7:00am" in row.text


@time_machine.travel(OVERDUE_DAY, tick=False)
def test_the_page_of_one_kind_refuses_what_it_does_not_know(client, db_session):
    period, *_, admin = overdue_town(db_session)
    sign_in(client, admin)
    assert client.get(f"/admin/work/{period.slug}/nonsense").status_code == 404
    assert client.get("/admin/work/2099-00-q9/overdue").status_code == 404
    # A cursor that is not one starts at the top; one past the end shows none.
    page = get_page(client, f"/admin/work/{period.slug}/overdue?after=garbage")
    # Alike in the order (as overdue as each other): by organisation, the first made first.
    assert [row[0] for row in first_table_rows(page)] == ["Slow Steps", "Other Org"]
    assert page.soup.find("a", rel="next") is None
    beyond = get_page(client, f"/admin/work/{period.slug}/overdue?after=2099-01-01.1")
    assert "None after those already shown." in beyond.text
    assert beyond.soup.find("a", rel="prev")["href"] == f"/admin/work/{period.slug}/overdue"
    # Nothing of a kind: said so, not an empty table.
    none = get_page(client, f"/admin/work/{period.slug}/awaiting-review")
    assert "0 returns" in none.text and none.soup.find("table") is None
