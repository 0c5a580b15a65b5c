"""What the public may see: organisations, commitments and their accepted progress.

DESIGN.md ("Public", "Two statuses per commitment", "Moved goalposts", "Evidence grade") and
issues 8 and 15: a pledge is a public promise, so anyone may read who is delivering. Only
accepted data is public. Every query here reads from a return accepted now (or the commitment's
own published fields): an accepted return's updates publish their status, figure, narrative and
evidence link. Nothing here touches drafts, unreviewed or sent-back submissions, risks, notes
for the reviewer, evidence files (they are served only to people signed in, so only the link is
published), review comments, owners, leads or contacts: the public pages, the feeds and the API
build only on what this module hands back, so this is the one place to look when asking "what
could leak?".

Each reader does a fixed number of queries whatever the number of organisations or
commitments (no query per row): lists are aggregated in SQL and related rows loaded in batches.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import (
    ColumnElement,
    ScalarSelect,
    Select,
    and_,
    bindparam,
    distinct,
    func,
    or_,
    select,
    true,
)
from sqlalchemy.orm import contains_eager, joinedload, selectinload

from tracker.charts import format_amount
from tracker.domain.calendar import Quarter
from tracker.domain.enums import DeliveryStatus, EvidenceGrade, ReportingStatus, ReturnState, Sector
from tracker.domain.goalposts import LABELS
from tracker.domain.paging import pagination
from tracker.domain.progress import percent_complete, progress_label
from tracker.domain.smart import SmartScore
from tracker.extensions import db
from tracker.models import (
    BoardSummary,
    Commitment,
    CommitmentUpdate,
    Organisation,
    Place,
    Pledge,
    Priority,
    ReportingPeriod,
    Return,
    TargetChange,
    Theme,
)
from tracker.models.pledge import commitment_themes
from tracker.services.periods import first_quarter_of, reporting_began, state_on, the_place
from tracker.services.returns import (
    ReportingFacts,
    pledged_by,
    reported_in_its_return,
    reporting_facts,
    reporting_statuses,
)

# The commitments a visitor reads: real promises still in the pledge (not lead-in headings).
SHOWN = (Commitment.is_heading.is_(False), Commitment.removed_from_page_at.is_(None))
# Those taken off a pledge too: retired, a commitment stays on the public record with what was
# accepted for it (its page, its organisation's list of retired ones, the feeds), counted nowhere.
ON_RECORD = (Commitment.is_heading.is_(False),)
QUERY_MAX = 100

EVIDENCE_LABELS = {
    EvidenceGrade.SELF_DECLARED: "Self-declared",
    EvidenceGrade.EVIDENCE_ATTACHED: "Evidence attached",
    EvidenceGrade.VERIFIED: "Verified by the programme team",
}


def place_today() -> date:
    """Today in the place's time zone (the day the reporting calendar runs on)."""
    return datetime.now(ZoneInfo(current_app.config["TIMEZONE"])).date()


def is_published() -> bool:
    """Whether the place publishes its pledges (on unless an admin turned it off)."""
    place = the_place()
    return place is None or place.publish_publicly


# Filters ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Choice:
    value: str
    label: str


@dataclass(frozen=True)
class Catalogue:
    """The vocabularies filters choose from: the place's priorities, the themes, sectors…"""

    priorities: list[Priority]
    themes: list[Theme]

    @property
    def priority_choices(self) -> list[Choice]:
        return [Choice(p.code, p.name) for p in self.priorities]

    @property
    def theme_choices(self) -> list[Choice]:
        return [Choice(t.slug, t.name) for t in self.themes]

    @property
    def sector_choices(self) -> list[Choice]:
        return [Choice(s.value, s.label) for s in Sector]

    @property
    def reporting_choices(self) -> list[Choice]:
        return [Choice(s.value, s.label) for s in ReportingStatus]

    @property
    def status_choices(self) -> list[Choice]:
        return [Choice(s.value, s.label) for s in DeliveryStatus]

    def priority(self, code: str | None) -> Priority | None:
        return next((p for p in self.priorities if p.code == code), None)

    def theme(self, slug: str | None) -> Theme | None:
        return next((t for t in self.themes if t.slug == slug), None)

    @property
    def priority_codes(self) -> dict[int, str]:
        return {p.id: p.code for p in self.priorities}


def catalogue() -> Catalogue:
    """The place's priorities in order and the theme catalogue by name (two queries)."""
    themes = db.session.scalars(select(Theme).order_by(func.lower(Theme.name), Theme.id)).all()
    return Catalogue(priorities(), list(themes))


def priorities() -> list[Priority]:
    """The place's priorities in order (one query): all a page of commitments needs to group."""
    return list(
        db.session.scalars(
            select(Priority).order_by(Priority.place_id, Priority.position, Priority.id)
        )
    )


@dataclass(frozen=True)
class FilterProblem:
    """A filter value that names nothing: the parameter and a message saying what would do."""

    parameter: str
    message: str


@dataclass(frozen=True)
class OrganisationFilters:
    query: str = ""
    priority: str | None = None
    sector: Sector | None = None
    theme: str | None = None
    reporting_status: ReportingStatus | None = None

    @property
    def active(self) -> bool:
        return bool(
            self.query or self.priority or self.sector or self.theme or self.reporting_status
        )

    @property
    def arguments(self) -> dict[str, str]:
        """The query string that asks for these filters again (another page of the list keeps
        them); a value that named nothing was dropped when the filters were read."""
        values = {
            "q": self.query,
            "priority": self.priority,
            "theme": self.theme,
            "sector": self.sector,
            "reporting_status": self.reporting_status,
        }
        return {name: str(value) for name, value in values.items() if value}


def clean_text(value: str | None, limit: int = QUERY_MAX) -> str:
    """Search text as typed, without NUL bytes (PostgreSQL refuses them) or surrounding space."""
    return " ".join((value or "").replace("\x00", "").split())[:limit]


