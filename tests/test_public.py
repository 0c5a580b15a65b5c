"""The public accountability pages: organisations, their pledges, priorities and themes.

Only accepted data is public; ``test_no_private_data_on_any_public_page_or_api_answer`` seeds
private data carrying a marker and reads every public page, feed and API answer for it, and
finds the accepted narrative and evidence link (published since issue 15) where they belong.
"""

from __future__ import annotations

import json
import re
from collections import deque
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest
import sqlalchemy as sa
from sqlalchemy import event

from tests.factories import (
    make_commitment,
    make_evidence_file,
    make_organisation,
    make_period,
    make_place,
    make_return,
    make_user,
)
from tests.support.pages import get_page
from tracker.domain.calendar import Quarter
from tracker.domain.enums import (
    ContactRole,
    DeliveryStatus,
    EvidenceGrade,
    ReportingStatus,
    ReturnState,
    Role,
    Sector,
)
from tracker.extensions import db
from tracker.models import (
    AuditEvent,
    BoardSummary,
    CommitmentUpdate,
    Notification,
    Organisation,
    OrganisationContact,
    Return,
    TargetChange,
    Theme,
)

ACCEPTED_AT = datetime(2024, 8, 1, 9, 0, tzinfo=UTC)


def add_update(session, return_, commitment, status, **fields: Any) -> CommitmentUpdate:
    update = CommitmentUpdate(
        return_id=return_.id,
        commitment_id=commitment.id,
        status=status,
        complete=fields.pop("complete", True),
        **fields,
    )
    session.add(update)
    session.flush()
    return update


def accepted_return(session, organisation, period, updates) -> Any:
    """A return accepted by the programme team, its statuses now the commitments' statuses."""
    return_ = make_return(
        session,
        organisation,
        period,
        state=ReturnState.ACCEPTED,
        submitted_at=ACCEPTED_AT,
        reviewed_at=ACCEPTED_AT,
    )
    for commitment, status, fields in updates:
        add_update(session, return_, commitment, status, **fields)
        commitment.current_status = status
    session.flush()
    return return_


def build_world(session) -> dict:
    """Two organisations with accepted returns, themes, a moved goalpost and a board summary."""
    place = make_place(session)
    economy, wellbeing, _, net_zero, _ = place.priorities
    wage = Theme(slug="real-living-wage", name="Real Living Wage")
    travel = Theme(slug="active-travel", name="Active travel")
    session.add_all([wage, travel])
    q1 = make_period(session, Quarter(2024, 1))
    q2 = make_period(session, Quarter(2024, 2))

    greenway = make_organisation(
        session,
        name="Greenway Trust",
        slug="greenway-trust",
        sector=Sector.VOLUNTARY_COMMUNITY,
        website="https://greenway.example.org",
    )
    harbour = make_organisation(
        session, name="Harbour College", slug="harbour-college", sector=Sector.EDUCATION
    )
    wage_pledge = make_commitment(
        session,
        greenway,
        original_text="We will pay the Real Living Wage to all staff",
        title="Pay the Real Living Wage",
        primary_priority_id=economy.id,
        metric="staff paid the Real Living Wage",
        unit="staff",
        target_value=Decimal(100),
        target_date=date(2026, 3, 31),
    )
    wage_pledge.themes.append(wage)
    trees = make_commitment(
        session,
        greenway,
        original_text="Plant 500 trees in the town",
        title="Plant 500 trees",
        primary_priority_id=net_zero.id,
    )
    trees.themes.append(travel)
    make_commitment(
        session, greenway, original_text="We will also:", title="We will also:", is_heading=True
    )
    greenway.pledges[0].statement = "Greenway Trust pledges to make the town greener."
    emissions = make_commitment(
        session,
        harbour,
        original_text="Cut our carbon emissions by half",
        title="Halve carbon emissions",
        primary_priority_id=net_zero.id,
    )
    wellbeing_pledge = make_commitment(
        session,
        harbour,
        original_text="Pay the Real Living Wage",
        title="Real Living Wage for college staff",
        primary_priority_id=wellbeing.id,
    )
    wellbeing_pledge.themes.append(wage)

    accepted_return(
        session,
        greenway,
        q1,
        [
            (
                wage_pledge,
                DeliveryStatus.ON_TRACK,
                {
                    "progress_value": Decimal(40),
                    "evidence_url": "https://greenway.example.org/wages",
                    "evidence_grade": EvidenceGrade.EVIDENCE_ATTACHED,
                },
            ),
            (trees, DeliveryStatus.COMPLETED, {}),
        ],
    )
    accepted_return(
        session,
        harbour,
        q1,
        [(wellbeing_pledge, DeliveryStatus.COMPLETED, {})],
    )
    session.add(
        TargetChange(
            commitment=wage_pledge,
            field="target_value",
            old_value="80",
            new_value="100",
            reason="We took on more staff in the summer",
            changed_at=datetime(2024, 9, 1, 10, 0, tzinfo=UTC),
            period_id=q2.id,
        )
    )
    session.add(
        BoardSummary(
            period_id=q1.id,
            revision=1,
            built_at=ACCEPTED_AT,
            published_at=ACCEPTED_AT,
            data={"headline": "Quarter one summary"},
        )
    )
    session.flush()
    return {
        "place": place,
        "q1": q1,
        "q2": q2,
        "greenway": greenway,
        "harbour": harbour,
        "wage": wage_pledge,
        "trees": trees,
        "emissions": emissions,
        "wellbeing": wellbeing_pledge,
        "themes": (wage, travel),
    }


