"""The programme team's pages: people, organisations, the audit log and the outbox."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import func, select
from sqlalchemy.orm.exc import StaleDataError
from wtforms import StringField

from tracker.admin.forms import (
    ROLE_HINTS,
    AuditFilterForm,
    EditUserForm,
    InviteForm,
    ListSearchForm,
    NewOrganisationForm,
    OrganisationForm,
    OrganisationSearchForm,
    PeopleSearchForm,
    UserForm,
)
from tracker.auth.access import roles
from tracker.domain.enums import NotificationState, ReturnState, Role, Sector
from tracker.domain.lookup import Candidate, Found
from tracker.domain.paging import pagination
from tracker.domain.worklist import Work
from tracker.extensions import db
from tracker.forms import EARLIEST_YEAR, LATEST_YEAR, options, whole_number
from tracker.models import Notification, Organisation, User
from tracker.services import accounts
from tracker.services.audit import record as record_audit
from tracker.services.audit_log import audit_events
from tracker.services.lookup import organisations_named, people_named
from tracker.services.organisations import (
    OrganisationDetails,
    OrganisationError,
    StaleEdit,
    create_organisation,
    organisation_by_slug,
    organisations_if_few,
    organisations_page,
    organisations_with_ids,
    update_organisation,
)
from tracker.services.periods import period_or_404

if TYPE_CHECKING:
    from tracker.models import ReportingPeriod
    from tracker.returns.forms import SendBackForm
    from tracker.services.returns import ReturnView

bp = Blueprint("admin", __name__, url_prefix="/admin")
QUEUE_PAGE_SIZE = 100
OVERVIEW_OVERDUE_ROWS = 50
admin_only = roles(Role.ADMIN)
# Up to this many organisations in the whole place, the user forms show every one as a checkbox
# (a town of 40 picks from the list); beyond it, a region of 2,000 types their names instead.
ORGANISATION_CHECKBOXES_UP_TO = 50


def now() -> datetime:
    return datetime.now(UTC)


def actor() -> User:
    return current_user._get_current_object()


def _page_asked() -> int | None:
    """The page of a long list the address asks for (None when it is not a page number)."""
    return whole_number(request.args.get("page"))


def _list_args(search: str, page: int | None) -> dict[str, str | int]:
    """The address arguments that show a long list as the admin left it: its search and its
    page, and nothing else (none at all for the first page of everything)."""
    args: dict[str, str | int] = {}
    if search:
        args["q"] = search
    if page and page > 1:
        args["page"] = page
    return args


def list_asked(search_form: type[ListSearchForm]) -> dict[str, str | int]:
    """The list a person's or organisation's page was opened from, so that saving, or going
    back, shows it again. Only the list's own arguments, each read as the list reads it, go
    into the ``url_for`` that leads back: never an address taken whole, so nothing can send
    the admin off the site. A page that no longer exists is the list's to handle, as any old
    link to it. The organisation's pledge pages (admin.pledges) carry it on the same way, so
    its page still leads back to the list after them."""
    return _list_args(search_form(request.args).search(), _page_asked())


@bp.get("")
@admin_only
def overview() -> ResponseReturnValue:
    """The admin's work list: what every quarter still asks of the programme team."""
    from tracker.services.job_runs import today_in_place
    from tracker.services.worklist import set_up, work_list

    today = today_in_place()
    work, setup = work_list(today), set_up()
    page = render_template("admin/overview.html", work=work, setup=setup, today=today)
    db.session.commit()  # keeps any stored tally that had to be counted again
    return page


@bp.get("/work/<period>/<kind>")
@admin_only
def work_of_kind(period: str, kind: str) -> ResponseReturnValue:
    """Every return of one quarter that asks for one kind of work, a page at a time."""
    from tracker.domain.worklist import read_cursor
    from tracker.services.job_runs import today_in_place
    from tracker.services.worklist import kind_list

    work = Work.from_slug(kind)
    if work is None:
        abort(404)
    reporting_period = period_or_404(period)
    today = today_in_place()
    shown = kind_list(reporting_period, work, today, after=read_cursor(request.args.get("after")))
    page = render_template("admin/work_of_kind.html", page=shown, today=today)
    db.session.commit()  # keeps the quarter's tally if it had to be counted again
    return page


