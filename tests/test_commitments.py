"""A commitment's page and its edit form: access, SMART, moved goalposts, history, locking."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
import sqlalchemy as sa
import time_machine
from bs4 import BeautifulSoup
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm.exc import StaleDataError

from tests.factories import (
    make_commitment,
    make_organisation,
    make_period,
    make_place,
    make_return,
    make_user,
)
from tests.support.auth import sign_in
from tests.support.pages import Page, get_page
from tracker.domain.calendar import Quarter
from tracker.domain.enums import Confidence, DeliveryStatus, Direction, ReturnState, Role
from tracker.extensions import db
from tracker.models import (
    AuditEvent,
    Commitment,
    CommitmentUpdate,
    Milestone,
    Organisation,
    Priority,
    Return,
    TargetChange,
)
from tracker.services.commitments import CommitmentDetails, update_commitment

# Helpers -----------------------------------------------------------------------------------------


def page_url(commitment: Commitment) -> str:
    slug = db.session.get(Organisation, commitment.organisation_id).slug
    return f"/organisations/{slug}/commitments/{commitment.id}"


def edit_url(commitment: Commitment) -> str:
    return page_url(commitment) + "/edit"


def priority(session, code: str) -> Priority:
    make_place(session)
    return session.scalar(sa.select(Priority).filter_by(code=code))


def add_update(
    session,
    commitment: Commitment,
    quarter: Quarter,
    *,
    state: ReturnState = ReturnState.ACCEPTED,
    status: DeliveryStatus = DeliveryStatus.ON_TRACK,
    progress: Decimal | int | None = None,
    **fields,
) -> CommitmentUpdate:
    """An update for ``commitment`` in its organisation's return for ``quarter``."""
    organisation = session.get(Organisation, commitment.organisation_id)
    period = make_period(session, quarter)
    return_ = session.scalar(
        sa.select(Return).filter_by(organisation_id=organisation.id, period_id=period.id)
    )
    if return_ is None:
        extra = {}
        if state in {ReturnState.SUBMITTED, ReturnState.ACCEPTED}:
            extra["submitted_at"] = datetime(2024, 1, 1, tzinfo=UTC)
        if state == ReturnState.RETURNED:
            extra["review_comment"] = "Please add figures"
        return_ = make_return(session, organisation, period, state=state, **extra)
    if return_.submitted_at is not None:
        # Submitting fixes the target the figure was reported against (services.returns).
        fields = {
            "reported_target_value": commitment.target_value,
            "reported_baseline_value": commitment.baseline_value,
            "reported_direction": commitment.direction,
            "reported_unit": commitment.unit,
            "reported_target_date": commitment.target_date,
            **fields,
        }
    update = CommitmentUpdate(
        return_=return_,
        commitment_id=commitment.id,
        status=status,
        progress_value=None if progress is None else Decimal(progress),
        **fields,
    )
    session.add(update)
    session.flush()
    return update


def form_fields(page: Page) -> dict[str, list[str]]:
    """What the edit form would send as it stands: every input, checked radio and textarea."""
    form = page.soup.find("main").find("form", method="post")
    data: dict[str, list[str]] = {}
    for element in form.find_all(["input", "textarea"]):
        name = element.get("name")
        if not name:
            continue
        if element.name == "textarea":
            value = element.get_text()
        elif element.get("type") == "radio":
            if not element.has_attr("checked"):
                continue
            value = element.get("value", "")
        else:
            value = element.get("value", "")
        data.setdefault(name, []).append(value)
    return data


def submit(client, url: str, data: dict, *, status: int = 302) -> Page | None:
    response = client.post(url, data=data)
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True))
    if status == 302:
        return None
    return Page(response, BeautifulSoup(response.get_data(as_text=True), "html.parser"))


def edit(client, commitment: Commitment, *, status: int = 302, **changes) -> Page | None:
    """Open the edit form, change some fields as a person would, and save."""
    data = form_fields(get_page(client, edit_url(commitment)))
    for name, value in changes.items():
        data[name] = value if isinstance(value, list) else [value]
    return submit(client, edit_url(commitment), data, status=status)


def timeline_headings(page: Page) -> list[str]:
    return [
        item.find("h3").get_text(" ", strip=True) for item in page.soup.select("#timeline > li")
    ]


