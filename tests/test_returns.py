"""The quarterly return, end to end through the web: draft, submit, send back, resubmit, accept."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
import sqlalchemy as sa
import time_machine

from tests.factories import make_commitment, make_organisation, make_period, make_place, make_user
from tests.support.auth import sign_in
from tests.support.pages import get_page, version_on
from tracker.domain.calendar import Quarter
from tracker.domain.enums import DeliveryStatus, EvidenceGrade, ReturnState, Role
from tracker.extensions import db
from tracker.models import AuditEvent, Commitment, CommitmentUpdate, Notification, Return

Q1 = Quarter(2024, 1)  # window opens 16 June 2024, due 21 July, closes 11 August
DURING = datetime(2024, 7, 1, 10, 0, tzinfo=UTC)


@pytest.fixture
def setting(db_session):
    """An organisation with three commitments, its lead, an admin and the 2024/25 Q1 period."""
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
    wage = make_commitment(
        db_session,
        org,
        title="Pay the Real Living Wage",
        primary_priority_id=place.priorities[0].id,
    )
    trees = make_commitment(
        db_session, org, title="Plant trees", primary_priority_id=place.priorities[3].id
    )
    make_commitment(db_session, org, title="building an economy including", is_heading=True)
    period = make_period(db_session, Q1)
    lead = make_user(db_session, Role.LEAD, organisations=[org], name="Lee Lead")
    admin = make_user(db_session, Role.ADMIN, name="Ada Admin")
    return {
        "org": org,
        "period": period,
        "lead": lead,
        "admin": admin,
        "homes": homes,
        "wage": wage,
        "trees": trees,
    }


def url(setting, suffix: str = "") -> str:
    return f"/organisations/{setting['org'].slug}/returns/{setting['period'].slug}{suffix}"


def update_url(setting, commitment) -> str:
    return url(setting, f"/commitments/{commitment.id}")


def save(client, setting, commitment, button="save", **fields):
    data = {"status": "on_track", button: "yes", **fields}
    return client.post(update_url(setting, commitment), data=data)


@time_machine.travel(DURING, tick=False)
def test_the_whole_cycle(client, db_session, setting, smtp_server, monkeypatch, app):
    sign_in(client, setting["lead"])
    page = get_page(client, url(setting))
    assert page.h1 == "2024/25 Q1 return"
    assert "Due by 21 July 2024" in page.text and "20 days left" in page.text
    # Grouped by priority; the heading-like bullet is not something to report on.
    assert [h.get_text(strip=True) for h in page.soup.select("h2.govuk-heading-m")] == [
        "Inclusive economy",
        "Net zero town",
    ]
    assert "building an economy including" not in page.text
    statuses = [s.get_text(strip=True) for s in page.soup.select(".govuk-task-list__status")]
    assert statuses == ["Not started"] * 3

    # A half-done draft, then the real thing.
    response = save(client, setting, setting["homes"], button="draft", status="", narrative="Half")
    assert response.status_code == 302
    page = get_page(client, url(setting))
    statuses = [s.get_text(strip=True) for s in page.soup.select(".govuk-task-list__status")]
    assert statuses == ["In progress", "Not started", "Not started"]
    page = get_page(client, update_url(setting, setting["homes"]))
    version = page.soup.find("input", {"name": "version"})["value"]
    response = save(
        client, setting, setting["homes"], status="on_track", progress_value="120", version=version
    )
    assert response.status_code == 302
    assert response.headers["Location"].endswith(update_url(setting, setting["wage"]))

    # Off track needs a narrative.
    response = save(client, setting, setting["wage"], status="off_track")
    page_text = response.get_data(as_text=True)
    assert response.status_code == 200 and "govuk-error-summary" in page_text
    save(client, setting, setting["wage"], status="off_track", narrative="Costs rose 20%")
    # Not everything is done: submit is refused.
    response = client.post(url(setting, "/submit"))
    assert response.status_code == 302
    assert "Complete the 1 commitment still to do" in get_page(client, url(setting, "/check")).text
    save(client, setting, setting["trees"], status="completed")

    page = get_page(client, url(setting, "/check"))
    assert page.h1 == "Check your answers before you submit"
    assert "Costs rose 20%" in page.text and "Progress: 120 homes" in page.text
    response = client.post(url(setting, "/submit"))
    assert response.status_code == 200 and b"Return submitted" in response.data
    return_ = db.session.scalar(sa.select(Return))
    assert return_.state == ReturnState.SUBMITTED
    # Read-only for the lead now.
    response = save(client, setting, setting["trees"], status="at_risk", narrative="oops")
    assert response.status_code == 302
    db.session.refresh(return_)
    assert (
        db.session.scalar(
            sa.select(CommitmentUpdate.status).where(
                CommitmentUpdate.commitment_id == setting["trees"].id
            )
        )
        == DeliveryStatus.COMPLETED
    )

    # The admin sends it back with a comment; the lead is emailed and sees it.
    client.post("/sign-out")
    sign_in(client, setting["admin"])
    page = get_page(client, f"/admin/returns/{setting['period'].slug}")
    assert "1 waiting for review" in page.text
    review = f"/admin/returns/{setting['period'].slug}/active-luton"
    response = client.post(
        review,
        data={
            "comment": "Say how many homes are affordable",
            "version": version_on(get_page(client, review)),
        },
    )
    assert response.status_code == 302
    mail = db.session.scalar(sa.select(Notification).where(Notification.kind == "return_sent_back"))
    assert mail.recipient_email == setting["lead"].email
    assert "Say how many homes are affordable" in mail.body_text
    client.post("/sign-out")
    sign_in(client, setting["lead"])
    page = get_page(client, url(setting))
    assert "Sent back for changes" in page.text and "Say how many homes are affordable" in page.text
    page = get_page(client, update_url(setting, setting["homes"]))
    version = page.soup.find("input", {"name": "version"})["value"]
    save(client, setting, setting["homes"], progress_value="150", version=version)
    assert client.post(url(setting, "/submit")).status_code == 200

    # Accepting sets each commitment's current status.
    client.post("/sign-out")
    sign_in(client, setting["admin"])
    version = version_on(get_page(client, review), review + "/accept")
    assert client.post(review + "/accept", data={"version": version}).status_code == 302
    statuses = dict(
        db.session.execute(sa.select(Commitment.title, Commitment.current_status)).all()
    )
    assert statuses["Build 400 homes"] == DeliveryStatus.ON_TRACK
    assert statuses["Pay the Real Living Wage"] == DeliveryStatus.OFF_TRACK
    assert statuses["Plant trees"] == DeliveryStatus.COMPLETED
    actions = db.session.scalars(
        sa.select(AuditEvent.action)
        .where(AuditEvent.entity_type == "return")
        .order_by(AuditEvent.id)
    ).all()
    assert actions == ["submitted", "sent back", "submitted", "accepted"]


@time_machine.travel(DURING, tick=False)
def test_a_stale_save_keeps_both_peoples_words(app, client, db_session, setting):
    other_lead = make_user(db_session, Role.LEAD, organisations=[setting["org"]], name="Other")
    other = app.test_client()
    sign_in(client, setting["lead"])
    sign_in(other, other_lead)
    save(client, setting, setting["homes"], narrative="first words")
    page = get_page(client, update_url(setting, setting["homes"]))
    version = page.soup.find("input", {"name": "version"})["value"]
    other_page = get_page(other, update_url(setting, setting["homes"]))
    other_version = other_page.soup.find("input", {"name": "version"})["value"]
    assert (
        save(
            other, setting, setting["homes"], narrative="their words", version=other_version
        ).status_code
        == 302
    )

    response = save(client, setting, setting["homes"], narrative="my words", version=version)
    assert response.status_code == 409
    text = response.get_data(as_text=True)
    assert "Someone else changed this update" in text
    assert "their words" in text and "my words" in text
    stored = db.session.scalar(sa.select(CommitmentUpdate.narrative))
    assert stored == "their words"


@time_machine.travel(DURING, tick=False)
def test_no_change_since_last_quarter_copies_and_counts(client, db_session, setting):
    from tracker.services import returns as service

    previous = make_period(db_session, Q1.previous())
    last = service.return_for(setting["org"], previous)
    last.state = ReturnState.ACCEPTED
    last.submitted_at = datetime(2024, 4, 10, tzinfo=UTC)
    db.session.add(
        CommitmentUpdate(
            return_=last,
            commitment=setting["homes"],
            status=DeliveryStatus.AT_RISK,
            narrative="Planning delays",
            progress_value=Decimal(80),
            complete=True,
            unchanged_quarters=2,
            no_change=True,
        )
    )
    db.session.flush()
    sign_in(client, setting["lead"])
    page = get_page(client, url(setting))
    assert "Last quarter: At risk" in page.text
    response = client.post(update_url(setting, setting["homes"]), data={"no_change": "yes"})
    assert response.status_code == 302
    row = db.session.scalar(
        sa.select(CommitmentUpdate).where(CommitmentUpdate.return_id != last.id)
    )
    assert (row.status, row.narrative, row.progress_value) == (
        DeliveryStatus.AT_RISK,
        "Planning delays",
        Decimal(80),
    )
    assert row.no_change and row.unchanged_quarters == 3 and row.complete


def test_late_and_extended_returns(client, db_session, setting):
    from tracker.services import returns as service
    from tracker.services.periods import grant_extension

    with time_machine.travel(datetime(2024, 7, 25, tzinfo=UTC), tick=False):
        sign_in(client, setting["admin"])  # inside: a session signed in the future is refused
        rows = {
            r.organisation.slug: r
            for r in service.review_queue(setting["period"], date(2024, 7, 25))
        }
        assert rows["active-luton"].late and rows["active-luton"].days_overdue == 4
        response = client.post(
            f"/admin/periods/{setting['period'].slug}/extensions/active-luton",
            data={"due_on": ["4", "8", "2024"], "reason": "Staff illness"},
        )
        assert response.status_code == 302, response.get_data(as_text=True)[-3000:]
        assert "/admin/returns/" in response.headers["Location"]
        rows = {
            r.organisation.slug: r
            for r in service.review_queue(setting["period"], date(2024, 7, 25))
        }
        assert not rows["active-luton"].late
        assert rows["active-luton"].deadline == date(2024, 8, 4)
        # An extension must be later than the due date and have a reason.
        response = client.post(
            f"/admin/periods/{setting['period'].slug}/extensions/active-luton",
            data={"due_on": ["1", "7", "2024"], "reason": ""},
        )
        text = response.get_data(as_text=True)
        assert "Give the reason for the extension" in text
        # An extension that has already run out would give nobody any time.
        response = client.post(
            f"/admin/periods/{setting['period'].slug}/extensions/active-luton",
            data={"due_on": ["24", "7", "2024"], "reason": "Staff illness"},
        )
        assert "The new due date must be today or later" in response.get_data(as_text=True)
        assert grant_extension  # imported for the service path used above


@time_machine.travel(DURING, tick=False)
def test_each_update_form_shows_its_own_commitment_and_saving_moves_to_the_next_unfinished(
    client, db_session, setting
):
    from tracker.services import returns as service

    # Last quarter: each commitment said something different.
    previous = make_period(db_session, Q1.previous())
    last = service.return_for(setting["org"], previous)
    last.state = ReturnState.ACCEPTED
    last.submitted_at = datetime(2024, 4, 10, tzinfo=UTC)
    for name, status, words in [
        ("homes", DeliveryStatus.AT_RISK, "Planning delays"),
        ("wage", DeliveryStatus.ON_TRACK, "Accredited in March"),
    ]:
        db.session.add(
            CommitmentUpdate(
                return_=last,
                commitment=setting[name],
                status=status,
                narrative=words,
                complete=True,
            )
        )
    db.session.flush()
    sign_in(client, setting["lead"])
    # This quarter the last commitment is done already.
    assert save(client, setting, setting["trees"], status="completed").status_code == 302

    page = get_page(client, update_url(setting, setting["wage"]))
    assert page.h1 == "Pay the Real Living Wage"
    assert "Last quarter: On track" in page.text and "Accredited in March" in page.text
    assert "Planning delays" not in page.text
    page = get_page(client, update_url(setting, setting["trees"]))
    assert page.soup.find("input", {"name": "status", "value": "completed"}).has_attr("checked")
    assert "Last quarter" not in page.text  # nothing was reported for it
    heading = db.session.scalar(sa.select(Commitment).where(Commitment.is_heading.is_(True)))
    assert client.get(update_url(setting, heading)).status_code == 404

    # Saving the second goes round, past the finished third, to the first; then to checking.
    response = save(client, setting, setting["wage"], narrative="Still accredited")
    assert response.headers["Location"].endswith(update_url(setting, setting["homes"]))
    response = save(client, setting, setting["homes"], narrative="Still planning")
    assert response.headers["Location"].endswith(url(setting, "/check"))


@time_machine.travel(DURING, tick=False)
def test_board_reads_but_cannot_change(client, db_session, setting):
    board = make_user(db_session, Role.BOARD)
    sign_in(client, board)
    page = get_page(client, url(setting))
    assert "Read all the answers" in page.text
    assert client.get(update_url(setting, setting["homes"])).status_code == 403
    assert client.post(url(setting, "/submit")).status_code == 403


@time_machine.travel(DURING, tick=False)
def test_another_organisations_lead_gets_404(client, db_session, setting):
    other = make_user(db_session, Role.LEAD, organisations=[make_organisation(db_session)])
    sign_in(client, other)
    for path in [url(setting), update_url(setting, setting["homes"]), url(setting, "/check")]:
        assert client.get(path).status_code == 404, path
    assert client.post(url(setting, "/submit")).status_code == 404


@time_machine.travel(DURING, tick=False)
def test_bad_input_gets_an_error_summary_and_saves_nothing(client, db_session, setting):
    sign_in(client, setting["lead"])
    cases = [
        {"status": "on_track", "progress_value": "lots"},
        {"status": "on_track", "progress_value": "-5"},
        {"status": "on_track", "evidence_url": "javascript:alert(1)"},
        {"status": "on_track", "narrative": "x" * 6000},
        {"status": "discontinued"},
        {"status": "purple"},
    ]
    for fields in cases:
        response = save(client, setting, setting["homes"], **fields)
        assert response.status_code == 200, fields
        assert b"govuk-error-summary" in response.data, fields
        assert b"<title>Error:" in response.data
    assert db.session.scalar(sa.select(sa.func.count()).select_from(CommitmentUpdate)) == 0


@time_machine.travel(DURING, tick=False)
def test_evidence_files_are_checked_and_served_only_to_those_allowed(
    app, client, db_session, setting
):
    import io

    sign_in(client, setting["lead"])
    response = client.post(
        update_url(setting, setting["homes"]),
        data={
            "status": "on_track",
            "save": "yes",
            "evidence_file": (io.BytesIO(b"<html><script>x</script></html>"), "report.pdf"),
        },
        content_type="multipart/form-data",
    )
    assert b"The selected file must be" in response.data
    pdf = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
    response = client.post(
        update_url(setting, setting["homes"]),
        data={
            "status": "on_track",
            "save": "yes",
            "evidence_file": (io.BytesIO(pdf), "report.pdf"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    row = db.session.scalar(sa.select(CommitmentUpdate))
    assert row.evidence_grade == EvidenceGrade.EVIDENCE_ATTACHED
    link = get_page(client, url(setting, "/check")).link("report.pdf")
    assert link == update_url(setting, setting["homes"]) + f"/evidence/{row.evidence_files[0].id}"
    download = client.get(link)
    assert download.status_code == 200 and download.data == pdf
    assert "attachment" in download.headers["Content-Disposition"]
    download.close()
    outsider = app.test_client()
    sign_in(
        outsider, make_user(db_session, Role.LEAD, organisations=[make_organisation(db_session)])
    )
    assert outsider.get(link).status_code == 404
    assert app.test_client().get(link).status_code == 302


def test_a_return_cannot_start_before_its_window_opens(client, db_session, setting):
    with time_machine.travel(datetime(2024, 6, 1, tzinfo=UTC), tick=False):
        sign_in(client, setting["lead"])
        page = get_page(client, url(setting))
        assert "This return opens on 16 June 2024" in page.text
        assert save(client, setting, setting["homes"]).status_code == 302
    assert db.session.scalar(sa.select(sa.func.count()).select_from(CommitmentUpdate)) == 0


def test_admins_can_verify_evidence(client, db_session, setting):
    from tracker.services import returns as service

    with time_machine.travel(DURING, tick=False):
        service.save_update(
            setting["org"],
            setting["period"],
            setting["homes"],
            service.UpdateInput(
                status=DeliveryStatus.ON_TRACK, evidence_url="https://example.org/r"
            ),
            version=None,
            complete=True,
            actor=setting["lead"],
            today=DURING.date(),
        )
        db.session.flush()
        sign_in(client, setting["admin"])
        row = db.session.scalar(sa.select(CommitmentUpdate))
        response = client.post(
            f"/admin/returns/{setting['period'].slug}/active-luton/updates/{row.id}/verify"
        )
        assert response.status_code == 302
        db.session.refresh(row)
        assert (
            row.evidence_grade == EvidenceGrade.VERIFIED
            and row.verified_by_id == setting["admin"].id
        )
