"""Leads propose revisions to their own organisation's pledge; the programme team decides.

Routes join the commitments blueprint (``/organisations/<slug>/commitments/…``).
"""

from __future__ import annotations

from flask import abort, flash, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user

from tracker.admin.pledge_forms import ProposalForm
from tracker.auth.access import organisation
from tracker.commitments.routes import bp
from tracker.domain.permissions import Action
from tracker.extensions import db
from tracker.forms import whole_number
from tracker.models import Commitment
from tracker.services import proposals
from tracker.services.commitments import commitment_for_edit


def _filled(commitment: Commitment) -> ProposalForm:
    """The form showing the commitment as it is now."""
    data: dict[str, object] = {
        name: getattr(commitment, name) for name in proposals.FIELDS if name != "direction"
    }
    data["direction"] = commitment.direction.value if commitment.direction else ""
    data["version"] = str(commitment.version)
    return ProposalForm(formdata=None, data=data)


def _values(form: ProposalForm) -> dict[str, object]:
    return {name: getattr(form, name).data for name in proposals.FIELDS}


@bp.get("/proposals")
@organisation(Action.EDIT)
def proposals_page(slug: str) -> ResponseReturnValue:
    return render_template(
        "commitments/proposals.html",
        organisation=g.organisation,
        proposals=proposals.proposals_of(g.organisation),
    )


@bp.route("/propose", methods=["GET", "POST"])
@organisation(Action.EDIT)
def propose_new(slug: str) -> ResponseReturnValue:
    form = ProposalForm()
    if form.validate_on_submit():
        try:
            proposals.propose_new(
                g.organisation, _values(form), form.reason.data, actor=current_user
            )
        except proposals.ProposalError as error:
            db.session.rollback()
            getattr(form, error.field).errors.append(str(error))
        else:
            db.session.commit()
            flash("Your proposal has been sent to the programme team", "success")
            return redirect(url_for(".proposals_page", slug=slug))
    return render_template(
        "commitments/propose.html", form=form, organisation=g.organisation, commitment=None
    )


@bp.route("/<int:commitment_id>/propose", methods=["GET", "POST"])
@organisation(Action.EDIT)
def propose_change(slug: str, commitment_id: int) -> ResponseReturnValue:
    commitment = commitment_for_edit(g.organisation, commitment_id)
    if commitment is None or commitment.removed_from_page_at is not None:
        abort(404)
    form = _filled(commitment) if request.method == "GET" else ProposalForm()
    status = 200
    if form.validate_on_submit():
        if whole_number(form.version.data) != commitment.version:
            # Changed since the form was made: what it shows as "now" is not, so a field left
            # as it was would undo the other change. Show the commitment as it is now.
            mine = form
            form = _filled(commitment)
            form.reason.data = mine.reason.data
            form.original_text.errors = [
                "Someone changed this commitment while you were writing. The form now shows it "
                "as it is: make your changes again."
            ]
            return render_template(
                "commitments/propose.html",
                form=form,
                organisation=g.organisation,
                commitment=commitment,
            ), 409
        try:
            proposals.propose_change(
                commitment, _values(form), form.reason.data, actor=current_user
            )
        except proposals.ProposalError as error:
            db.session.rollback()
            getattr(form, error.field).errors.append(str(error))
        else:
            db.session.commit()
            flash("Your proposal has been sent to the programme team", "success")
            return redirect(url_for(".proposals_page", slug=slug))
    return render_template(
        "commitments/propose.html", form=form, organisation=g.organisation, commitment=commitment
    ), status
