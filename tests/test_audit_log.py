"""The audit log at /admin/audit reads in words: who did what to which record, and what changed."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import sqlalchemy as sa
import time_machine

from tests.factories import (
    add_organisations,
    make_commitment,
    make_organisation,
    make_period,
    make_place,
    make_user,
)
from tests.support.auth import sign_in
from tests.support.pages import get_page, version_on
from tracker.domain.enums import Role
from tracker.extensions import db
from tracker.models import Organisation, User

# 2024/25 Q1 was due on 21 July 2024: nine days later Slow Steps is overdue.
ON = datetime(2024, 7, 30, 10, 0, tzinfo=UTC)
Q1 = "2024-25-q1"
RETURN = f"/organisations/active-luton/returns/{Q1}"


def rows(page) -> list[tuple[str, str]]:
    """Each event on the page: what happened, and what changed."""
    return [
        tuple(cell.get_text(" ", strip=True) for cell in row.find_all("td")[1:])
        for row in page.soup.select("tbody tr")
    ]


def save(client, commitment, status: str, **fields: str):
    page = get_page(client, f"{RETURN}/commitments/{commitment.id}")
    version = page.soup.find("input", {"name": "version"})["value"]
    response = client.post(
        f"{RETURN}/commitments/{commitment.id}",
        data={"status": status, "save": "yes", "version": version, **fields},
    )
    assert response.status_code == 302


@time_machine.travel(ON, tick=False)
def test_a_quarters_work_reads_as_sentences(client, db_session):
    place = make_place(db_session)
    active = make_organisation(db_session, name="Active Luton", slug="active-luton")
    wage = make_commitment(
        db_session,
        active,
        title="Pay the Real Living Wage",
        primary_priority_id=place.priorities[0].id,
    )
    trees = make_commitment(
        db_session, active, title="Plant trees", primary_priority_id=place.priorities[3].id
    )
    slow = make_organisation(db_session, name="Slow Steps", slug="slow")
    make_commitment(db_session, slow, title="Insulate every school")
    make_period(db_session)
    lead = make_user(db_session, organisations=[active], name="Lee Lead")
    make_user(db_session, organisations=[slow], name="Sol", email="sol@example.org")
    admin = make_user(db_session, Role.ADMIN, name="Ada Admin")

    sign_in(client, admin)
    client.post(f"/admin/chase/{Q1}/slow", data={"note": "The board meets on Friday."})
    client.post(
        f"/admin/periods/{Q1}/extensions/active-luton",
        data={"due_on": ["4", "8", "2024"], "reason": "Staff illness"},
    )
    form = get_page(client, "/admin/organisations/active-luton").soup
    client.post(
        "/admin/organisations/active-luton",
        data={
            "name": "Active Luton",
            "sector": "health",
            "website": "https://activeluton.example",
            "version": form.find("input", {"name": "version"})["value"],
        },
    )
    client.post(
        "/admin/users/new",
        data={
            "email": "nia@example.org",
            "name": "Nia New",
            "role": "lead",
            "organisations": [str(active.id)],
        },
    )
    newcomer = db.session.scalar(sa.select(User).where(User.email == "nia@example.org"))
    client.post(f"/admin/users/{newcomer.id}/deactivate")
    client.post("/sign-out")

    sign_in(client, lead)
    save(client, wage, "on_track")
    save(client, trees, "completed")
    assert client.post(f"{RETURN}/submit").status_code == 200
    client.post("/sign-out")

    sign_in(client, admin)
    review = f"/admin/returns/{Q1}/active-luton"
    version = version_on(get_page(client, review))
    client.post(review, data={"comment": "Say what is at risk", "version": version})
    client.post("/sign-out")

    sign_in(client, lead)
    save(client, wage, "at_risk", narrative="Two suppliers pay less")
    assert client.post(f"{RETURN}/submit").status_code == 200
    client.post("/sign-out")

    sign_in(client, admin)
    version = version_on(get_page(client, review), review + "/accept")
    client.post(review + "/accept", data={"version": version})
    page = get_page(client, "/admin/audit")
    found = rows(page)
    said = [what for what, _ in found]
    changed = dict(found)

    the_return = "Active Luton's 2024/25 Q1 return"
    assert said == [
        f"Ada Admin accepted {the_return}",
        f"Lee Lead submitted {the_return}",
        f"Lee Lead saved the update on “Pay the Real Living Wage” in {the_return}",
        f"Ada Admin sent back {the_return} for changes",
        f"Lee Lead submitted {the_return}",
        f"Lee Lead started the update on “Plant trees” in {the_return}",
        f"Lee Lead started the update on “Pay the Real Living Wage” in {the_return}",
        "Ada Admin deactivated Nia New's account",
        "Ada Admin invited Nia New",
        "Ada Admin added an account for Nia New",
        "Ada Admin changed Active Luton's details",
        "Ada Admin gave Active Luton more time for its 2024/25 Q1 return",
        "Ada Admin chased Slow Steps for its 2024/25 Q1 return",
    ]
    assert changed["Ada Admin chased Slow Steps for its 2024/25 Q1 return"] == (
        "Note: The board meets on Friday. Emailed: sol@example.org Days overdue: 9"
    )
    assert changed["Ada Admin gave Active Luton more time for its 2024/25 Q1 return"] == (
        "Extended to: from none to 4 August 2024 Reason: from none to Staff illness"
    )
    assert changed["Ada Admin changed Active Luton's details"] == (
        "Sector: from none to Health and care Website: from none to https://activeluton.example"
    )
    assert changed["Ada Admin added an account for Nia New"] == (
        "Email: nia@example.org Name: Nia New Role: Organisation lead Active: Yes "
        "Organisations: Active Luton"
    )
    assert changed["Ada Admin invited Nia New"] == (
        "Invitation link expires: 6 August 2024 at 11:00am"  # London time, a week on
    )
    assert changed["Ada Admin deactivated Nia New's account"] == "Active: from Yes to No"
    assert (
        changed[f"Lee Lead saved the update on “Pay the Real Living Wage” in {the_return}"]
        == "Status: from On track to At risk Progress update: from none to Two suppliers pay less"
    )
    assert changed[f"Lee Lead started the update on “Plant trees” in {the_return}"] == (
        "Status: Completed No change since last quarter: No Complete: Yes"
    )
    assert changed[f"Ada Admin sent back {the_return} for changes"] == (
        "Comment: Say what is at risk"
    )
    assert changed[f"Lee Lead submitted {the_return}"] == "Late: No"

    # Nothing reads like a database: no ids, slugs, Python values or enum names.
    text = " ".join(f"{what} {changes}" for what, changes in found)
    assert not re.search(r"\b(organisation|user|return|commitment_update) \d+", text)
    for raw in ("False", "True", "None", Q1, "on_track", "at_risk", "lead@", "health "):
        assert raw not in text, raw


@time_machine.travel(ON, tick=False)
def test_the_system_and_the_scheduler_are_named_as_such(client, db_session):
    from jobs.tasks import update_reporting_status
    from tracker.services import audit

    organisation = make_organisation(db_session, name="Quiet Trust")
    make_commitment(db_session, organisation)
    make_period(db_session)
    admin = make_user(db_session, Role.ADMIN)
    update_reporting_status(ON.date())
    audit.record("updated", "thing", 9)
    db.session.flush()
    sign_in(client, admin)
    said = dict(rows(get_page(client, "/admin/audit")))
    assert said["The scheduler changed Quiet Trust's reporting status"] == (
        "Reporting status: from Active to Late"
    )
    assert "The system updated a thing" in said


# Filters: organisations and people are typed, not picked from every one there is -----------------


def audit_world(session):  # type: ignore[no-untyped-def]
    """Three organisations, two people, and events by each person about each organisation."""
    from tracker.services import audit

    rotary = make_organisation(session, name="Luton Rotary", slug="luton-rotary")
    active = make_organisation(session, name="Active Luton", slug="active-luton")
    college = make_organisation(session, name="Barnfield College", slug="barnfield")
    ada = make_user(session, Role.ADMIN, name="Ada Admin", email="ada@example.org")
    lee = make_user(session, Role.LEAD, name="Lee Lead", email="lee@example.org")
    for about, by, times in [(rotary, ada, 2), (rotary, lee, 1), (active, ada, 1)]:
        for _ in range(times):
            audit.record("updated", "organisation", about.id, actor=by, organisation_id=about.id)
    audit.record("updated", "organisation", college.id, actor=lee, organisation_id=college.id)
    session.flush()
    return ada


def caption(page) -> str:  # type: ignore[no-untyped-def]
    return page.soup.select_one("caption").get_text(" ", strip=True)


def test_the_log_is_filtered_by_an_organisations_name_or_slug_and_a_persons_name_or_email(
    client, db_session
):
    sign_in(client, audit_world(db_session))
    for query in ["organisation=Luton+Rotary", "organisation=luton-rotary", "organisation=ROTARY"]:
        page = get_page(client, f"/admin/audit?{query}")
        assert caption(page) == "3 events for Luton Rotary", query
        assert page.errors == []
    page = get_page(client, "/admin/audit?user=lee%40example.org")
    assert caption(page) == "2 events by Lee Lead"
    page = get_page(client, "/admin/audit?organisation=luton+rotary&user=ada+admin")
    assert caption(page) == "2 events for Luton Rotary by Ada Admin"
    # What was typed stays in the boxes.
    assert page.soup.find("input", {"name": "organisation"})["value"] == "luton rotary"
    assert page.soup.find("input", {"name": "user"})["value"] == "ada admin"


def test_a_name_that_is_unclear_is_said_and_the_other_filters_still_apply(client, db_session):
    sign_in(client, audit_world(db_session))
    page = get_page(client, "/admin/audit?organisation=Lu&user=ada%40example.org&since=2000-01-01")
    assert page.title.startswith("Error:")
    assert page.errors == [
        "‘Lu’ matches 2 organisations (Active Luton, Luton Rotary): type more of the name"
    ]
    assert page.error_links == ["#organisation"]
    assert caption(page) == "3 events by Ada Admin"  # every organisation, still Ada's
    assert page.soup.find("input", {"name": "organisation"})["value"] == "Lu"
    assert page.soup.find("input", {"name": "since"})["value"] == "2000-01-01"

    page = get_page(client, "/admin/audit?organisation=Lutn&user=Zed")
    assert page.errors == [
        "No organisation called ‘Lutn’",
        "No person with the name or email address ‘Zed’",
    ]
    assert caption(page) == "5 events"


def test_odd_text_in_the_filters_is_told_never_an_error_page(client, db_session):
    sign_in(client, audit_world(db_session))
    for organisation, user in [
        ("%", "_"),
        ("²", "²"),
        ("x" * 201, "y" * 321),
        ("\\", "'; select 1; --"),
        ("Luton\x00Rotary", "ada\x00"),
        ("18446744073709551616", "18446744073709551616"),
    ]:
        response = client.get(
            "/admin/audit", query_string={"organisation": organisation, "user": user}
        )
        assert response.status_code == 200, (organisation, user)
        assert "There is a problem" in response.get_data(as_text=True), (organisation, user)


def test_the_filters_go_with_the_log_from_page_to_page(client, db_session):
    from tracker.services import audit

    admin = audit_world(db_session)
    rotary = db_session.scalar(sa.select(Organisation).where(Organisation.slug == "luton-rotary"))
    for _ in range(120):
        audit.record("updated", "organisation", rotary.id, actor=admin, organisation_id=rotary.id)
    db_session.flush()
    sign_in(client, admin)
    page = get_page(client, "/admin/audit?organisation=rotary&user=Ada")
    assert caption(page) == "122 events for Luton Rotary by Ada Admin, page 1 of 3"
    older = page.soup.find("a", rel="next")["href"]
    assert "organisation=rotary" in older and "user=Ada" in older
    second = get_page(client, older)
    assert caption(second) == "122 events for Luton Rotary by Ada Admin, page 2 of 3"
    assert second.soup.find("input", {"name": "organisation"})["value"] == "rotary"
    assert second.soup.find("input", {"name": "user"})["value"] == "Ada"
    last = get_page(client, second.soup.find("a", rel="next")["href"])
    assert caption(last) == "122 events for Luton Rotary by Ada Admin, page 3 of 3"
    assert len(rows(last)) == 22
    # A filter that matches nobody clearly still keeps its text in the page links.
    page = get_page(client, "/admin/audit?organisation=rotary&user=a")
    assert page.errors and "page 1 of 3" in caption(page)
    assert "user=a" in page.soup.find("a", rel="next")["href"]


def test_a_regions_audit_log_lists_no_organisation_or_person_it_was_not_asked_for(
    client, db_session
):
    admin = audit_world(db_session)
    add_organisations(db_session, 2_000)
    db_session.execute(
        sa.insert(User),
        [
            {"email": f"lead-{n}@example.org", "name": f"Lead {n:04d}", "role": Role.LEAD}
            for n in range(2_000)
        ],
    )
    sign_in(client, admin)
    page = get_page(client, "/admin/audit?organisation=org-1234&user=lead-17%40example.org")
    assert page.errors == []
    assert caption(page) == "0 events for Organisation 1234 by Lead 0017"
    assert page.soup.select("select, option") == []
    assert len(page.response.data) < 30_000