@pytest.fixture
def world(db_session):
    return build_world(db_session)


# The organisation list --------------------------------------------------------------------------


def names(page) -> list[str]:
    return [a.get_text(strip=True) for a in page.soup.select("tbody th a")]


def test_the_organisation_list_shows_figures_and_reporting(client, world):
    page = get_page(client, "/organisations")
    assert page.h1 == "Organisations"
    assert names(page) == ["Greenway Trust", "Harbour College"]
    greenway = page.soup.select("tbody tr")[0].get_text(" ", strip=True)
    assert "2" in greenway  # the heading line is not a commitment
    assert "1 on track, 1 completed" in greenway
    assert "Last reported 2024/25 Q1" in greenway
    assert page.link("Greenway Trust") == "/organisations/greenway-trust"


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("?priority=inclusive-economy", ["Greenway Trust"]),
        ("?priority=net-zero-town", ["Greenway Trust", "Harbour College"]),
        ("?theme=real-living-wage", ["Greenway Trust", "Harbour College"]),
        ("?theme=active-travel", ["Greenway Trust"]),
        ("?sector=education", ["Harbour College"]),
        ("?q=HARB", ["Harbour College"]),
        ("?q=100%25", []),
        ("?q=green&sector=education", []),
        ("?priority=&theme=&sector=&q=", ["Greenway Trust", "Harbour College"]),
    ],
)
def test_the_organisation_list_filters_without_javascript(client, world, query, expected):
    page = get_page(client, "/organisations" + query)
    assert names(page) == expected
    assert page.errors == []


def test_the_filter_form_keeps_what_was_chosen(client, world):
    page = get_page(client, "/organisations?priority=net-zero-town&q=green")
    form = page.soup.find("form", method="get")
    assert form["action"] == "/organisations"
    assert form.find("option", selected=True, value="net-zero-town") is not None
    assert form.find("input", attrs={"name": "q"})["value"] == "green"
    assert page.link("Clear filters") == "/organisations"


def test_reporting_status_filter(client, world, db_session):
    # Q1 2024 is long past its due date; Harbour has no Q2 return, Greenway submitted one.
    make_return(
        db_session,
        world["greenway"],
        world["q2"],
        state=ReturnState.SUBMITTED,
        submitted_at=datetime(2024, 10, 10, tzinfo=UTC),
    )
    late = names(get_page(client, "/organisations?reporting_status=late"))
    active = names(get_page(client, "/organisations?reporting_status=active"))
    assert late == ["Harbour College"]
    assert active == ["Greenway Trust"]


@pytest.mark.parametrize(
    "query",
    [
        "?priority=no-such-priority",
        "?theme=%00",
        "?sector=spaceship",
        "?reporting_status=asleep",
        "?q=" + "x" * 500,
        "?q=%00%00",
    ],
)
def test_bad_filter_values_are_explained_not_a_500(client, world, query):
    response = client.get("/organisations" + query)
    assert response.status_code == 200
    page = get_page(client, "/organisations" + query)
    if "%00%00" in query:
        assert page.errors == []
    else:
        assert page.title.startswith("Error:")
        assert len(page.errors) == 1
        assert page.soup.select_one(".govuk-error-message") is not None


def add_sixty_organisations(session, world) -> None:
    """Sixty more organisations ("Org 00" .. "Org 59", after Greenway and Harbour by name), each
    with one commitment and no return (so not communicating): the even ones to net zero, the
    odd ones to the economy, every third one completed."""
    economy, _, _, net_zero, _ = world["place"].priorities
    for n in range(60):
        organisation = make_organisation(session, name=f"Org {n:02}", slug=f"org-{n:02}")
        commitment = make_commitment(
            session,
            organisation,
            primary_priority_id=(net_zero if n % 2 == 0 else economy).id,
        )
        if n % 3 == 0:
            commitment.current_status = DeliveryStatus.COMPLETED
    session.flush()


