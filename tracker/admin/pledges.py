"""The programme team keeps pledges current: import the page, triage what it flagged, maintain
commitments, and decide leads' proposed revisions. Routes join the admin blueprint."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError

from tracker.admin.forms import OrganisationSearchForm
from tracker.admin.pledge_forms import (
    CommitmentTextForm,
    ConfirmImportForm,
    DecisionForm,
    ImportForm,
    LeadInForm,
    NameForm,
    PriorityForm,
    RetireForm,
    StatementForm,
)
from tracker.admin.routes import actor, admin_only, bp, list_asked
from tracker.domain.calendar import period_for
from tracker.extensions import db
from tracker.forms import whole_number
from tracker.models import Commitment, CommitmentProposal, Organisation
from tracker.services import pledge_upload, pledges, proposals
from tracker.services.commitments import place_priorities
from tracker.services.organisations import organisation_by_slug


def _now() -> datetime:
    return datetime.now(UTC)


def _today():  # type: ignore[no-untyped-def]
    from tracker.services.job_runs import today_in_place

    return today_in_place()


# Import ----------------------------------------------------------------------------------------


@bp.route("/pledges/import", methods=["GET", "POST"])
@admin_only
def import_pledges() -> ResponseReturnValue:
    form = ImportForm()
    if form.validate_on_submit():
        upload = form.page_file.data
        data = None
        if upload:
            with upload.stream:  # a large upload is a temporary file: close it now
                data = upload.read(pledge_upload.MAX_PAGE_BYTES + 1)
        try:
            text, source = pledge_upload.read_page(
                data, upload.filename if upload else None, form.page_text.data
            )
            preview = pledge_upload.preview_import(text, source, now=_now())
        except pledge_upload.UploadError as error:
            field = form.page_text if error.field == "page_text" or not upload else form.page_file
            field.errors = [*field.errors, str(error)]
        else:
            return _preview_page(preview)
    return render_template("admin/pledges_import.html", form=form)


def _preview_page(
    preview: pledge_upload.Preview, *, stale: bool = False, status: int = 200
) -> ResponseReturnValue:
    confirm = ConfirmImportForm(
        formdata=None, text=preview.text, source=preview.source, digest=preview.digest
    )
    return render_template(
        "admin/pledges_preview.html",
        preview=preview,
        report=preview.report,
        form=confirm,
        stale=stale,
    ), status


@bp.post("/pledges/import/confirm")
@admin_only
def confirm_import() -> ResponseReturnValue:
    form = ConfirmImportForm()
    if not form.validate_on_submit() or not form.text.data or not form.digest.data:
        flash("The preview was lost: upload the page again")
        return redirect(url_for("admin.import_pledges"))
    try:
        done = pledge_upload.confirm_import(
            form.text.data,
            form.source.data or pledge_upload.PASTED,
            form.digest.data,
            actor=actor(),
            now=_now(),
        )
    except pledge_upload.StalePreview as stale:
        db.session.rollback()
        return _preview_page(stale.preview, stale=True, status=409)
    except pledge_upload.UploadError as error:
        db.session.rollback()
        flash(str(error))
        return redirect(url_for("admin.import_pledges"))
    db.session.commit()
    report = done.report
    if report.changed:
        flash(
            f"Imported {done.source}: {len(report.organisations_created)} organisations added, "
            f"{len(report.organisations_updated)} changed, {report.commitments_created} "
            f"commitments added, {len(report.commitments_removed)} no longer on the page",
            "success",
        )
    else:
        flash(f"Imported {done.source}: no changes", "success")
    return redirect(url_for("admin.pledge_review"))


# Triage ----------------------------------------------------------------------------------------


@bp.get("/pledges/review")
@admin_only
def pledge_review() -> ResponseReturnValue:
    """What the import flagged: the first few of each kind, with how many there are in all."""
    return render_template(
        "admin/pledges_review.html", items=pledges.open_items(), kinds=list(pledges.TriageKind)
    )


@bp.get("/pledges/review/<kind>")
@admin_only
def pledge_review_kind(kind: str) -> ResponseReturnValue:
    """Every open item of one kind the import flagged, a page at a time."""
    try:
        chosen = pledges.TriageKind(kind)
    except ValueError:
        abort(404)
    paging, rows = pledges.open_items_of_kind(chosen, whole_number(request.args.get("page")))
    return render_template("admin/pledges_review_kind.html", kind=chosen, paging=paging, rows=rows)


def _organisation_or_404(slug: str) -> Organisation:
    organisation = organisation_by_slug(slug)
    if organisation is None:
        abort(404)
    return organisation


def _commitment_or_404(commitment_id: int, organisation: Organisation | None = None) -> Commitment:
    commitment = db.session.get(Commitment, commitment_id)
    if commitment is None or (organisation and commitment.organisation_id != organisation.id):
        abort(404)
    return commitment


@bp.route("/pledges/review/names/<slug>", methods=["GET", "POST"])
@admin_only
def review_name(slug: str) -> ResponseReturnValue:
    organisation = _organisation_or_404(slug)
    form = NameForm()
    if request.method == "GET":
        form.name.data = organisation.name
    if form.validate_on_submit():
        pledges.confirm_name(organisation, form.name.data, actor=actor())
        db.session.commit()
        flash(f"Confirmed the name {organisation.name}", "success")
        return redirect(url_for("admin.pledge_review"))
    statement = pledges.pledge_of(organisation)
    return render_template(
        "admin/review_name.html",
        form=form,
        organisation=organisation,
        statement=statement.statement if statement else None,
    )


@bp.route("/pledges/review/commitments/<int:commitment_id>/priority", methods=["GET", "POST"])
@admin_only
def review_priority(commitment_id: int) -> ResponseReturnValue:
    commitment = _commitment_or_404(commitment_id)
    form = PriorityForm()
    form.set_priorities(place_priorities())
    if request.method == "GET" and commitment.primary_priority_id:
        form.primary_priority.data = str(commitment.primary_priority_id)
    if form.validate_on_submit():
        pledges.choose_priority(commitment, int(form.primary_priority.data), actor=actor())
        db.session.commit()
        flash("Saved the priority", "success")
        return redirect(url_for("admin.pledge_review"))
    return render_template("admin/review_priority.html", form=form, commitment=commitment)


@bp.route("/pledges/review/commitments/<int:commitment_id>/lead-in", methods=["GET", "POST"])
@admin_only
def review_lead_in(commitment_id: int) -> ResponseReturnValue:
    commitment = _commitment_or_404(commitment_id)
    if commitment.removed_from_page_at is not None:
        abort(404)
    following = pledges.next_commitment(commitment)
    form = LeadInForm()
    if request.method == "GET":
        form.commitments.data = commitment.original_text
    if form.validate_on_submit():
        try:
            if form.action.data == "split":
                made = pledges.split_commitment(
                    commitment,
                    (form.commitments.data or "").splitlines(),
                    actor=actor(),
                    today=_today(),
                    now=_now(),
                )
                message = f"Split into {len(made)} commitment{'s' if len(made) != 1 else ''}"
            elif form.action.data == "merge":
                pledges.merge_into_next(commitment, actor=actor(), today=_today(), now=_now())
                message = "Merged into the commitment after it"
            else:
                pledges.keep_as_written(commitment, actor=actor())
                message = "Kept as a commitment"
        except pledges.PledgeError as error:
            db.session.rollback()
            field = getattr(form, error.field, form.action)
            field.errors = [*field.errors, str(error)]
        else:
            db.session.commit()
            flash(message, "success")
            return redirect(url_for("admin.pledge_review"))
    return render_template(
        "admin/review_lead_in.html", form=form, commitment=commitment, following=following
    )


# Pledges and commitments -----------------------------------------------------------------------


@bp.route("/organisations/<slug>/statement", methods=["GET", "POST"])
@admin_only
def edit_statement(slug: str) -> ResponseReturnValue:
    organisation = _organisation_or_404(slug)
    list_args = list_asked(OrganisationSearchForm)
    form = StatementForm()
    if request.method == "GET":
        pledge = pledges.pledge_of(organisation)
        form.statement.data = pledge.statement if pledge else ""
    if form.validate_on_submit():
        pledges.set_statement(organisation, form.statement.data, actor=actor())
        db.session.commit()
        flash("Saved the pledge statement", "success")
        return redirect(
            url_for("admin.edit_organisation", slug=slug, _anchor="pledge", **list_args)
        )
    return render_template(
        "admin/statement_form.html", form=form, organisation=organisation, list_args=list_args
    )


def _added_message(organisation: Organisation, commitment: Commitment) -> str:
    """Says so when the commitment waits for next quarter: this quarter's return is already in."""
    added = f"Added a commitment to {organisation.name}'s pledge"
    first = period_for(commitment.reports_from) if commitment.reports_from else None
    if first is None or first <= period_for(_today()):
        return added
    return (
        f"{added}. {organisation.name} has already sent this quarter's return, so it is first "
        f"reported on in {first.label}"
    )