def a_lead(session, *, organisation: Organisation | None = None):
    organisation = organisation or make_organisation(session)
    return organisation, make_user(session, Role.LEAD, organisations=[organisation])


# Access ------------------------------------------------------------------------------------------


def test_a_lead_sees_the_commitment_and_can_edit_it(client, db_session):
    organisation, lead = a_lead(db_session)
    commitment = make_commitment(
        db_session,
        organisation,
        original_text="We will  plant 500 trees\nacross Luton by 2030.",
        title="Plant 500 trees",
        primary_priority_id=priority(db_session, "net-zero-town").id,
    )
    sign_in(client, lead)
    page = get_page(client, page_url(commitment))
    assert page.h1 == "Plant 500 trees"
    assert page.title.startswith("Plant 500 trees – ")
    assert "We will  plant 500 trees" in page.soup.find("main").get_text()  # wording untouched
    assert "Net zero town" in page.text
    assert page.link("Edit target and details") == edit_url(commitment)
    assert get_page(client, edit_url(commitment)).h1 == "Edit target and details"


def test_the_board_reads_but_cannot_edit(client, db_session):
    commitment = make_commitment(db_session, title="Plant trees")
    sign_in(client, make_user(db_session, Role.BOARD))
    page = get_page(client, page_url(commitment))
    assert page.h1 == "Plant trees"
    assert "Edit target and details" not in page.text
    assert client.get(edit_url(commitment)).status_code == 403
    assert client.post(edit_url(commitment), data={"title": "Mine now"}).status_code == 403
    db.session.refresh(commitment)
    assert commitment.title == "Plant trees"


def test_an_admin_can_edit_any_organisations_commitment(client, db_session):
    commitment = make_commitment(db_session, title="Plant trees")
    sign_in(client, make_user(db_session, Role.ADMIN))
    assert get_page(client, page_url(commitment)).link("Edit target and details")


def breadcrumbs(page: Page) -> list[tuple[str, str | None]]:
    return [
        (item.get_text(" ", strip=True), item.a["href"] if item.a else None)
        for item in page.soup.select(".govuk-breadcrumbs__list-item")
    ]


def test_the_breadcrumbs_lead_back_to_where_each_role_works_on_the_organisation(client, db_session):
    # An admin saving an edit lands here: back to the organisation's pledge in the admin, not
    # the site's home; a lead back to the organisation's returns; the board to its public page.
    organisation, lead = a_lead(db_session)
    net_zero = priority(db_session, "net-zero-town")
    commitment = make_commitment(
        db_session, organisation, title="Plant trees", primary_priority_id=net_zero.id
    )
    name, slug = organisation.name, organisation.slug
    sign_in(client, make_user(db_session, Role.ADMIN))
    edit(client, commitment, title="Plant 600 trees")
    landed = get_page(client, page_url(commitment))
    assert "Your changes have been saved" in landed.text
    assert breadcrumbs(landed) == [
        ("Organisations", "/admin/organisations"),
        (name, f"/admin/organisations/{slug}"),
        ("Plant 600 trees", None),
    ]
    client.post("/sign-out")
    sign_in(client, lead)
    assert breadcrumbs(get_page(client, page_url(commitment)))[:2] == [
        ("Your returns", "/returns"),
        (name, f"/organisations/{slug}/returns"),
    ]
    client.post("/sign-out")
    sign_in(client, make_user(db_session, Role.BOARD))
    assert breadcrumbs(get_page(client, page_url(commitment)))[:2] == [
        ("Pledges", "/"),
        (name, f"/organisations/{slug}"),
    ]


def test_another_organisations_lead_finds_nothing(client, db_session):
    commitment = make_commitment(db_session, title="Plant trees")
    _, stranger = a_lead(db_session)
    sign_in(client, stranger)
    assert client.get(page_url(commitment)).status_code == 404
    assert client.get(edit_url(commitment)).status_code == 404
    assert client.post(edit_url(commitment), data={"title": "Mine now"}).status_code == 404


