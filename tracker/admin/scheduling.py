"""Admin pages for the scheduler's work: chasing overdue returns, and what the jobs did."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import or_, select

from tracker.admin.forms import ChaseForm
from tracker.admin.routes import admin_only, bp
from tracker.config import ladder_rules
from tracker.extensions import db
from tracker.models import JobRun
from tracker.services.job_runs import IDLE_SUMMARIES, last_runs, today_in_place
from tracker.services.periods import period_or_404
from tracker.services.reminders import ChaseError, chase, chaseable


@bp.route("/chase/<period>", methods=["GET", "POST"])
@admin_only
def chase_all(period: str) -> ResponseReturnValue:
    found = period_or_404(period)
    today = today_in_place()
    items = chaseable(found, today)
    form = ChaseForm()
    if form.validate_on_submit():
        if not items:
            flash(f"No organisation is overdue with its {found.label} return", "success")
            return redirect(url_for("admin.overview"))
        outcomes = [
            chase(item, found, actor=current_user, note=form.note.data or "", today=today)
            for item in items
        ]
        db.session.commit()
        flash(_said(outcomes), "success")
        return redirect(url_for("admin.overview"))
    return render_template(
        "admin/chase.html", form=form, period=found, items=items, today=today, one=None
    )


@bp.route("/chase/<period>/<slug>", methods=["GET", "POST"])
@admin_only
def chase_one(period: str, slug: str) -> ResponseReturnValue:
    found = period_or_404(period)
    today = today_in_place()
    item = next((i for i in chaseable(found, today) if i.organisation.slug == slug), None)
    if item is None:
        flash(f"That organisation is not overdue with its {found.label} return", "success")
        return redirect(url_for("admin.overview"))
    form = ChaseForm()
    if form.validate_on_submit():
        try:
            outcome = chase(item, found, actor=current_user, note=form.note.data or "", today=today)
        except ChaseError as error:
            form.note.errors = [str(error)]
        else:
            db.session.commit()
            flash(_said([outcome]), "success")
            return redirect(url_for("admin.overview"))
    return render_template(
        "admin/chase.html", form=form, period=found, items=[item], today=today, one=item
    )


def _said(outcomes: list) -> str:  # type: ignore[type-arg]
    queued = sum(o.queued for o in outcomes)
    chased = [o for o in outcomes if o.queued]
    already = [o for o in outcomes if not o.queued and o.already]
    nobody = [o for o in outcomes if o.no_leads]
    parts = []
    if chased:
        names = chased[0].organisation.name if len(chased) == 1 else f"{len(chased)} organisations"
        parts.append(f"Chased {names}: {queued} email{'s' if queued != 1 else ''} on the way")
    if already:
        parts.append(f"{len(already)} already chased today, so not emailed again")
    if nobody:
        parts.append(f"{len(nobody)} with no lead to email: add one from People")
    return ". ".join(parts) or "Nobody to chase"


@bp.get("/jobs")
@admin_only
def jobs() -> ResponseReturnValue:
    from flask import current_app

    from jobs.schedule import scheduled_jobs

    now = datetime.now(UTC)
    schedule = [
        (job, job.trigger.get_next_fire_time(None, now))
        for job in scheduled_jobs(current_app.config)
    ]
    recent = db.session.scalars(
        select(JobRun)
        # The mail job, and the open-data job's runs that had nothing to do (every 5 minutes),
        # would push the daily jobs off the list.
        .where(
            JobRun.job != "deliver-email",
            or_(JobRun.summary.is_(None), JobRun.summary.not_in(IDLE_SUMMARIES)),
        )
        .order_by(JobRun.id.desc())
        .limit(30)
    ).all()
    return render_template(
        "admin/jobs.html",
        schedule=schedule,
        last=last_runs(),
        recent=recent,
        rules=ladder_rules(current_app.config),
    )