# People ---------------------------------------------------------------------------------------


@bp.get("/users")
@admin_only
def users() -> ResponseReturnValue:
    """Everyone with an account, a page at a time, or those a search finds."""
    form = PeopleSearchForm(request.args)
    search = form.search()
    paging, people = accounts.people_page(search, _page_asked())
    return render_template(
        "admin/users.html",
        form=form,
        search=search,
        paging=paging,
        people=people,
        list_args=_list_args(search, paging.page),
    )


def _offer_organisations(form: UserForm, leads_now: list[Organisation]) -> None:
    """A town's every organisation as a checkbox; a region's, those the person leads now."""
    form.offer_organisations(organisations_if_few(ORGANISATION_CHECKBOXES_UP_TO), leads_now)


@bp.route("/users/new", methods=["GET", "POST"])
@admin_only
def invite_user() -> ResponseReturnValue:
    form = InviteForm()
    list_args = list_asked(PeopleSearchForm)
    _offer_organisations(form, leads_now=[])
    if form.validate_on_submit():
        try:
            user = accounts.create_user(
                email=form.email.data,
                name=form.name.data,
                role=Role(form.role.data),
                organisations=organisations_with_ids(form.chosen_organisation_ids()),
                actor=actor(),
            )
        except accounts.AccountError as error:
            form.email.errors = [str(error)]
        else:
            accounts.invite(user, actor=actor(), now=now())
            db.session.commit()
            flash(f"Invitation sent to {user.email}", "success")
            return redirect(url_for("admin.users", **list_args))
    return render_template(
        "admin/invite.html", form=form, role_hints=ROLE_HINTS, list_args=list_args
    )


