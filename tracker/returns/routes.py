"""The lead's quarterly return: task list, one update per commitment, check answers, submit."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.exc import StaleDataError

from tracker.auth.access import organisation, signed_in
from tracker.domain.enums import DeliveryStatus, Role
from tracker.domain.permissions import Action, allowed
from tracker.domain.progress import percent_complete
from tracker.domain.updates import too_many_files
from tracker.evidence import EvidenceError, send_stored, store
from tracker.evidence import delete as delete_stored
from tracker.extensions import db
from tracker.forms import whole_number
from tracker.models import Commitment, CommitmentUpdate, ReportingPeriod
from tracker.returns.forms import STATUS_HINTS, UpdateForm
from tracker.returns.pending import PendingUpload, UploadPlace, pending_upload, pending_uploads
from tracker.services import returns as service
from tracker.services.evidence_files import evidence_file
from tracker.services.periods import (
    all_periods,
    expects_return,
    first_quarter_of,
    period_or_404,
)

bp = Blueprint("returns", __name__)


def today() -> date:
    return datetime.now(UTC).date()


def _commitment_or_404(commitment_id: int) -> Commitment:
    # With its priority, which the form's task is grouped by: one query for both.
    commitment = db.session.get(
        Commitment, commitment_id, options=[joinedload(Commitment.primary_priority)]
    )
    if commitment is None or commitment.organisation_id != g.organisation.id:
        abort(404)
    return commitment


def _period_or_404(slug: str) -> ReportingPeriod:
    """The period a URL names, if the organisation reports for it (404 before it joined)."""
    found = period_or_404(slug)
    if not expects_return(g.organisation, found, began=True):
        abort(404)
    return found


def _can(action: Action) -> bool:
    leads = bool(g.leads_organisation)  # found with the organisation (auth.access)
    return allowed(Role(current_user.role), action, leads_organisation=leads)


@bp.get("/returns")
@signed_in
def mine() -> ResponseReturnValue:
    """A lead's start page: every return their organisations still owe, overdue ones first."""
    organisations = list(current_user.organisations)
    return render_template(
        "returns/mine.html",
        organisations=organisations,
        returns=service.lead_returns(organisations, today()),
        contacts=service.programme_contacts(),
        today=today(),
    )


@bp.get("/organisations/<slug>/returns")
@organisation(Action.VIEW)
def overview(slug: str) -> ResponseReturnValue:
    first = first_quarter_of(g.organisation)
    periods = [
        p
        for p in all_periods()
        if p.opens_on <= today() and (first is None or p.as_quarter >= first)
    ]
    views = service.return_views([(g.organisation, p) for p in periods], today())
    status = service.reporting_statuses(today(), [g.organisation.id]).get(g.organisation.id)
    return render_template(
        "returns/overview.html", organisation=g.organisation, views=views, status=status
    )


@bp.get("/organisations/<slug>/returns/<period>")
@organisation(Action.VIEW)
def task_list(slug: str, period: str) -> ResponseReturnValue:
    view = service.return_view(g.organisation, _period_or_404(period), today())
    return render_template(
        "returns/task_list.html",
        view=view,
        contacts=service.programme_contacts(),
        can_edit=_can(Action.EDIT) and view.editable,
        can_submit=_can(Action.SUBMIT) and view.editable,
    )


def _form_input(form: UpdateForm, commitment: Commitment) -> service.UpdateInput:
    status = form.status.data if form.status.data in {s.value for s in DeliveryStatus} else None
    return service.UpdateInput(
        status=DeliveryStatus(status) if status else None,
        progress_value=form.progress_decimal() if commitment.target_value is not None else None,
        narrative=form.narrative.data,
        evidence_url=form.evidence_url.data,
        risks=form.risks.data,
        reviewer_note=form.reviewer_note.data,
        remove_files=frozenset(form.remove_files.data or ()),
    )


