"""Pledges maintained in the app (issue 15): the import in the browser, triage, commitments.

Every test runs on SQLite and PostgreSQL (the ``client``/``db_session`` fixtures).
"""

from __future__ import annotations

import io
from datetime import UTC, date, datetime
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import Session

from tests.factories import make_commitment, make_organisation, make_period, make_place, make_user
from tests.support.auth import sign_in
from tests.support.commands import run_tracker
from tests.support.pages import get_page, post_page
from tests.support.seed import SEED, luton_place
from tracker.domain.calendar import Quarter
from tracker.domain.enums import Confidence, Role
from tracker.domain.pledge_page import parse_pledge_page
from tracker.extensions import db
from tracker.models import (
    AuditEvent,
    Commitment,
    Organisation,
    Place,
    Pledge,
    Priority,
    Return,
    Theme,
)
from tracker.services.figures import commitment_figures
from tracker.services.pledge_import import import_pledge_page, report_lines

PAGE = """Luton 2040 pledges

Alpha Trust
We are a charity in Luton and we pledge to support the 2040 vision.
- Pay the Real Living Wage to all our staff
- Plant 100 trees in Luton by 2030

Beta College
Our college will support the vision of the town.
- Offer 50 apprenticeships to young people each year
- Cut our carbon emissions to net zero by 2040
"""

# Beta College has left the page, Gamma Foods has joined, Alpha Trust has a new commitment and
# has dropped one.
CHANGED = """Luton 2040 pledges

Alpha Trust
We are a charity in Luton and we pledge to support the 2040 vision.
- Pay the Real Living Wage to all our staff
- Volunteer 500 hours a year with local schools

Gamma Foods
Our company will support the vision of the town.
- Buy from Luton suppliers first
"""

TABLES = ("organisations", "pledges", "commitments", "themes", "places", "priorities")


def row_counts() -> dict[str, int]:
    counts = {
        table: db.session.scalar(sa.text(f"SELECT count(*) FROM {table}")) for table in TABLES
    }
    counts["audit_events"] = db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent))
    return counts


def upload(client, text: str, name: str = "pledges.txt", status: int = 200):
    return post_page(
        client,
        "/admin/pledges/import",
        {"page_file": (io.BytesIO(text.encode("utf-8")), name)},
        status=status,
    )


def confirm(client, preview, status: int = 302):
    form = preview.soup.find("form", action="/admin/pledges/import/confirm")
    data = {field["name"]: field.get("value", "") for field in form.find_all("input")}
    response = client.post("/admin/pledges/import/confirm", data=data)
    assert response.status_code == status, response.status_code
    return response


def import_page(client, text: str, name: str = "pledges.txt") -> None:
    confirm(client, upload(client, text, name))


def admin_in(client, db_session):
    admin = make_user(db_session, Role.ADMIN)
    sign_in(client, admin)
    return admin


def headings(page) -> dict[str, list[str]]:
    """Each section of the preview: its heading (without the count) and its items."""
    found = {}
    for h2 in page.soup.select("main h2.govuk-heading-m"):
        items = h2.find_next_sibling("ul")
        found[h2.get_text(strip=True).rsplit(" (", 1)[0]] = [
            li.get_text(" ", strip=True) for li in items.select("li")
        ]
    return found


# The import ------------------------------------------------------------------------------------


def test_the_preview_writes_nothing_not_even_an_audit_row(client, db_session):
    admin_in(client, db_session)
    before = row_counts()
    page = upload(client, PAGE)
    assert page.h1 == "Check the import"
    sections = headings(page)
    assert sections["New organisations"] == ["Alpha Trust", "Beta College"]
    assert "Alpha Trust: Plant 100 trees in Luton by 2030" in sections["New commitments"]
    assert row_counts() == before
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Organisation)) == 0


def test_confirm_imports_what_was_previewed_and_a_second_import_changes_nothing(client, db_session):
    admin = admin_in(client, db_session)
    response = confirm(client, upload(client, PAGE))
    assert response.headers["Location"] == "/admin/pledges/review"
    names = db.session.scalars(sa.select(Organisation.name).order_by(Organisation.name)).all()
    assert names == ["Alpha Trust", "Beta College"]
    assert commitment_figures().tracked == 4
    imported = db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.entity_type == "pledge_page")
    ).all()
    assert [(e.action, e.actor_id) for e in imported] == [("imported the pledge page", admin.id)]

    again = upload(client, PAGE)
    assert "No changes" in again.text
    before = row_counts()
    confirm(client, again)
    after = row_counts()
    assert after == before | {"audit_events": before["audit_events"] + 1}
    page = get_page(client, "/admin/pledges/review")
    assert "no changes" in page.text