def pages_of(client, url: str) -> list:
    """Every page of a list, following "Next page" from ``url``."""
    pages = [get_page(client, url)]
    while pages[-1].soup.find("a", rel="next"):
        pages.append(get_page(client, pages[-1].link("Next page")))
    return pages


def test_the_organisation_list_shows_a_page_at_a_time(client, world, db_session):
    """A region has 2,000 organisations: 25 a page, by name, the count of the whole list on
    every page; a page past the end shows the last, and a page that is not one the first."""
    from tracker.services.public import COLLECTION_PAGE_SIZE

    add_sixty_organisations(db_session, world)
    first = get_page(client, "/organisations")
    assert "62 organisations" in first.text
    assert "Showing organisations 1 to 25 of 62, by name." in first.text
    assert names(first)[:3] == ["Greenway Trust", "Harbour College", "Org 00"]
    assert len(names(first)) == COLLECTION_PAGE_SIZE == 25
    assert first.link("Next page") == "/organisations?page=2"
    assert first.link("1 of 3") == "/organisations?page=1"

    pages = pages_of(client, "/organisations")
    assert len(pages) == 3
    assert names(pages[1]) == [f"Org {n:02}" for n in range(23, 48)]
    assert names(pages[2]) == [f"Org {n:02}" for n in range(48, 60)]
    assert "Showing organisations 51 to 62 of 62, by name." in pages[2].text
    assert "62 organisations" in pages[2].text  # the whole list's, not the page's
    assert pages[2].link("Previous page") == "/organisations?page=2"
    assert pages[2].soup.find("a", rel="next") is None
    # Each row's figures are its own organisation's, on a later page as on the first.
    org_48 = pages[2].soup.select("tbody tr")[0].get_text(" ", strip=True)
    assert "Org 48" in org_48 and "1 completed" in org_48 and "Not communicating" in org_48

    assert names(get_page(client, "/organisations?page=99")) == names(pages[2])
    for bad in ("abc", "-1", "0", "²", "9" * 40, ""):
        assert names(get_page(client, f"/organisations?page={bad}")) == names(first)


def test_filters_keep_their_values_across_the_pages(client, world, db_session):
    add_sixty_organisations(db_session, world)
    url = "/organisations?priority=net-zero-town&q=org&reporting_status=non_communicating"
    pages = pages_of(client, url)
    assert [names(page) for page in pages] == [
        [f"Org {n:02}" for n in range(0, 50, 2)],
        [f"Org {n:02}" for n in range(50, 60, 2)],
    ]
    second = pages[1]
    assert "30 organisations match the filters" in second.text
    assert "Showing organisations 26 to 30 of 30, by name." in second.text
    back = urlsplit(second.link("Previous page"))
    assert back.path == "/organisations"
    assert parse_qs(back.query) == {
        "q": ["org"],
        "priority": ["net-zero-town"],
        "reporting_status": ["non_communicating"],
        "page": ["1"],
    }
    # The form on page 2 still shows what was chosen (and asks for page 1 again when sent).
    form = second.soup.find("form", method="get")
    assert form.find("option", selected=True, value="net-zero-town") is not None
    assert form.find("input", attrs={"name": "q"})["value"] == "org"
    assert form.find("input", attrs={"name": "page"}) is None

    # A filter on one field alone, across pages: 32 pledged to net zero, Greenway and Harbour
    # among them.
    net_zero = pages_of(client, "/organisations?priority=net-zero-town")
    assert [len(names(page)) for page in net_zero] == [25, 7]
    assert "32 organisations match the filters" in net_zero[1].text
    # A value that names nothing is not carried to the next page.
    bad = get_page(client, "/organisations?sector=spaceship")
    assert len(bad.errors) == 1
    assert bad.link("Next page") == "/organisations?page=2"
    # Past the end of a filtered list: its last page.
    assert names(get_page(client, url + "&page=5")) == names(second)


