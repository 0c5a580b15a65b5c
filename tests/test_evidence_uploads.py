"""The update form's evidence: one round of checks, pending uploads, several files, downloads."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
import time_machine

from tests.factories import (
    make_commitment,
    make_evidence_file,
    make_organisation,
    make_period,
    make_place,
    make_return,
    make_update,
    make_user,
)
from tests.support.auth import sign_in
from tests.support.pages import Page, get_page, post_page
from tracker import evidence
from tracker.domain.calendar import Quarter
from tracker.domain.enums import DeliveryStatus, EvidenceGrade, ReturnState, Role
from tracker.extensions import db
from tracker.models import CommitmentUpdate, ReportingPeriod, Return
from tracker.services import returns as service

Q1 = Quarter(2024, 1)  # window opens 16 June 2024, due 21 July
DURING = datetime(2024, 7, 1, 10, 0, tzinfo=UTC)
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
NOT_KEPT = "The file was not kept: choose it again"

pytestmark = pytest.mark.usefixtures("db_session")


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
        "lead": make_user(db_session, Role.LEAD, organisations=[org], name="Lee Lead"),
        "homes": homes,
        "trees": trees,
    }


def _folder(app) -> Path:
    # Inside the test's own app context: a context of its own would end the test's session.
    return evidence.evidence_folder()


def update_url(setting, commitment=None) -> str:
    commitment = commitment or setting["homes"]
    return (
        f"/organisations/{setting['org'].slug}/returns/{setting['period'].slug}"
        f"/commitments/{commitment.id}"
    )


def a_file(content: bytes, name: str) -> tuple[io.BytesIO, str]:
    return (io.BytesIO(content), name)


def stored_keys(folder: Path) -> set[str]:
    return {path.name for path in folder.glob("*/*") if not path.name.startswith(".")}


def the_update(commitment, period=Q1) -> CommitmentUpdate | None:
    """The commitment's update in this quarter's return, as the database holds it now."""
    db.session.expire_all()
    return db.session.scalar(
        sa.select(CommitmentUpdate)
        .join(Return, Return.id == CommitmentUpdate.return_id)
        .join(ReportingPeriod, ReportingPeriod.id == Return.period_id)
        .where(CommitmentUpdate.commitment_id == commitment.id, ReportingPeriod.slug == period.slug)
    )


def pending_tokens(page: Page) -> list[str]:
    return [i["value"] for i in page.soup.find_all("input", {"name": "pending_upload"})]


def version_on(page: Page) -> str:
    return page.soup.find("input", {"name": "version"})["value"]


# One round of checks, and the pending upload -------------------------------------------------


@time_machine.travel(DURING, tick=False)
def test_one_post_shows_every_problem_and_keeps_an_acceptable_file(client, setting, app):
    folder = _folder(app)
    sign_in(client, setting["lead"])
    before = stored_keys(folder)

    page = post_page(
        client,
        update_url(setting),
        {
            "status": "at_risk",
            "progress_value": "lots",
            "narrative": "",
            "evidence_url": "not a link",
            "evidence_file": a_file(PDF, "report.pdf"),
            "save": "yes",
        },
    )

    assert page.title.startswith("Error:")
    assert page.errors == [
        "Progress so far must be a number, like 120 or 45.5",
        "Explain what is holding the commitment back",
        "Enter the evidence link in the correct format, like https://www.example.org/report",
    ]
    # Each message leads to its field.
    for href in page.error_links:
        assert page.soup.find(id=href.removeprefix("#")) is not None, href
    assert "You chose report.pdf. It will be attached when you save." in page.text
    assert len(pending_tokens(page)) == 1
    assert len(stored_keys(folder) - before) == 1  # kept, waiting
    assert the_update(setting["homes"]) is None  # nothing saved

    # Put right, and saved: the file chosen the first time is attached.
    response = client.post(
        update_url(setting),
        data={
            "status": "at_risk",
            "progress_value": "120",
            "narrative": "Planning delays on two sites",
            "evidence_url": "https://example.org/plan",
            "pending_upload": pending_tokens(page),
            "save": "yes",
        },
    )
    assert response.status_code == 302
    row = the_update(setting["homes"])
    assert [f.name for f in row.evidence_files] == ["report.pdf"]
    assert row.evidence_files[0].uploaded_by_id == setting["lead"].id
    assert row.evidence_grade == EvidenceGrade.EVIDENCE_ATTACHED
    page = get_page(client, update_url(setting))
    download = client.get(page.link("report.pdf"))
    assert download.status_code == 200 and download.data == PDF
    download.close()


@time_machine.travel(DURING, tick=False)
def test_a_refused_file_is_reported_with_the_rest_and_not_kept(client, setting, app):
    folder = _folder(app)
    sign_in(client, setting["lead"])
    before = stored_keys(folder)

    page = post_page(
        client,
        update_url(setting),
        {
            "status": "off_track",
            "evidence_file": a_file(b"<html><script>alert(1)</script></html>", "report.pdf"),
            "save": "yes",
        },
    )

    assert page.errors == [
        "Explain what is holding the commitment back",
        "The selected file must be a PDF, Word, Excel, PowerPoint, OpenDocument, CSV, text"
        f" or image file. {NOT_KEPT}",
    ]
    assert page.error_links[-1] == "#evidence_file"
    assert "You chose" not in page.text and pending_tokens(page) == []
    assert stored_keys(folder) == before


@time_machine.travel(DURING, tick=False)
def test_a_draft_may_be_half_done_but_not_malformed(client, setting, app):
    sign_in(client, setting["lead"])
    folder = _folder(app)
    before = stored_keys(folder)
    page = post_page(
        client,
        update_url(setting),
        {
            "status": "at_risk",
            "progress_value": "-5",
            "evidence_url": "javascript:alert(1)",
            "evidence_file": a_file(b"", "empty.pdf"),
            "draft": "yes",
        },
    )
    assert page.errors == [
        "Progress value must be 0 or more",
        "Enter the evidence link in the correct format, like https://www.example.org/report",
        f"The selected file is empty. {NOT_KEPT}",
    ]
    assert stored_keys(folder) == before
    # At risk without a word yet is a fine draft.
    response = client.post(update_url(setting), data={"status": "at_risk", "draft": "yes"})
    assert response.status_code == 302
    assert the_update(setting["homes"]).complete is False


@time_machine.travel(DURING, tick=False)
def test_a_pending_file_can_be_left_out(client, setting):
    sign_in(client, setting["lead"])
    page = post_page(
        client,
        update_url(setting),
        {"status": "off_track", "evidence_file": a_file(PDF, "wrong.pdf"), "save": "yes"},
    )
    [token] = pending_tokens(page)
    key = page.soup.find("input", {"name": "drop_pending"})["value"]
    label = page.soup.find(
        "label", {"for": page.soup.find("input", {"name": "drop_pending"})["id"]}
    )
    assert label.get_text(strip=True) == "Do not attach wrong.pdf"

    response = client.post(
        update_url(setting),
        data={
            "status": "off_track",
            "narrative": "Delayed",
            "pending_upload": token,
            "drop_pending": key,
            "save": "yes",
        },
    )
    assert response.status_code == 302
    assert the_update(setting["homes"]).evidence_files == []


@time_machine.travel(DURING, tick=False)
def test_a_stale_save_keeps_the_chosen_file_pending(app, client, setting):
    other = app.test_client()
    sign_in(client, setting["lead"])
    sign_in(other, make_user(db.session, Role.LEAD, organisations=[setting["org"]]))
    client.post(update_url(setting), data={"status": "on_track", "draft": "yes"})
    version = version_on(get_page(client, update_url(setting)))
    other_version = version_on(get_page(other, update_url(setting)))
    other.post(
        update_url(setting),
        data={
            "status": "on_track",
            "narrative": "their words",
            "version": other_version,
            "draft": "yes",
        },
    )

    page = post_page(
        client,
        update_url(setting),
        {
            "status": "on_track",
            "narrative": "my words",
            "version": version,
            "evidence_file": a_file(PDF, "mine.pdf"),
            "save": "yes",
        },
        status=409,
    )
    assert "their words" in page.text and "my words" in page.text
    assert "You chose mine.pdf. It will be attached when you save." in page.text

    response = client.post(
        update_url(setting),
        data={
            "status": "on_track",
            "narrative": "my words, after reading theirs",
            "version": version_on(page),
            "pending_upload": pending_tokens(page),
            "save": "yes",
        },
    )
    assert response.status_code == 302
    assert [f.name for f in the_update(setting["homes"]).evidence_files] == ["mine.pdf"]


def test_a_forged_expired_or_misplaced_token_is_ignored(app, client, setting):
    colleague = make_user(db.session, Role.LEAD, organisations=[setting["org"]])
    with time_machine.travel(DURING, tick=False):
        sign_in(client, setting["lead"])
        page = post_page(
            client,
            update_url(setting),
            {"status": "off_track", "evidence_file": a_file(PDF, "mine.pdf"), "save": "yes"},
        )
        [token] = pending_tokens(page)
        key = page.soup.find("input", {"name": "drop_pending"})["value"]
        forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")

        def save_with(client, token, commitment=None):
            version = version_on(get_page(client, update_url(setting, commitment)))
            response = client.post(
                update_url(setting, commitment),
                data={
                    "status": "on_track",
                    "pending_upload": token,
                    "version": version,
                    "draft": "yes",
                },
            )
            assert response.status_code == 302, response.status_code
            return the_update(commitment or setting["homes"])

        # A forged token, or a bare storage key, attaches nothing.
        assert save_with(client, forged).evidence_files == []
        assert save_with(client, key, setting["trees"]).evidence_files == []
        # Another commitment's form is not the place it was chosen for.
        assert save_with(client, token, setting["trees"]).evidence_files == []
        # Nor is it anyone else's to attach.
        other = app.test_client()
        sign_in(other, colleague)
        page = get_page(other, update_url(setting))
        response = other.post(
            update_url(setting),
            data={
                "status": "on_track",
                "pending_upload": token,
                "version": version_on(page),
                "draft": "yes",
            },
        )
        assert response.status_code == 302
        assert the_update(setting["homes"]).evidence_files == []

    # A day later the token has expired.
    with time_machine.travel(DURING + timedelta(days=1, minutes=1), tick=False):
        sign_in(client, setting["lead"])
        page = get_page(client, update_url(setting))
        response = client.post(
            update_url(setting),
            data={
                "status": "on_track",
                "pending_upload": token,
                "version": version_on(page),
                "draft": "yes",
            },
        )
        assert response.status_code == 302
        assert the_update(setting["homes"]).evidence_files == []


# Several files, each removable ----------------------------------------------------------------


@time_machine.travel(DURING, tick=False)
def test_two_uploads_give_two_files_and_removing_one_keeps_the_other(client, setting, app):
    folder = _folder(app)
    sign_in(client, setting["lead"])

    def save(**fields):
        page = get_page(client, update_url(setting))
        data = {"status": "completed", "version": version_on(page), "draft": "yes", **fields}
        response = client.post(update_url(setting), data=data, content_type="multipart/form-data")
        assert response.status_code == 302, response.get_data(as_text=True)[-2000:]
        return the_update(setting["homes"])

    save(evidence_file=a_file(PDF, "Site survey.pdf"))
    row = save(evidence_file=a_file(PNG, "photo.png"))
    assert [(f.name, f.content_type) for f in row.evidence_files] == [
        ("Site survey.pdf", "application/pdf"),
        ("photo.png", "image/png"),
    ]
    survey, photo = row.evidence_files
    page = get_page(client, update_url(setting))
    listed = [a.get_text(strip=True) for a in page.soup.select("#evidence-files a")]
    assert listed == ["Site survey.pdf", "photo.png"]
    assert "(PDF, " in page.text and "(PNG image, 40 bytes)" in page.text
    check = get_page(client, update_url(setting).split("/commitments/")[0] + "/check")
    assert "Site survey.pdf" in check.text and "photo.png" in check.text

    row = save(remove_files=[str(survey.id)])
    assert [f.name for f in row.evidence_files] == ["photo.png"]
    assert row.evidence_grade == EvidenceGrade.EVIDENCE_ATTACHED
    # The removed file is gone from the store (after the commit); the other is still there.
    assert not evidence.path_for(survey.key, folder).exists()
    assert evidence.path_for(photo.key, folder).exists()

    row = save(remove_files=[str(photo.id)])
    assert row.evidence_files == [] and row.evidence_grade == EvidenceGrade.SELF_DECLARED
    assert not evidence.path_for(photo.key, folder).exists()


@time_machine.travel(DURING, tick=False)
def test_an_update_holds_at_most_ten_files(client, setting, app, db_session):
    return_ = service.return_for(setting["org"], setting["period"])
    update = make_update(db_session, return_, setting["homes"], status=DeliveryStatus.ON_TRACK)
    for n in range(10):
        make_evidence_file(db_session, update, name=f"file {n}.pdf")
    folder = _folder(app)
    before = stored_keys(folder)
    sign_in(client, setting["lead"])
    page = get_page(client, update_url(setting))
    assert len(page.soup.select("#evidence-files li")) == 10

    page = post_page(
        client,
        update_url(setting),
        {
            "status": "on_track",
            "version": version_on(page),
            "evidence_file": a_file(PDF, "eleven.pdf"),
            "save": "yes",
        },
    )
    assert page.errors == [
        "An update can have up to 10 files: remove one before you add another. " + NOT_KEPT
    ]
    assert stored_keys(folder) == before


def test_a_verified_grade_stays_while_evidence_does_and_goes_with_the_last_of_it(
    db_session, setting
):
    admin = make_user(db_session, Role.ADMIN)
    with time_machine.travel(DURING, tick=False):
        row = service.save_update(
            setting["org"],
            setting["period"],
            setting["homes"],
            service.UpdateInput(
                status=DeliveryStatus.ON_TRACK,
                files=(
                    evidence.StoredFile("a" * 32, "one.pdf", "application/pdf", 10),
                    evidence.StoredFile("b" * 32, "two.pdf", "application/pdf", 10),
                ),
            ),
            version=None,
            complete=True,
            actor=setting["lead"],
            today=DURING.date(),
        )
        service.verify_evidence(row, actor=admin, now=DURING)

        def keep(*removing):
            ids = frozenset(f.id for f in row.evidence_files if f.name in removing)
            return service.save_update(
                setting["org"],
                setting["period"],
                setting["homes"],
                service.UpdateInput(status=DeliveryStatus.ON_TRACK, remove_files=ids),
                version=row.version,
                complete=True,
                actor=setting["lead"],
                today=DURING.date(),
            )

        assert keep("one.pdf").evidence_grade == EvidenceGrade.VERIFIED
        assert keep("two.pdf").evidence_grade == EvidenceGrade.SELF_DECLARED


# Downloads ---------------------------------------------------------------------------------


@time_machine.travel(DURING, tick=False)
def test_a_file_is_served_only_to_those_allowed_to_see_the_return(app, client, setting):
    sign_in(client, setting["lead"])
    client.post(
        update_url(setting),
        data={"status": "on_track", "evidence_file": a_file(PDF, "report.pdf"), "save": "yes"},
        content_type="multipart/form-data",
    )
    [file] = the_update(setting["homes"]).evidence_files
    url = f"{update_url(setting)}/evidence/{file.id}"

    def status_for(user, path=url) -> int:
        visitor = app.test_client()
        if user is not None:
            sign_in(visitor, user)
        response = visitor.get(path)
        response.close()
        return response.status_code

    elsewhere = make_organisation(db.session)
    assert status_for(setting["lead"]) == 200
    assert status_for(make_user(db.session, Role.ADMIN)) == 200
    assert status_for(make_user(db.session, Role.BOARD)) == 200
    assert status_for(make_user(db.session, Role.LEAD, organisations=[elsewhere])) == 404
    assert status_for(None) == 302  # to sign in
    # The file's id under another commitment, period or organisation answers 404.
    assert (
        status_for(setting["lead"], f"{update_url(setting, setting['trees'])}/evidence/{file.id}")
        == 404
    )
    later = make_period(db.session, Q1.next())
    assert status_for(setting["lead"], url.replace(setting["period"].slug, later.slug)) == 404
    their_lead = make_user(db.session, Role.LEAD, organisations=[elsewhere])
    assert status_for(their_lead, url.replace("active-luton", elsewhere.slug)) == 404
    assert status_for(setting["lead"], f"{update_url(setting)}/evidence/{file.id + 1000}") == 404


# Last quarter's words ------------------------------------------------------------------------


@time_machine.travel(DURING, tick=False)
def test_the_form_quotes_last_quarters_narrative_safely(client, setting, db_session):
    last = make_return(
        db_session,
        setting["org"],
        make_period(db_session, Q1.previous()),
        state=ReturnState.ACCEPTED,
        submitted_at=datetime(2024, 4, 10, tzinfo=UTC),
    )
    make_update(
        db_session,
        last,
        setting["homes"],
        status=DeliveryStatus.AT_RISK,
        progress_value=Decimal(80),
        narrative="Planning delays.\nTwo sites <b>stuck</b>.",
    )
    sign_in(client, setting["lead"])
    page = get_page(client, update_url(setting))
    assert "Last quarter: At risk , progress 80." in page.text
    assert "Last quarter you wrote:" in page.text
    quoted = page.soup.find(id="last-quarter-narrative")
    assert "app-preserve-lines" in quoted["class"]
    assert quoted.get_text() == "“Planning delays.\nTwo sites <b>stuck</b>.”"
    assert quoted.find("b") is None  # escaped, not markup


@pytest.mark.parametrize(
    "fields",
    [
        {"remove_files": ["abc", "-1", "99999999999999999999"]},
        {"pending_upload": ["\x00", "x" * 5000, "é.ü", ""]},
        {"drop_pending": ["../../etc/passwd", "\x00"]},
        {"pending_upload": "A" * 32},
    ],
)
@time_machine.travel(DURING, tick=False)
def test_tampered_evidence_fields_never_give_a_500_or_a_file(client, setting, fields):
    sign_in(client, setting["lead"])
    response = client.post(
        update_url(setting), data={"status": "on_track", "save": "yes", **fields}
    )
    assert response.status_code in {200, 302}
    if response.status_code == 200:
        assert b"govuk-error-summary" in response.data
    row = the_update(setting["homes"])
    assert row is None or row.evidence_files == []


@time_machine.travel(DURING, tick=False)
def test_another_updates_file_cannot_be_removed_through_this_form(client, setting, db_session):
    return_ = service.return_for(setting["org"], setting["period"])
    trees = make_update(db_session, return_, setting["trees"])
    theirs = make_evidence_file(db_session, trees, name="trees.pdf")
    sign_in(client, setting["lead"])
    response = client.post(
        update_url(setting),
        data={"status": "on_track", "remove_files": str(theirs.id), "save": "yes"},
    )
    assert response.status_code == 302
    assert [f.name for f in the_update(setting["trees"]).evidence_files] == ["trees.pdf"]


@time_machine.travel(DURING, tick=False)
def test_a_form_sent_again_after_saving_attaches_its_file_once(client, setting):
    sign_in(client, setting["lead"])
    page = post_page(
        client,
        update_url(setting),
        {"status": "off_track", "evidence_file": a_file(PDF, "report.pdf"), "save": "yes"},
    )
    again = {
        "status": "off_track",
        "narrative": "Delayed",
        "pending_upload": pending_tokens(page),
        "save": "yes",
    }
    assert client.post(update_url(setting), data=again).status_code == 302
    # The same form again, from the browser's history: someone (this lead) saved since.
    page = post_page(client, update_url(setting), again, status=409)
    assert "You chose report.pdf" not in page.text
    assert [a.get_text(strip=True) for a in page.soup.select("#evidence-files a")] == ["report.pdf"]
    assert [f.name for f in the_update(setting["homes"]).evidence_files] == ["report.pdf"]


@time_machine.travel(DURING, tick=False)
def test_no_change_since_last_quarter_still_attaches_the_file_chosen(client, setting, db_session):
    last = make_return(
        db_session,
        setting["org"],
        make_period(db_session, Q1.previous()),
        state=ReturnState.ACCEPTED,
        submitted_at=datetime(2024, 4, 10, tzinfo=UTC),
    )
    make_update(db_session, last, setting["homes"], narrative="On site since March")
    sign_in(client, setting["lead"])
    response = client.post(
        update_url(setting),
        data={"no_change": "yes", "evidence_file": a_file(PDF, "photo.pdf")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    row = the_update(setting["homes"])
    assert row.no_change and row.narrative == "On site since March"
    assert [f.name for f in row.evidence_files] == ["photo.pdf"]