@bp.route(
    "/organisations/<slug>/returns/<period>/commitments/<int:commitment_id>",
    methods=["GET", "POST"],
)
@organisation(Action.EDIT)
def update(slug: str, period: str, commitment_id: int) -> ResponseReturnValue:
    reporting_period = _period_or_404(period)
    commitment = _commitment_or_404(commitment_id)
    view, task = service.task_view(g.organisation, reporting_period, commitment, today())
    if task is None:
        abort(404)  # a heading or a commitment no longer on the page: nothing to report
    back = url_for("returns.task_list", slug=slug, period=period)
    if not view.editable:
        if not view.window_open:
            flash(f"This return opens on {reporting_period.opens_on:%-d %B %Y}")
        elif view.window_closed and view.state != "accepted" and view.state != "submitted":
            flash(
                f"The window for this return closed on {view.closes_on:%-d %B %Y}. "
                "Ask the programme team for an extension"
            )
        else:
            flash("This return has been submitted, so it cannot be changed")
        return redirect(back)

    form = UpdateForm()
    existing = task.update
    if request.method == "GET":
        _fill(form, existing)
        return _render_update(form, view, task, commitment)

    # One round: every field, the rules of the update and the chosen file are checked together,
    # so the error summary lists everything at once.
    form.validate()
    place = UploadPlace(current_user.id, g.organisation.id, reporting_period.id, commitment.id)
    # Left out: files the lead ticked not to attach, and any already attached (a form sent
    # again from the browser's history).
    skipped = set(form.drop_pending.data or ()) | {
        f.key for f in (existing.evidence_files if existing else [])
    }
    pending = [
        upload
        for upload in pending_uploads(form.pending_upload.data or (), place)
        if upload.file.key not in skipped
    ]
    complete = bool(form.save.data or form.no_change.data)
    data = _form_input(form, commitment)
    if form.no_change.data:
        # Last quarter's words; the files chosen or ticked on the form still count, as the
        # form promised ("It will be attached when you save").
        carried = service.carried_forward(g.organisation, reporting_period, commitment)
        # The note is this quarter's, for this quarter's reviewer: kept from the form.
        data = replace(carried, remove_files=data.remove_files, reviewer_note=data.reviewer_note)
    kept_files = [
        f for f in (existing.evidence_files if existing else []) if f.id not in data.remove_files
    ]
    new_file = _keep_chosen_file(form, place, file_count=len(kept_files) + len(pending))
    if new_file is not None:
        pending.append(new_file)
    data = replace(data, files=tuple(upload.file for upload in pending))
    problems = service.problems_with(
        commitment,
        data,
        complete=complete,
        file_count=len(kept_files) + len(data.files),
    )
    for field_name, message in problems:
        field = getattr(form, field_name, form.status)
        if not field.errors:  # one message per field: the form's own check came first
            field.errors = [*field.errors, message]
    if form.errors:
        return _render_update(form, view, task, commitment, pending=pending)

    removed_keys = [
        f.key for f in (existing.evidence_files if existing else []) if f.id in data.remove_files
    ]
    try:
        # Not a version (tampered): a first save, or a conflict if one exists.
        version = whole_number(form.version.data)
        service.save_update(
            g.organisation,
            reporting_period,
            commitment,
            data,
            version=version,
            complete=complete,
            actor=current_user._get_current_object(),
            today=today(),
        )
        db.session.commit()
    except (service.StaleUpdate, StaleDataError) as error:
        db.session.rollback()
        theirs = _their_update(view, commitment, error)
        form.status.errors = [str(service.StaleUpdate(theirs))]
        # Their change wins; what this person chose stays pending for their next save.
        response = _render_update(form, view, task, commitment, theirs=theirs, pending=pending)
        return response, 409
    except service.ReturnError as error:
        db.session.rollback()
        if new_file is not None:
            delete_stored(new_file.file.key)  # nothing will ever attach it
        flash(str(error))
        return redirect(back)
    for key in removed_keys:
        delete_stored(key)  # only after the commit that stopped using it
    if form.draft.data:
        flash("Your draft has been saved", "success")
        return redirect(back)
    # The form read one task: the next one to do is found among all of them, as saved now.
    whole = service.return_view(g.organisation, reporting_period, today())
    return redirect(_next_task_url(whole, commitment) or back)


def _keep_chosen_file(
    form: UpdateForm, place: UploadPlace, *, file_count: int
) -> PendingUpload | None:
    """Store the file chosen on this form, if it is acceptable, as a pending upload.

    It is kept even when the rest of the form is refused, so it need not be chosen again;
    a file refused for itself is not kept, and its message says so.
    """
    upload = request.files.get(form.evidence_file.name)
    if not upload or not upload.filename:
        return None
    not_kept = "The file was not kept: choose it again"
    too_many = too_many_files(file_count + 1)
    if too_many:
        form.evidence_file.errors = [*form.evidence_file.errors, f"{too_many}. {not_kept}"]
        return None
    try:
        stored = store(
            upload.stream, upload.filename, max_bytes=current_app.config["EVIDENCE_MAX_BYTES"]
        )
    except EvidenceError as error:
        form.evidence_file.errors = [*form.evidence_file.errors, f"{error}. {not_kept}"]
        return None
    return pending_upload(stored, place)