def test_a_page_of_the_organisation_list_from_the_service(app, world, db_session):
    """The service reads one page and counts the whole filtered list."""
    from tracker.services import public

    add_sixty_organisations(db_session, world)
    known = public.catalogue()
    today = public.place_today()
    everyone = public.OrganisationFilters()
    third = public.organisation_list(everyone, known, today, page=3)
    assert (third.count, third.page, third.pages) == (62, 3, 3)
    assert [o.name for o in third.organisations] == [f"Org {n:02}" for n in range(48, 60)]
    org_48 = third.organisations[0]
    assert org_48.commitment_count == 1
    assert org_48.status_counts == {DeliveryStatus.COMPLETED: 1}
    assert org_48.reporting_status == ReportingStatus.NON_COMMUNICATING

    late = public.OrganisationFilters(reporting_status=ReportingStatus.NON_COMMUNICATING)
    second = public.organisation_list(late, known, today, page=2)
    assert (second.count, second.page, second.pages) == (60, 2, 3)
    assert [o.name for o in second.organisations] == [f"Org {n:02}" for n in range(25, 50)]
    assert {o.reporting_status for o in second.organisations} == {ReportingStatus.NON_COMMUNICATING}
    assert public.organisation_list(late, known, today, page=0).page == 1
    assert public.organisation_list(late, known, today, page=7).page == 3

    nobody = public.organisation_list(
        public.OrganisationFilters(query="no such name"), known, today, page=2
    )
    assert (nobody.count, nobody.page, nobody.pages, nobody.organisations) == (0, 1, 1, [])


def test_every_organisation_is_still_in_the_open_data_and_the_api(client, world, db_session):
    """Only the directory's page shows a part: the open data and the API list all 62."""
    add_sixty_organisations(db_session, world)
    document = json.loads(client.get("/open-data.json").get_data(as_text=True))
    assert len(document["organisations"]) == 62
    api = json.loads(client.get("/api/v1/organisations?per_page=100").get_data(as_text=True))
    assert len(api["data"]) == 62
    home = get_page(client, "/")
    assert home.link("Org 59") == "/organisations/org-59"


# One organisation -------------------------------------------------------------------------------


def test_an_organisations_page_shows_its_pledge_and_accepted_progress(client, world):
    page = get_page(client, "/organisations/greenway-trust")
    assert page.h1 == "Greenway Trust"
    assert "Greenway Trust pledges to make the town greener." in page.text
    assert "Last quarter reported 2024/25 Q1" in page.text
    card = page.soup.select_one(f"#commitment-{world['wage'].id}").get_text(" ", strip=True)
    assert "On track" in card
    assert "reported for 2024/25 Q1" in card
    assert "Evidence attached" in card
    assert "40 staff of 100" in card
    assert "We will pay the Real Living Wage to all staff" in card  # original wording kept
    assert "Target value changed from “80” to “100”" in " ".join(card.split())
    assert "We took on more staff in the summer" in card
    assert "2024/25 Q2" in card
    trees = page.soup.select_one(f"#commitment-{world['trees'].id}").get_text(" ", strip=True)
    assert "Completed" in trees
    assert "We will also:" not in page.text  # a lead-in heading is not a commitment
    headings = [h.get_text(strip=True) for h in page.soup.select("main h2.govuk-heading-l")]
    assert headings == ["Inclusive economy", "Net zero town"]
    rows = {
        row.select_one("dt").get_text(strip=True): row.select_one("dd").get_text(" ", strip=True)
        for row in page.soup.select("main .govuk-grid-column-two-thirds > dl > div")
    }
    assert rows["Commitments"] == "2: 1 on track, 1 completed"  # the heading is not one
    assert rows["Moved goalposts"].startswith("1 change to targets")


def test_the_last_quarter_reported_follows_acceptance_across_quarters(client, world, db_session):
    """Accepted in Q1, then Q2; a later quarter submitted but not accepted does not count, and
    Q2 sent back for more falls back to Q1, on the organisation's page and in the list."""

    def last_reported() -> tuple[str, str]:
        page = get_page(client, "/organisations/harbour-college")
        rows = {
            row.select_one("dt").get_text(strip=True): row.select_one("dd").get_text(strip=True)
            for row in page.soup.select("main .govuk-grid-column-two-thirds > dl > div")
        }
        listed = get_page(client, "/organisations").soup.select("tbody tr")[1]
        return rows["Last quarter reported"], listed.get_text(" ", strip=True)

    assert last_reported()[0] == "2024/25 Q1"
    q2 = accepted_return(db_session, world["harbour"], world["q2"], [])
    q3 = make_return(
        db_session,
        world["harbour"],
        make_period(db_session, Quarter(2024, 3)),
        state=ReturnState.SUBMITTED,
        submitted_at=ACCEPTED_AT,
    )
    db_session.flush()
    page, listed = last_reported()
    assert page == "2024/25 Q2" and "Last reported 2024/25 Q2" in listed
    assert q3.state == ReturnState.SUBMITTED  # submitted, not accepted: not counted
    q2.state, q2.review_comment = ReturnState.RETURNED, "Add the evidence"
    db_session.flush()
    page, listed = last_reported()
    assert page == "2024/25 Q1" and "Last reported 2024/25 Q1" in listed


