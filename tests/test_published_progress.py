"""Accepted progress published in full (issue 15): what an organisation said it did, each quarter.

Once the programme team accepts a return, its updates' narratives and evidence links are public
on the organisation and commitment pages, in the feeds, the open data and the API; before that
(draft, submitted, sent back) they are not, and the note for the reviewer never is. The
privacy crawl over every public page is ``tests/test_public.py``'s; this module follows the
lead's and the admin's steps, the quarter-by-quarter timeline and the Atom feeds.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from decimal import Decimal
from xml.etree import ElementTree

import pytest
import sqlalchemy as sa
import time_machine

from tests.factories import (
    make_commitment,
    make_organisation,
    make_period,
    make_place,
    make_return,
    make_update,
    make_user,
)
from tests.support.auth import sign_in
from tests.support.pages import get_page, version_on
from tracker.domain.calendar import Quarter
from tracker.domain.enums import DeliveryStatus, Direction, EvidenceGrade, ReturnState, Role
from tracker.models import CommitmentUpdate

ATOM = "{http://www.w3.org/2005/Atom}"
NOTE = "Quokka3319"  # in every note for the reviewer: never public
Q1 = Quarter(2024, 1)  # window opens 16 June 2024, due 21 July, closes 11 August
DURING = datetime(2024, 7, 1, 10, 0, tzinfo=UTC)


# The lead writes, the programme team accepts -----------------------------------------------------


@pytest.fixture
def setting(db_session):
    place = make_place(db_session)
    org = make_organisation(db_session, name="Active Luton", slug="active-luton")
    homes = make_commitment(
        db_session,
        org,
        title="Build 400 homes",
        target_value=Decimal(400),
        unit="homes",
        primary_priority_id=place.priorities[0].id,
    )
    trees = make_commitment(
        db_session, org, title="Plant trees", primary_priority_id=place.priorities[3].id
    )
    return {
        "org": org,
        "period": make_period(db_session, Q1),
        "lead": make_user(db_session, Role.LEAD, organisations=[org]),
        "admin": make_user(db_session, Role.ADMIN),
        "homes": homes,
        "trees": trees,
    }


def update_url(setting, commitment) -> str:
    period = setting["period"].slug
    return f"/organisations/active-luton/returns/{period}/commitments/{commitment.id}"


def public_text(client, setting) -> str:
    """Everything a visitor can read about the organisation: pages, feeds, API, open data."""
    urls = [
        "/organisations/active-luton",
        f"/organisations/active-luton/progress/{setting['homes'].id}",
        "/updates.atom",
        "/organisations/active-luton/updates.atom",
        f"/api/v1/commitments/{setting['homes'].id}",
        "/api/v1/commitments?organisation=active-luton",
        "/open-data.json",
        "/open-data.csv",
    ]
    bodies = []
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, url
        bodies.append(response.get_data(as_text=True))
    return "\n".join(bodies)


@time_machine.travel(DURING, tick=False)
def test_the_form_says_what_is_published_and_the_note_stays_with_the_reviewer(
    client, db_session, setting
):
    sign_in(client, setting["lead"])
    page = get_page(client, update_url(setting, setting["homes"]))
    html = page.response.get_data(as_text=True)
    # Said plainly above the box the narrative goes in, and tied to it for screen readers.
    hint = page.soup.find(id="narrative-hint")
    assert hint.get_text(" ", strip=True).startswith(
        "Published once the programme team accepts your return"
    )
    assert html.index("Published once the programme team accepts your return") < html.index(
        'name="narrative"'
    )
    assert (
        "narrative-hint"
        in page.soup.find("textarea", attrs={"name": "narrative"})["aria-describedby"]
    )
    note_label = page.soup.find("label", attrs={"for": "reviewer_note"})
    assert note_label.get_text(strip=True) == "Note for the reviewer (not published)"

    # A draft keeps the note; the form shows it again.
    response = client.post(
        update_url(setting, setting["homes"]),
        data={
            "status": "on_track",
            "progress_value": "120",
            "narrative": "We started 120 homes on the Marsh Farm site",
            "evidence_url": "https://active-luton.example.org/homes",
            "reviewer_note": f"Draft figures, confirmed next week {NOTE}",
            "draft": "yes",
        },
    )
    assert response.status_code == 302
    saved = db_session.scalar(
        sa.select(CommitmentUpdate).where(CommitmentUpdate.commitment_id == setting["homes"].id)
    )
    assert saved.reviewer_note == f"Draft figures, confirmed next week {NOTE}"
    page = get_page(client, update_url(setting, setting["homes"]))
    assert NOTE in page.soup.find("textarea", attrs={"name": "reviewer_note"}).get_text()
    version = page.soup.find("input", {"name": "version"})["value"]
    client.post(
        update_url(setting, setting["homes"]),
        data={
            "status": "on_track",
            "progress_value": "120",
            "narrative": "We started 120 homes on the Marsh Farm site",
            "evidence_url": "https://active-luton.example.org/homes",
            "reviewer_note": f"Figures confirmed {NOTE}",
            "version": version,
            "save": "yes",
        },
    )
    client.post(
        update_url(setting, setting["trees"]),
        data={"status": "completed", "narrative": "Planted 300 oaks", "save": "yes"},
    )
    client.post("/sign-out")
    # A draft is not public.
    assert "Marsh Farm" not in public_text(client, setting)

    sign_in(client, setting["lead"])
    page = get_page(client, f"/organisations/active-luton/returns/{setting['period'].slug}/check")
    assert f"Note for the reviewer (not published): Figures confirmed {NOTE}" in page.text
    response = client.post(f"/organisations/active-luton/returns/{setting['period'].slug}/submit")
    assert response.status_code == 200
    client.post("/sign-out")
    assert "Marsh Farm" not in public_text(client, setting)  # submitted: not yet

    # The reviewer reads the note; sends the return back; the lead changes the note.
    sign_in(client, setting["admin"])
    review = f"/admin/returns/{setting['period'].slug}/active-luton"
    page = get_page(client, review)
    assert f"Note for the reviewer (not published): Figures confirmed {NOTE}" in page.text
    client.post(review, data={"comment": "Which site?", "version": version_on(page)})
    client.post("/sign-out")
    assert "Marsh Farm" not in public_text(client, setting)  # sent back: not public

    sign_in(client, setting["lead"])
    page = get_page(client, update_url(setting, setting["homes"]))
    version = page.soup.find("input", {"name": "version"})["value"]
    client.post(
        update_url(setting, setting["homes"]),
        data={
            "status": "on_track",
            "progress_value": "120",
            "narrative": "We started 120 homes on the Marsh Farm site",
            "evidence_url": "https://active-luton.example.org/homes",
            "reviewer_note": f"It is the Marsh Farm site {NOTE}",
            "version": version,
            "save": "yes",
        },
    )
    client.post(f"/organisations/active-luton/returns/{setting['period'].slug}/submit")
    client.post("/sign-out")

    # The reviewer's history shows the note changed since the submission sent back.
    sign_in(client, setting["admin"])
    page = get_page(client, review)
    changes = page.soup.select_one(f"#changes-{setting['homes'].id}-submission").find_parent("div")
    assert "Note for the reviewer" in changes.get_text(" ", strip=True)
    assert f"It is the Marsh Farm site {NOTE}" in changes.get_text(" ", strip=True)
    version = version_on(page, review + "/accept")
    assert client.post(review + "/accept", data={"version": version}).status_code == 302
    client.post("/sign-out")

    published = public_text(client, setting)
    assert "We started 120 homes on the Marsh Farm site" in published
    assert "https://active-luton.example.org/homes" in published
    assert "Planted 300 oaks" in published
    assert NOTE not in published


@time_machine.travel(DURING, tick=False)
def test_a_note_too_long_is_explained_and_nothing_is_saved(client, db_session, setting):
    sign_in(client, setting["lead"])
    response = client.post(
        update_url(setting, setting["homes"]),
        data={"status": "on_track", "reviewer_note": "x" * 2001, "draft": "yes"},
    )
    assert response.status_code == 200
    page = get_page(client, update_url(setting, setting["homes"]))  # nothing saved: still empty
    assert page.soup.find("textarea", attrs={"name": "reviewer_note"}).get_text() == ""
    html = response.get_data(as_text=True)
    assert "govuk-error-summary" in html
    assert "Note for the reviewer must be 2,000 characters or less" in html
    assert 'href="#reviewer_note"' in html
    assert db_session.scalar(sa.select(sa.func.count(CommitmentUpdate.id))) == 0


# Across quarters ----------------------------------------------------------------------------------

Q2, Q3, Q4 = Quarter(2024, 2), Quarter(2024, 3), Quarter(2024, 4)
# Q4's window has opened (16 March 2025) but its return is not due until 21 April.
ON = datetime(2025, 3, 20, 12, 0, tzinfo=UTC)


def accepted(session, org, period, when, updates) -> None:
    return_ = make_return(
        session,
        org,
        period,
        state=ReturnState.ACCEPTED,
        submitted_at=when,
        reviewed_at=when,
    )
    for commitment, fields in updates:
        make_update(session, return_, commitment, **fields)


@pytest.fixture
def quarters(db_session):
    """Homes accepted in Q1 and Q3 (Q2 sent back, Q4 not due); the target moved after Q1."""
    place = make_place(db_session)
    org = make_organisation(db_session, name="Hearth Housing", slug="hearth")
    homes = make_commitment(
        db_session,
        org,
        title="Build 400 homes",
        metric="homes built",
        unit="homes",
        target_value=Decimal(800),  # moved from 400 in the autumn
        baseline_value=Decimal(0),
        direction=Direction.INCREASE,
        primary_priority_id=place.priorities[0].id,
    )
    periods = {q: make_period(db_session, q) for q in (Q1, Q2, Q3, Q4)}
    reported = {"reported_baseline_value": Decimal(0), "reported_direction": Direction.INCREASE}
    accepted(
        db_session,
        org,
        periods[Q1],
        datetime(2024, 7, 25, 9, 0, tzinfo=UTC),
        [
            (
                homes,
                {
                    "status": DeliveryStatus.ON_TRACK,
                    "progress_value": Decimal(100),
                    "reported_target_value": Decimal(400),
                    "narrative": "Q1: <b>100</b> homes & counting",
                    "evidence_url": "https://hearth.example.org/q1",
                    "evidence_grade": EvidenceGrade.EVIDENCE_ATTACHED,
                    "reviewer_note": f"Q1 note {NOTE}",
                    **reported,
                },
            )
        ],
    )
    sent_back = make_return(
        db_session,
        org,
        periods[Q2],
        state=ReturnState.RETURNED,
        submitted_at=datetime(2024, 10, 20, tzinfo=UTC),
        review_comment="Say which sites",
    )
    make_update(
        db_session,
        sent_back,
        homes,
        status=DeliveryStatus.AT_RISK,
        progress_value=Decimal(150),
        narrative="Q2 words sent back",
        reviewer_note=f"Q2 note {NOTE}",
    )
    accepted(
        db_session,
        org,
        periods[Q3],
        datetime(2025, 1, 25, 9, 0, tzinfo=UTC),
        [
            (
                homes,
                {
                    "status": DeliveryStatus.AT_RISK,
                    "progress_value": Decimal(200),
                    "reported_target_value": Decimal(800),
                    "narrative": "Q3: planning delays\x0b on two sites",
                    "reviewer_note": f"Q3 note {NOTE}",
                    **reported,
                },
            )
        ],
    )
    homes.current_status = DeliveryStatus.AT_RISK
    db_session.flush()
    return {"org": org, "homes": homes}


@time_machine.travel(ON, tick=False)
def test_the_timeline_shows_each_accepted_quarter_and_says_when_there_is_none(
    client, db_session, quarters
):
    url = f"/organisations/hearth/progress/{quarters['homes'].id}"
    page = get_page(client, url)
    assert page.h1 == "Build 400 homes"
    items = page.soup.select("#quarters > li")
    assert [li["data-quarter"] for li in items] == [
        "2024-25-q4",
        "2024-25-q3",
        "2024-25-q2",
        "2024-25-q1",
    ]
    q4, q3, q2, q1 = (" ".join(li.get_text(" ", strip=True).split()) for li in items)
    assert "No accepted update yet: the return for this quarter is due on 21 April 2025" in q4
    assert "At risk" in q3 and "200 homes (25% of the way to the target in force then)" in q3
    assert "Q3: planning delays on two sites" in q3
    assert q2 == "2024/25 Q2 No accepted update for this quarter."
    # Q1 was measured against the 400 in force then: moving the target to 800 changes nothing.
    assert "100 homes (25% of the way to the target in force then)" in q1
    assert "Q1: <b>100</b> homes & counting" in q1  # shown as written, not as markup
    assert page.soup.select_one("#quarters b") is None
    link = items[3].find("a", href="https://hearth.example.org/q1")
    assert link is not None and "noopener" in link["rel"]
    assert "Q2 words sent back" not in page.text and NOTE not in page.text
    # Linked from the organisation's page.
    organisation = get_page(client, "/organisations/hearth")
    assert organisation.link("Quarter by quarter for Build 400 homes") == url
    assert "Q3: planning delays on two sites" in organisation.text  # the latest words
    # Another organisation's address, or an unknown commitment, is not found.
    make_organisation(db_session, name="Other", slug="other")
    get_page(client, f"/organisations/other/progress/{quarters['homes'].id}", status=404)
    get_page(client, "/organisations/hearth/progress/999999", status=404)


def parse_feed(response) -> ElementTree.Element:
    assert response.status_code == 200
    assert response.mimetype == "application/atom+xml"
    return ElementTree.fromstring(response.data)


@time_machine.travel(ON, tick=False)
def test_the_feeds_carry_accepted_updates_newest_first(app, client, db_session, quarters):
    other = make_organisation(db_session, name="Beacon College", slug="beacon")
    pledge = make_commitment(db_session, other, title="Teach 50 apprentices")
    accepted(
        db_session,
        other,
        make_period(db_session, Q2),
        datetime(2024, 11, 1, 9, 0, tzinfo=UTC),
        [(pledge, {"narrative": "Ten apprentices started"})],
    )
    feed = parse_feed(client.get("/updates.atom", headers={"Host": "evil.example"}))
    assert feed.tag == f"{ATOM}feed"
    site = app.config["PUBLIC_BASE_URL"]  # never the Host the request named
    assert feed.findtext(f"{ATOM}id") == f"{site}/updates.atom"
    assert feed.findtext(f"{ATOM}title")
    assert feed.findtext(f"{ATOM}updated") == "2025-01-25T09:00:00Z"
    entries = feed.findall(f"{ATOM}entry")
    titles = [e.findtext(f"{ATOM}title") for e in entries]
    assert titles == [
        "Hearth Housing: Build 400 homes (2024/25 Q3)",
        "Beacon College: Teach 50 apprentices (2024/25 Q2)",
        "Hearth Housing: Build 400 homes (2024/25 Q1)",
    ]
    first = entries[0]
    page = f"{site}/organisations/hearth/progress/{quarters['homes'].id}"
    assert first.findtext(f"{ATOM}id") == page + "#2024-25-q3"
    alternate = first.find(f"{ATOM}link[@rel='alternate']")
    assert alternate.get("href") == page + "#2024-25-q3"
    assert first.findtext(f"{ATOM}author/{ATOM}name") == "Hearth Housing"
    assert first.findtext(f"{ATOM}updated") == "2025-01-25T09:00:00Z"
    content = first.find(f"{ATOM}content")
    assert content.get("type") == "text"
    # A character XML cannot carry is dropped; the rest is the narrative as written.
    assert "Q3: planning delays on two sites" in content.text
    q1 = entries[2].find(f"{ATOM}content").text
    assert "Q1: <b>100</b> homes & counting" in q1
    assert "Evidence: https://hearth.example.org/q1" in q1
    assert "25% of the way to the target" in entries[2].findtext(f"{ATOM}summary")
    body = client.get("/updates.atom").get_data(as_text=True)
    assert "&lt;b&gt;100&lt;/b&gt; homes &amp; counting" in body
    assert "Q2 words sent back" not in body and NOTE not in body

    # One organisation's feed holds only its own.
    feed = parse_feed(client.get("/organisations/hearth/updates.atom"))
    assert feed.findtext(f"{ATOM}author/{ATOM}name") == "Hearth Housing"
    assert [e.findtext(f"{ATOM}title") for e in feed.findall(f"{ATOM}entry")] == [
        "Hearth Housing: Build 400 homes (2024/25 Q3)",
        "Hearth Housing: Build 400 homes (2024/25 Q1)",
    ]
    assert client.get("/organisations/no-such/updates.atom").status_code == 404


@time_machine.travel(ON, tick=False)
def test_the_feeds_answer_conditional_requests_and_follow_publication(client, db_session, quarters):
    response = client.get("/updates.atom")
    etag, modified = response.headers["ETag"], response.headers["Last-Modified"]
    assert client.get("/updates.atom", headers={"If-None-Match": etag}).status_code == 304
    assert client.get("/updates.atom", headers={"If-Modified-Since": modified}).status_code == 304
    make_place(db_session).publish_publicly = False
    db_session.flush()
    assert client.get("/updates.atom").status_code == 404
    assert client.get("/organisations/hearth/updates.atom").status_code == 404
    assert client.get(f"/organisations/hearth/progress/{quarters['homes'].id}").status_code == 404


def test_a_feed_is_bounded(client, db_session):
    make_place(db_session)
    org = make_organisation(db_session, name="Big Organisation", slug="big")
    commitments = [make_commitment(db_session, org, title=f"Promise {n}") for n in range(30)]
    for n, quarter in enumerate((Q1, Q2)):
        accepted(
            db_session,
            org,
            make_period(db_session, quarter),
            datetime(2024, 8 + n * 3, 1, tzinfo=UTC),
            [(c, {"narrative": f"{quarter.label} words"}) for c in commitments],
        )
    for url in ("/updates.atom", "/organisations/big/updates.atom"):
        entries = parse_feed(client.get(url)).findall(f"{ATOM}entry")
        assert len(entries) == 50
        # The newest quarter's thirty first, then the older one's.
        assert [e.findtext(f"{ATOM}title").endswith("(2024/25 Q2)") for e in entries] == (
            [True] * 30 + [False] * 20
        )


def test_the_home_and_organisation_pages_link_to_the_feeds(client, db_session, quarters):
    home = get_page(client, "/")
    assert home.soup.find("link", rel="alternate", type="application/atom+xml")["href"] == (
        "/updates.atom"
    )
    assert home.link("Follow updates") == "/updates.atom"
    page = get_page(client, "/organisations/hearth")
    head = page.soup.find("link", rel="alternate", type="application/atom+xml")
    assert head["href"] == "/organisations/hearth/updates.atom"
    assert page.link("Follow updates from Hearth Housing") == "/organisations/hearth/updates.atom"


# Open data and the API --------------------------------------------------------------------------


@time_machine.travel(ON, tick=False)
def test_open_data_and_the_api_carry_every_accepted_quarter(client, db_session, quarters):
    document = json.loads(client.get("/open-data.json").get_data(as_text=True))
    [commitment] = document["organisations"][0]["commitments"]
    assert commitment["updates"] == [
        {
            "period": "2024-25-q3",
            "status": "at_risk",
            "progress_value": 200,
            "percent_of_target": 25,
            "narrative": "Q3: planning delays\x0b on two sites",
            "evidence_url": None,
            "evidence_grade": "self_declared",
            "accepted_at": "2025-01-25T09:00:00+00:00",
        },
        {
            "period": "2024-25-q1",
            "status": "on_track",
            "progress_value": 100,
            "percent_of_target": 25,
            "narrative": "Q1: <b>100</b> homes & counting",
            "evidence_url": "https://hearth.example.org/q1",
            "evidence_grade": "evidence_attached",
            "accepted_at": "2024-07-25T09:00:00+00:00",
        },
    ]
    [row] = list(csv.DictReader(io.StringIO(client.get("/open-data.csv").get_data(as_text=True))))
    assert row["latest_update_period"] == "2024-25-q3"
    assert row["latest_update_narrative"] == "Q3: planning delays\x0b on two sites"
    assert row["latest_update_evidence_url"] == ""

    data = client.get(f"/api/v1/commitments/{quarters['homes'].id}").json["data"]
    assert [u["period"]["slug"] for u in data["accepted_updates"]] == ["2024-25-q3", "2024-25-q1"]
    assert data["accepted_updates"][1]["percent_of_target"] == 25
    assert data["latest_accepted_update"]["narrative"] == "Q3: planning delays\x0b on two sites"

    # The field guide and the OpenAPI document describe the new fields.
    guide = get_page(client, "/open-data").text
    for name in ("updates", "percent_of_target", "narrative", "evidence_url", "accepted_at"):
        assert name in guide
    assert "latest_update_narrative" in guide
    schema = client.get("/api/v1/openapi.json").json["components"]["schemas"]
    fields = schema["AcceptedUpdate"]["properties"]
    assert {"narrative", "evidence_url", "percent_of_target", "accepted_at"} <= set(fields)
    assert schema["Commitment"]["properties"]["accepted_updates"]["items"] == {
        "$ref": "#/components/schemas/AcceptedUpdate"
    }