def test_a_page_with_one_organisation_gone_and_one_new_previews_and_imports_exactly_that(
    client, db_session
):
    admin_in(client, db_session)
    import_page(client, PAGE)
    preview = upload(client, CHANGED)
    sections = headings(preview)
    assert sections["New organisations"] == ["Gamma Foods"]
    assert sections["Organisations not on this page (kept as they are)"] == ["Beta College"]
    assert sections["Organisations with changes"] == ["Alpha Trust"]
    assert sections["New commitments"] == [
        "Alpha Trust: Volunteer 500 hours a year with local schools",
        "Gamma Foods: Buy from Luton suppliers first",
    ]
    assert sections["No longer on the page (to be retired, history kept)"] == [
        "Alpha Trust: Plant 100 trees in Luton by 2030"
    ]
    confirm(client, preview)

    organisations = db.session.scalars(sa.select(Organisation.slug).order_by("slug")).all()
    assert organisations == ["alpha-trust", "beta-college", "gamma-foods"]  # none deleted
    trees = db.session.scalar(
        sa.select(Commitment).filter_by(original_text="Plant 100 trees in Luton by 2030")
    )
    assert trees.removed_from_page_at is not None  # retired, not deleted
    beta = db.session.scalars(
        sa.select(Commitment).join(Organisation).where(Organisation.slug == "beta-college")
    ).all()
    assert [c.removed_from_page_at for c in beta] == [None, None]  # shown, never touched
    assert commitment_figures().tracked == 2 + 2 + 1


def test_a_preview_made_stale_by_a_change_is_refused_and_shown_again(client, db_session):
    admin_in(client, db_session)
    import_page(client, PAGE)
    preview = upload(client, CHANGED)
    # Someone adds Gamma Foods by hand between the preview and the confirmation.
    make_organisation(db_session, "Gamma Foods", slug="gamma-foods")
    response = confirm(client, preview, status=409)
    assert "The pledges changed since your preview" in response.get_data(as_text=True)
    assert (
        db.session.scalar(
            sa.select(sa.func.count())
            .select_from(Commitment)
            .where(Commitment.organisation.has(Organisation.slug == "gamma-foods"))
        )
        == 0
    )


def test_cancel_discards_the_preview(client, db_session):
    admin_in(client, db_session)
    preview = upload(client, PAGE)
    assert preview.link("Cancel") == "/admin/pledges/import"
    get_page(client, "/admin/pledges/import")
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Organisation)) == 0


def test_pasted_text_imports_like_a_file(client, db_session):
    admin_in(client, db_session)
    preview = post_page(client, "/admin/pledges/import", {"page_text": PAGE})
    assert "pasted page" in preview.text
    confirm(client, preview)
    assert db.session.scalar(sa.select(Pledge.source).limit(1)) == "pasted page"


def test_bad_files_get_an_error_summary(client, db_session):
    admin_in(client, db_session)
    cases = [
        ({}, "Choose a file or paste the text of the pledge page"),
        ({"page_file": (io.BytesIO(b"\x89PNG\r\n\x1a\n\x00\x00"), "logo.png")}, "binary file"),
        ({"page_file": (io.BytesIO(b""), "empty.txt")}, "The selected file is empty"),
        (
            {"page_file": (io.BytesIO(b"x" * (400 * 1024 + 1)), "huge.txt")},
            "smaller than 400 KB",
        ),
        ({"page_text": "Just a sentence with no bullets."}, "No organisations found"),
    ]
    for data, message in cases:
        page = post_page(client, "/admin/pledges/import", data)
        assert page.title.startswith("Error:"), message
        assert any(message in error for error in page.errors), (message, page.errors)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Organisation)) == 0


def test_only_admins_import(client, db_session):
    lead = make_user(db_session, Role.LEAD, organisations=[make_organisation(db_session)])
    sign_in(client, lead)
    assert client.get("/admin/pledges/import").status_code == 403
    assert client.post("/admin/pledges/import/confirm", data={}).status_code == 403