def read_organisation_filters(
    args: Mapping[str, str], known: Catalogue
) -> tuple[OrganisationFilters, list[FilterProblem]]:
    """Filters from a query string; an empty value means "any", an unknown one is a problem."""
    problems: list[FilterProblem] = []

    def pick(name: str, choices: list[Choice], what: str) -> str | None:
        value = args.get(name, "")
        if value == "":
            return None
        if value not in {c.value for c in choices}:
            problems.append(FilterProblem(name, f"Choose a {what} from the list"))
            return None
        return value

    query = args.get("q", "")
    if len(query) > QUERY_MAX:
        problems.append(
            FilterProblem("q", f"Organisation name must be {QUERY_MAX} characters or fewer")
        )
    priority = pick("priority", known.priority_choices, "priority")
    sector = pick("sector", known.sector_choices, "sector")
    theme = pick("theme", known.theme_choices, "theme")
    reporting = pick("reporting_status", known.reporting_choices, "reporting status")
    filters = OrganisationFilters(
        query=clean_text(query),
        priority=priority,
        sector=Sector(sector) if sector else None,
        theme=theme,
        reporting_status=ReportingStatus(reporting) if reporting else None,
    )
    return filters, problems


# Organisations ---------------------------------------------------------------------------------

# Organisations a public list shows at once: the directory and a priority's or theme's page.
# A region has 2,000 organisations, and a priority thousands of commitments from a thousand of
# them: far too many for one page.
COLLECTION_PAGE_SIZE = 25


# The order every list of organisations is in: by name, then by id, so paging is stable.
BY_NAME = (func.lower(Organisation.name), Organisation.id)


@dataclass(frozen=True)
class PeriodRef:
    slug: str
    label: str


@dataclass(frozen=True)
class OrganisationSummary:
    """One organisation as the public list shows it."""

    id: int
    slug: str
    name: str
    sector: Sector | None
    website: str | None
    reporting_status: ReportingStatus
    commitment_count: int
    status_counts: dict[DeliveryStatus, int]
    last_reported: PeriodRef | None
    updated_at: datetime

    @property
    def statuses(self) -> list[tuple[DeliveryStatus, int]]:
        """Status counts in the vocabulary's order, leaving out the zeros."""
        return [(s, self.status_counts[s]) for s in DeliveryStatus if self.status_counts.get(s)]


# An organisation the facts do not cover (none are left out today): active, nothing accepted.
NO_RETURNS = ReportingFacts(ReportingStatus.ACTIVE)


def _period_ref(quarter: tuple[str, int, int] | None) -> PeriodRef | None:
    """A quarter as ``reporting_facts`` gives it (slug, year, quarter), to link and name."""
    if quarter is None:
        return None
    slug, year, number = quarter
    return PeriodRef(slug, _quarter_label(year, number))


def _status_counts(
    organisation_ids: Sequence[int] | None = None,
) -> dict[int, dict[DeliveryStatus, int]]:
    query = (
        select(Commitment.organisation_id, Commitment.current_status, func.count())
        .where(*SHOWN)
        .group_by(Commitment.organisation_id, Commitment.current_status)
    )
    if organisation_ids is not None:
        query = query.where(Commitment.organisation_id.in_(organisation_ids))
    counts: dict[int, dict[DeliveryStatus, int]] = defaultdict(dict)
    for organisation_id, status, n in db.session.execute(query):
        counts[organisation_id][DeliveryStatus(status)] = n
    return counts


def _with_commitment(*conditions: object) -> object:
    """Organisations with at least one shown commitment meeting ``conditions``."""
    return Organisation.id.in_(select(Commitment.organisation_id).where(*SHOWN, *conditions))


def _organisation_conditions(filters: OrganisationFilters, known: Catalogue) -> list[object]:
    """What the filters ask of an organisation in SQL: all but its reporting status, which a
    rule in Python decides from its returns (``reporting_facts``)."""
    conditions: list[object] = []
    if filters.query:
        conditions.append(Organisation.name.icontains(filters.query, autoescape=True))
    if filters.sector:
        conditions.append(Organisation.sector == filters.sector)
    if filters.priority:
        priority = known.priority(filters.priority)
        assert priority is not None
        conditions.append(
            _with_commitment(
                or_(
                    Commitment.primary_priority_id == priority.id,
                    Commitment.secondary_priority_id == priority.id,
                )
            )
        )
    if filters.theme:
        theme = known.theme(filters.theme)
        assert theme is not None
        conditions.append(
            _with_commitment(
                Commitment.id.in_(
                    select(commitment_themes.c.commitment_id).where(
                        commitment_themes.c.theme_id == theme.id
                    )
                )
            )
        )
    return conditions


def _summaries(
    organisations: Sequence[Organisation],
    reporting: Mapping[int, ReportingFacts],
    counts: Mapping[int, dict[DeliveryStatus, int]],
) -> list[OrganisationSummary]:
    """The list's rows: each organisation with its reporting facts and status counts."""
    summaries = []
    for organisation in organisations:
        facts = reporting.get(organisation.id, NO_RETURNS)
        status_counts = counts.get(organisation.id, {})
        summaries.append(
            OrganisationSummary(
                id=organisation.id,
                slug=organisation.slug,
                name=organisation.name,
                sector=organisation.sector,
                website=organisation.website,
                reporting_status=ReportingStatus(facts.status),
                commitment_count=sum(status_counts.values()),
                status_counts=status_counts,
                last_reported=_period_ref(facts.last_accepted),
                updated_at=organisation.updated_at,
            )
        )
    return summaries