def test_a_commitment_of_another_organisation_is_not_found_under_this_one(client, db_session):
    mine, lead = a_lead(db_session)
    theirs = make_commitment(db_session, title="Theirs")
    sign_in(client, lead)
    url = f"/organisations/{mine.slug}/commitments/{theirs.id}"
    assert client.get(url).status_code == 404
    assert client.get(url + "/edit").status_code == 404
    assert client.post(url + "/edit", data={"title": "Mine now"}).status_code == 404
    assert client.get(f"/organisations/{mine.slug}/commitments/999999").status_code == 404


# Editing and SMART -------------------------------------------------------------------------------


def test_editing_fills_in_the_missing_smart_letters(client, db_session):
    organisation, lead = a_lead(db_session)
    wording = "We will work with partners across the town " * 5  # too long to be a title
    commitment = make_commitment(db_session, organisation, original_text=wording)
    net_zero = priority(db_session, "net-zero-town")
    sign_in(client, lead)

    page = get_page(client, page_url(commitment))
    assert "SMART score: 0 out of 5" in page.text
    assert "Name the person who owns this commitment." in page.text
    assert "Set a target date." in page.text

    edit(
        client,
        commitment,
        title="Cut the council fleet's emissions",
        owner_name="Sam Green",
        owner_email="Sam.Green@Example.org",
        primary_priority=str(net_zero.id),
        metric="tonnes of CO2 a year",
        unit="tonnes",
        baseline_value="1,200",
        baseline_date=["1", "4", "2024"],
        target_value="600.5",
        target_date=["31", "3", "2030"],
        direction="decrease",
    )
    page = get_page(client, page_url(commitment))
    assert "Your changes have been saved" in page.text
    assert "SMART score: 5 out of 5" in page.text
    assert "This commitment is SMART" in page.text
    assert "1,200 tonnes on 1 April 2024" in page.text
    assert "31 March 2030" in page.text

    db.session.refresh(commitment)
    assert commitment.owner_email == "sam.green@example.org"
    assert commitment.target_value == Decimal("600.5")
    assert commitment.direction == Direction.DECREASE
    assert commitment.priority_confidence == Confidence.MANUAL
    assert commitment.original_text == wording  # never edited
    event = db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.entity_type == "commitment")
    ).one()
    assert event.organisation_id == organisation.id
    assert event.actor_id == lead.id
    assert event.before["owner_name"] is None
    assert event.after["owner_name"] == "Sam Green"
    assert event.after["target_value"] == "600.5"
    assert "original_text" not in event.after


def test_a_partly_smart_commitment_lists_only_the_missing_letters(client, db_session):
    organisation, lead = a_lead(db_session)
    commitment = make_commitment(db_session, organisation, title="Plant trees", owner_name="Ali")
    sign_in(client, lead)
    page = get_page(client, page_url(commitment))
    assert "SMART score: 2 out of 5" in page.text
    assert "Missing: M (Measurable), R (Relevant), T (Time-related)" in page.text
    assert "Name the person who owns this commitment." not in page.text


def test_choosing_a_priority_by_hand_clears_the_review_flag(client, db_session):
    organisation, lead = a_lead(db_session)
    guessed = priority(db_session, "inclusive-economy")
    commitment = make_commitment(
        db_session,
        organisation,
        primary_priority_id=guessed.id,
        priority_confidence=Confidence.LOW,
        needs_review=True,
    )
    sign_in(client, lead)
    assert "Priority needs review" in get_page(client, page_url(commitment)).text
    assert "was guessed when the pledge was imported" in get_page(client, edit_url(commitment)).text
    wellbeing = priority(db_session, "improving-wellbeing")
    edit(client, commitment, primary_priority=str(wellbeing.id), secondary_priority=str(guessed.id))
    db.session.refresh(commitment)
    assert commitment.primary_priority_id == wellbeing.id
    assert commitment.secondary_priority_id == guessed.id
    assert commitment.priority_confidence == Confidence.MANUAL
    assert not commitment.needs_review
    assert "Priority needs review" not in get_page(client, page_url(commitment)).text