def _snapshot(session: Session) -> dict[str, object]:
    """The imported data, with no ids or times, comparable across databases."""

    def amount(value):  # type: ignore[no-untyped-def]
        return None if value is None else format(value.normalize() + 0, "f")

    codes = {p.id: p.code for p in session.scalars(sa.select(Priority))}
    organisations = {o.id: o for o in session.scalars(sa.select(Organisation))}
    return {
        "priorities": sorted(
            (p.code, p.name, p.position) for p in session.scalars(sa.select(Priority))
        ),
        "themes": sorted((t.slug, t.name) for t in session.scalars(sa.select(Theme))),
        "organisations": sorted(
            (o.slug, o.name, str(o.sector), o.name_needs_review, o.reports_from)
            for o in organisations.values()
        ),
        "pledges": sorted(
            (organisations[p.organisation_id].slug, p.statement, p.source)
            for p in session.scalars(sa.select(Pledge))
        ),
        "commitments": sorted(
            (
                organisations[c.organisation_id].slug,
                c.key,
                c.position,
                c.original_text,
                c.title,
                codes.get(c.primary_priority_id),
                codes.get(c.secondary_priority_id),
                str(c.priority_confidence),
                c.needs_review,
                c.is_heading,
                c.is_truncated,
                c.duplicates_folded,
                c.removed_from_page_at is not None,
                c.metric,
                c.unit,
                amount(c.target_value),
                amount(c.baseline_value),
                c.target_date,
                str(c.direction),
                c.reports_from,
                tuple(sorted(t.slug for t in c.themes)),
            )
            for c in session.scalars(sa.select(Commitment))
        ),
    }


def test_confirm_gives_the_same_database_as_the_cli_import_of_the_same_files(
    client, db_session, tmp_path: Path
):
    from tests.support.seed import luton_page

    # The edited page: the last organisation leaves (its section cut), Gamma Foods joins.
    lines = SEED.read_text(encoding="utf-8").splitlines()
    gone = luton_page().organisations[-1]
    edited = "\n".join(lines[: gone.line_no - 1]) + "\n\n" + CHANGED.split("\n\n", 2)[2]
    second = tmp_path / "luton-2040-pledges-v2.txt"
    second.write_text(edited, encoding="utf-8")

    admin_in(client, db_session)
    import_page(client, SEED.read_text(encoding="utf-8"), SEED.name)
    import_page(client, edited, second.name)
    web = _snapshot(db.session)

    instance = tmp_path / "instance"
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    assert run_tracker("db", "upgrade", instance=instance, DATABASE_URL=url).returncode == 0
    for path in (str(SEED), str(second)):
        done = run_tracker("seed", "load", path, instance=instance, DATABASE_URL=url)
        assert done.returncode == 0, done.stderr
    engine = sa.create_engine(url)
    with Session(engine) as session:
        cli = _snapshot(session)
    engine.dispose()
    assert cli == web
    assert "gamma-foods" in {row[0] for row in web["organisations"]}
    # Not on the edited page: listed, kept, its commitments untouched.
    assert gone.slug in {row[0] for row in web["organisations"]}
    assert not any(row[12] for row in web["commitments"] if row[0] == gone.slug)


# Triage ----------------------------------------------------------------------------------------


def test_triage_lists_every_flagged_item_and_each_fix_clears_it_and_is_audited(client, db_session):
    admin = admin_in(client, db_session)
    place = make_place(db_session)
    organisation = make_organisation(db_session, "ELFT", name_needs_review=True)
    guessed = make_commitment(
        db_session, organisation, needs_review=True, priority_confidence=Confidence.LOW
    )
    lead_in = make_commitment(
        db_session,
        organisation,
        original_text="Building a more inclusive economy including",
        is_heading=True,
        position=5,
    )
    after = make_commitment(
        db_session,
        organisation,
        original_text="paying the Real Living Wage",
        position=6,
        primary_priority_id=place.priorities[0].id,
    )
    overview = get_page(client, "/admin")
    assert "3 pledge items to check" in overview.text

    review = get_page(client, "/admin/pledges/review")
    name_url = review.link("ELFT")
    priority_url = review.link(guessed.title)
    lead_in_url = review.link(lead_in.original_text)

    page = post_page(client, name_url, {"name": ""})
    assert page.errors == ["Enter the organisation's name"]
    client.post(name_url, data={"name": "East London NHS Foundation Trust"})
    page = post_page(client, priority_url, {})
    assert page.errors == ["Select the town priority this commitment serves"]
    chosen = place.priorities[1]
    client.post(priority_url, data={"primary_priority": str(chosen.id)})
    client.post(lead_in_url, data={"action": "merge"})

    db.session.expire_all()
    assert organisation.name == "East London NHS Foundation Trust"
    assert not organisation.name_needs_review
    assert guessed.primary_priority_id == chosen.id and not guessed.needs_review
    assert after.original_text == (
        "Building a more inclusive economy including paying the Real Living Wage"
    )
    assert lead_in.retired_reason == "Merged into the commitment after it"
    assert "0 pledge items to check" in get_page(client, "/admin").text
    actions = db.session.scalars(
        sa.select(AuditEvent.action).where(AuditEvent.actor_id == admin.id).order_by(AuditEvent.id)
    ).all()
    assert actions == [
        "name corrected",
        "priority chosen",
        "merged with the lead-in before it",
        "merged",
    ]