def _matching(
    filters: OrganisationFilters, known: Catalogue, today: date
) -> tuple[int, Callable[[int, int], Sequence[Organisation]]]:
    """How many organisations match the filters, and a reader of any stretch of them by name.

    Reporting status is a rule in Python, so filtering by it reads every organisation's status
    (without its latest accepted quarter, a third of the time: 80 ms on the region) and every
    matching id, and counts them in Python; the other filters are counted in SQL.
    """
    conditions = _organisation_conditions(filters, known)
    if filters.reporting_status is None:
        count = db.session.scalar(select(func.count()).select_from(Organisation).where(*conditions))

        def read(offset: int, limit: int) -> Sequence[Organisation]:
            return db.session.scalars(
                select(Organisation)
                .where(*conditions)
                .order_by(*BY_NAME)
                .offset(offset)
                .limit(limit)
            ).all()

        return count or 0, read
    statuses = reporting_statuses(today)
    wanted = filters.reporting_status
    matching = [
        organisation_id
        for organisation_id in db.session.scalars(
            select(Organisation.id).where(*conditions).order_by(*BY_NAME)
        )
        if statuses.get(organisation_id, NO_RETURNS.status) == wanted
    ]

    def read_matching(offset: int, limit: int) -> Sequence[Organisation]:
        return db.session.scalars(
            select(Organisation)
            .where(Organisation.id.in_(matching[offset : offset + limit]))
            .order_by(*BY_NAME)
        ).all()

    return len(matching), read_matching


def _with_figures(organisations: Sequence[Organisation], today: date) -> list[OrganisationSummary]:
    """Each organisation with its reporting facts and status counts, read for them alone."""
    ids = [organisation.id for organisation in organisations]
    return _summaries(organisations, reporting_facts(today, ids), _status_counts(ids))


def organisations_from(
    filters: OrganisationFilters, known: Catalogue, today: date, offset: int, limit: int
) -> tuple[list[OrganisationSummary], int]:
    """The API's list: the matching organisations from ``offset`` (at most ``limit``), by name,
    with their figures, and how many match in all. Past the end, none."""
    count, read = _matching(filters, known, today)
    return _with_figures(read(offset, limit), today), count


@dataclass(frozen=True)
class OrganisationList:
    """A page of the organisations that match the filters, and how many match in all."""

    organisations: list[OrganisationSummary]  # this page's
    count: int
    page: int = 1
    pages: int = 1


def organisation_list(
    filters: OrganisationFilters, known: Catalogue, today: date, page: int = 1
) -> OrganisationList:
    """One page of the organisations that match the filters, by name, with their figures.

    Only the page's organisations are read whole, and only theirs are counted and have their
    reporting facts read: six statements whatever the size (nine filtered by reporting status,
    see ``_matching``). A page past the last shows the last.
    """
    count, read = _matching(filters, known, today)
    paging = pagination(page, count, COLLECTION_PAGE_SIZE)
    shown = read(paging.offset, paging.size)
    return OrganisationList(_with_figures(shown, today), count, paging.page, paging.pages)


def organisation_summary(slug: str, today: date) -> OrganisationSummary | None:
    organisation = db.session.scalar(select(Organisation).where(Organisation.slug == slug))
    if organisation is None:
        return None
    counts = _status_counts([organisation.id]).get(organisation.id, {})
    return _summary(organisation, counts, today)


def _summary(
    organisation: Organisation,
    counts: dict[DeliveryStatus, int],
    today: date,
    on_record: Sequence[Commitment] | None = None,
) -> OrganisationSummary:
    """One organisation's summary, given its shown commitments' status counts (and, when they
    are read already, all its commitments, retired ones too: when it joined follows from them
    without a query, as ``reporting_facts`` reads it)."""
    joined = None
    if on_record is not None:
        joined = {organisation.id: (organisation.reports_from, pledged_by(on_record))}
    reporting = reporting_facts(today, [organisation.id], joined=joined)
    return _summaries([organisation], reporting, {organisation.id: counts})[0]


def organisation_slugs() -> list[str]:
    """Every organisation's slug, in name order."""
    return list(db.session.scalars(select(Organisation.slug).order_by(*BY_NAME)))


def _first_statement() -> ScalarSelect[str | None]:
    """SQL: the pledge statement of the ``Organisation`` in the query (its first pledge's)."""
    return (
        select(Pledge.statement)
        .where(Pledge.organisation_id == Organisation.id)
        .order_by(Pledge.id)
        .limit(1)
        .scalar_subquery()
    )


def statements(organisation_ids: Sequence[int]) -> dict[int, str | None]:
    """Each organisation's pledge statement (its first pledge's), in one query."""
    rows = db.session.execute(
        select(Pledge.organisation_id, Pledge.statement)
        .where(Pledge.organisation_id.in_(organisation_ids))
        .order_by(Pledge.id.desc())
    )
    return {organisation_id: statement for organisation_id, statement in rows}


# Commitments -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PublicGoalpost:
    """One moved goalpost as the public sees it: what changed, when and why (never who)."""

    changed_at: datetime
    field: str
    label: str
    old_value: str | None
    new_value: str | None
    reason: str
    period: PeriodRef | None

    @property
    def old_text(self) -> str:
        return _readable(self.field, self.old_value)

    @property
    def new_text(self) -> str:
        return _readable(self.field, self.new_value)


def _readable(field_name: str, value: str | None) -> str:
    """A stored goalpost value as people read it: 31 December 2040, 1,200."""
    if value is None or value == "":
        return "not set"
    try:
        if field_name.endswith("_date"):
            return date.fromisoformat(value).strftime("%-d %B %Y")
        if field_name.endswith("_value"):
            return format_amount(Decimal(value))
    except (ValueError, ArithmeticError):
        pass
    return value


def web_address(url: str | None) -> str | None:
    """An evidence address worth linking to: http(s) only (never ``javascript:``)."""
    url = (url or "").strip()
    return url if url.lower().startswith(("https://", "http://")) else None