def test_a_commitment_without_an_accepted_update_says_so(client, world):
    page = get_page(client, "/organisations/harbour-college")
    card = page.soup.select_one(f"#commitment-{world['emissions'].id}").get_text(" ", strip=True)
    assert "Not started" in card
    assert "no accepted update yet" in card


def test_an_unknown_organisation_is_not_found(client, world):
    get_page(client, "/organisations/no-such-organisation", status=404)


# Priorities and themes -------------------------------------------------------------------------


def test_a_priority_page_lists_its_commitments_by_organisation(client, world):
    index = get_page(client, "/priorities")
    assert index.link("Net zero town") == "/priorities/net-zero-town"
    page = get_page(client, "/priorities/net-zero-town")
    assert page.h1 == "Net zero town"
    captions = [c.get_text(strip=True) for c in page.soup.select("caption")]
    assert captions == ["Greenway Trust", "Harbour College"]
    assert "2 commitments from 2 organisations" in page.text
    # Each commitment links to its own page: what it is and every accepted quarter.
    trees = page.link("Plant 500 trees")
    assert trees == f"/organisations/greenway-trust/progress/{world['trees'].id}"
    assert "Plant 500 trees" in get_page(client, trees).h1
    get_page(client, "/priorities/no-such-priority", status=404)


def test_a_theme_page_says_who_pledged_and_who_completed(client, world):
    index = get_page(client, "/themes")
    assert index.link("Real Living Wage") == "/themes/real-living-wage"
    page = get_page(client, "/themes/real-living-wage")
    assert page.h1 == "Real Living Wage"
    assert "Pledged by 2 organisations, completed by 1." in page.text
    get_page(client, "/themes/no-such-theme", status=404)


def test_priority_and_theme_pages_list_organisations_a_page_at_a_time(client, world, db_session):
    """A region's priority has a thousand organisations: 25 a page, in name order, with the
    whole priority's figures on every page; a page number past the end shows the last."""
    from tracker.services.public import COLLECTION_PAGE_SIZE

    net_zero = world["place"].priorities[3]
    wage = db_session.scalars(sa.select(Theme).where(Theme.slug == "real-living-wage")).one()
    for n in range(30):  # "Org 00" .. "Org 29": after Greenway and Harbour by name
        organisation = make_organisation(db_session, name=f"Org {n:02}", slug=f"org-{n:02}")
        commitment = make_commitment(
            db_session, organisation, title=f"Solar panels {n:02}", primary_priority_id=net_zero.id
        )
        commitment.themes.append(wage)
        if n % 3 == 0:
            commitment.current_status = DeliveryStatus.COMPLETED
    db_session.flush()

    def captions(page) -> list[str]:
        return [c.get_text(strip=True) for c in page.soup.select("caption")]

    first = get_page(client, "/priorities/net-zero-town")
    assert "32 commitments from 32 organisations" in first.text
    assert "Showing organisations 1 to 25 of 32, by name." in first.text
    assert captions(first)[:3] == ["Greenway Trust", "Harbour College", "Org 00"]
    assert len(captions(first)) == COLLECTION_PAGE_SIZE == 25
    assert "11 completed" in first.text  # the whole priority's, not this page's
    assert first.link("Next page") == "/priorities/net-zero-town?page=2"
    second = get_page(client, "/priorities/net-zero-town?page=2")
    assert captions(second) == [f"Org {n:02}" for n in range(23, 30)]
    assert "Showing organisations 26 to 32 of 32, by name." in second.text
    assert second.link("Previous page") == "/priorities/net-zero-town?page=1"
    assert "Next page" not in second.text
    assert captions(get_page(client, "/priorities/net-zero-town?page=99")) == captions(second)
    for bad in ("abc", "-1", "0", "²", "9" * 40):
        assert captions(get_page(client, f"/priorities/net-zero-town?page={bad}")) == captions(
            first
        )

    theme = get_page(client, "/themes/real-living-wage?page=2")
    assert "Pledged by 32 organisations, completed by 11." in theme.text
    assert captions(theme) == [f"Org {n:02}" for n in range(23, 30)]
    assert theme.link("Previous page") == "/themes/real-living-wage?page=1"


def test_the_home_page_links_to_each_organisation(client, world):
    page = get_page(client, "/")
    assert page.link("Greenway Trust") == "/organisations/greenway-trust"
    assert page.link("Open data") == "/open-data"


# Publication ------------------------------------------------------------------------------------