def test_a_lead_in_split_into_commitments(client, db_session):
    admin_in(client, db_session)
    make_place(db_session)
    organisation = make_organisation(db_session)
    lead_in = make_commitment(
        db_session, organisation, original_text="We will, including", is_heading=True, position=1
    )
    last = make_commitment(db_session, organisation, original_text="Last one", position=2)
    url = f"/admin/pledges/review/commitments/{lead_in.id}/lead-in"
    page = post_page(client, url, {"action": "split", "commitments": ""})
    assert page.errors == ["Enter the commitments to split it into, one a line"]
    client.post(
        url, data={"action": "split", "commitments": "Recruit local people\nBuy local food\n"}
    )
    db.session.expire_all()
    rows = db.session.scalars(
        sa.select(Commitment)
        .where(
            Commitment.organisation_id == organisation.id, Commitment.removed_from_page_at.is_(None)
        )
        .order_by(Commitment.position)
    ).all()
    assert [c.original_text for c in rows] == ["Recruit local people", "Buy local food", "Last one"]
    assert lead_in.retired_reason == "Split into 2 commitments"
    assert last.position == 4


# Pledges and commitments in the admin ----------------------------------------------------------


def test_the_organisation_page_shows_the_pledge_and_commitments_are_added_moved_and_retired(
    client, db_session
):
    admin = admin_in(client, db_session)
    place = make_place(db_session)
    organisation = make_organisation(db_session, "Delta Homes", slug="delta-homes")
    first = make_commitment(db_session, organisation, title="Build homes", position=1)
    page = get_page(client, "/admin/organisations/delta-homes")
    assert "We pledge…" in page.text
    assert page.link("Build homes") == f"/organisations/delta-homes/commitments/{first.id}"

    client.post("/admin/organisations/delta-homes/statement", data={"statement": "We build."})
    page = post_page(client, "/admin/organisations/delta-homes/commitments/new", {"text": ""})
    assert page.errors == [
        "Enter the commitment",
        "Select the town priority this commitment serves",
    ]
    response = client.post(
        "/admin/organisations/delta-homes/commitments/new",
        data={
            "text": "Insulate 200 homes by 2028",
            "primary_priority": str(place.priorities[3].id),
        },
    )
    assert response.status_code == 302
    added = db.session.scalar(
        sa.select(Commitment).filter_by(original_text="Insulate 200 homes by 2028")
    )
    assert added.maintained_in_app and added.position == 2

    client.post(
        f"/admin/organisations/delta-homes/commitments/{added.id}/move", data={"direction": "up"}
    )
    page = get_page(client, "/admin/organisations/delta-homes")
    order = [li.a.get_text(strip=True) for li in page.soup.select("ol.app-commitment-list > li")]
    assert order == ["Insulate 200 homes by 2028", "Build homes"]

    url = f"/admin/organisations/delta-homes/commitments/{first.id}/retire"
    assert post_page(client, url, {"reason": ""}).errors == [
        "Give the reason for retiring this commitment"
    ]
    client.post(url, data={"reason": "Handed to the council"})
    page = get_page(client, "/admin/organisations/delta-homes")
    assert "Retired (1)" in page.text and "Handed to the council" in page.text
    assert db.session.get(Commitment, first.id) is not None  # never deleted
    assert commitment_figures().retired == 1
    actions = db.session.scalars(
        sa.select(AuditEvent.action).where(AuditEvent.actor_id == admin.id).order_by(AuditEvent.id)
    ).all()
    assert actions == ["statement changed", "added", "moved up", "retired"]
    shown = get_page(client, f"/organisations/delta-homes/commitments/{first.id}")
    assert "Retired" in shown.text and "Handed to the council" in shown.text