@bp.route("/organisations/<slug>/commitments/new", methods=["GET", "POST"])
@admin_only
def add_commitment(slug: str) -> ResponseReturnValue:
    organisation = _organisation_or_404(slug)
    list_args = list_asked(OrganisationSearchForm)
    form = CommitmentTextForm()
    form.set_priorities(place_priorities())
    if form.validate_on_submit():
        try:
            commitment = pledges.add_commitment(
                organisation,
                form.text.data,
                title=form.title.data or None,
                primary_priority_id=int(form.primary_priority.data),
                actor=actor(),
                today=_today(),
            )
        except pledges.PledgeError as error:
            db.session.rollback()
            form.text.errors = [*form.text.errors, str(error)]
        else:
            db.session.commit()
            flash(_added_message(organisation, commitment), "success")
            return redirect(
                url_for(
                    "admin.edit_organisation",
                    slug=slug,
                    _anchor=f"c{commitment.id}",
                    **list_args,
                )
            )
    return render_template(
        "admin/commitment_new.html", form=form, organisation=organisation, list_args=list_args
    )


@bp.post("/organisations/<slug>/commitments/<int:commitment_id>/move")
@admin_only
def move_commitment(slug: str, commitment_id: int) -> ResponseReturnValue:
    organisation = _organisation_or_404(slug)
    commitment = _commitment_or_404(commitment_id, organisation)
    list_args = list_asked(OrganisationSearchForm)
    try:
        moved = pledges.move_commitment(
            commitment, up=request.form.get("direction") != "down", actor=actor()
        )
    except pledges.PledgeError as error:
        flash(str(error))
    else:
        db.session.commit()
        if moved:
            flash("Moved the commitment", "success")
    return redirect(
        url_for("admin.edit_organisation", slug=slug, _anchor=f"c{commitment_id}", **list_args)
    )