def test_bad_input_is_named_in_the_error_summary_and_nothing_is_saved(client, db_session):
    organisation, lead = a_lead(db_session)
    net_zero = priority(db_session, "net-zero-town")
    commitment = make_commitment(
        db_session, organisation, title="Plant trees", primary_priority_id=net_zero.id
    )
    sign_in(client, lead)
    page = edit(
        client,
        commitment,
        status=200,
        title="x" * 600,
        owner_name="Sam\x00Green",
        owner_email="not an email",
        secondary_priority=str(net_zero.id),
        baseline_value="12.34567",
        target_value="four hundred",
        target_date=["31", "02", "2025"],
    )
    assert page.title.startswith("Error: ")
    assert page.errors == [
        "Title must be 500 characters or fewer",
        "Owner must be on one line, without special characters",
        "Enter the owner's email address in the correct format, like name@example.com",
        "Secondary priority must be different from the primary priority",
        "Baseline value must have 4 decimal places or fewer",
        "Target value must be a number, like 400 or 12.5",
        "Target date must be a real date",
    ]
    # What the person typed is still there to correct.
    assert page.soup.find("input", {"name": "target_value"})["value"] == "four hundred"
    assert [i["value"] for i in page.soup.find_all("input", {"name": "target_date"})] == [
        "31",
        "02",
        "2025",
    ]
    # Each error links to its field.
    for link in page.soup.select(".govuk-error-summary a"):
        assert page.soup.find(id=link["href"].lstrip("#")) is not None, link["href"]

    page = edit(
        client,
        commitment,
        status=200,
        baseline_date=["1", "4", "2031"],
        target_date=["31", "3", "2030"],
        direction="sideways",
    )
    assert page.errors == [
        "Baseline date must be the same as or before the target date",
        "Select whether the number should go up or down, or Not set",
    ]
    page = edit(client, commitment, status=200, title="  ", target_date=["", "3", "20300"])
    assert page.errors == [
        "Enter a title for the commitment",
        "Target date must include a day",
    ]
    db.session.refresh(commitment)
    assert (commitment.title, commitment.version) == ("Plant trees", 1)
    assert commitment.target_date is None and commitment.secondary_priority_id is None
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)) == 0


def test_a_priority_must_be_chosen(client, db_session):
    organisation, lead = a_lead(db_session)
    make_place(db_session)
    commitment = make_commitment(db_session, organisation, title="Plant trees")
    sign_in(client, lead)
    page = edit(client, commitment, status=200, owner_name="Ali")
    assert page.errors == ["Select the town priority this commitment serves"]


def test_extra_fields_change_nothing(client, db_session):
    organisation, lead = a_lead(db_session)
    other = make_organisation(db_session)
    commitment = make_commitment(
        db_session,
        organisation,
        title="Plant trees",
        original_text="Original",
        primary_priority_id=priority(db_session, "net-zero-town").id,
    )
    sign_in(client, lead)
    edit(
        client,
        commitment,
        owner_name="Ali",
        organisation_id=str(other.id),
        original_text="Rewritten",
        current_status="completed",
    )
    db.session.refresh(commitment)
    assert commitment.owner_name == "Ali"
    assert commitment.organisation_id == organisation.id
    assert commitment.original_text == "Original"
    assert commitment.current_status == DeliveryStatus.NOT_STARTED


def test_saving_without_changes_writes_no_audit_event(client, db_session):
    organisation, lead = a_lead(db_session)
    commitment = make_commitment(
        db_session,
        organisation,
        title="Plant trees",
        primary_priority_id=priority(db_session, "net-zero-town").id,
        priority_confidence=Confidence.HIGH,
        target_value=Decimal("400"),
    )
    sign_in(client, lead)
    edit(client, commitment)
    db.session.refresh(commitment)
    assert commitment.version == 1
    assert commitment.priority_confidence == Confidence.HIGH
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)) == 0