def test_a_statement_edited_in_the_app_is_kept_by_a_later_import(client, db_session):
    """An admin's wording stands; the preview says the page's differs, and nothing else moves."""
    admin_in(client, db_session)
    import_page(client, PAGE)
    client.post("/admin/organisations/alpha-trust/statement", data={"statement": "We plant."})
    reworded = PAGE.replace("We are a charity in Luton", "We are Luton's oldest charity").replace(
        "Our college will", "Our college shall"
    )
    preview = upload(client, reworded)
    assert headings(preview)[
        "Statements edited in the app (kept: the page's wording is not applied)"
    ] == ["Alpha Trust"]
    confirm(client, preview)
    statements = dict(
        db.session.execute(
            sa.select(Organisation.slug, Pledge.statement).join(Pledge.organisation)
        ).all()
    )
    # Beta College's statement was never edited here: the page's new wording is applied.
    assert statements == {
        "alpha-trust": "We plant.",
        "beta-college": "Our college shall support the vision of the town.",
    }
    # The command's report (`tracker seed load`) says so too.
    report = import_pledge_page(parse_pledge_page(reworded), luton_place(), source="again.txt")
    assert (
        "Statements edited in the app, kept (the page's wording differs): Alpha Trust"
        in report_lines(report)
    )
    assert db.session.scalar(sa.select(Pledge.statement).filter_by(statement="We plant."))


def test_an_organisation_added_without_commitments_is_not_counted_as_pledging(client, db_session):
    admin_in(client, db_session)
    make_place(db_session)
    client.post("/admin/organisations/new", data={"name": "Empty Org"})
    page = get_page(client, "/admin/organisations/empty-org")
    assert "No commitments yet" in page.text
    assert commitment_figures().organisations == 0
    assert commitment_figures().organisations_without == 1
    from tracker.services.figures import return_figures

    period = make_period(db_session, Quarter(2024, 1))
    assert return_figures(period, date(2024, 7, 1)).expected == 0  # owes no return

    client.post(
        "/admin/organisations/new",
        data={
            "name": "Full Org",
            "statement": "We pledge to help.",
            "first_commitments": "Mentor ten young people\nRecycle all our paper\n",
        },
    )
    full = db.session.scalar(sa.select(Organisation).filter_by(slug="full-org"))
    assert [c.original_text for c in full.pledges[0].commitments] == [
        "Mentor ten young people",
        "Recycle all our paper",
    ]
    assert full.pledges[0].statement == "We pledge to help."
    assert commitment_figures().organisations == 1
    assert return_figures(period, date(2024, 7, 1)).expected == 1


def test_a_commitment_added_in_a_later_quarter_is_not_in_earlier_returns(client, db_session):
    from tracker.services.periods import set_reporting_start
    from tracker.services.returns import return_view

    admin = admin_in(client, db_session)
    make_place(db_session)
    set_reporting_start(Quarter(2024, 1), actor=admin)
    q4 = make_period(db_session, Quarter(2024, 4))
    q5 = make_period(db_session, Quarter(2025, 1))
    organisation = make_organisation(db_session)
    old = make_commitment(db_session, organisation)
    from tracker.services.pledges import add_commitment, retire_commitment

    new = add_commitment(organisation, "Fresh promise", actor=admin, today=date(2025, 5, 1))
    assert new.reports_from == date(2025, 4, 1)
    q4_return = Return(organisation=organisation, period=q4)
    db.session.add(q4_return)
    db.session.flush()
    assert [t.commitment for t in return_view(organisation, q4, date(2025, 5, 1)).tasks] == [old]
    assert {t.commitment for t in return_view(organisation, q5, date(2025, 5, 1)).tasks} == {
        old,
        new,
    }
    # Retired after Q4's return went in: Q4 keeps it with its update; Q5 no longer asks for it.
    from tests.factories import make_update

    make_update(db_session, q4_return, old)
    q4_return.submitted_at = datetime(2025, 4, 10, tzinfo=UTC)
    retire_commitment(old, "Done another way", actor=admin, now=datetime(2025, 5, 2, tzinfo=UTC))
    assert [t.commitment for t in return_view(organisation, q4, date(2025, 5, 2)).tasks] == [old]
    assert [t.commitment for t in return_view(organisation, q5, date(2025, 5, 2)).tasks] == [new]


