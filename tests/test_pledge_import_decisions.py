"""Importing the pledge page again leaves alone a target field a person has decided.

QA round 2, finding 3: an admin removed a target that had been reported against, with a reason;
a year later the same page was imported again and the importer put the page's target back, with
no reason and no moved-goalpost record, while the history still said it was removed. The
importer proposes a field from the page only while no person has set or cleared it.

Every test runs on SQLite and PostgreSQL (the ``client``/``db_session`` fixtures).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
import time_machine

from tests.factories import make_place, make_user
from tests.support.auth import sign_in
from tests.support.pages import get_page
from tests.test_commitments import edit, page_url, timeline_headings
from tests.test_pledge_admin import admin_in, confirm, headings, import_page, upload
from tests.test_year_of_operation import START, at
from tracker.cli import cli
from tracker.config import window_rules
from tracker.domain.enums import DeliveryStatus, Direction, Role
from tracker.extensions import db
from tracker.models import AuditEvent, Commitment, Organisation, Priority, TargetChange
from tracker.services import returns as service
from tracker.services.periods import ensure_periods, period_by_slug
from tracker.services.pledges import add_commitment

PAGE = """Alpha Trust
Alpha Trust is committed to the Luton 2040 vision by:
- Building 400 new affordable homes by 2030
- Paying the Real Living Wage
"""

# A year later the homes bullet is word for word the same; Delta Group has joined.
NEXT_YEAR = (
    PAGE
    + """
Delta Group
Delta Group is committed to the Luton 2040 vision by:
- Recruiting 20 apprentices a year
"""
)

HOMES = "Building 400 new affordable homes by 2030"
REASON = "Housing figures are the council's, not Alpha's"
CLEARED = {"target_value": None, "metric": None, "unit": None, "direction": None}


def homes() -> Commitment:
    db.session.expire_all()
    return db.session.scalar(sa.select(Commitment).filter_by(original_text=HOMES))


def target(commitment: Commitment) -> dict[str, object]:
    return {name: getattr(commitment, name) for name in CLEARED}


def goalposts() -> list[tuple[str, str | None, str | None, str]]:
    rows = db.session.scalars(sa.select(TargetChange).order_by(TargetChange.field))
    return [(row.field, row.old_value, row.new_value, row.reason) for row in rows]


def report_q1_and_accept(app, admin) -> None:  # type: ignore[no-untyped-def]
    """Alpha's lead reports on every commitment in July 2024 and the admin accepts it."""
    alpha = db.session.scalar(sa.select(Organisation).filter_by(slug="alpha-trust"))
    lead = make_user(db.session, organisations=[alpha], email="alpha@example.org")
    today = date(2024, 7, 2)
    ensure_periods(today, window_rules(app.config))
    q1 = period_by_slug("2024-25-q1")
    for task in service.return_view(alpha, q1, today).tasks:
        service.save_update(
            alpha,
            q1,
            task.commitment,
            service.UpdateInput(
                status=DeliveryStatus.ON_TRACK,
                progress_value=Decimal(100) if task.commitment.target_value else None,
                narrative="Under way",
            ),
            version=None,
            complete=True,
            actor=lead,
            today=today,
        )
    with app.test_request_context():
        assert service.submit(alpha, q1, actor=lead, now=at(today)).submitted
        return_ = service.find_return(alpha, q1)
        assert service.accept(return_, version=return_.version, actor=admin, now=at(today))
    db.session.commit()


def reimport_with_the_browser(client, text: str) -> dict[str, list[str]]:  # type: ignore[no-untyped-def]
    preview = upload(client, text)
    confirm(client, preview)
    return headings(preview)