def test_milestones_are_added_changed_and_removed(client, db_session):
    organisation, lead = a_lead(db_session)
    commitment = make_commitment(
        db_session, organisation, primary_priority_id=priority(db_session, "net-zero-town").id
    )
    sign_in(client, lead)
    page = get_page(client, edit_url(commitment))
    assert len(page.soup.find_all("input", {"name": lambda n: n and n.endswith("-title")})) == 3
    edit(
        client,
        commitment,
        **{
            "milestones-0-title": "Survey sites",
            "milestones-0-due_on": ["30", "9", "2025"],
            "milestones-1-title": "Plant first 100",
        },
    )
    db.session.refresh(commitment)
    assert [(m.title, m.due_on) for m in commitment.milestones] == [
        ("Survey sites", datetime(2025, 9, 30).date()),
        ("Plant first 100", None),
    ] or [(m.title, m.due_on) for m in commitment.milestones] == [
        ("Plant first 100", None),
        ("Survey sites", datetime(2025, 9, 30).date()),
    ]
    survey = next(m for m in commitment.milestones if m.title == "Survey sites")

    page = get_page(client, edit_url(commitment))
    rows = form_fields(page)
    assert len([name for name in rows if name.endswith("-title")]) == 5  # 2 saved, 3 new
    index = next(name.split("-")[1] for name, values in rows.items() if values == ["Survey sites"])
    other = "1" if index == "0" else "0"
    edit(
        client,
        commitment,
        **{f"milestones-{index}-title": "Survey all sites", f"milestones-{other}-title": ""},
    )
    db.session.refresh(commitment)
    assert [(m.id, m.title) for m in commitment.milestones] == [(survey.id, "Survey all sites")]
    assert "Survey all sites" in get_page(client, page_url(commitment)).text

    page = edit(client, commitment, status=200, **{"milestones-1-due_on": ["1", "1", "2026"]})
    assert page.errors == ["Enter milestone 2 title, or clear its due date"]


def test_a_milestone_of_another_commitment_cannot_be_changed(client, db_session):
    organisation, lead = a_lead(db_session)
    theirs = make_commitment(db_session)
    milestone = Milestone(commitment_id=theirs.id, title="Theirs")
    db_session.add(milestone)
    commitment = make_commitment(
        db_session, organisation, primary_priority_id=priority(db_session, "net-zero-town").id
    )
    sign_in(client, lead)
    edit(client, commitment, **{"milestones-0-id": str(milestone.id), "milestones-0-title": "Mine"})
    db.session.refresh(milestone)
    assert milestone.title == "Theirs" and milestone.commitment_id == theirs.id
    db.session.refresh(commitment)
    assert [m.title for m in commitment.milestones] == ["Mine"]


# Moved goalposts ---------------------------------------------------------------------------------


def reportable(session, organisation, **fields) -> Commitment:
    """A commitment with a numeric target: 400 homes by 31 March 2030."""
    values = {
        "title": "Build homes",
        "metric": "affordable homes",
        "unit": "homes",
        "target_value": Decimal(400),
        "target_date": datetime(2030, 3, 31).date(),
        "primary_priority_id": priority(session, "inclusive-economy").id,
    }
    return make_commitment(session, organisation, **(values | fields))


def test_before_any_report_the_target_changes_without_a_reason(client, db_session):
    organisation, lead = a_lead(db_session)
    commitment = reportable(db_session, organisation)
    add_update(db_session, commitment, Quarter(2024, 1), state=ReturnState.DRAFT, progress=10)
    sign_in(client, lead)
    page = get_page(client, edit_url(commitment))
    assert page.soup.find("textarea", {"name": "reason"}) is None
    edit(client, commitment, target_value="500")
    db.session.refresh(commitment)
    assert commitment.target_value == 500
    assert db.session.scalar(sa.select(sa.func.count()).select_from(TargetChange)) == 0


