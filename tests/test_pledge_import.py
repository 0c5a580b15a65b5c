"""Importing the Luton pledge page: everything accounted for, idempotent, edits kept."""

from __future__ import annotations

import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.seed import SEED, load_luton, luton_page, luton_place
from tracker.domain.enums import Confidence, DeliveryStatus, Sector
from tracker.domain.pledge_page import PledgePageError, parse_pledge_page
from tracker.extensions import db
from tracker.models import (
    AuditEvent,
    Commitment,
    CommitmentUpdate,
    Organisation,
    Place,
    Priority,
    Theme,
)
from tracker.services.pledge_import import import_pledge_page, report_lines


def count(model) -> int:  # type: ignore[no-untyped-def]
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def commitment_ids() -> dict[tuple[int, str], int]:
    rows = db.session.execute(sa.select(Commitment.organisation_id, Commitment.key, Commitment.id))
    return {(org, key): id_ for org, key, id_ in rows}


def test_the_seed_gives_forty_organisations_and_accounts_for_every_bullet(db_session):
    report = load_luton()

    assert count(Organisation) == 40
    assert count(Commitment) == report.commitments_total == 338
    assert report.bullets_seen == 341
    skipped_bullets = [line for line in report.skipped if line.bullet]
    # Every bullet is a commitment, a folded copy, or listed with its reason.
    assert report.bullets_seen == report.commitments_total + len(skipped_bullets)
    assert report.duplicates_folded == 2
    assert any(
        "If your organisation would like to sign up" in line.text for line in skipped_bullets
    )

    place = db.session.scalars(sa.select(Place)).one()
    assert place.name == "Luton 2040"
    assert [p.code for p in place.priorities] == [
        "inclusive-economy",
        "improving-wellbeing",
        "child-friendly-town",
        "net-zero-town",
        "empowered-community",
    ]
    assert sorted(name for name, _ in report.derived_names) == [
        "ELFT",
        "GoodGym Luton",
        "NOAH",
        "TUI",
    ]
    elft = db.session.scalars(sa.select(Organisation).filter_by(slug="elft")).one()
    assert elft.name_needs_review


def test_original_wording_is_kept_and_explicit_prefixes_leave_the_title(db_session):
    load_luton()
    tui = db.session.scalars(sa.select(Organisation).filter_by(slug="tui")).one()
    net_zero = next(
        c for c in tui.pledges[0].commitments if c.original_text.startswith("Net Zero:")
    )
    assert net_zero.original_text == (
        "Net Zero: Achieve net-zero emissions across our operations and supply chain by 2050 "
        "at the latest"
    )
    assert net_zero.title.startswith("Achieve net-zero emissions")
    assert net_zero.primary_priority.code == "net-zero-town"
    assert net_zero.priority_confidence == Confidence.EXPLICIT
    assert net_zero.target_date.isoformat() == "2050-12-31"


def test_targets_and_themes_are_filled_from_the_text(db_session):
    load_luton()
    homes = db.session.scalars(
        sa.select(Commitment).where(
            Commitment.original_text.like("building 400 new affordable homes%")
        )
    ).one()
    assert homes.target_value == 400
    assert homes.unit == "homes"
    assert homes.target_date.isoformat() == "2040-12-31"
    living_wage = db.session.scalars(sa.select(Theme).filter_by(slug="real-living-wage")).one()
    organisations = {c.organisation_id for c in living_wage.commitments}
    assert len(organisations) >= 10


def test_flags_reach_the_commitments(db_session):
    report = load_luton()
    truncated = db.session.scalars(sa.select(Commitment).where(Commitment.is_truncated)).all()
    assert {c.original_text[:12] for c in truncated} == {"n the first ", "we put preve"}
    headings = db.session.scalars(sa.select(Commitment).where(Commitment.is_heading)).all()
    assert "building a more inclusive economy including" in {c.original_text for c in headings}
    # Low-confidence guesses and commitments no rule could place are flagged for review.
    needs_review = db.session.scalar(sa.select(sa.func.count()).where(Commitment.needs_review))
    assert needs_review == report.per_confidence["low"]
    assert 0 < needs_review < report.commitments_total / 2


def test_loading_twice_changes_nothing(db_session):
    load_luton()
    before = commitment_ids()
    events = count(AuditEvent)
    report = load_luton()
    assert commitment_ids() == before
    assert not report.changed
    assert report.organisations_unchanged == 40
    assert report.commitments_unchanged == 338
    assert count(AuditEvent) == events