def test_nothing_is_public_when_the_place_stops_publishing(client, app, world, db_session):
    world["place"].publish_publicly = False
    db_session.flush()
    for url in [
        "/organisations",
        "/organisations/greenway-trust",
        "/priorities",
        "/priorities/net-zero-town",
        "/themes",
        "/themes/real-living-wage",
        "/open-data",
    ]:
        assert client.get(url).status_code == 404, url
    page = get_page(client, "/")
    with pytest.raises(AssertionError):
        page.link("Greenway Trust")
    for url in ["/api/v1/organisations", "/api/v1/commitments", "/api/v1/board-summaries"]:
        response = client.get(url)
        assert response.status_code == 404, url
        assert response.mimetype == "application/problem+json"


def test_signed_in_people_can_check_the_pages_before_they_are_published(client, world, db_session):
    from tests.support.auth import sign_in

    world["place"].publish_publicly = False
    db_session.flush()
    sign_in(client, make_user(db_session, Role.ADMIN))
    page = get_page(client, "/organisations/greenway-trust")
    assert "These pages are not published" in page.text


# Privacy ---------------------------------------------------------------------------------------

MARKER = "Zebracorn7741"
# What an accepted update publishes (issue 15): its narrative and evidence link.
PUBLISHED = "Okapi5512"


def seed_private_data(session, world) -> None:
    """Everything that must never be public, each carrying the marker."""
    greenway, harbour, q1, q2 = world["greenway"], world["harbour"], world["q1"], world["q2"]
    # A lead (name and email), a deputy (name and email), a commitment owner.
    lead = make_user(
        session,
        Role.LEAD,
        organisations=[greenway],
        name=f"Lead {MARKER}",
        email=f"lead.{MARKER.lower()}@example.org",
    )
    session.add(
        OrganisationContact(
            organisation=greenway,
            role=ContactRole.DEPUTY,
            name=f"Deputy {MARKER}",
            email=f"deputy.{MARKER.lower()}@example.org",
        )
    )
    world["emissions"].owner_name = f"Owner {MARKER}"
    world["emissions"].owner_email = f"owner.{MARKER.lower()}@example.org"
    # The accepted update's narrative and evidence link are published; its risks, its note for
    # the reviewer and its files stay with the team.
    accepted = session.scalars(
        sa.select(CommitmentUpdate).where(CommitmentUpdate.commitment_id == world["wage"].id)
    ).one()
    accepted.narrative = f"Accepted narrative {PUBLISHED}"
    accepted.evidence_url = f"https://greenway.example.org/{PUBLISHED}"
    accepted.risks = f"Risks {MARKER}"
    accepted.reviewer_note = f"Accepted note {MARKER}"
    make_evidence_file(session, accepted, name=f"{MARKER}.pdf")
    make_evidence_file(session, accepted, name=f"Second {MARKER}.xlsx")
    accepted.updated_by_id = lead.id
    # Greenway's Q2 return: submitted, not accepted; an off-track status with a narrative.
    submitted = make_return(
        session,
        greenway,
        q2,
        state=ReturnState.SUBMITTED,
        submitted_at=datetime(2024, 10, 10, tzinfo=UTC),
        submitted_by_id=lead.id,
    )
    add_update(
        session,
        submitted,
        world["trees"],
        DeliveryStatus.DISCONTINUED,
        narrative=f"Unaccepted {MARKER}",
        evidence_url=f"https://example.org/submitted/{MARKER}",
        risks=f"Unaccepted risks {MARKER}",
        reviewer_note=f"Submitted note {MARKER}",
    )
    # Harbour's Q2 return: sent back with a reviewer's comment; its Q1 draft update.
    returned = make_return(
        session,
        harbour,
        q2,
        state=ReturnState.RETURNED,
        submitted_at=datetime(2024, 10, 10, tzinfo=UTC),
        review_comment=f"Reviewer says {MARKER}",
        extended_due_on=date(2024, 11, 30),
        extension_reason=f"Extension {MARKER}",
    )
    add_update(
        session,
        returned,
        world["emissions"],
        DeliveryStatus.OFF_TRACK,
        narrative=f"Sent back {MARKER}",
        evidence_url=f"https://example.org/sent-back/{MARKER}",
        reviewer_note=f"Sent-back note {MARKER}",
    )
    draft = make_return(session, harbour, make_period(session, Quarter(2024, 3)))
    draft_update = add_update(
        session,
        draft,
        world["emissions"],
        None,
        complete=False,
        narrative=f"Draft {MARKER}",
        evidence_url=f"https://example.org/{MARKER}",
        evidence_grade=EvidenceGrade.EVIDENCE_ATTACHED,
        reviewer_note=f"Draft note {MARKER}",
    )
    make_evidence_file(session, draft_update, name=f"draft-{MARKER}.xlsx", key=f"{MARKER}" * 4)
    # Who moved a goalpost is not public (the change and its reason are).
    world["wage"].target_changes[0].changed_by_id = lead.id
    session.add(
        Notification(
            kind="reminder",
            idempotency_key=f"reminder:{MARKER}",
            recipient_email=f"lead.{MARKER.lower()}@example.org",
            subject=f"Reminder {MARKER}",
            body_text=f"Body {MARKER}",
        )
    )
    session.add(
        AuditEvent(
            actor_label=f"Lead {MARKER}",
            action="updated",
            entity_type="commitment",
            entity_id=str(world["emissions"].id),
            after={"note": MARKER},
        )
    )
    # A board summary built but not published, and a later unpublished revision.
    session.add(BoardSummary(period_id=q2.id, revision=1, built_at=ACCEPTED_AT, data={"x": MARKER}))
    session.add(
        BoardSummary(
            period_id=q1.id,
            revision=2,
            reason="Rebuilt",
            built_at=ACCEPTED_AT,
            data={"x": MARKER},
        )
    )
    session.flush()