@dataclass(frozen=True)
class AcceptedUpdate:
    """The parts of a commitment's accepted update that are public.

    Published once the programme team accepts the return: status, figure, evidence grade, the
    narrative and the evidence link. Risks, the note for the reviewer and the evidence files
    are not.
    """

    period: PeriodRef
    status: DeliveryStatus
    evidence_grade: EvidenceGrade
    progress_value: Decimal | None
    narrative: str | None = None
    evidence_url: str | None = None
    # How far along the target in force when it was submitted (a later move changes nothing).
    percent: Decimal | None = None
    accepted_at: datetime | None = None
    unit: str | None = None

    @property
    def evidence_label(self) -> str:
        return EVIDENCE_LABELS[self.evidence_grade]

    @property
    def evidence_link(self) -> str | None:
        return web_address(self.evidence_url)

    @property
    def percent_text(self) -> str | None:
        return progress_label(self.percent) if self.percent is not None else None

    @property
    def progress_text(self) -> str | None:
        if self.progress_value is None:
            return None
        return format_amount(self.progress_value, self.unit)


@dataclass
class PublicCommitment:
    commitment: Commitment
    organisation_slug: str
    organisation_name: str
    priority: Priority | None
    secondary_priority: Priority | None
    themes: list[Theme]
    latest: AcceptedUpdate | None
    goalposts: list[PublicGoalpost] = field(default_factory=list)
    # Every accepted quarter, newest first, when the reader asked for them (else None).
    history: list[AcceptedUpdate] | None = None

    @property
    def id(self) -> int:
        return self.commitment.id

    @property
    def heading(self) -> str:
        return self.commitment.title or self.commitment.original_text

    @property
    def status(self) -> DeliveryStatus:
        return DeliveryStatus(self.commitment.current_status or DeliveryStatus.NOT_STARTED)

    @property
    def retired_on(self) -> date | None:
        """The day (in the place's time) it was taken off the pledge; None while it is on it."""
        retired = self.commitment.removed_from_page_at
        if retired is None:
            return None
        return retired.astimezone(ZoneInfo(current_app.config["TIMEZONE"])).date()

    @property
    def smart(self) -> SmartScore:
        return self.commitment.smart


# What an accepted update publishes, read with the target it was measured against. Never the
# risks, the note for the reviewer, the files or who wrote it.
_ACCEPTED_COLUMNS = (
    CommitmentUpdate.id,
    CommitmentUpdate.commitment_id,
    CommitmentUpdate.status,
    CommitmentUpdate.evidence_grade,
    CommitmentUpdate.progress_value,
    CommitmentUpdate.narrative,
    CommitmentUpdate.evidence_url,
    CommitmentUpdate.reported_target_value,
    CommitmentUpdate.reported_baseline_value,
    CommitmentUpdate.reported_direction,
    Return.submitted_at,
    Return.reviewed_at,
    ReportingPeriod.slug,
    ReportingPeriod.year,
    ReportingPeriod.quarter,
    Commitment.target_value,
    Commitment.baseline_value,
    Commitment.direction,
    Commitment.unit,
)


def accepted_updates_query() -> Select:
    """SQL: every update, with a status, of a return accepted now that reported on it (never a
    draft left for a commitment retired before the return went in)."""
    return (
        select(*_ACCEPTED_COLUMNS)
        .join(Return, Return.id == CommitmentUpdate.return_id)
        .join(ReportingPeriod, ReportingPeriod.id == Return.period_id)
        .join(Commitment, Commitment.id == CommitmentUpdate.commitment_id)
        .where(
            Return.state == ReturnState.ACCEPTED,
            CommitmentUpdate.status.is_not(None),
            reported_in_its_return(),
        )
    )


@cache
def _quarter_label(year: int, quarter: int) -> str:
    # The open data reads hundreds of thousands of updates across a few dozen quarters.
    return Quarter(year, quarter).label


def accepted_update(row: Any) -> AcceptedUpdate:
    """One row of ``accepted_updates_query`` as the public sees it.

    The percentage is of the target in force when the return was submitted
    (``services.commitments.target_in_force``): moving the target later changes nothing.
    """
    if row.submitted_at is not None:
        target, baseline = row.reported_target_value, row.reported_baseline_value
        direction = row.reported_direction
    else:
        target, baseline, direction = row.target_value, row.baseline_value, row.direction
    progress = row.progress_value
    percent = (
        percent_complete(baseline=baseline, target=target, current=progress, direction=direction)
        if progress is not None and target is not None
        else None
    )
    return AcceptedUpdate(
        period=PeriodRef(row.slug, _quarter_label(row.year, row.quarter)),
        status=DeliveryStatus(row.status),
        evidence_grade=EvidenceGrade(row.evidence_grade),
        progress_value=progress,
        narrative=row.narrative,
        evidence_url=row.evidence_url,
        percent=percent,
        # Accepted returns are reviewed; one from before reviews were timed was at least sent.
        accepted_at=row.reviewed_at or row.submitted_at,
        unit=row.unit,
    )


def _of_organisations(organisation_ids: Collection[int] | None) -> ColumnElement[bool]:
    """SQL: the update's return is one of these organisations' (all when None).

    Redundant with the commitments asked for (a commitment never changes organisation), but it
    lets PostgreSQL start from the organisation's few returns instead of hashing every accepted
    return in the region: 4 ms instead of 25 for an organisation of 30 commitments.
    """
    if organisation_ids is None:
        return true()
    return Return.organisation_id.in_(list(organisation_ids))