def test_an_edited_page_updates_adds_and_marks_but_never_deletes(db_session):
    load_luton()
    active = db.session.scalars(sa.select(Organisation).filter_by(slug="active-luton")).one()
    dropped = next(
        c
        for c in active.pledges[0].commitments
        if c.original_text.startswith("promoting and creating")
    )
    # Someone reported on the commitment that is about to leave the page.
    from tests.factories import make_period, make_return

    return_ = make_return(db_session, active, make_period(db_session))
    db.session.add(
        CommitmentUpdate(return_=return_, commitment=dropped, status=DeliveryStatus.ON_TRACK)
    )
    db.session.flush()
    before = commitment_ids()

    text = SEED.read_text(encoding="utf-8")
    text = text.replace(
        "- promoting and creating opportunities to improve social connectedness"
        " at all stages of life\n",
        "",
    ).replace(
        "- adopting an accessibility for all approach and being a disability-confident employer\n",
        "- adopting an accessibility for all approach and being a disability-confident employer\n"
        "- planting 500 trees in Luton by March 2027\n",
    )
    report = load_luton(text)

    assert report.commitments_created == 1
    assert [name for name, _ in report.commitments_removed] == ["Active luton"]
    assert report.organisations_updated == ["Active luton"]
    after = commitment_ids()
    assert set(before) <= set(after)  # nothing deleted
    db.session.refresh(dropped)
    assert dropped.removed_from_page_at is not None
    assert "removed_from_page" in dropped.flags
    trees = db.session.scalars(
        sa.select(Commitment).filter_by(original_text="planting 500 trees in Luton by March 2027")
    ).one()
    assert trees.target_value == 500
    assert trees.target_date.isoformat() == "2027-03-31"

    # Put it back: the same commitment returns, not a new one.
    report = load_luton()
    db.session.refresh(dropped)
    assert dropped.removed_from_page_at is None
    assert commitment_ids()[(active.id, dropped.key)] == dropped.id


def test_a_persons_choices_survive_a_reimport(db_session):
    load_luton()
    commitment = db.session.scalars(
        sa.select(Commitment).where(
            Commitment.original_text.like("Implementing waste reduction plans%")
        )
    ).first()
    community = db.session.scalars(sa.select(Priority).filter_by(code="empowered-community")).one()
    commitment.primary_priority = community
    commitment.priority_confidence = Confidence.MANUAL
    commitment.needs_review = False
    commitment.title = "Halve our waste"
    organisation = db.session.get(Organisation, commitment.organisation_id)
    organisation.sector = Sector.BUSINESS
    db.session.flush()

    report = load_luton()

    db.session.refresh(commitment)
    assert commitment.primary_priority_id == community.id
    assert commitment.title == "Halve our waste"
    assert organisation.sector == Sector.BUSINESS
    assert not report.changed


def test_the_report_names_what_needs_a_look(db_session):
    report = load_luton()
    text = "\n".join(report_lines(report))
    assert "Organisations: 40 (40 new, 0 changed, 0 unchanged)" in text
    assert "Bullets on the page: 341 = 338 commitments + 2 identical copies folded in" in text
    assert "line 128: ELFT" in text
    assert "If your organisation would like to sign up" in text
    assert "Real Living Wage" in text
    assert "[Hightown Housing] building 400 new affordable homes" in text
    dry = "\n".join(report_lines(report, dry_run=True))
    assert dry.startswith("Dry run of luton-2040-pledges.txt: nothing was written.")


def test_sectors_are_guessed_for_new_organisations(db_session):
    load_luton()
    sectors = dict(db.session.execute(sa.select(Organisation.slug, Organisation.sector)).all())
    assert sectors["barnfield-college"] == Sector.EDUCATION
    assert sectors["keech-hospice"] == Sector.HEALTH
    assert sectors["hightown-housing"] == Sector.HOUSING
    assert sectors["ryebridge-construction"] == Sector.BUSINESS


page_lines = st.one_of(
    st.text(max_size=80),
    st.builds(lambda t: "- " + t, st.text(min_size=1, max_size=120)),
    st.sampled_from(["Acme Trust", "We will plant trees by 2030.", "- net zero by 2040", ""]),
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(page_lines, max_size=25))
def test_any_page_imports_or_fails_with_one_clear_error(db_session, lines):
    savepoint = db_session.begin_nested()
    try:
        page = parse_pledge_page("\n".join(lines))
    except PledgePageError as error:
        assert str(error) and "\n" not in str(error)
        savepoint.rollback()
        return
    report = import_pledge_page(page, luton_place(), source="fuzz.txt")
    assert report.commitments_total == sum(len(o.commitments) for o in page.organisations)
    savepoint.rollback()


def test_the_seed_parses_the_same_with_windows_line_endings_and_a_bom(db_session):
    text = SEED.read_text(encoding="utf-8")
    crlf = luton_page("\ufeff" + text.replace("\n", "\r\n"))
    plain = luton_page(text)
    assert [o.slug for o in crlf.organisations] == [o.slug for o in plain.organisations]
    assert [c.key for o in crlf.organisations for c in o.commitments] == [
        c.key for o in plain.organisations for c in o.commitments
    ]


def test_a_nul_character_in_the_text_imports_on_every_database(db_session):
    # Found by the fuzz test above on PostgreSQL, which cannot store NUL in a text column.
    page = parse_pledge_page("Acme Trust\n\x00 We pledge.\n- Plant 100 trees\x00")
    report = import_pledge_page(page, luton_place(), source="nul.txt")
    assert report.commitments_total == 1
    statement = (
        db_session.scalar(sa.select(Organisation).where(Organisation.name == "Acme Trust"))
        .pledges[0]
        .statement
    )
    assert statement == "\ufffd We pledge."