PUBLIC_PREFIXES = (
    "/organisations",
    "/priorities",
    "/themes",
    "/open-data",
    "/api/v1",
    "/updates.atom",
)


def crawl(client, starts: list[str]) -> dict[str, str]:
    """Every public page and API answer reachable from ``starts``, read as a visitor."""
    seen: dict[str, str] = {}
    queue = deque(starts)
    while queue:
        url = queue.popleft()
        if url in seen:
            continue
        response = client.get(url)
        assert response.status_code == 200, url
        body = response.get_data(as_text=True)
        seen[url] = body
        if response.mimetype in {"text/html", "application/atom+xml"}:
            found = re.findall(r'href="([^"#]+)', body)
        elif response.mimetype == "application/json":
            found = re.findall(r'"(/[^"\s]+)"', body)
        else:
            found = []
        for link in found:
            link = urljoin(url, link.replace("&amp;", "&"))
            path = urlsplit(link)
            if path.netloc or not path.path.startswith(PUBLIC_PREFIXES):
                continue
            if "{" in link:  # an OpenAPI path template, not an address
                continue
            queue.append(link)
    return seen


def test_no_private_data_on_any_public_page_or_api_answer(client, world, db_session):
    seed_private_data(db_session, world)
    starts = [
        "/",
        "/updates.atom",
        "/organisations",
        "/open-data",
        "/open-data.json",
        "/open-data.csv",
        "/api/v1",
        "/api/v1/openapi.json",
        "/api/v1/commitments?per_page=100",
        "/api/v1/board-summaries",
        *[
            f"/organisations?{name}={value}"
            for name, value in [
                ("priority", "net-zero-town"),
                ("theme", "real-living-wage"),
                ("sector", "education"),
                ("reporting_status", "late"),
                ("q", "harbour"),
            ]
        ],
        *[f"/api/v1/commitments?status={s}" for s in DeliveryStatus],
    ]
    pages = crawl(client, starts)
    # The crawl reached every kind of public page and answer.
    for expected in [
        "/organisations/greenway-trust",
        "/organisations/harbour-college",
        "/priorities/net-zero-town",
        "/themes/real-living-wage",
        "/api/v1/organisations/harbour-college",
        f"/api/v1/commitments/{world['emissions'].id}",
        "/api/v1/board-summaries/2024-25-q1",
        "/api/v1/periods",
        "/api/v1/themes",
        "/api/v1/priorities",
        f"/organisations/greenway-trust/progress/{world['wage'].id}",
        f"/organisations/harbour-college/progress/{world['emissions'].id}",
        "/organisations/greenway-trust/updates.atom",
        "/organisations/harbour-college/updates.atom",
        "/updates.atom",
    ]:
        assert expected in pages, expected
    assert len(pages) > 30
    leaks = [url for url, body in pages.items() if MARKER.lower() in body.lower()]
    assert leaks == []
    # The accepted update's narrative and evidence link are where a visitor looks for them.
    for url in [
        "/organisations/greenway-trust",
        f"/organisations/greenway-trust/progress/{world['wage'].id}",
        "/open-data.json",
        "/open-data.csv",
        f"/api/v1/commitments/{world['wage'].id}",
        "/updates.atom",
        "/organisations/greenway-trust/updates.atom",
    ]:
        assert f"Accepted narrative {PUBLISHED}" in pages[url], url
        assert f"https://greenway.example.org/{PUBLISHED}" in pages[url], url
    # Unaccepted statuses did not become anyone's status.
    trees = json.loads(pages[f"/api/v1/commitments/{world['trees'].id}"])["data"]
    assert trees["status"] == "completed"
    assert trees["latest_accepted_update"]["period"]["slug"] == "2024-25-q1"
    summary = json.loads(pages["/api/v1/board-summaries/2024-25-q1"])["data"]
    assert summary["revision"] == 1


