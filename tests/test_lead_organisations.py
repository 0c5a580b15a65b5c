"""The organisations a lead leads, on the invitation and edit forms, for a town and a region.

A town's admin ticks from every organisation (40 checkboxes, as ever). A region's 2,000 would be
2,000 checkboxes: there the form lists only the organisations the person leads now (untick to
remove) and takes the names or slugs of more, one a line, which the server looks up. Either way
what is saved is what the server found, never an id the request made up.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from tests.factories import add_organisations, make_organisation, make_user
from tests.support.auth import sign_in
from tests.support.pages import Page, get_page
from tests.support.pages import post_page as post
from tracker.domain.enums import Role
from tracker.extensions import db
from tracker.models import AuditEvent, Organisation, User

TOWN, REGION = 40, 2_000


def organisation(slug: str) -> Organisation:
    return db.session.scalar(sa.select(Organisation).where(Organisation.slug == slug))


def person(email: str) -> User | None:
    return db.session.scalar(sa.select(User).where(User.email == email))


def leads(user: User) -> list[str]:
    db.session.refresh(user)
    return sorted(o.slug for o in user.organisations)


def checkboxes(page: Page) -> dict[str, bool]:
    return {
        box.find_next("label").get_text(strip=True): box.has_attr("checked")
        for box in page.soup.select("input[name=organisations]")
    }


@pytest.fixture
def admin(client, db_session):  # type: ignore[no-untyped-def]
    user = make_user(db_session, Role.ADMIN, name="Ada Admin")
    sign_in(client, user)
    return user


# A town ------------------------------------------------------------------------------------------


def test_a_towns_admin_ticks_from_every_organisation(client, db_session, admin):
    add_organisations(db_session, TOWN)
    page = get_page(client, "/admin/users/new")
    assert len(checkboxes(page)) == TOWN
    assert page.soup.find("textarea") is None
    response = client.post(
        "/admin/users/new",
        data={
            "email": "nia@example.org",
            "name": "Nia Lead",
            "role": "lead",
            "organisations": [str(organisation("org-0007").id), str(organisation("org-0040").id)],
        },
    )
    assert response.status_code == 302
    assert leads(person("nia@example.org")) == ["org-0007", "org-0040"]


def test_a_town_form_refuses_an_id_it_did_not_offer(client, db_session, admin):
    ids = add_organisations(db_session, TOWN)
    lead = make_user(db_session, Role.LEAD, organisations=[organisation("org-0001")])
    for made_up in ["999999999", str(ids[-1] + 1), "18446744073709551616", "abc"]:
        page = post(
            client,
            f"/admin/users/{lead.id}",
            {"name": lead.name, "role": "lead", "organisations": [made_up]},
        )
        assert page.errors == ["Select organisations from the list"], made_up
        assert leads(lead) == ["org-0001"]


# A region ----------------------------------------------------------------------------------------


def test_a_regions_admin_types_the_organisations_of_a_new_lead(client, db_session, admin):
    add_organisations(db_session, REGION)
    page = get_page(client, "/admin/users/new")
    assert checkboxes(page) == {}  # not 2,000 of them
    box = page.soup.find("textarea", {"name": "add_organisations"})
    assert page.soup.find("label", {"for": box["id"]}).get_text(strip=True) == (
        "Organisations they lead"
    )
    assert len(page.response.data) < 30_000
    response = client.post(
        "/admin/users/new",
        data={
            "email": "nia@example.org",
            "name": "Nia Lead",
            "role": "lead",
            "add_organisations": "Organisation 0017\r\norg-1999\r\n\r\nORGANISATION 0017\r\n",
        },
    )
    assert response.status_code == 302
    assert leads(person("nia@example.org")) == ["org-0017", "org-1999"]


def test_a_region_form_says_which_names_it_could_not_place(client, db_session, admin):
    add_organisations(db_session, REGION)
    typed = "org-0001\nOrganisation 00\nNowhere Trust"
    page = post(
        client,
        "/admin/users/new",
        {"email": "nia@example.org", "name": "Nia", "role": "lead", "add_organisations": typed},
    )
    assert page.title.startswith("Error:")
    assert page.errors == [
        "‘Organisation 00’ matches 99 organisations: type more of the name. "
        "No organisation called ‘Nowhere Trust’"
    ]
    assert page.error_links == ["#add_organisations"]
    assert page.soup.find("textarea").get_text().strip() == typed
    assert person("nia@example.org") is None


def test_a_region_form_keeps_the_rules_of_who_leads(client, db_session, admin):
    add_organisations(db_session, REGION)
    invite = {"email": "nia@example.org", "name": "Nia"}
    page = post(client, "/admin/users/new", {**invite, "role": "lead"})
    assert page.errors == ["Enter the organisations this lead reports for"]
    assert page.error_links == ["#add_organisations"]
    page = post(
        client, "/admin/users/new", {**invite, "role": "board", "add_organisations": "org-0001"}
    )
    assert page.errors == ["Only organisation leads belong to organisations: clear these"]
    too_many = "\n".join(f"org-{n:04d}" for n in range(1, 52))
    page = post(
        client, "/admin/users/new", {**invite, "role": "lead", "add_organisations": too_many}
    )
    assert page.errors == ["Add up to 50 organisations at a time"]
    assert person("nia@example.org") is None


def test_a_regions_lead_is_shown_only_what_they_lead_and_can_lose_and_gain_some(
    client, db_session, admin
):
    add_organisations(db_session, REGION)
    lead = make_user(
        db_session, Role.LEAD, organisations=[organisation("org-0001"), organisation("org-0002")]
    )
    page = get_page(client, f"/admin/users/{lead.id}")
    assert checkboxes(page) == {"Organisation 0001": True, "Organisation 0002": True}
    box = page.soup.find("textarea", {"name": "add_organisations"})
    assert page.soup.find("label", {"for": box["id"]}).get_text(strip=True) == (
        "Add organisations they lead"
    )
    assert len(page.response.data) < 30_000

    # Untick the first, add a third.
    response = client.post(
        f"/admin/users/{lead.id}",
        data={
            "name": lead.name,
            "role": "lead",
            "organisations": [str(organisation("org-0002").id)],
            "add_organisations": "organisation 0003",
        },
    )
    assert response.status_code == 302
    assert leads(lead) == ["org-0002", "org-0003"]
    change = db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.entity_type == "user").order_by(AuditEvent.id)
    ).all()[-1]
    assert change.before["organisations"] == ["org-0001", "org-0002"]
    assert change.after["organisations"] == ["org-0002", "org-0003"]


def test_a_region_lead_left_with_none_or_a_board_member_with_some_is_told(
    client, db_session, admin
):
    add_organisations(db_session, REGION)
    lead = make_user(db_session, Role.LEAD, organisations=[organisation("org-0001")])
    page = post(client, f"/admin/users/{lead.id}", {"name": lead.name, "role": "lead"})
    assert page.errors == ["Select the organisations this lead reports for"]
    assert page.error_links == ["#organisations"]
    ticked = [str(organisation("org-0001").id)]
    page = post(
        client,
        f"/admin/users/{lead.id}",
        {"name": lead.name, "role": "board", "organisations": ticked},
    )
    assert page.errors == ["Only organisation leads belong to organisations: clear these"]
    assert leads(lead) == ["org-0001"]
    # Unticked, they become a board member and lead nothing.
    response = client.post(f"/admin/users/{lead.id}", data={"name": lead.name, "role": "board"})
    assert response.status_code == 302
    assert leads(lead) == []


def test_a_region_form_refuses_ids_it_did_not_offer(client, db_session, admin):
    """No mass assignment: a real organisation's id the form did not list counts for nothing."""
    ids = add_organisations(db_session, REGION)
    other = organisation("org-0500")
    lead = make_user(db_session, Role.LEAD, organisations=[organisation("org-0001")])
    for made_up in [str(other.id), str(ids[-1] + 1), "abc"]:
        page = post(
            client,
            f"/admin/users/{lead.id}",
            {"name": lead.name, "role": "lead", "organisations": [made_up]},
        )
        assert page.errors == ["Select organisations from the list"], made_up
        assert leads(lead) == ["org-0001"]
        page = post(
            client,
            "/admin/users/new",
            {
                "email": "nia@example.org",
                "name": "Nia",
                "role": "lead",
                "organisations": [made_up],
                "add_organisations": "org-0002",
            },
        )
        assert "Select organisations from the list" in page.errors, made_up
        assert person("nia@example.org") is None


def test_a_town_of_fifty_still_ticks_and_fifty_one_types(client, db_session, admin):
    add_organisations(db_session, 50)
    assert len(checkboxes(get_page(client, "/admin/users/new"))) == 50
    make_organisation(db_session, name="The Fifty-first")
    page = get_page(client, "/admin/users/new")
    assert checkboxes(page) == {}
    assert page.soup.find("textarea", {"name": "add_organisations"}) is not None