def test_an_organisations_first_commitment_added_in_a_later_quarter_owes_from_then(
    client, db_session
):
    from tracker.services.figures import return_figures
    from tracker.services.periods import set_reporting_start
    from tracker.services.pledges import add_commitment
    from tracker.services.returns import reporting_statuses
    from tracker.services.worklist import work_list

    admin = admin_in(client, db_session)
    make_place(db_session)
    set_reporting_start(Quarter(2024, 1), actor=admin)
    q4 = make_period(db_session, Quarter(2024, 4))
    q5 = make_period(db_session, Quarter(2025, 1))
    organisation = make_organisation(db_session, "Latecomer", slug="latecomer")
    add_commitment(organisation, "Our first promise", actor=admin, today=date(2025, 5, 1))
    today = date(2025, 8, 1)  # both windows have closed
    assert return_figures(q4, today).expected == 0
    assert return_figures(q5, today).expected == 1
    work = work_list(today)
    owing = {
        quarter.period.slug: [
            item.organisation.name for items in quarter.items.values() for item in items
        ]
        for quarter in work.quarters
    }
    assert "Latecomer" not in owing.get(q4.slug, [])
    assert "Latecomer" in owing.get(q5.slug, [])
    # One quarter missed, not two: it never owed the earlier one.
    status = reporting_statuses(today, [organisation.id])[organisation.id]
    assert status == "late"


def test_a_reimport_leaves_commitments_made_or_retired_in_the_app_alone(client, db_session):
    admin = admin_in(client, db_session)
    import_page(client, PAGE)
    alpha = db.session.scalar(sa.select(Organisation).filter_by(slug="alpha-trust"))
    from tracker.services.pledges import add_commitment, retire_commitment

    mine = add_commitment(alpha, "Sponsor a youth team", actor=admin, today=date.today())
    trees = db.session.scalar(
        sa.select(Commitment).filter_by(original_text="Plant 100 trees in Luton by 2030")
    )
    retire_commitment(trees, "Land not available", actor=admin, now=datetime.now(UTC))
    db.session.flush()
    preview = upload(client, PAGE)
    assert "No changes" in preview.text
    confirm(client, preview)
    db.session.expire_all()
    assert mine.removed_from_page_at is None
    assert trees.retired_reason == "Land not available" and trees.removed_from_page_at is not None
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Place)) == 1


def test_a_bullet_kept_as_written_stays_a_commitment_after_a_reimport(client, db_session):
    admin_in(client, db_session)
    import_page(client, PAGE.replace("- Plant 100", "- We will, including\n- Plant 100"))
    lead_in = db.session.scalar(sa.select(Commitment).filter_by(original_text="We will, including"))
    assert lead_in.is_heading
    url = f"/admin/pledges/review/commitments/{lead_in.id}/lead-in"
    assert post_page(client, url, {}).errors == ["Choose what should happen to this bullet"]
    client.post(url, data={"action": "keep"})
    import_page(client, PAGE.replace("- Plant 100", "- We will, including\n- Plant 100"))
    db.session.expire_all()
    assert not lead_in.is_heading and lead_in.removed_from_page_at is None
    assert lead_in.id not in [c.id for c in pledges_open().lead_ins]


def pledges_open():  # type: ignore[no-untyped-def]
    from tracker.services.pledges import open_items

    return open_items()


def test_moving_down_and_the_audit_log_in_words(client, db_session):
    admin_in(client, db_session)
    import_page(client, PAGE)
    first, second = db.session.scalars(
        sa.select(Commitment)
        .join(Organisation)
        .where(Organisation.slug == "alpha-trust")
        .order_by(Commitment.position)
    ).all()
    client.post(
        f"/admin/organisations/alpha-trust/commitments/{first.id}/move", data={"direction": "down"}
    )
    # At the bottom already: nothing moves, nothing is recorded.
    client.post(
        f"/admin/organisations/alpha-trust/commitments/{first.id}/move", data={"direction": "down"}
    )
    db.session.expire_all()
    assert (first.position, second.position) == (2, 1)
    page = get_page(client, "/admin/audit")
    assert "imported the pledge page “pledges.txt”" in page.text
    assert "moved the commitment “Pay the Real Living Wage to all our staff”" in page.text
    assert page.text.count("moved the commitment") == 1


def test_a_lead_finds_their_proposals_from_their_start_page(client, db_session):
    organisation = make_organisation(db_session, "Epsilon", slug="epsilon")
    lead = make_user(db_session, Role.LEAD, organisations=[organisation])
    sign_in(client, lead)
    page = get_page(client, "/returns")
    url = page.link("Proposed revisions for Epsilon")
    assert "Propose a new commitment" in get_page(client, url).text