@bp.route("/organisations/<slug>/commitments/<int:commitment_id>/retire", methods=["GET", "POST"])
@admin_only
def retire_commitment(slug: str, commitment_id: int) -> ResponseReturnValue:
    organisation = _organisation_or_404(slug)
    commitment = _commitment_or_404(commitment_id, organisation)
    list_args = list_asked(OrganisationSearchForm)
    form = RetireForm()
    if form.validate_on_submit():
        try:
            pledges.retire_commitment(commitment, form.reason.data, actor=actor(), now=_now())
        except pledges.PledgeError as error:
            form.reason.errors = [*form.reason.errors, str(error)]
        else:
            db.session.commit()
            flash("Retired the commitment: its history is kept", "success")
            return redirect(
                url_for("admin.edit_organisation", slug=slug, _anchor="pledge", **list_args)
            )
    return render_template(
        "admin/commitment_retire.html",
        form=form,
        organisation=organisation,
        commitment=commitment,
        list_args=list_args,
    )


# Proposals -------------------------------------------------------------------------------------


@bp.get("/proposals")
@admin_only
def proposal_list() -> ResponseReturnValue:
    return render_template("admin/proposals.html", proposals=proposals.pending_proposals())


@bp.route("/proposals/<int:proposal_id>", methods=["GET", "POST"])
@admin_only
def decide_proposal(proposal_id: int) -> ResponseReturnValue:
    proposal = db.session.scalar(
        select(CommitmentProposal).where(CommitmentProposal.id == proposal_id)
    )
    if proposal is None:
        abort(404)
    form = DecisionForm()
    status = 200
    if form.validate_on_submit():
        try:
            if form.decision.data == "approve":
                commitment = proposals.approve(
                    proposal, form.comment.data or "", actor=actor(), today=_today(), now=_now()
                )
                message = f"Approved: {commitment.title or commitment.original_text} is changed"
            else:
                proposals.decline(proposal, form.comment.data or "", actor=actor(), now=_now())
                message = "Declined: the lead has been told why"
        except (proposals.StaleProposal, StaleDataError) as error:
            db.session.rollback()
            if isinstance(error, StaleDataError):
                error = proposals.StaleProposal()
            form.comment.errors = [*form.comment.errors, str(error)]
            status = 409
        except proposals.ProposalError as error:
            db.session.rollback()
            field = getattr(form, error.field, form.comment)
            field.errors = [*field.errors, str(error)]
        else:
            db.session.commit()
            flash(message, "success")
            return redirect(url_for("admin.proposal_list"))
        proposal = db.session.get(CommitmentProposal, proposal_id)
    return render_template(
        "admin/proposal.html",
        form=form,
        proposal=proposal,
        rows=proposals.rows(proposal),
        stale=proposals.is_stale(proposal),
    ), status