def accepted_history(
    commitment_ids: Sequence[int], organisation_ids: Collection[int] | None = None
) -> dict[int, list[AcceptedUpdate]]:
    """Each commitment's accepted updates, newest quarter first (one query).

    ``organisation_ids``, the commitments' organisations when known, makes the query cheaper.
    """
    if not commitment_ids:
        return {}
    found: dict[int, list[AcceptedUpdate]] = defaultdict(list)
    for row in db.session.execute(
        accepted_updates_query()
        .where(
            CommitmentUpdate.commitment_id.in_(commitment_ids),
            _of_organisations(organisation_ids),
        )
        .order_by(
            CommitmentUpdate.commitment_id,
            ReportingPeriod.year.desc(),
            ReportingPeriod.quarter.desc(),
        )
    ):
        found[row.commitment_id].append(accepted_update(row))
    return found


@cache
def _latest_accepted_statement(by_organisation: bool) -> Select:
    """SQL for ``_latest_accepted``, built once: making this statement afresh for every page
    took a third as long as PostgreSQL took to answer it (0.5 of 1.5 ms). Its commitments (and
    organisations) are bound when it runs."""
    organisations = (
        Return.organisation_id.in_(bindparam("organisations", expanding=True))
        if by_organisation
        else true()
    )
    ranked = (
        select(
            CommitmentUpdate.id,
            func.row_number()
            .over(
                partition_by=CommitmentUpdate.commitment_id,
                order_by=CommitmentUpdate.period_ordinal.desc(),
            )
            .label("rn"),
        )
        .join(Return, Return.id == CommitmentUpdate.return_id)
        .join(ReportingPeriod, ReportingPeriod.id == Return.period_id)
        .join(Commitment, Commitment.id == CommitmentUpdate.commitment_id)
        .where(
            Return.state == ReturnState.ACCEPTED,
            CommitmentUpdate.status.is_not(None),
            CommitmentUpdate.commitment_id.in_(bindparam("commitments", expanding=True)),
            organisations,
            reported_in_its_return(),
        )
        .subquery()
    )
    newest = select(ranked.c.id).where(ranked.c.rn == 1)
    return accepted_updates_query().where(CommitmentUpdate.id.in_(newest))


def _latest_accepted(
    commitment_ids: Sequence[int], organisation_ids: Collection[int] | None = None
) -> dict[int, AcceptedUpdate]:
    """Each commitment's update in its newest accepted return (one query).

    Only the newest is read: a window over each commitment's accepted quarters picks it by the
    update's own quarter (``period_ordinal``) from narrow rows, and only those updates' words
    are read, so a page of many commitments neither loads nor sorts every quarter's narrative.
    ``organisation_ids`` (the commitments' own) lets PostgreSQL start from their returns
    (``_of_organisations``).
    """
    if not commitment_ids:
        return {}
    values: dict[str, list[int]] = {"commitments": list(commitment_ids)}
    if organisation_ids is not None:
        values["organisations"] = list(organisation_ids)
    rows = db.session.execute(_latest_accepted_statement(organisation_ids is not None), values)
    return {row.commitment_id: accepted_update(row) for row in rows}


@cache
def _goalposts_statement() -> Select:
    """SQL for ``_goalposts``, built once (as ``_latest_accepted_statement``)."""
    return (
        select(TargetChange, ReportingPeriod.slug, ReportingPeriod.year, ReportingPeriod.quarter)
        .outerjoin(ReportingPeriod, ReportingPeriod.id == TargetChange.period_id)
        .where(TargetChange.commitment_id.in_(bindparam("commitments", expanding=True)))
        .order_by(TargetChange.changed_at.desc(), TargetChange.id)
    )


def _goalposts(commitment_ids: Sequence[int]) -> dict[int, list[PublicGoalpost]]:
    """Moved goalposts per commitment, newest first, with their quarter (one query)."""
    if not commitment_ids:
        return {}
    found: dict[int, list[PublicGoalpost]] = defaultdict(list)
    for change, slug, year, quarter in db.session.execute(
        _goalposts_statement(), {"commitments": list(commitment_ids)}
    ):
        found[change.commitment_id].append(
            PublicGoalpost(
                changed_at=change.changed_at,
                field=change.field,
                label=LABELS.get(change.field, change.field.replace("_", " ")).capitalize(),
                old_value=change.old_value,
                new_value=change.new_value,
                reason=change.reason,
                period=PeriodRef(slug, _quarter_label(year, quarter)) if slug else None,
            )
        )
    return found


def _public(
    commitments: Sequence[Commitment],
    priorities: Sequence[Priority],
    *,
    with_history: bool = False,
) -> list[PublicCommitment]:
    """Wrap loaded commitments (organisation and themes eager) with their public extras.

    ``with_history`` adds every accepted quarter (one more query); the latest is read either way.
    """
    ids = [c.id for c in commitments]
    organisation_ids = {c.organisation_id for c in commitments}
    history = accepted_history(ids, organisation_ids) if with_history else None
    latest = (
        {cid: updates[0] for cid, updates in history.items()}
        if history is not None
        else _latest_accepted(ids, organisation_ids)
    )
    goalposts = _goalposts(ids)
    by_id = {p.id: p for p in priorities}
    return [
        PublicCommitment(
            commitment=c,
            organisation_slug=c.organisation.slug,
            organisation_name=c.organisation.name,
            priority=by_id.get(c.primary_priority_id or 0),
            secondary_priority=by_id.get(c.secondary_priority_id or 0),
            themes=list(c.themes),
            latest=latest.get(c.id),
            goalposts=goalposts.get(c.id, []),
            history=history.get(c.id, []) if history is not None else None,
        )
        for c in commitments
    ]


def _ordered(query: Select) -> Select:
    return (
        query.join(Organisation, Organisation.id == Commitment.organisation_id)
        .outerjoin(Priority, Priority.id == Commitment.primary_priority_id)
        .order_by(
            func.lower(Organisation.name),
            Organisation.id,
            func.coalesce(Priority.position, 99),
            Commitment.position,
            Commitment.id,
        )
        # The organisation from the join the order needs already (joinedload joined it again).
        .options(contains_eager(Commitment.organisation), selectinload(Commitment.themes))
    )