def reimport_with_the_command(app, text: str, folder: Path) -> str:  # type: ignore[no-untyped-def]
    path = folder / "luton-2040-pledges-2025.txt"
    path.write_text(text, encoding="utf-8")
    result = app.test_cli_runner().invoke(cli, ["seed", "load", str(path)])
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.parametrize("route", ["browser", "command"])
def test_a_target_removed_with_a_reason_stays_removed_when_the_page_is_imported_again(
    app, client, db_session, tmp_path, route
):
    make_place(db_session).reporting_starts_on = START
    admin = make_user(db_session, Role.ADMIN, email="ada@example.org")

    # March 2024: the first import reads the target from the bullet.
    with time_machine.travel(datetime(2024, 3, 1, 10, tzinfo=UTC)):
        sign_in(client, admin)
        import_page(client, PAGE)
    assert target(homes()) == {
        "target_value": 400,
        "metric": "new affordable homes",
        "unit": "homes",
        "direction": Direction.INCREASE,
    }
    assert homes().target_date == date(2030, 12, 31)

    # Q1: Alpha reports against it, and the return is accepted.
    report_q1_and_accept(app, admin)

    # Q2: the admin removes the target, with a reason: a moved goalpost.
    with time_machine.travel(datetime(2024, 8, 15, 12, tzinfo=UTC), tick=False):
        sign_in(client, admin)
        edit(
            client,
            homes(),
            target_value="",
            metric="",
            unit="",
            direction="",
            reason=REASON,
        )
    assert target(homes()) == CLEARED
    moved = goalposts()
    assert moved == [
        ("direction", "increase", None, REASON),
        ("metric", "new affordable homes", None, REASON),
        ("target_value", "400", None, REASON),
        ("unit", "homes", None, REASON),
    ]

    # May 2025: the page is imported again, the homes bullet unchanged.
    with time_machine.travel(datetime(2025, 5, 1, 10, tzinfo=UTC)):
        sign_in(client, admin)
        if route == "browser":
            sections = reimport_with_the_browser(client, NEXT_YEAR)
            # The preview promises no change to Alpha's commitments, and none is made.
            assert "Organisations with changes" not in sections
            assert sections["New organisations"] == ["Delta Group"]
        else:
            output = reimport_with_the_command(app, NEXT_YEAR, tmp_path)
            assert "Organisations: 2 (1 new, 0 changed, 1 unchanged)" in output
            assert "Commitments: 3 (1 new, 0 changed, 2 unchanged" in output
            assert "target 400" not in output

    assert target(homes()) == CLEARED
    assert homes().target_date == date(2030, 12, 31)  # never touched: kept
    assert goalposts() == moved
    updated_from_page = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(AuditEvent)
        .where(AuditEvent.action == "updated from the page")
    )
    assert updated_from_page == 0

    # The commitment page says what the admin decided, and shows no target.
    sign_in(client, admin)
    page = get_page(client, page_url(homes()))
    assert "Target changed 15 August 2024" in timeline_headings(page)
    assert "Target value changed from 400 to not set" in page.text
    assert "Progress towards the target" not in page.text

    # The same page once more changes nothing at all.
    events = db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent))
    with time_machine.travel(datetime(2025, 5, 2, 10, tzinfo=UTC)):
        sign_in(client, admin)
        if route == "browser":
            preview = upload(client, NEXT_YEAR)
            assert "No changes" in preview.text
            confirm(client, preview)
            events += 1  # "imported the pledge page: no changes"
        else:
            output = reimport_with_the_command(app, NEXT_YEAR, tmp_path)
            assert "Commitments: 3 (0 new, 0 changed, 3 unchanged" in output
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)) == events
    assert target(homes()) == CLEARED
    assert goalposts() == moved


def test_an_import_still_fills_a_target_field_nobody_has_decided(client, db_session):
    admin = admin_in(client, db_session)
    make_place(db_session)
    alpha_page = PAGE.replace("- Paying the Real Living Wage\n", "")
    import_page(client, alpha_page)
    alpha = db.session.scalar(sa.select(Organisation).filter_by(slug="alpha-trust"))

    # Added in the app in the organisation's own words, before the page listed it: the app
    # reads no target from them.
    net_zero = db.session.scalar(sa.select(Priority).filter_by(code="net-zero-town"))
    trees = add_commitment(
        alpha,
        "Plant 100 trees in Luton by 2030",
        actor=admin,
        today=date.today(),
        primary_priority_id=net_zero.id,
    )
    db.session.commit()
    assert trees.target_value is None and trees.target_date is None

    # The admin gives it a short title and a deadline of their own; nobody touches the rest.
    edit(client, trees, title="Trees", target_date=["31", "3", "2031"])
    db.session.expire_all()
    assert (trees.title, trees.target_date, trees.target_value) == (
        "Trees",
        date(2031, 3, 31),
        None,
    )

    # The page now lists it: the import fills what nobody decided, and keeps what they did.
    preview = upload(client, alpha_page + "- Plant 100 trees in Luton by 2030\n")
    assert headings(preview)["Changed commitments"] == [
        "Alpha Trust: Plant 100 trees in Luton by 2030"
    ]
    confirm(client, preview)
    db.session.expire_all()
    assert (trees.target_value, trees.unit, trees.direction) == (100, "trees", Direction.INCREASE)
    assert (trees.title, trees.target_date) == ("Trees", date(2031, 3, 31))

    # Imported again: nothing left to fill, so nothing changes.
    preview = upload(client, alpha_page + "- Plant 100 trees in Luton by 2030\n")
    assert "No changes" in preview.text


def test_a_field_a_person_cleared_before_any_report_is_not_filled_again(client, db_session):
    admin_in(client, db_session)
    make_place(db_session)
    import_page(client, PAGE)
    # Setting up, before anyone reported: the admin takes the deadline off (no reason needed).
    edit(client, homes(), target_date=["", "", ""])
    assert homes().target_date is None
    assert goalposts() == []

    preview = upload(client, PAGE)
    assert "No changes" in preview.text
    confirm(client, preview)
    assert homes().target_date is None
    assert homes().target_value == 400


def test_a_field_cleared_by_an_approved_proposal_is_not_filled_again(client, db_session):
    from tracker.services.proposals import approve, propose_change

    admin = admin_in(client, db_session)
    make_place(db_session)
    import_page(client, PAGE)
    alpha = db.session.scalar(sa.select(Organisation).filter_by(slug="alpha-trust"))
    lead = make_user(db_session, organisations=[alpha], email="alpha@example.org")
    proposal = propose_change(homes(), {"unit": None}, "We count dwellings", actor=lead)
    now = datetime.now(UTC)
    approve(proposal, "", actor=admin, today=now.date(), now=now)
    db.session.commit()
    assert homes().unit is None

    preview = upload(client, PAGE)
    assert "No changes" in preview.text
    confirm(client, preview)
    assert homes().unit is None
