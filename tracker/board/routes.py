"""The board's pages: the quarterly summary, its PDF board pack, CSV and XLSX.

Who sees what: admins see every summary, the latest revision, published or not, and may build,
rebuild (with a reason) and publish. Board members see published summaries only (the latest
published revision of each quarter): what they read has been released to them. Other roles are
refused. Everything is rendered from the stored snapshot.
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, Response, abort, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user

from tracker.auth.access import roles
from tracker.board import exports
from tracker.board.forms import RebuildForm
from tracker.board.pack import render_pack
from tracker.board.rendering import rendered
from tracker.board.views import view_of
from tracker.domain.enums import PeriodState, Role
from tracker.extensions import db
from tracker.models import BoardSummary, ReportingPeriod, User
from tracker.services import board as service
from tracker.services.periods import period_or_404, state_on

bp = Blueprint("board", __name__)
readers = roles(Role.ADMIN, Role.BOARD)
admin_only = roles(Role.ADMIN)


def now() -> datetime:
    return datetime.now(UTC)


def user() -> User:
    return current_user._get_current_object()


def _summary_or_404(period: ReportingPeriod) -> BoardSummary:
    summary = service.summary_for(period, user())
    if summary is None:
        abort(404)
    return summary


def _download(body: bytes | str, mimetype: str, filename: str) -> Response:
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@bp.get("/board")
@readers
def latest() -> ResponseReturnValue:
    summary = service.latest_summary(user(), page=True)
    if summary is None:
        return render_template("board/none.html", periods=_buildable())
    return _render(summary)


@bp.get("/board/<period>")
@readers
def period(period: str) -> ResponseReturnValue:
    reporting_period = period_or_404(period)
    summary = service.summary_for(reporting_period, user(), page=True)
    if summary is None:
        if user().role != Role.ADMIN:
            abort(404)
        return render_template("board/not_built.html", period=reporting_period)
    return _render(summary)


def _buildable() -> list[ReportingPeriod]:
    if user().role != Role.ADMIN:
        return []
    from tracker.services.periods import all_periods

    today = now().date()
    return [p for p in all_periods() if state_on(p, today) != PeriodState.UPCOMING]


def _render(summary: BoardSummary) -> ResponseReturnValue:
    frozen = rendered(summary)
    is_admin = user().role == Role.ADMIN
    return render_template(
        "board/summary.html",
        summary=summary,
        frozen=frozen,
        revisions=service.revisions(summary.period) if is_admin else [],
        periods=service.summarised_periods(user()),
        is_admin=is_admin,
        can_publish=is_admin
        and summary.published_at is None
        and state_on(summary.period, now().date()) in {PeriodState.CLOSED, PeriodState.PUBLISHED},
    )


@bp.get("/board/<period>.pdf")
@readers
def pack(period: str) -> ResponseReturnValue:
    view = view_of(_summary_or_404(period_or_404(period)))
    return _download(render_pack(view), "application/pdf", f"board-pack-{view.slug}.pdf")


@bp.get("/board/<period>.csv")
@readers
def figures_csv(period: str) -> ResponseReturnValue:
    summary = _summary_or_404(period_or_404(period))
    return _download(
        exports.to_csv(summary.data), "text/csv", f"board-summary-{summary.period.slug}.csv"
    )


@bp.get("/board/<period>.xlsx")
@readers
def figures_xlsx(period: str) -> ResponseReturnValue:
    summary = _summary_or_404(period_or_404(period))
    return _download(
        exports.to_xlsx(summary.data),
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        f"board-summary-{summary.period.slug}.xlsx",
    )


@bp.post("/board/<period>/build")
@admin_only
def build(period: str) -> ResponseReturnValue:
    """The first revision; later ones go through the rebuild form and its reason."""
    reporting_period = period_or_404(period)
    if service.revisions(reporting_period):
        return redirect(url_for("board.rebuild", period=period))
    try:
        service.build_summary(reporting_period, actor=user(), now=now())
    except service.SummaryError as error:
        db.session.rollback()
        flash(str(error))
        return redirect(url_for("board.period", period=period))
    db.session.commit()
    flash(f"The {reporting_period.label} summary has been built", "success")
    return redirect(url_for("board.period", period=period))


@bp.route("/board/<period>/rebuild", methods=["GET", "POST"])
@admin_only
def rebuild(period: str) -> ResponseReturnValue:
    reporting_period = period_or_404(period)
    current = service.summary_for(reporting_period, user())
    if current is None:
        return redirect(url_for("board.period", period=period))
    form = RebuildForm()
    if form.validate_on_submit():
        try:
            summary = service.build_summary(
                reporting_period, actor=user(), reason=form.reason.data, now=now()
            )
        except service.SummaryError as error:
            db.session.rollback()
            form.reason.errors = [str(error)]
        else:
            db.session.commit()
            flash(
                f"Revision {summary.revision} of the {reporting_period.label} summary is built",
                "success",
            )
            return redirect(url_for("board.period", period=period))
    return render_template(
        "board/rebuild.html", form=form, period=reporting_period, current=current
    )


@bp.post("/board/<period>/publish")
@admin_only
def publish(period: str) -> ResponseReturnValue:
    reporting_period = period_or_404(period)
    summary = _summary_or_404(reporting_period)
    if summary.published_at is not None:
        flash(f"Revision {summary.revision} was already published")
        return redirect(url_for("board.period", period=period))
    try:
        published = service.publish_summary(summary, actor=user(), now=now())
    except service.SummaryError as error:
        db.session.rollback()
        flash(str(error))
        return redirect(url_for("board.period", period=period))
    db.session.commit()
    queued = published.queued
    flash(
        f"Published revision {summary.revision}: {queued} board member"
        f"{'s' if queued != 1 else ''} will be emailed",
        "success",
    )
    warning = published.warning()
    if warning:
        flash(warning)
    return redirect(url_for("board.period", period=period))
