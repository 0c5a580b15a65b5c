"""The audit log at /admin/audit reads in words: who did what to which record, and what changed."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import sqlalchemy as sa
import time_machine

from tests.factories import make_commitment, make_organisation, make_period, make_place, make_user
from tests.support.auth import sign_in
from tests.support.pages import get_page
from tracker.domain.enums import Role
from tracker.extensions import db
from tracker.models import User

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
    client.post(f"/admin/returns/{Q1}/active-luton", data={"comment": "Say what is at risk"})
    client.post("/sign-out")

    sign_in(client, lead)
    save(client, wage, "at_risk", narrative="Two suppliers pay less")
    assert client.post(f"{RETURN}/submit").status_code == 200
    client.post("/sign-out")

    sign_in(client, admin)
    client.post(f"/admin/returns/{Q1}/active-luton/accept")
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
