"""Revisions proposed by leads and decided by admins (issue 15), on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import sqlalchemy as sa

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
from tests.support.pages import get_page, post_page
from tracker.domain.calendar import Quarter
from tracker.domain.enums import ProposalState, ReturnState, Role
from tracker.extensions import db
from tracker.models import AuditEvent, Commitment, CommitmentProposal, Notification, TargetChange


def setting(db_session):
    place = make_place(db_session)
    organisation = make_organisation(db_session, "Integrated Care Board", slug="icb")
    commitment = make_commitment(
        db_session,
        organisation,
        original_text="Reduce health inequalities",
        title="Reduce health inequalities",
        primary_priority_id=place.priorities[1].id,
        metric="people helped",
        target_value=Decimal("100"),
    )
    lead = make_user(db_session, Role.LEAD, organisations=[organisation], name="Lee Lead")
    admin = make_user(db_session, Role.ADMIN, name="Ada Admin")
    return organisation, commitment, lead, admin


def propose(client, commitment, *, before_sending=None, **changes):
    page = get_page(client, f"/organisations/icb/commitments/{commitment.id}/propose")
    if before_sending:
        before_sending()
    form = page.soup.select_one("main form[method=post]")
    data: dict[str, list[str]] = {}
    for field in form.find_all(["input", "textarea"]):
        name = field.get("name")
        if not name or field.get("type") == "submit":
            continue
        if field.get("type") == "radio" and not field.has_attr("checked"):
            continue
        value = field.get_text() if field.name == "textarea" else field.get("value", "")
        data.setdefault(name, []).append(value)
    data.update(changes)
    return client.post(f"/organisations/icb/commitments/{commitment.id}/propose", data=data)


def audit_actions() -> list[tuple[str, str]]:
    return [
        (e.entity_type, e.action)
        for e in db.session.scalars(sa.select(AuditEvent).order_by(AuditEvent.id))
    ]


def test_a_leads_proposal_approved_by_an_admin_changes_the_commitment_and_the_audit_log(
    client, db_session
):
    organisation, commitment, lead, admin = setting(db_session)
    # Reported against already: a changed target is a moved goalpost.
    period = make_period(db_session, Quarter(2024, 1))
    return_ = make_return(
        db_session,
        organisation,
        period,
        state=ReturnState.ACCEPTED,
        submitted_at=datetime(2024, 7, 10, tzinfo=UTC),
        reviewed_at=datetime(2024, 7, 12, tzinfo=UTC),
    )
    make_update(db_session, return_, commitment)
    sign_in(client, lead)
    shown = get_page(client, f"/organisations/icb/commitments/{commitment.id}")
    assert shown.link("Propose a change to the wording or target") == (
        f"/organisations/icb/commitments/{commitment.id}/propose"
    )
    response = propose(
        client,
        commitment,
        target_value="250",
        target_date=["31", "3", "2027"],
        reason="Revised to include SMART targets, as our pledge said it would be",
    )
    assert response.status_code == 302, response.get_data(as_text=True).split(
        "error-summary__list"
    )[-1][:900]
    db.session.expire_all()
    assert commitment.target_value == Decimal("100")  # nothing changes until approved
    listed = get_page(client, "/organisations/icb/commitments/proposals")
    assert "Pending" in listed.text

    sign_in(client, admin)
    overview = get_page(client, "/admin")
    assert "1 proposed revision waiting" in overview.text
    queue = get_page(client, overview.link("1 proposed revision waiting"))
    decide = get_page(client, queue.link("Change to: Reduce health inequalities"))
    assert "250" in decide.text and "2027-03-31" in decide.text
    response = client.post(
        decide.response.request.path, data={"decision": "approve", "comment": "Agreed"}
    )
    assert response.status_code == 302

    db.session.expire_all()
    assert commitment.target_value == Decimal("250")
    assert commitment.target_date == date(2027, 3, 31)
    moved = db.session.scalars(
        sa.select(TargetChange).where(TargetChange.commitment_id == commitment.id)
    ).all()
    # Adding a deadline that was missing is not moving it; changing the target is.
    assert [(m.field, m.old_value, m.new_value) for m in moved] == [("target_value", "100", "250")]
    assert "Revised to include SMART targets" in moved[0].reason
    actions = audit_actions()
    assert ("commitment_proposal", "proposed a change") in actions
    assert ("commitment", "updated") in actions
    assert actions[-1] == ("commitment_proposal", "approved")
    email = db.session.scalar(
        sa.select(Notification).where(Notification.kind == "proposal_decided")
    )
    assert email.recipient_email == lead.email
    assert "approved" in email.subject and "Agreed" in email.body_text
    # The moved goalpost is public, as every moved goalpost is.
    client.post("/sign-out")
    public = get_page(client, "/organisations/icb")
    assert "Moved goalposts" in public.text
    assert "Revised to include SMART targets" in public.text


def test_a_declined_proposal_changes_nothing_but_its_state_and_tells_the_lead(client, db_session):
    _organisation, commitment, lead, admin = setting(db_session)
    sign_in(client, lead)
    propose(client, commitment, original_text="Something else entirely", reason="Rethink")
    proposal = db.session.scalar(sa.select(CommitmentProposal))
    version = commitment.version

    sign_in(client, admin)
    page = post_page(client, f"/admin/proposals/{proposal.id}", {"decision": "decline"})
    assert page.errors == ["Tell the lead why you are declining it"]
    client.post(
        f"/admin/proposals/{proposal.id}",
        data={"decision": "decline", "comment": "Keep the pledge as signed"},
    )
    db.session.expire_all()
    assert commitment.original_text == "Reduce health inequalities"
    assert commitment.version == version
    assert proposal.state == ProposalState.DECLINED
    assert db.session.scalar(sa.select(sa.func.count()).select_from(TargetChange)) == 0
    assert audit_actions()[-1] == ("commitment_proposal", "declined")
    email = db.session.scalar(
        sa.select(Notification).where(Notification.kind == "proposal_decided")
    )
    assert "declined" in email.subject and "Keep the pledge as signed" in email.body_text
    # Decided once: a second decision is refused.
    page = post_page(
        client, f"/admin/proposals/{proposal.id}", {"decision": "approve", "comment": ""}
    )
    assert "already declined" in page.text


def test_approving_a_proposal_whose_commitment_changed_since_is_refused(client, db_session):
    _organisation, commitment, lead, admin = setting(db_session)
    sign_in(client, lead)
    propose(client, commitment, metric="people in work", reason="Clearer")
    proposal = db.session.scalar(sa.select(CommitmentProposal))
    commitment.title = "Changed by someone else"
    db.session.flush()

    sign_in(client, admin)
    page = post_page(client, f"/admin/proposals/{proposal.id}", {"decision": "approve"}, status=409)
    assert any("changed since this was proposed" in e for e in page.errors)
    db.session.expire_all()
    assert commitment.metric == "people helped"
    assert proposal.state == ProposalState.PENDING


def test_a_lead_proposes_a_new_commitment_and_approval_adds_it(client, db_session):
    _organisation, _commitment, lead, admin = setting(db_session)
    sign_in(client, lead)
    page = post_page(client, "/organisations/icb/commitments/propose", {"original_text": ""})
    assert page.errors == ["Enter the commitment's wording", "Give the reason for the revision"]
    client.post(
        "/organisations/icb/commitments/propose",
        data={
            "original_text": "Offer 20 health apprenticeships a year",
            "metric": "apprenticeships",
            "target_value": "20",
            "reason": "A new programme",
        },
    )
    proposal = db.session.scalar(sa.select(CommitmentProposal))
    assert proposal.is_new
    sign_in(client, admin)
    client.post(f"/admin/proposals/{proposal.id}", data={"decision": "approve"})
    added = db.session.scalar(
        sa.select(Commitment).filter_by(original_text="Offer 20 health apprenticeships a year")
    )
    assert added.metric == "apprenticeships" and added.target_value == Decimal("20")
    assert added.maintained_in_app


def test_a_lead_proposes_only_for_their_own_organisation(client, db_session):
    _organisation, commitment, lead, _admin = setting(db_session)
    other = make_organisation(db_session, "Other", slug="other")
    outsider = make_user(db_session, Role.LEAD, organisations=[other])
    board = make_user(db_session, Role.BOARD)
    sign_in(client, outsider)
    assert client.get(f"/organisations/icb/commitments/{commitment.id}/propose").status_code == 404
    assert client.post("/organisations/icb/commitments/propose", data={}).status_code == 404
    sign_in(client, board)
    assert client.get("/organisations/icb/commitments/propose").status_code == 403
    sign_in(client, lead)
    assert client.get("/admin/proposals").status_code == 403
    assert db.session.scalar(sa.select(sa.func.count()).select_from(CommitmentProposal)) == 0


def test_two_admins_deciding_one_proposal_at_once_apply_it_once(tmp_path_factory):
    """On PostgreSQL, with real commits from two threads: one decision wins, nothing doubles."""
    import threading

    from tests.conftest import postgres_app
    from tests.test_returns_concurrency import run_at_once
    from tracker.models import User
    from tracker.services import proposals

    with postgres_app(tmp_path_factory.mktemp("proposals")) as app:
        with app.app_context(), app.test_request_context():
            make_place(db.session)
            organisation = make_organisation(db.session, "Zeta", slug="zeta")
            lead = make_user(db.session, Role.LEAD, organisations=[organisation])
            admins = [make_user(db.session, Role.ADMIN).id for _ in range(2)]
            proposal = proposals.propose_new(
                organisation, {"original_text": "Plant a community orchard"}, "New", actor=lead
            )
            db.session.commit()
            proposal_id = proposal.id

        def decide(index: int, barrier: threading.Barrier):  # type: ignore[no-untyped-def]
            with app.app_context(), app.test_request_context():
                found = db.session.get(CommitmentProposal, proposal_id)
                admin = db.session.get(User, admins[index])
                barrier.wait()
                try:
                    proposals.approve(
                        found, "", actor=admin, today=date(2025, 1, 1), now=datetime.now(UTC)
                    )
                    db.session.commit()
                    return "approved"
                except proposals.ProposalError as error:
                    db.session.rollback()
                    return str(error)
                finally:
                    db.session.remove()

        results = run_at_once(2, decide)
        assert sorted(results) == ["This proposal was already approved", "approved"]
        with app.app_context():
            made = db.session.scalars(
                sa.select(Commitment).filter_by(original_text="Plant a community orchard")
            ).all()
            assert len(made) == 1
            emails = db.session.scalars(
                sa.select(Notification).where(Notification.kind == "proposal_decided")
            ).all()
            assert len(emails) == 1


def test_a_proposal_from_a_form_older_than_the_commitment_is_refused(client, db_session):
    _organisation, commitment, lead, _admin = setting(db_session)
    sign_in(client, lead)

    def someone_else_edits() -> None:
        commitment.metric = "people seen within 18 weeks"
        db.session.flush()

    response = propose(
        client, commitment, before_sending=someone_else_edits, target_value="150", reason="More"
    )
    assert response.status_code == 409
    assert "Someone changed this commitment while you were writing" in response.get_data(
        as_text=True
    )
    assert "people seen within 18 weeks" in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(CommitmentProposal)) == 0