@dataclass(frozen=True)
class CommitmentFilters:
    organisation: str | None = None
    priority: str | None = None
    theme: str | None = None
    status: DeliveryStatus | None = None


def _commitment_conditions(filters: CommitmentFilters, known: Catalogue) -> list[object]:
    conditions: list[object] = []
    if filters.organisation:
        conditions.append(
            Commitment.organisation_id.in_(
                select(Organisation.id).where(Organisation.slug == filters.organisation)
            )
        )
    if filters.priority:
        priority = known.priority(filters.priority)
        conditions.append(Commitment.primary_priority_id == (priority.id if priority else -1))
    if filters.theme:
        theme = known.theme(filters.theme)
        conditions.append(
            Commitment.id.in_(
                select(commitment_themes.c.commitment_id).where(
                    commitment_themes.c.theme_id == (theme.id if theme else -1)
                )
            )
        )
    if filters.status:
        conditions.append(Commitment.current_status == filters.status)
    return conditions


def commitment_list(
    filters: CommitmentFilters, known: Catalogue, *, offset: int, limit: int
) -> tuple[int, list[PublicCommitment]]:
    """One page of the commitments the public pages show (each with its accepted quarters),
    and how many there are in all."""
    conditions = [*SHOWN, *_commitment_conditions(filters, known)]
    total = db.session.scalar(select(func.count(Commitment.id)).where(*conditions)) or 0
    commitments = db.session.scalars(
        _ordered(select(Commitment).where(*conditions)).offset(offset).limit(limit)
    ).all()
    return total, _public(commitments, known.priorities, with_history=True)


def commitment_by_id(
    commitment_id: int, known: Catalogue, *, retired: bool = False
) -> PublicCommitment | None:
    """One shown commitment with every accepted quarter (None if there is no such one);
    ``retired`` finds one taken off its pledge as well."""
    conditions = ON_RECORD if retired else SHOWN
    commitments = db.session.scalars(
        _ordered(select(Commitment).where(Commitment.id == commitment_id, *conditions))
    ).all()
    found = _public(commitments, known.priorities, with_history=True)
    return found[0] if found else None


@dataclass(frozen=True)
class QuarterEntry:
    """One quarter on a commitment's public timeline: its accepted update, or none."""

    period: PeriodRef
    due_on: date
    update: AcceptedUpdate | None
    today: date

    @property
    def awaited(self) -> bool:
        """No accepted update, and the return is not due yet: nothing is missing."""
        return self.update is None and self.today <= self.due_on


@dataclass
class CommitmentTimeline:
    """The public page of one commitment: what was promised and each quarter's accepted update."""

    item: PublicCommitment
    quarters: list[QuarterEntry]  # newest first

    @property
    def accepted_count(self) -> int:
        return sum(1 for q in self.quarters if q.update is not None)


def commitment_timeline(
    slug: str, commitment_id: int, known: Catalogue, today: date
) -> CommitmentTimeline | None:
    """A commitment of the organisation ``slug``, quarter by quarter, newest first.

    Every quarter the organisation reports for whose window has opened is listed, with its
    accepted update or without one; a fixed number of queries. A retired commitment keeps its
    page: its quarters end with the last it counted in, or with its last accepted update.
    """
    item = commitment_by_id(commitment_id, known, retired=True)
    if item is None or item.organisation_slug != slug:
        return None
    first = first_quarter_of(item.commitment.organisation)
    periods = db.session.scalars(
        select(ReportingPeriod)
        .where(reporting_began(), ReportingPeriod.opens_on <= today)
        .order_by(ReportingPeriod.year.desc(), ReportingPeriod.quarter.desc())
    ).all()
    accepted = {update.period.slug: update for update in item.history or []}
    retired = item.retired_on
    # Quarters before the organisation's first are left out, and so are those a retired one no
    # longer counted in (``periods.counted_in``: its window had not closed when it was
    # retired), unless one has an accepted update.
    quarters = [
        QuarterEntry(PeriodRef(p.slug, p.label), p.due_on, accepted.get(p.slug), today)
        for p in periods
        if p.slug in accepted
        or ((first is None or p.as_quarter >= first) and (retired is None or p.closes_on < retired))
    ]
    return CommitmentTimeline(item=item, quarters=quarters)


# Feeds -----------------------------------------------------------------------------------------

FEED_LENGTH = 50


@dataclass(frozen=True)
class FeedEntry:
    """One accepted update in a feed: which organisation and commitment, and what it said."""

    update_id: int
    organisation_name: str
    organisation_slug: str
    commitment_id: int
    heading: str
    update: AcceptedUpdate


def feed_entries(organisation_id: int | None = None, limit: int = FEED_LENGTH) -> list[FeedEntry]:
    """The newest accepted updates (of one organisation, or of the whole place), newest first.

    One query, bounded whatever the size: only the ``limit`` most recently accepted returns are
    looked into (the index on returns' state and review time finds them), then their updates.
    """
    newest = (
        select(Return.id)
        .where(Return.state == ReturnState.ACCEPTED)
        .order_by(Return.reviewed_at.desc().nulls_last(), Return.id.desc())
        .limit(limit)
    )
    if organisation_id is not None:
        newest = newest.where(Return.organisation_id == organisation_id)
    rows = db.session.execute(
        accepted_updates_query()
        .add_columns(
            Organisation.name.label("organisation_name"),
            Organisation.slug.label("organisation_slug"),
            Commitment.title,
            Commitment.original_text,
        )
        .join(Organisation, Organisation.id == Commitment.organisation_id)
        .where(Return.id.in_(newest.scalar_subquery()), *ON_RECORD)
        .order_by(
            Return.reviewed_at.desc().nulls_last(),
            Return.id.desc(),
            Commitment.position,
            Commitment.id,
        )
        .limit(limit)
    )
    return [
        FeedEntry(
            update_id=row.id,
            organisation_name=row.organisation_name,
            organisation_slug=row.organisation_slug,
            commitment_id=row.commitment_id,
            heading=row.title or row.original_text,
            update=accepted_update(row),
        )
        for row in rows
    ]


