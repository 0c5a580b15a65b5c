"""A commitment's page (wording, SMART target, history across quarters) and its edit form."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

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
from sqlalchemy.orm.exc import StaleDataError

from tracker.auth.access import organisation
from tracker.commitments.forms import MAX_MILESTONES, NEW_MILESTONE_ROWS, CommitmentForm
from tracker.domain.enums import Direction, Role
from tracker.domain.permissions import Action, allowed
from tracker.extensions import db
from tracker.forms import whole_number
from tracker.models import Commitment, User
from tracker.services.commitments import (
    CommitmentDetails,
    CommitmentError,
    MilestoneEntry,
    ReasonRequired,
    StaleEdit,
    commitment_for_edit,
    commitment_page,
    has_been_reported,
    place_priorities,
    update_commitment,
)

bp = Blueprint("commitments", __name__, url_prefix="/organisations/<slug>/commitments")


def _actor() -> User:
    return current_user._get_current_object()


def _can_edit() -> bool:
    leads = bool(g.leads_organisation)  # found with the organisation (auth.access)
    return allowed(Role(current_user.role), Action.EDIT, leads_organisation=leads)


@bp.get("/<int:commitment_id>")
@organisation(Action.VIEW)
def show(slug: str, commitment_id: int) -> ResponseReturnValue:
    page = commitment_page(g.organisation, commitment_id)
    if page is None:
        abort(404)
    return render_template(
        "commitments/show.html", page=page, organisation=g.organisation, can_edit=_can_edit()
    )


@bp.route("/<int:commitment_id>/edit", methods=["GET", "POST"])
@organisation(Action.EDIT)
def edit(slug: str, commitment_id: int) -> ResponseReturnValue:
    commitment = commitment_for_edit(g.organisation, commitment_id)
    if commitment is None:
        abort(404)
    priorities = place_priorities()
    reported = has_been_reported(commitment)
    if request.method == "GET":
        form = _filled_form(commitment, priorities, reported)
    else:
        form = CommitmentForm()
        _prepare(form, commitment, priorities, reported)

    if form.validate_on_submit():
        now = datetime.now(ZoneInfo(current_app.config["TIMEZONE"]))
        try:
            update_commitment(
                commitment,
                _details(form),
                version=_version(form),
                reason=form.reason.data if reported else None,
                actor=_actor(),
                today=now.date(),
                now=now,
            )
            db.session.commit()
        except (StaleEdit, StaleDataError):
            db.session.rollback()
            return _stale(form, slug, commitment_id, priorities)
        except ReasonRequired as problem:
            db.session.rollback()
            form.reason.errors = [str(problem)]
        except CommitmentError as problem:
            db.session.rollback()
            getattr(form, problem.field).errors = [str(problem)]
        else:
            flash("Your changes have been saved", "success")
            return redirect(url_for(".show", slug=slug, commitment_id=commitment_id))
    return _render(form, commitment, reported)


def _render(
    form: CommitmentForm, commitment: Commitment, reported: bool, *, mine=None, status: int = 200
) -> ResponseReturnValue:
    return render_template(
        "commitments/edit.html",
        form=form,
        commitment=commitment,
        organisation=g.organisation,
        reported=reported,
        mine=mine,
    ), status


def _stale(
    mine: CommitmentForm, slug: str, commitment_id: int, priorities: list
) -> ResponseReturnValue:
    """409: the form shows the saved version; what this person entered is listed beside it."""
    commitment = commitment_for_edit(g.organisation, commitment_id)
    if commitment is None:
        abort(404)
    reported = has_been_reported(commitment)
    theirs = _filled_form(commitment, priorities, reported)
    if reported and "reason" in mine:
        theirs.reason.data = mine.reason.data
    theirs.title.errors = [str(StaleEdit())]
    differences = [
        (label, saved, entered)
        for (label, saved), (_, entered) in zip(theirs.summary(), mine.summary(), strict=True)
        if saved != entered
    ]
    return _render(theirs, commitment, reported, mine=differences, status=409)


def _prepare(
    form: CommitmentForm, commitment: Commitment, priorities: list, reported: bool
) -> None:
    form.set_priorities(priorities)
    form.saved_milestones = frozenset(m.id for m in commitment.milestones)
    if commitment.needs_review and commitment.primary_priority_id is not None:
        form.primary_priority.description = (
            "This priority was guessed when the pledge was imported. Check it: saving confirms it."
        )
    if not reported:
        del form.reason  # nothing has been reported against yet: targets can still be set up


def _filled_form(commitment: Commitment, priorities: list, reported: bool) -> CommitmentForm:
    milestones = [
        {"id": str(m.id), "title": m.title, "due_on": m.due_on} for m in commitment.milestones
    ]
    # Blank rows for new milestones while there is room for them.
    room = max(0, min(NEW_MILESTONE_ROWS, MAX_MILESTONES - len(milestones)))
    milestones += [{"id": "", "title": "", "due_on": None}] * room
    form = CommitmentForm(
        formdata=None,
        data={
            "title": commitment.title or "",
            "owner_name": commitment.owner_name or "",
            "owner_email": commitment.owner_email or "",
            "primary_priority": str(commitment.primary_priority_id or ""),
            "secondary_priority": str(commitment.secondary_priority_id or ""),
            "metric": commitment.metric or "",
            "unit": commitment.unit or "",
            "baseline_value": commitment.baseline_value,
            "baseline_date": commitment.baseline_date,
            "target_value": commitment.target_value,
            "target_date": commitment.target_date,
            "direction": commitment.direction.value if commitment.direction else "",
            "milestones": milestones,
            "version": str(commitment.version),
        },
    )
    _prepare(form, commitment, priorities, reported)
    return form


def _details(form: CommitmentForm) -> CommitmentDetails:
    return CommitmentDetails(
        title=form.title.data or "",
        owner_name=form.owner_name.data or None,
        owner_email=(form.owner_email.data or "").lower() or None,
        primary_priority_id=int(form.primary_priority.data),
        secondary_priority_id=int(form.secondary_priority.data)
        if form.secondary_priority.data
        else None,
        metric=form.metric.data or None,
        unit=form.unit.data or None,
        baseline_value=form.baseline_value.data,
        baseline_date=form.baseline_date.data,
        target_value=form.target_value.data,
        target_date=form.target_date.data,
        direction=Direction(form.direction.data) if form.direction.data else None,
        milestones=tuple(
            MilestoneEntry(
                id=row.form.existing_id,
                title=row.form.title.data or "",
                due_on=row.form.due_on.data,
            )
            for row in form.milestones
        ),
    )


def _version(form: CommitmentForm) -> int:
    version = whole_number(form.version.data)
    return -1 if version is None else version  # tampered: no version matches, so a conflict


from tracker.commitments import proposals  # noqa: E402, F401  (its routes join this blueprint)