def test_once_reported_moving_the_target_needs_a_reason_and_shows_in_the_history(
    client, db_session
):
    organisation, lead = a_lead(db_session, organisation=make_organisation(db_session))
    commitment = reportable(db_session, organisation)
    add_update(db_session, commitment, Quarter(2024, 1), state=ReturnState.SUBMITTED, progress=50)
    add_update(db_session, commitment, Quarter(2024, 2), state=ReturnState.DRAFT, progress=80)
    q2 = make_period(db_session, Quarter(2024, 2))

    with time_machine.travel(datetime(2024, 8, 15, 12, tzinfo=UTC), tick=False):
        sign_in(client, lead)
        page = get_page(client, edit_url(commitment))
        assert page.soup.find("textarea", {"name": "reason"}) is not None
        assert "Progress has been reported against this commitment" in page.text

        page = edit(
            client, commitment, status=200, target_value="500", target_date=["31", "3", "2032"]
        )
        assert page.errors == ["Give the reason for changing the target"]
        assert page.title.startswith("Error: ")
        db.session.refresh(commitment)
        assert commitment.target_value == 400
        assert db.session.scalar(sa.select(sa.func.count()).select_from(TargetChange)) == 0

        edit(
            client,
            commitment,
            target_value="500",
            target_date=["31", "3", "2032"],
            reason="The council added land <b>north of the airport</b>",
        )

        page = get_page(client, page_url(commitment))

    changes = db.session.scalars(sa.select(TargetChange).order_by(TargetChange.field)).all()
    assert [(c.field, c.old_value, c.new_value) for c in changes] == [
        ("target_date", "2030-03-31", "2032-03-31"),
        ("target_value", "400", "500"),
    ]
    assert {c.reason for c in changes} == {"The council added land <b>north of the airport</b>"}
    assert {c.changed_by_id for c in changes} == {lead.id}
    assert {c.period_id for c in changes} == {q2.id}
    event = db.session.scalars(sa.select(AuditEvent)).one()
    assert event.after["reason for change"].startswith("The council added land")

    # The change sits between the quarter before it and the quarter after it.
    assert timeline_headings(page) == [
        "2024/25 Q2 On track",
        "Target changed 15 August 2024",
        "2024/25 Q1 On track",
    ]
    assert f"Changed by {lead.name}" in page.text
    assert "Target value changed from 400 to 500" in page.text
    assert "Deadline changed from 31 March 2030 to 31 March 2032" in page.text
    assert "north of the airport" in page.text
    assert "<b>north" not in page.response.get_data(as_text=True)  # escaped


def test_once_reported_changing_the_owner_needs_no_reason(client, db_session):
    organisation, lead = a_lead(db_session)
    commitment = reportable(db_session, organisation)
    add_update(db_session, commitment, Quarter(2024, 1), state=ReturnState.ACCEPTED)
    sign_in(client, lead)
    edit(client, commitment, owner_name="New Owner", title="Build affordable homes")
    db.session.refresh(commitment)
    assert commitment.owner_name == "New Owner"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(TargetChange)) == 0


def test_once_reported_adding_a_missing_baseline_needs_no_reason(client, db_session):
    organisation, lead = a_lead(db_session)
    commitment = reportable(db_session, organisation)
    add_update(db_session, commitment, Quarter(2024, 1), state=ReturnState.RETURNED)
    sign_in(client, lead)
    edit(client, commitment, baseline_value="120")
    db.session.refresh(commitment)
    assert commitment.baseline_value == 120
    assert db.session.scalar(sa.select(sa.func.count()).select_from(TargetChange)) == 0


# Optimistic locking ------------------------------------------------------------------------------


def test_a_stale_edit_is_refused_and_keeps_both_versions(client, db_session):
    organisation, lead = a_lead(db_session)
    commitment = make_commitment(
        db_session,
        organisation,
        title="Old title",
        primary_priority_id=priority(db_session, "net-zero-town").id,
    )
    sign_in(client, lead)
    data = form_fields(get_page(client, edit_url(commitment)))
    # Someone else saves first.
    commitment.title = "Their title"
    commitment.owner_name = "Their owner"
    db.session.commit()

    data.update(title=["My title"], metric=["trees planted"])
    page = submit(client, edit_url(commitment), data, status=409)
    assert page.errors[0].startswith("Someone else changed this commitment")
    assert page.soup.find("input", {"name": "title"})["value"] == "Their title"
    assert page.soup.find("input", {"name": "owner_name"})["value"] == "Their owner"
    mine = page.soup.find(id="your-version").get_text(" ", strip=True)
    assert "My title" in mine and "trees planted" in mine
    assert page.soup.find("input", {"name": "version"})["value"] == str(commitment.version)

    db.session.refresh(commitment)
    assert (commitment.title, commitment.metric) == ("Their title", None)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)) == 0

    # Saving again from the refreshed form works.
    data = form_fields(page)
    data["metric"] = ["trees planted"]
    submit(client, edit_url(commitment), data)
    db.session.refresh(commitment)
    assert (commitment.title, commitment.metric) == ("Their title", "trees planted")