def organisation_by_slug(slug: str) -> Organisation | None:
    return db.session.scalar(select(Organisation).where(Organisation.slug == slug))


# Pages -----------------------------------------------------------------------------------------


@dataclass
class PriorityGroup:
    priority: Priority | None
    commitments: list[PublicCommitment]


@dataclass
class OrganisationPage:
    summary: OrganisationSummary
    statement: str | None
    groups: list[PriorityGroup]
    # Taken off the pledge, most recently first: listed apart, counted in no figure.
    retired: list[PublicCommitment] = field(default_factory=list)

    @property
    def commitments(self) -> list[PublicCommitment]:
        return [c for group in self.groups for c in group.commitments]

    @property
    def goalpost_count(self) -> int:
        return sum(len(c.goalposts) for c in self.commitments)


@cache
def _organisation_page_statements() -> tuple[Select, Select]:
    """SQL for ``organisation_page``'s organisation and its commitments, built once (as
    ``_latest_accepted_statement``); the slug and the organisation are bound when they run."""
    organisation = select(Organisation, _first_statement()).where(
        Organisation.slug == bindparam("slug")
    )
    # One organisation's, retired ones too: the priority's place orders them, and each
    # commitment's organisation is the one just read (from the session, not joined again).
    commitments = (
        select(Commitment)
        .where(Commitment.organisation_id == bindparam("organisation"), *ON_RECORD)
        .outerjoin(Priority, Priority.id == Commitment.primary_priority_id)
        .order_by(func.coalesce(Priority.position, 99), Commitment.position, Commitment.id)
        .options(selectinload(Commitment.themes))
    )
    return organisation, commitments


def organisation_page(slug: str, today: date) -> OrganisationPage | None:
    """An organisation's pledge: its statement and commitments by priority, accepted progress.

    Nine statements whatever its size; the status counts are the listed commitments'.
    """
    organisation_sql, commitments_sql = _organisation_page_statements()
    found = db.session.execute(organisation_sql, {"slug": slug}).first()
    if found is None:
        return None
    organisation, statement = found
    on_record = db.session.scalars(commitments_sql, {"organisation": organisation.id}).all()
    commitments = [c for c in on_record if not c.retired]
    counts = Counter(DeliveryStatus(c.current_status) for c in commitments)
    groups: dict[int | None, PriorityGroup] = {}
    retired: list[PublicCommitment] = []
    for item in _public(on_record, priorities()):
        if item.retired_on is not None:
            retired.append(item)
            continue
        key = item.priority.id if item.priority else None
        groups.setdefault(key, PriorityGroup(item.priority, [])).commitments.append(item)
    retired.sort(key=lambda item: (item.commitment.removed_from_page_at, item.id), reverse=True)
    return OrganisationPage(
        summary=_summary(organisation, dict(counts), today, on_record=on_record),
        statement=statement,
        groups=list(groups.values()),
        retired=retired,
    )


@dataclass
class OrganisationGroup:
    slug: str
    name: str
    commitments: list[PublicCommitment]

    @property
    def completed(self) -> bool:
        return any(c.status == DeliveryStatus.COMPLETED for c in self.commitments)


@dataclass
class CollectionPage:
    """A priority's or a theme's commitments across organisations, a page of organisations at
    a time; the figures are the whole collection's."""

    title: str
    description: str | None
    organisations: list[OrganisationGroup]  # this page's
    organisation_count: int
    commitment_count: int
    status_counts: list[tuple[DeliveryStatus, int]]
    completed_by: int  # organisations with at least one completed commitment here
    page: int = 1
    pages: int = 1

    @property
    def commitments(self) -> list[PublicCommitment]:
        return [c for group in self.organisations for c in group.commitments]


def _by_organisation(items: list[PublicCommitment]) -> list[OrganisationGroup]:
    groups: dict[str, OrganisationGroup] = {}
    for item in items:
        group = groups.setdefault(
            item.organisation_slug,
            OrganisationGroup(item.organisation_slug, item.organisation_name, []),
        )
        group.commitments.append(item)
    return list(groups.values())


def _collection(
    title: str,
    description: str | None,
    conditions: Sequence[ColumnElement[bool]],
    known: Catalogue,
    page: int,
) -> CollectionPage:
    """The commitments meeting ``conditions`` (shown ones), for one page of organisations in
    name order, with the whole collection's figures: the figures in two statements and the
    page's commitments in four (themes, latest accepted updates, goalposts), whatever its size."""
    counted = (
        select(
            Commitment.current_status,
            func.count(),
            func.count(distinct(Commitment.organisation_id)),
        )
        .where(*SHOWN, *conditions)
        .group_by(Commitment.current_status)
    )
    counts: Counter[DeliveryStatus] = Counter()
    completed_by = 0
    for status, n, organisations in db.session.execute(counted):
        found = DeliveryStatus(status or DeliveryStatus.NOT_STARTED)
        counts[found] += n
        if found == DeliveryStatus.COMPLETED:
            completed_by = organisations
    involved = select(Commitment.organisation_id).where(*SHOWN, *conditions)
    organisation_count = (
        db.session.scalar(
            select(func.count()).select_from(Organisation).where(Organisation.id.in_(involved))
        )
        or 0
    )
    paging = pagination(page, organisation_count, COLLECTION_PAGE_SIZE)
    shown = (
        select(Organisation.id)
        .where(Organisation.id.in_(involved))
        .order_by(*BY_NAME)
        .offset(paging.offset)
        .limit(paging.size)
    )
    commitments = db.session.scalars(
        _ordered(
            select(Commitment).where(*SHOWN, *conditions, Commitment.organisation_id.in_(shown))
        )
    ).all()
    return CollectionPage(
        title,
        description,
        _by_organisation(_public(commitments, known.priorities)),
        organisation_count=organisation_count,
        commitment_count=sum(counts.values()),
        status_counts=[(s, counts[s]) for s in DeliveryStatus if counts[s]],
        completed_by=completed_by,
        page=paging.page,
        pages=paging.pages,
    )