# Queries ---------------------------------------------------------------------------------------


class StatementCounter:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self, *args: object) -> None:
        self.count += 1


def statements_for(client, url: str) -> int:
    counter = StatementCounter()
    engine = db.engine
    event.listen(engine, "before_cursor_execute", counter)
    try:
        response = client.get(url)
        assert response.status_code == 200, url
    finally:
        event.remove(engine, "before_cursor_execute", counter)
    return counter.count


COUNTED = [
    "/organisations",
    "/organisations?theme=real-living-wage&priority=net-zero-town",
    "/organisations/greenway-trust",
    "/priorities",
    "/priorities/net-zero-town",
    "/themes",
    "/themes/real-living-wage",
    "/api/v1/organisations?per_page=100",
    "/api/v1/commitments?per_page=100",
    "/api/v1/themes",
]


def test_pages_do_the_same_number_of_queries_whatever_the_size(app, db_session):
    # Two worlds side by side would share slugs: count on one, then grow it and count again.
    client = app.test_client()
    build_world(db_session)
    small = {url: statements_for(client, url) for url in COUNTED}
    more = build_more(db_session)
    assert more > 0
    large = {url: statements_for(client, url) for url in COUNTED}
    assert large == small
    assert all(count > 0 for count in small.values())


def test_an_organisation_page_keeps_to_its_budget_of_statements(app, db_session):
    # The region's biggest organisation page was over its time budget at fifteen statements:
    # the organisation with its statement, its commitments (themes, priorities, latest accepted
    # update, goalposts with their quarters), its reporting status and latest accepted quarter
    # (two: when it joined follows from the commitments shown; once four) and the place.
    client = app.test_client()
    world = build_world(db_session)
    statements_for(client, "/organisations/greenway-trust")  # what a first request does once
    assert statements_for(client, "/organisations/greenway-trust") <= 9
    # Its retired commitments come with the same statements as the rest.
    world["trees"].removed_from_page_at = datetime(2024, 9, 2, 9, 0, tzinfo=UTC)
    world["trees"].retired_reason = "The land was sold"
    db_session.flush()
    assert statements_for(client, "/organisations/greenway-trust") <= 9
    assert "The land was sold" in get_page(client, "/organisations/greenway-trust").text


def build_more(session) -> int:
    """Six more organisations with five commitments each, accepted returns and goalposts."""
    place = make_place(session)
    economy, _, _, net_zero, _ = place.priorities
    wage = session.scalars(sa.select(Theme).where(Theme.slug == "real-living-wage")).one()
    q1 = make_period(session, Quarter(2024, 1))
    greenway = session.scalars(
        sa.select(Organisation).where(Organisation.slug == "greenway-trust")
    ).one()
    greenway_q1 = session.scalars(
        sa.select(Return).where(Return.organisation_id == greenway.id, Return.period_id == q1.id)
    ).one()
    made_count = 0
    for i in range(5):
        commitment = make_commitment(
            session, greenway, title=f"More from Greenway {i}", primary_priority_id=net_zero.id
        )
        commitment.themes.append(wage)
        add_update(session, greenway_q1, commitment, DeliveryStatus.ON_TRACK)
        commitment.current_status = DeliveryStatus.ON_TRACK
        session.add(
            TargetChange(
                commitment=commitment,
                field="target_value",
                old_value="1",
                new_value="2",
                reason="More ambition",
                changed_at=datetime(2024, 9, 3, 10, 0, tzinfo=UTC),
            )
        )
        made_count += 1
    for n in range(6):
        extra = make_organisation(session, name=f"Extra Organisation {n:02}", slug=f"extra-{n}")
        made = [
            make_commitment(
                session,
                extra,
                title=f"Extra commitment {n}.{i}",
                primary_priority_id=net_zero.id if i % 2 else economy.id,
            )
            for i in range(5)
        ]
        for commitment in made:
            commitment.themes.append(wage)
        accepted_return(
            session, extra, q1, [(c, DeliveryStatus.AT_RISK, {"narrative": "x"}) for c in made]
        )
        session.add(
            TargetChange(
                commitment=made[0],
                field="target_date",
                old_value="2030-12-31",
                new_value="2031-12-31",
                reason="Funding moved a year",
                changed_at=datetime(2024, 9, 2, 10, 0, tzinfo=UTC),
            )
        )
        made_count += len(made)
    session.flush()
    return made_count