def test_a_save_racing_another_is_refused_by_the_database(db_session):
    """Two saves that both read version 1: the second one's UPDATE matches no row."""
    organisation, lead = a_lead(db_session)
    commitment = make_commitment(
        db_session, organisation, primary_priority_id=priority(db_session, "net-zero-town").id
    )
    # The other save lands between this one's version check and its write.
    db_session.execute(
        sa.update(Commitment)
        .where(Commitment.id == commitment.id)
        .values(title="Theirs", version=Commitment.version + 1)
        .execution_options(synchronize_session=False)
    )
    details = CommitmentDetails(title="Mine", primary_priority_id=commitment.primary_priority_id)
    with pytest.raises(StaleDataError):
        update_commitment(
            commitment, details, version=1, actor=lead, today=datetime(2024, 8, 1).date()
        )


# History and chart -------------------------------------------------------------------------------


def test_the_history_lists_updates_newest_first_with_a_chart_of_the_figures(client, db_session):
    organisation = make_organisation(db_session)
    commitment = reportable(
        db_session, organisation, baseline_value=Decimal(100), direction=Direction.INCREASE
    )
    add_update(db_session, commitment, Quarter(2024, 1), progress=150, narrative="Site found")
    add_update(
        db_session,
        commitment,
        Quarter(2024, 2),
        status=DeliveryStatus.AT_RISK,
        progress=200,
        narrative="Planning delayed",
        evidence_url="https://example.org/report.pdf",
    )
    add_update(
        db_session,
        commitment,
        Quarter(2024, 3),
        state=ReturnState.SUBMITTED,
        progress=250,
        narrative="Back on track",
        no_change=True,
        unchanged_quarters=1,
    )
    add_update(db_session, commitment, Quarter(2024, 4), state=ReturnState.DRAFT)
    sign_in(client, make_user(db_session, Role.BOARD))
    page = get_page(client, page_url(commitment))

    assert timeline_headings(page) == [
        "2024/25 Q4 On track",
        "2024/25 Q3 On track",
        "2024/25 Q2 At risk",
        "2024/25 Q1 On track",
    ]
    items = page.soup.select("#timeline > li")
    assert items[2].find("strong", class_="govuk-tag")["class"] == [
        "govuk-tag",
        "govuk-tag--yellow",
    ]
    assert "Draft, not yet submitted" in items[0].get_text()
    q3 = items[1].get_text(" ", strip=True)
    assert "Submitted, not yet accepted" in q3
    assert "250 homes (50% of the way)" in q3
    assert "No change since last quarter (unchanged for 1 quarter)" in q3
    q2 = items[2].get_text(" ", strip=True)
    assert "Accepted" in q2 and "Planning delayed" in q2
    assert items[2].find("a", class_="govuk-link")["href"] == "https://example.org/report.pdf"
    # Only accepted returns count: the commitment is at risk, not on track.
    status = page.soup.find("main").find("p").get_text(" ", strip=True)
    assert status == "Status: At risk"

    svg = page.soup.find("svg")
    assert svg["role"] == "img"
    title_id, desc_id = svg["aria-labelledby"].split()
    assert svg.find("title", id=title_id) and svg.find("desc", id=desc_id)
    assert len(svg.find_all("circle", attrs={"r": "5"})) >= 3
    table = page.soup.find("table", id="progress-figures")
    rows = [
        [cell.get_text(" ", strip=True) for cell in row.find_all(["th", "td"])]
        for row in table.find("tbody").find_all("tr")
    ]
    assert rows == [
        ["2024/25 Q1", "150 homes", "16.7% of the way", "Accepted"],
        ["2024/25 Q2", "200 homes", "33.3% of the way", "Accepted"],
        ["2024/25 Q3", "250 homes", "50% of the way", "Submitted, not yet accepted"],
    ]


def test_no_chart_without_a_numeric_target(client, db_session):
    organisation, lead = a_lead(db_session)
    commitment = make_commitment(db_session, organisation, title="Be a good neighbour")
    add_update(db_session, commitment, Quarter(2024, 1), narrative="Litter pick held")
    sign_in(client, lead)
    page = get_page(client, page_url(commitment))
    assert page.soup.find("svg") is None
    assert page.soup.find("table", id="progress-figures") is None
    assert "Litter pick held" in page.text
    assert "Status: On track" in page.text