def _their_update(
    view: service.ReturnView, commitment: Commitment, error: Exception
) -> CommitmentUpdate | None:
    """The update as the other person saved it, read afresh after the rollback."""
    if isinstance(error, service.StaleUpdate):
        return db.session.get(CommitmentUpdate, error.theirs.id)
    return service.saved_update(view.organisation, view.period, commitment)


def _fill(form: UpdateForm, existing: CommitmentUpdate | None) -> None:
    if existing is None:
        return
    form.status.data = existing.status.value if existing.status else None
    form.progress_value.data = (
        f"{existing.progress_value.normalize():f}" if existing.progress_value is not None else ""
    )
    form.narrative.data = existing.narrative or ""
    form.evidence_url.data = existing.evidence_url or ""
    form.risks.data = existing.risks or ""
    form.reviewer_note.data = existing.reviewer_note or ""
    form.version.data = str(existing.version)


def _next_task_url(view: service.ReturnView, done: Commitment) -> str | None:
    """After saving, the next commitment still to do (or the check-answers page)."""
    tasks = view.tasks
    index = next(i for i, t in enumerate(tasks) if t.commitment.id == done.id)
    for task in tasks[index + 1 :] + tasks[:index]:
        if task.state != "completed":
            return url_for(
                "returns.update",
                slug=view.organisation.slug,
                period=view.period.slug,
                commitment_id=task.commitment.id,
            )
    return url_for("returns.check", slug=view.organisation.slug, period=view.period.slug)


def _render_update(form, view, task, commitment, *, theirs=None, pending=()):  # type: ignore[no-untyped-def]
    pct = None
    if (
        commitment.target_value is not None
        and task.update
        and task.update.progress_value is not None
    ):
        pct = percent_complete(
            baseline=commitment.baseline_value,
            target=commitment.target_value,
            current=task.update.progress_value,
            direction=commitment.direction,
        )
    removing = set(form.remove_files.data or ())
    files = task.update.evidence_files if task.update else []
    return render_template(
        "returns/update.html",
        form=form,
        view=view,
        task=task,
        commitment=commitment,
        percent=pct,
        theirs=theirs,
        pending=list(pending),
        # Checkbox items for the GOV.UK macro: each attached file, and each file waiting.
        remove_items=[
            {"value": str(f.id), "text": f.name, "checked": f.id in removing} for f in files
        ],
        pending_items=[
            {"value": u.file.key, "text": f"Do not attach {u.file.name}"} for u in pending
        ],
        status_hints=STATUS_HINTS,
    )


@bp.get(
    "/organisations/<slug>/returns/<period>/commitments/<int:commitment_id>/evidence/<int:file_id>"
)
@organisation(Action.VIEW)
def evidence(slug: str, period: str, commitment_id: int, file_id: int) -> ResponseReturnValue:
    """One evidence file, as a download, for people allowed to see the return."""
    found = evidence_file(g.organisation, _period_or_404(period), commitment_id, file_id)
    if found is None:
        abort(404)
    return send_stored(found)


@bp.get("/organisations/<slug>/returns/<period>/check")
@organisation(Action.VIEW)
def check(slug: str, period: str) -> ResponseReturnValue:
    view = service.return_view(g.organisation, _period_or_404(period), today())
    return render_template(
        "returns/check.html",
        view=view,
        can_edit=_can(Action.EDIT) and view.editable,
        can_submit=_can(Action.SUBMIT) and view.ready_to_submit,
    )


@bp.post("/organisations/<slug>/returns/<period>/submit")
@organisation(Action.SUBMIT)
def submit(slug: str, period: str) -> ResponseReturnValue:
    reporting_period = _period_or_404(period)
    outcome = service.submit(
        g.organisation,
        reporting_period,
        actor=current_user._get_current_object(),
        now=datetime.now(UTC),
    )
    if not outcome.submitted:
        db.session.rollback()
        flash(outcome.message)
        return redirect(url_for("returns.check", slug=slug, period=period))
    db.session.commit()
    return render_template(
        "returns/submitted.html", organisation=g.organisation, period=reporting_period
    )