def priority_page(code: str, known: Catalogue, page: int = 1) -> CollectionPage | None:
    priority = known.priority(code)
    if priority is None:
        return None
    return _collection(
        priority.name,
        priority.description,
        [Commitment.primary_priority_id == priority.id],
        known,
        page,
    )


def theme_page(slug: str, known: Catalogue, page: int = 1) -> CollectionPage | None:
    theme = known.theme(slug)
    if theme is None:
        return None
    return _collection(
        theme.name,
        theme.description,
        [
            Commitment.id.in_(
                select(commitment_themes.c.commitment_id).where(
                    commitment_themes.c.theme_id == theme.id
                )
            )
        ],
        known,
        page,
    )


@dataclass(frozen=True)
class CatalogueEntry:
    code: str
    name: str
    description: str | None
    organisations: int
    commitments: int
    completed: int


def priority_index(known: Catalogue) -> list[CatalogueEntry]:
    """Each priority with how many organisations and commitments it has (one query)."""
    rows = db.session.execute(
        select(
            Commitment.primary_priority_id,
            func.count(func.distinct(Commitment.organisation_id)),
            func.count(Commitment.id),
            func.count(Commitment.id).filter(Commitment.current_status == DeliveryStatus.COMPLETED),
        )
        .where(*SHOWN)
        .group_by(Commitment.primary_priority_id)
    )
    figures = {row[0]: row[1:] for row in rows}
    return [
        CatalogueEntry(p.code, p.name, p.description, *figures.get(p.id, (0, 0, 0)))
        for p in known.priorities
    ]


def theme_index(known: Catalogue) -> list[CatalogueEntry]:
    """Each theme with how many organisations pledged it and how many completed (one query)."""
    rows = db.session.execute(
        select(
            commitment_themes.c.theme_id,
            func.count(func.distinct(Commitment.organisation_id)),
            func.count(Commitment.id),
            func.count(func.distinct(Commitment.organisation_id)).filter(
                Commitment.current_status == DeliveryStatus.COMPLETED
            ),
        )
        .join(Commitment, Commitment.id == commitment_themes.c.commitment_id)
        .where(*SHOWN)
        .group_by(commitment_themes.c.theme_id)
    )
    figures = {row[0]: row[1:] for row in rows}
    return [
        CatalogueEntry(t.slug, t.name, t.description, *figures.get(t.id, (0, 0, 0)))
        for t in known.themes
    ]


# Periods and board summaries -------------------------------------------------------------------


@dataclass(frozen=True)
class PeriodRecord:
    period: ReportingPeriod
    state: str


def periods(today: date) -> list[PeriodRecord]:
    """Every reporting period, newest first, with the state its dates give it today."""
    found = db.session.scalars(
        select(ReportingPeriod)
        .where(reporting_began())
        .order_by(ReportingPeriod.year.desc(), ReportingPeriod.quarter.desc())
    )
    return [PeriodRecord(p, str(state_on(p, today))) for p in found]


def published_summaries(period_slug: str | None = None) -> list[BoardSummary]:
    """The latest published revision of each period's board summary, newest period first."""
    newest = (
        select(BoardSummary.period_id, func.max(BoardSummary.revision).label("revision"))
        .where(BoardSummary.published_at.is_not(None))
        .group_by(BoardSummary.period_id)
        .subquery()
    )
    query = (
        select(BoardSummary)
        .join(
            newest,
            and_(
                newest.c.period_id == BoardSummary.period_id,
                newest.c.revision == BoardSummary.revision,
            ),
        )
        .join(ReportingPeriod, ReportingPeriod.id == BoardSummary.period_id)
        .order_by(ReportingPeriod.year.desc(), ReportingPeriod.quarter.desc())
        .options(joinedload(BoardSummary.period))
    )
    if period_slug is not None:
        query = query.where(ReportingPeriod.slug == period_slug)
    return list(db.session.scalars(query))


def last_changed() -> datetime | None:
    """When any published data last changed (for ``Last-Modified``), in one query.

    Accepted returns count from their review, and from any evidence an admin verified in them
    since; drafts and submissions do not (their timing is not public). A deleted row leaves no
    time behind, so clients should prefer the ETag.
    """
    verified = (
        # The newest first, down the index on verified_at: max() over a join would read them all.
        select(CommitmentUpdate.verified_at)
        .join(Return, Return.id == CommitmentUpdate.return_id)
        .where(CommitmentUpdate.verified_at.is_not(None), Return.state == ReturnState.ACCEPTED)
        .order_by(CommitmentUpdate.verified_at.desc())
        .limit(1)
    )
    times = [
        select(func.max(Organisation.updated_at)).scalar_subquery(),
        select(func.max(Pledge.updated_at)).scalar_subquery(),
        select(func.max(Commitment.updated_at)).scalar_subquery(),
        select(func.max(Theme.updated_at)).scalar_subquery(),
        select(func.max(Place.updated_at)).scalar_subquery(),
        select(func.max(ReportingPeriod.updated_at)).scalar_subquery(),
        select(func.max(TargetChange.changed_at)).scalar_subquery(),
        select(func.max(Return.reviewed_at))
        .where(Return.state == ReturnState.ACCEPTED)
        .scalar_subquery(),
        select(func.max(BoardSummary.published_at)).scalar_subquery(),
        verified.scalar_subquery(),
    ]
    row = db.session.execute(select(*times)).one()
    found = [value for value in row if value is not None]
    return max(found) if found else None