def test_a_numeric_target_without_figures_says_so(client, db_session):
    organisation, lead = a_lead(db_session)
    commitment = reportable(db_session, organisation)
    sign_in(client, lead)
    page = get_page(client, page_url(commitment))
    assert page.soup.find("svg") is None
    assert "No progress figures have been reported yet." in page.text
    assert "Nothing has been reported yet." in page.text
    assert "Status: Not started" in page.text


def test_user_text_is_escaped(client, db_session):
    organisation, lead = a_lead(db_session)
    commitment = reportable(
        db_session,
        organisation,
        owner_name="<script>alert(1)</script>",
        unit="<i>homes</i>",
    )
    add_update(
        db_session,
        commitment,
        Quarter(2024, 1),
        progress=5,
        evidence_url="javascript:alert(1)",
        narrative="<img src=x>",
    )
    sign_in(client, lead)
    html = get_page(client, page_url(commitment)).response.get_data(as_text=True)
    assert "<script>alert" not in html and "<i>homes" not in html and "<img src=x>" not in html
    assert 'href="javascript:' not in html


def count_statements(client, url: str) -> int:
    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    db.session.expunge_all()  # nothing cached: every row is read as a fresh request reads it
    sa.event.listen(db.engine, "before_cursor_execute", record)
    try:
        get_page(client, url)
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", record)
    return len(statements)


def test_the_page_reads_a_fixed_number_of_statements_however_long_the_history(client, db_session):
    organisation, lead = a_lead(db_session)
    short, long = reportable(db_session, organisation), reportable(db_session, organisation)
    quarters = [Quarter(2023 + n // 4, n % 4 + 1) for n in range(8)]
    for n, quarter in enumerate(quarters):
        state = ReturnState.ACCEPTED if n < 6 else ReturnState.SUBMITTED
        add_update(db_session, long, quarter, progress=10 * n, state=state)
        if n < 2:
            add_update(db_session, short, quarter, progress=10 * n)
    for commitment in (short, long):
        db_session.add(Milestone(commitment_id=commitment.id, title="Step"))
        db_session.add(
            TargetChange(
                commitment_id=commitment.id,
                field="target_value",
                old_value="300",
                new_value="400",
                reason="Grew",
                changed_by_id=lead.id,
            )
        )
    db_session.flush()
    sign_in(client, lead)
    short_url, long_url = page_url(short), page_url(long)
    get_page(client, short_url)  # warm up whatever the first request does once

    few = count_statements(client, short_url)
    many = count_statements(client, long_url)
    assert few == many
    assert many <= 12


# Robustness --------------------------------------------------------------------------------------

form_values = st.one_of(
    st.text(max_size=60),
    st.text(min_size=400, max_size=2500),
    st.sampled_from(["\x00", "1", "-1", "0.00001", "1e5", "NaN", "99999999999999", "", " "]),
)
form_names = st.sampled_from(
    [
        "title",
        "owner_name",
        "owner_email",
        "primary_priority",
        "secondary_priority",
        "metric",
        "unit",
        "baseline_value",
        "baseline_date",
        "target_value",
        "target_date",
        "direction",
        "reason",
        "version",
        "milestones-0-id",
        "milestones-0-title",
        "milestones-0-due_on",
        "milestones-7-title",
        "milestones-99999999999999999999-title",
    ]
)


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    changes=st.dictionaries(
        form_names, st.one_of(form_values, st.lists(form_values, max_size=4)), max_size=8
    )
)
def test_no_edit_gives_a_500(client, db_session, changes):
    organisation, lead = a_lead(db_session)
    commitment = reportable(db_session, organisation)
    add_update(db_session, commitment, Quarter(2024, 1), state=ReturnState.SUBMITTED)
    sign_in(client, lead)
    data = form_fields(get_page(client, edit_url(commitment)))
    data.update({k: v if isinstance(v, list) else [v] for k, v in changes.items()})
    response = client.post(edit_url(commitment), data=data)
    assert response.status_code in {200, 302, 409}, response.status_code
    if response.status_code == 200:
        assert b"govuk-error-summary" in response.data