def _user_or_404(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        abort(404)
    return user


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
@admin_only
def edit_user(user_id: int) -> ResponseReturnValue:
    user = _user_or_404(user_id)
    list_args = list_asked(PeopleSearchForm)
    form = EditUserForm(obj=None if request.method == "POST" else user)
    _offer_organisations(form, leads_now=list(user.organisations))
    if request.method == "GET":
        form.role.data = user.role.value
        form.organisations.data = [o.id for o in user.organisations]
    if form.validate_on_submit():
        try:
            accounts.update_user(
                user,
                actor=actor(),
                name=form.name.data,
                role=Role(form.role.data),
                organisations=organisations_with_ids(form.chosen_organisation_ids()),
            )
        except accounts.AccountError as error:
            form.role.errors = [str(error)]
        else:
            db.session.commit()
            flash(f"Saved changes to {user.name}", "success")
            return redirect(url_for("admin.users", **list_args))
    return render_template(
        "admin/edit_user.html", form=form, person=user, role_hints=ROLE_HINTS, list_args=list_args
    )


@bp.post("/users/<int:user_id>/deactivate")
@admin_only
def deactivate_user(user_id: int) -> ResponseReturnValue:
    user = _user_or_404(user_id)
    list_args = list_asked(PeopleSearchForm)
    try:
        accounts.set_active(user, False, actor=actor(), now=now())
    except accounts.AccountError as error:
        flash(str(error))
        return redirect(url_for("admin.edit_user", user_id=user.id, **list_args))
    db.session.commit()
    flash(f"{user.name} can no longer sign in", "success")
    return redirect(url_for("admin.users", **list_args))


@bp.post("/users/<int:user_id>/reactivate")
@admin_only
def reactivate_user(user_id: int) -> ResponseReturnValue:
    user = _user_or_404(user_id)
    accounts.set_active(user, True, actor=actor(), now=now())
    db.session.commit()
    flash(f"{user.name} can sign in again", "success")
    return redirect(url_for("admin.users", **list_asked(PeopleSearchForm)))


@bp.post("/users/<int:user_id>/invitation")
@admin_only
def resend_invitation(user_id: int) -> ResponseReturnValue:
    user = _user_or_404(user_id)
    list_args = list_asked(PeopleSearchForm)
    if user.password_hash is not None:
        flash(f"{user.name} has already set up their account")
        return redirect(url_for("admin.edit_user", user_id=user.id, **list_args))
    accounts.invite(user, actor=actor(), now=now())
    db.session.commit()
    flash(
        f"A new invitation has been sent to {user.email}; the old link no longer works", "success"
    )
    return redirect(url_for("admin.users", **list_args))


# Organisations --------------------------------------------------------------------------------


@bp.get("/organisations")
@admin_only
def organisations() -> ResponseReturnValue:
    """Every organisation, a page at a time, or those a search finds."""
    form = OrganisationSearchForm(request.args)
    search = form.search()
    paging, rows = organisations_page(search, _page_asked())
    return render_template(
        "admin/organisations.html",
        form=form,
        search=search,
        paging=paging,
        organisations=rows,
        list_args=_list_args(search, paging.page),
    )


def _quarters(form: OrganisationForm) -> dict[str, date | None]:
    """Offer every reporting quarter as a first quarter; the first one means "from the start"."""
    from tracker.services.periods import all_periods

    periods = all_periods(newest_first=False)
    form.reports_from.choices = options([(p.slug, p.label) for p in periods])
    return {p.slug: (None if n == 0 else p.starts_on) for n, p in enumerate(periods)}


def _details(form: OrganisationForm, quarters: dict[str, date | None]) -> OrganisationDetails:
    return OrganisationDetails(
        reports_from=quarters.get(form.reports_from.data or ""),
        name=form.name.data,
        sector=Sector(form.sector.data) if form.sector.data else None,
        website=form.website.data or None,
        deputy_name=form.deputy_name.data or None,
        deputy_email=(form.deputy_email.data or "").lower() or None,
        sponsor_name=form.sponsor_name.data or None,
        sponsor_email=(form.sponsor_email.data or "").lower() or None,
    )


@bp.route("/organisations/new", methods=["GET", "POST"])
@admin_only
def new_organisation() -> ResponseReturnValue:
    from tracker.services.job_runs import today_in_place
    from tracker.services.periods import joining_quarter

    form = NewOrganisationForm()
    list_args = list_asked(OrganisationSearchForm)
    quarters = _quarters(form)
    if request.method == "GET":
        joins = joining_quarter(today_in_place())
        form.reports_from.data = next(
            (slug for slug, starts in quarters.items() if starts == joins), None
        ) or next(iter(quarters), None)
    if form.validate_on_submit():
        from tracker.services import pledges

        organisation = create_organisation(_details(form, quarters), actor=actor())
        pledges.set_statement(organisation, form.statement.data, actor=actor())
        try:
            for line in (form.first_commitments.data or "").splitlines():
                if line.strip():
                    pledges.add_commitment(
                        organisation, line, actor=actor(), today=today_in_place()
                    )
        except pledges.PledgeError as error:
            db.session.rollback()
            form.first_commitments.errors = [*form.first_commitments.errors, str(error)]
        else:
            db.session.commit()
            flash(f"Added {organisation.name}", "success")
            return redirect(url_for("admin.edit_organisation", slug=organisation.slug, **list_args))
    return render_template(
        "admin/organisation_form.html", form=form, organisation=None, list_args=list_args
    )


@bp.route("/organisations/<slug>", methods=["GET", "POST"])
@admin_only
def edit_organisation(slug: str) -> ResponseReturnValue:
    organisation = organisation_by_slug(slug)
    if organisation is None:
        abort(404)
    list_args = list_asked(OrganisationSearchForm)
    form = OrganisationForm()
    quarters = _quarters(form)
    if request.method == "GET":
        _fill(form, organisation)
    elif form.validate_on_submit():
        try:
            version = whole_number(form.version.data)
            update_organisation(
                organisation,
                _details(form, quarters),
                # Tampered: no version matches, so the conflict page.
                version=-1 if version is None else version,
                actor=actor(),
            )
            db.session.commit()
        except (StaleEdit, StaleDataError):
            db.session.rollback()
            organisation = organisation_by_slug(slug)
            mine = {field.name: field.data for field in form}
            _fill(form, organisation)
            form.name.errors = [
                "Someone else changed this organisation while you were editing it. "
                "The form now shows their version; your version is below it."
            ]
            return render_template(
                "admin/organisation_form.html",
                form=form,
                organisation=organisation,
                mine=mine,
                list_args=list_args,
            ), 409
        except OrganisationError as error:
            db.session.rollback()
            organisation = organisation_by_slug(slug)
            form.reports_from.errors = [str(error)]
        else:
            flash(f"Saved {organisation.name}", "success")
            return redirect(url_for("admin.organisations", **list_args))
    from tracker.services.pledges import commitments_of, pledge_of
    from tracker.services.reminders import chases_for

    return render_template(
        "admin/organisation_form.html",
        form=form,
        organisation=organisation,
        chases=chases_for(organisation),
        pledge=pledge_of(organisation),
        commitments=commitments_of(organisation),
        list_args=list_args,
    )


def _fill(form: OrganisationForm, organisation: Organisation) -> None:
    from tracker.services.periods import first_quarter_of

    first = first_quarter_of(organisation)
    form.reports_from.data = first.slug if first else None
    form.name.data = organisation.name
    form.sector.data = organisation.sector.value if organisation.sector else ""
    form.website.data = organisation.website or ""
    for role in ("deputy", "sponsor"):
        contact = organisation.contact(role)  # type: ignore[arg-type]
        getattr(form, f"{role}_name").data = contact.name if contact else ""
        getattr(form, f"{role}_email").data = contact.email if contact else ""
    form.version.data = str(organisation.version)


# Audit log and outbox -------------------------------------------------------------------------


def _parse_day(field: object) -> date | None:
    value = field.data  # type: ignore[attr-defined]
    if not value:
        return None
    name = field.label.text.split(" (")[0]  # type: ignore[attr-defined]
    try:
        day = date.fromisoformat(value)
    except ValueError:
        problem = f"{name} must be a date like 2024-07-31"
    else:
        # A day at the end of the calendar has no next day to search up to.
        if EARLIEST_YEAR <= day.year <= LATEST_YEAR:
            return day
        problem = f"{name} must be between {EARLIEST_YEAR} and {LATEST_YEAR}"
    field.errors = [*field.errors, problem]  # type: ignore[attr-defined]
    return None


def _looked_up(field: StringField, look_up: Callable[[list[str]], list[Found]]) -> Candidate | None:
    """The one record a filter's text names; a problem goes on the field and filters nothing."""
    if field.errors or not field.data:
        return None
    [found] = look_up([field.data])
    if found.problem:
        field.errors = [*field.errors, found.problem]
    return found.record


@bp.get("/audit")
@admin_only
def audit() -> ResponseReturnValue:
    form = AuditFilterForm(request.args)
    form.validate()
    organisation = _looked_up(form.organisation, organisations_named)
    person = _looked_up(form.user, people_named)
    since, until = _parse_day(form.since), _parse_day(form.until)
    if since and until and since > until:
        form.until.errors = [*form.until.errors, "To must be the same as or after From"]
    page = audit_events(
        organisation_id=organisation.id if organisation else None,
        actor_id=person.id if person else None,
        since=since,
        until=until,
        page=whole_number(request.args.get("page")) or 1,
    )
    return render_template(
        "admin/audit.html",
        form=form,
        page=page,
        filters=request.args,
        organisation=organisation,
        person=person,
    )


@bp.get("/notifications")
@admin_only
def notifications() -> ResponseReturnValue:
    state = request.args.get("state", "")
    query = select(Notification).order_by(Notification.id.desc()).limit(200)
    if state in {s.value for s in NotificationState}:
        query = query.where(Notification.state == state)
    else:
        state = ""
    counts = dict(
        db.session.execute(
            select(Notification.state, func.count()).group_by(Notification.state)
        ).all()
    )
    rows = db.session.scalars(query).all()
    return render_template(
        "admin/notifications.html",
        notifications=rows,
        state=state,
        counts=counts,
        states=list(NotificationState),
    )


@bp.post("/notifications/<int:notification_id>/resend")
@admin_only
def resend_notification(notification_id: int) -> ResponseReturnValue:
    from tracker.mail import resend

    notification = db.session.get(Notification, notification_id)
    if notification is None:
        abort(404)
    if notification.state != NotificationState.FAILED:
        flash("Only failed emails can be sent again")
        return redirect(url_for("admin.notifications"))
    resend(notification.id)
    record_audit(
        "queued again",
        "notification",
        notification.id,
        actor=actor(),
        organisation_id=notification.organisation_id,
        before={"state": "failed", "last_error": notification.last_error},
    )
    db.session.commit()
    flash(f"Email to {notification.recipient_email} will be sent again shortly", "success")
    return redirect(url_for("admin.notifications"))


# Reporting periods and the review queue ---------------------------------------------------------


def _period_and_organisation_or_404(period: str, slug: str):  # type: ignore[no-untyped-def]
    from tracker.services.periods import expects_return

    organisation = organisation_by_slug(slug)
    if organisation is None:
        abort(404)
    found = period_or_404(period)
    if not expects_return(organisation, found):
        abort(404)  # before it joined: no return exists or is owed
    return found, organisation


@bp.get("/periods")
@admin_only
def periods() -> ResponseReturnValue:
    from tracker.services.periods import all_periods, reporting_start, state_on

    today = now().date()
    rows = [(p, state_on(p, today)) for p in all_periods()]
    return render_template("admin/periods.html", rows=rows, start=reporting_start())


@bp.route("/reporting-start", methods=["GET", "POST"])
@admin_only
def reporting_start() -> ResponseReturnValue:
    """Move the place's first reporting quarter; the periods from it on are made at once."""
    from flask import current_app

    from tracker.admin.forms import ReportingStartForm
    from tracker.config import window_rules
    from tracker.domain.calendar import Quarter, period_for, quarters_between
    from tracker.services.job_runs import today_in_place
    from tracker.services.periods import (
        StartError,
        ensure_periods,
        set_reporting_start,
    )
    from tracker.services.periods import (
        reporting_start as current_start,
    )

    today = today_in_place()
    latest = period_for(today)
    offered = quarters_between(Quarter(latest.year - 3, 1), latest.next())
    form = ReportingStartForm()
    form.quarter.choices = options([(q.slug, q.label) for q in reversed(offered)])
    start = current_start()
    if request.method == "GET" and start is not None:
        form.quarter.data = start.slug
    if form.validate_on_submit():
        chosen = Quarter.from_slug(form.quarter.data)
        try:
            set_reporting_start(chosen, actor=actor())
        except StartError as error:
            form.quarter.errors = [str(error)]
        else:
            ensure_periods(today, window_rules(current_app.config))
            db.session.commit()
            flash(f"Reporting now begins with {chosen.label}", "success")
            return redirect(url_for("admin.periods"))
    return render_template("admin/reporting_start.html", form=form, start=start)


@bp.route("/periods/<period>", methods=["GET", "POST"])
@admin_only
def edit_period(period: str) -> ResponseReturnValue:
    from tracker.returns.forms import PeriodDatesForm
    from tracker.services.periods import PeriodDates, PeriodError, change_dates

    reporting_period = period_or_404(period)
    form = PeriodDatesForm()
    if request.method == "GET":
        form.opens_on.data = reporting_period.opens_on
        form.due_on.data = reporting_period.due_on
        form.closes_on.data = reporting_period.closes_on
    elif form.validate_on_submit():
        try:
            change_dates(
                reporting_period,
                PeriodDates(form.opens_on.data, form.due_on.data, form.closes_on.data),
                actor=actor(),
            )
        except PeriodError as error:
            getattr(form, error.field).errors = [str(error)]
        else:
            db.session.commit()
            flash(f"Saved the dates for {reporting_period.label}", "success")
            return redirect(url_for("admin.periods"))
    return render_template("admin/period_form.html", form=form, period=reporting_period)


@bp.route("/periods/<period>/extensions/<slug>", methods=["GET", "POST"])
@admin_only
def grant_extension(period: str, slug: str) -> ResponseReturnValue:
    from tracker.returns.forms import ExtensionForm
    from tracker.services.periods import PeriodError
    from tracker.services.periods import grant_extension as grant

    reporting_period, organisation = _period_and_organisation_or_404(period, slug)
    form = ExtensionForm()
    if form.validate_on_submit():
        try:
            grant(
                organisation,
                reporting_period,
                new_due=form.due_on.data,
                reason=form.reason.data,
                actor=actor(),
                today=now().date(),
                now=now(),
            )
        except PeriodError as error:
            getattr(form, error.field).errors = [str(error)]
        else:
            db.session.commit()
            flash(f"{organisation.name} now has until {form.due_on.data:%-d %B %Y}", "success")
            return redirect(url_for("admin.review_queue", period=reporting_period.slug))
    return render_template(
        "admin/extension_form.html", form=form, period=reporting_period, organisation=organisation
    )


QUEUE_VIEWS = {
    "all": ("All", None),
    "waiting": ("Waiting for review", {ReturnState.SUBMITTED}),
    "sent-back": ("Sent back", {ReturnState.RETURNED}),
    "not-in": ("Not in yet", {ReturnState.NOT_STARTED, ReturnState.DRAFT, ReturnState.RETURNED}),
}


@bp.get("/returns/<period>")
@admin_only
def review_queue(period: str) -> ResponseReturnValue:
    from tracker.services.figures import return_figures
    from tracker.services.returns import reporting_statuses, review_queue, review_queue_size

    reporting_period = period_or_404(period)
    today = now().date()
    figures = return_figures(reporting_period, today)

    # A region has thousands of organisations: what needs an admin first, a page at a time,
    # read a page at a time.
    show = request.args.get("show", "all")
    if show not in QUEUE_VIEWS:
        show = "all"
    wanted = QUEUE_VIEWS[show][1]
    paging = pagination(_page_asked(), review_queue_size(reporting_period, wanted), QUEUE_PAGE_SIZE)
    shown = review_queue(
        reporting_period, today, states=wanted, offset=paging.offset, limit=paging.size
    )
    statuses = reporting_statuses(today, [row.organisation.id for row in shown])
    counts = {
        "all": figures.expected,
        "waiting": figures.awaiting_review,
        "sent-back": figures.sent_back,
        "not-in": figures.not_in,
    }
    return render_template(
        "admin/review_queue.html",
        period=reporting_period,
        rows=shown,
        statuses=statuses,
        figures=figures,
        views=[(name, label, counts[name]) for name, (label, _) in QUEUE_VIEWS.items()],
        show=show,
        paging=paging,
        not_started=ReturnState.NOT_STARTED,
        today=today,
    )


@bp.route("/returns/<period>/<slug>", methods=["GET", "POST"])
@admin_only
def review_return(period: str, slug: str) -> ResponseReturnValue:
    from tracker.returns.forms import SendBackForm
    from tracker.services import returns as service

    reporting_period, organisation = _period_and_organisation_or_404(period, slug)
    view = service.return_view(organisation, reporting_period, now().date())
    form = SendBackForm()
    if form.validate_on_submit():
        try:
            sent = view.return_ is not None and service.send_back(
                view.return_,
                form.comment.data,
                version=_version_read(form.version.data),
                actor=actor(),
                now=now(),
            )
        except service.StaleReview as error:
            # Their comment stays in the box, beside the submission it has not read yet.
            form.comment.errors = [str(error)]
            return _review_page(organisation, reporting_period, form), 409
        if not sent:
            flash("Only a submitted return can be sent back")
        else:
            db.session.commit()
            flash(f"Sent back to {organisation.name} with your comment", "success")
        return redirect(url_for("admin.review_queue", period=reporting_period.slug))
    return _review_page(organisation, reporting_period, form, view=view)


@bp.post("/returns/<period>/<slug>/accept")
@admin_only
def accept_return(period: str, slug: str) -> ResponseReturnValue:
    from tracker.returns.forms import SendBackForm
    from tracker.services import returns as service

    reporting_period, organisation = _period_and_organisation_or_404(period, slug)
    return_ = service.find_return(organisation, reporting_period)
    if return_ is None:
        abort(404)
    try:
        accepted = service.accept(
            return_, version=_version_read(request.form.get("version")), actor=actor(), now=now()
        )
    except service.StaleReview as error:
        form = SendBackForm(formdata=None)
        return _review_page(organisation, reporting_period, form, accept_error=str(error)), 409
    except service.ReturnError as error:  # not acceptable as it stands: the page says why
        form = SendBackForm(formdata=None)
        return _review_page(organisation, reporting_period, form, accept_error=str(error)), 422
    if accepted:
        db.session.commit()
        flash(f"Accepted {organisation.name}'s {reporting_period.label} return", "success")
    else:
        flash("Only a submitted return can be accepted")
    return redirect(url_for("admin.review_queue", period=reporting_period.slug))


def _version_read(text: str | None) -> int:
    """The version of the return the review page showed; a missing or tampered one matches no
    version, so the admin is shown the return as it is now."""
    version = whole_number(text)
    return -1 if version is None else version


def _review_page(
    organisation: Organisation,
    period: ReportingPeriod,
    form: SendBackForm,
    *,
    view: ReturnView | None = None,
    accept_error: str | None = None,
) -> str:
    from tracker.services import returns as service

    view = view or service.return_view(organisation, period, now().date())
    return render_template(
        "admin/review_return.html",
        view=view,
        form=form,
        history=service.review_history(view),
        accept_error=accept_error,
    )


@bp.post("/returns/<period>/<slug>/missed")
@admin_only
def record_missed(period: str, slug: str) -> ResponseReturnValue:
    """Record that a return will not come, once its window has closed without it."""
    from tracker.services.returns import record_missed as record

    reporting_period, organisation = _period_and_organisation_or_404(period, slug)
    if record(organisation, reporting_period, actor=actor(), now=now(), today=now().date()):
        db.session.commit()
        flash(
            f"Recorded {organisation.name}'s {reporting_period.label} return as missed", "success"
        )
    else:
        flash(f"{organisation.name}'s {reporting_period.label} return cannot be recorded as missed")
    return redirect(url_for("admin.overview"))


@bp.post("/returns/<period>/missed")
@admin_only
def record_all_missed(period: str) -> ResponseReturnValue:
    """Record every return of a quarter whose window closed without it as missed."""
    from tracker.services.returns import record_all_missed as record_all

    reporting_period = period_or_404(period)
    recorded = record_all(reporting_period, actor=actor(), now=now(), today=now().date())
    db.session.commit()
    flash(
        f"Recorded {recorded} {reporting_period.label} return{'s' if recorded != 1 else ''} "
        "as missed",
        "success",
    )
    return redirect(url_for("admin.overview"))


@bp.post("/returns/<period>/<slug>/updates/<int:update_id>/verify")
@admin_only
def verify_evidence(period: str, slug: str, update_id: int) -> ResponseReturnValue:
    from tracker.models import CommitmentUpdate
    from tracker.services import returns as service

    reporting_period = period_or_404(period)
    row = db.session.get(CommitmentUpdate, update_id)
    if (
        row is None
        or row.return_.period_id != reporting_period.id
        or row.return_.organisation.slug != slug
    ):
        abort(404)
    try:
        service.verify_evidence(row, actor=actor(), now=now())
    except service.ReturnError as error:
        flash(str(error))
    else:
        db.session.commit()
        flash("Evidence marked as verified", "success")
    return redirect(url_for("admin.review_return", period=period, slug=slug))


from tracker.admin import pledges, scheduling  # noqa: E402, F401  (their routes join this blueprint)
