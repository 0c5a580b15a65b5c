"""Demo data: the Luton seed, the demo accounts and four past quarters of plausible returns.

For development and demonstrations (``tracker demo``), never production. A year of reporting is
played out through the same services the web app uses — ``save_update``, ``submit``, ``accept``,
``send_back``, ``grant_extension``, ``verify_evidence``, ``build_summary``, ``publish_summary``,
``send_reminders``, ``chase`` — with the simulated day and time passed in, so submission dates,
lateness, reporting statuses, the outbox and the audit log read as if the year had happened.
Moved goalposts are written as the commitment edit page writes them: a ``TargetChange`` row per
field, with the reason, and an audit event. Each closed quarter has a published board summary.

Deterministic: one ``random.Random(seed)`` makes every choice, and everything it chooses from is
put in a fixed order first, so the same seed and ``today`` give the same data on SQLite and on
PostgreSQL. ``generate_history`` flushes only: the command commits it once. The reminder ladder
commits as it goes (as the daily job does), so ``bring_to_today`` runs it afterwards, with today's
jobs (reporting statuses and reminders), exactly as the scheduler would on its first start.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.orm import selectinload

from tracker.config import PROJECT_ROOT
from tracker.domain.calendar import Quarter, WindowRules, period_for, was_late
from tracker.domain.enums import (
    DeliveryStatus,
    Direction,
    NotificationState,
    PeriodState,
    ReportingStatus,
    ReturnState,
    Role,
)
from tracker.domain.pledge_page import (
    ParsedOrganisation,
    ParsedPage,
    decode_pledge_page,
    parse_pledge_page,
)
from tracker.domain.reminders import LadderRules, ladder
from tracker.domain.updates import FINAL_STATUSES
from tracker.extensions import db
from tracker.models import (
    AuditEvent,
    BoardSummary,
    Commitment,
    CommitmentUpdate,
    Notification,
    Organisation,
    ReminderRecord,
    ReportingPeriod,
    Return,
    TargetChange,
    Theme,
    User,
)
from tracker.services import accounts
from tracker.services.board import ensure_summary, publish_summary
from tracker.services.commitments import CommitmentDetails, MilestoneEntry, update_commitment
from tracker.services.periods import (
    all_periods,
    ensure_periods,
    grant_extension,
    set_reporting_start,
    state_on,
)
from tracker.services.pledge_import import (
    ImportReport,
    PlaceDefinition,
    import_pledge_page,
    read_place_file,
)
from tracker.services.reminders import chase, overdue, send_reminders
from tracker.services.return_emails import ACCEPTED, SENT_BACK, SUBMITTED
from tracker.services.returns import (
    UpdateInput,
    accept,
    no_change_from,
    reportable_commitments,
    reporting_statuses,
    return_for,
    save_update,
    send_back,
    submit,
    verify_evidence,
)

SEED_PAGE = PROJECT_ROOT / "seed" / "luton-2040-pledges.txt"
SEED_PLACE = PROJECT_ROOT / "seed" / "luton-2040-place.json"
DEFAULT_SEED = 2040
HISTORY_QUARTERS = 4
LONDON = ZoneInfo("Europe/London")

DEMO_PASSWORD = "pledge tracker demo"  # noqa: S105  (printed on purpose, development only)
DEMO_ADMIN = "admin@example.org"
DEMO_LEAD = "lead@example.org"
DEMO_LEAD_ORGANISATION = "active-luton"
DEMO_ACCOUNTS = (
    (DEMO_ADMIN, "Alex Admin", Role.ADMIN, None),
    (DEMO_LEAD, "Lee Lead", Role.LEAD, DEMO_LEAD_ORGANISATION),
    ("board@example.org", "Bo Board", Role.BOARD, None),
)


class DemoError(Exception):
    """The demo data cannot be made; the message says what to do first."""


# Set-up: the seed and the accounts ---------------------------------------------------------------


def read_seed(
    page: Path = SEED_PAGE, place: Path = SEED_PLACE
) -> tuple[ParsedPage, PlaceDefinition]:
    """The Luton pledge page and place definition shipped in ``seed/``."""
    return parse_pledge_page(decode_pledge_page(page.read_bytes())), read_place_file(place)


def needs_seed() -> bool:
    """Whether there are no organisations yet, so the seed should be loaded."""
    return not db.session.scalar(select(func.count()).select_from(Organisation))


def load_seed(
    page: ParsedPage,
    place: PlaceDefinition,
    *,
    progress: Callable[[ParsedOrganisation], None] | None = None,
) -> ImportReport:
    """Import the pledge page through the ordinary importer (flushes only)."""
    return import_pledge_page(page, place, source=SEED_PAGE.name, progress=progress)


def ensure_demo_accounts() -> list[User]:
    """Create the demo admin, lead and board member (with the demo password) if missing."""
    made = []
    for email, name, role, slug in DEMO_ACCOUNTS:
        if accounts.find_user(email) is not None:
            continue
        organisations = []
        if slug:
            organisation = db.session.scalar(select(Organisation).where(Organisation.slug == slug))
            if organisation is None:
                raise DemoError(f"load the seed first: no organisation {slug}")
            organisations = [organisation]
        user = accounts.create_user(
            email=email,
            name=name,
            role=role,
            organisations=organisations,
            actor_label="demo set-up",
        )
        accounts.set_password(user, DEMO_PASSWORD)
        made.append(user)
    return made


def demo_account_lines() -> list[str]:
    """How to sign in as each demo account."""
    lines = [f"Demo accounts (password for each: {DEMO_PASSWORD!r}):"]
    for email, _, role, slug in DEMO_ACCOUNTS:
        extra = f" of {slug}" if slug else ""
        lines.append(f"  {email:<20} {role}{extra}")
    lines.append(
        "Admins also enter a two-factor code after the password: print the current one with"
        f" `.venv/bin/tracker users code {DEMO_ADMIN}` (it changes every 30 seconds)."
    )
    return lines


def has_history() -> bool:
    """Whether any return exists: then the demo history is there (or real data is)."""
    return db.session.scalar(select(Return.id).limit(1)) is not None


def prepare(today: date, rules: WindowRules) -> None:
    """The demo accounts and the reporting periods up to ``today`` (the seed must be loaded).

    Before the history is played, reporting is made to begin with its first quarter: the
    demo's history starts where its data starts, with no empty "late" quarters before it.
    """
    ensure_demo_accounts()
    if not has_history():
        set_reporting_start(history_quarters(today, rules)[0], actor=None, actor_label="demo")
    ensure_periods(today, rules)


def history_quarters(today: date, rules: WindowRules) -> list[Quarter]:
    """The quarters the story plays: the latest ``HISTORY_QUARTERS`` due before ``today``."""
    found: list[Quarter] = []
    quarter = period_for(today)
    while len(found) < HISTORY_QUARTERS:
        if quarter.window(rules).due_on < today:
            found.append(quarter)
        quarter = quarter.previous()
    return sorted(found)


# The story's raw material --------------------------------------------------------------------

_OWNERS = (
    "Priya Shah",
    "Tom Byrne",
    "Aisha Rahman",
    "Gareth Lloyd",
    "Mei Chen",
    "Kwame Mensah",
    "Siobhan Kelly",
    "Imran Hussain",
    "Claire Dawson",
    "Tariq Aziz",
    "Helen Okafor",
    "Daniel Novak",
    "Ruth Adeyemi",
    "Sam Patel",
    "Joanna Walsh",
    "Marcus Green",
)


@dataclass(frozen=True)
class _TargetTemplate:
    metric: str
    unit: str
    baseline: int
    target: int
    direction: Direction = Direction.INCREASE
    scales: bool = True  # a count that grows with the organisation (not a percentage)


_THEME_TARGETS = {
    "real-living-wage": _TargetTemplate(
        "Staff paid at least the Real Living Wage", "%", 82, 100, scales=False
    ),
    "net-zero": _TargetTemplate("Scope 1 and 2 emissions", "tCO2e", 1450, 0, Direction.DECREASE),
    "energy-efficiency": _TargetTemplate(
        "Electricity from renewable sources", "%", 35, 100, scales=False
    ),
    "waste-reduction": _TargetTemplate(
        "Waste sent to landfill", "tonnes", 120, 30, Direction.DECREASE
    ),
    "apprenticeships-work-experience": _TargetTemplate(
        "Apprenticeships and work placements", "placements", 6, 30
    ),
    "targeted-skills-employment": _TargetTemplate(
        "People from under-represented groups hired", "people", 4, 25
    ),
    "volunteering": _TargetTemplate("Staff volunteering hours", "hours", 150, 1000),
    "local-procurement": _TargetTemplate("Spend with Luton suppliers", "%", 18, 40, scales=False),
    "active-travel": _TargetTemplate(
        "Staff travelling to work actively or by public transport", "%", 22, 40, scales=False
    ),
    "greening-air-quality": _TargetTemplate("Trees planted", "trees", 0, 500),
    "healthy-workplace": _TargetTemplate(
        "Staff using the wellbeing programme", "%", 30, 60, scales=False
    ),
    "social-connectedness": _TargetTemplate(
        "Residents taking part in community activities", "people", 200, 1200
    ),
    "child-friendly-town": _TargetTemplate(
        "Children and young people consulted", "people", 50, 400
    ),
    "voice-in-shaping-services": _TargetTemplate(
        "Residents involved in shaping services", "people", 40, 300
    ),
    "pride-ambassador": _TargetTemplate("Community events supported", "events", 2, 12),
    "diversity-inclusion": _TargetTemplate(
        "Senior roles held by people from ethnic minority backgrounds", "%", 14, 30, scales=False
    ),
    "flexible-working": _TargetTemplate("Jobs advertised as flexible", "%", 40, 90, scales=False),
    "vcs-links": _TargetTemplate("Voluntary and community partners worked with", "partners", 3, 15),
}
_PRIORITY_TARGETS = {
    "inclusive-economy": _TargetTemplate("Local people helped into work", "people", 10, 60),
    "improving-wellbeing": _TargetTemplate("People reached by the programme", "people", 100, 800),
    "child-friendly-town": _TargetTemplate("Children and young people reached", "people", 80, 500),
    "net-zero-town": _TargetTemplate("Carbon emissions", "tCO2e", 600, 300, Direction.DECREASE),
    "empowered-community": _TargetTemplate("Residents engaged", "people", 60, 400),
}
_TARGET_DATES = (date(2026, 3, 31), date(2027, 3, 31), date(2028, 3, 31), date(2030, 3, 31))
_BASELINE_DATE = date(2024, 3, 31)

# First quarter's status, then how a status moves from one quarter to the next.
_FIRST = {
    DeliveryStatus.NOT_STARTED: 12,
    DeliveryStatus.ON_TRACK: 58,
    DeliveryStatus.AT_RISK: 17,
    DeliveryStatus.OFF_TRACK: 7,
    DeliveryStatus.COMPLETED: 6,
}
_DRIFT = {
    DeliveryStatus.NOT_STARTED: {
        DeliveryStatus.NOT_STARTED: 35,
        DeliveryStatus.ON_TRACK: 50,
        DeliveryStatus.AT_RISK: 12,
        DeliveryStatus.OFF_TRACK: 3,
    },
    DeliveryStatus.ON_TRACK: {
        DeliveryStatus.ON_TRACK: 80,
        DeliveryStatus.AT_RISK: 9,
        DeliveryStatus.OFF_TRACK: 2,
        DeliveryStatus.COMPLETED: 9,
    },
    DeliveryStatus.AT_RISK: {
        DeliveryStatus.ON_TRACK: 38,
        DeliveryStatus.AT_RISK: 37,
        DeliveryStatus.OFF_TRACK: 18,
        DeliveryStatus.COMPLETED: 7,
    },
    DeliveryStatus.OFF_TRACK: {
        DeliveryStatus.OFF_TRACK: 45,
        DeliveryStatus.AT_RISK: 35,
        DeliveryStatus.ON_TRACK: 20,
    },
}
# How far a progress value moves toward its target in a quarter, by status (a fraction of the gap).
_PROGRESS = {
    DeliveryStatus.ON_TRACK: (0.04, 0.12),
    DeliveryStatus.AT_RISK: (0.0, 0.04),
    DeliveryStatus.OFF_TRACK: (-0.04, 0.01),
}
_EVIDENCE_CHANCE = {
    DeliveryStatus.COMPLETED: 0.75,
    DeliveryStatus.ON_TRACK: 0.3,
    DeliveryStatus.AT_RISK: 0.2,
    DeliveryStatus.OFF_TRACK: 0.1,
}
_VERIFY_CHANCE = 0.35
_NO_CHANGE_CHANCE = 0.2

_NARRATIVES = {
    DeliveryStatus.ON_TRACK: (
        "Progress on {topic} is as planned this quarter.",
        "{Topic}: this quarter's actions are done and the next steps are scheduled.",
        "Good progress on {topic}, reported to our senior team in {month}.",
        None,
        None,
    ),
    DeliveryStatus.AT_RISK: (
        "Work on {topic} has slowed: the colleague leading it left in {month} and we are "
        "recruiting a replacement.",
        "{Topic}: funding for the next stage is not yet confirmed, so new activity is paused "
        "until it is.",
        "We are behind plan on {topic} because a partner's timetable slipped; we expect to "
        "catch up next quarter.",
        "Demand on our frontline services this quarter took staff time away from {topic}.",
        "The supplier we relied on for {topic} has withdrawn and we are looking for another.",
    ),
    DeliveryStatus.OFF_TRACK: (
        "{Topic} is off track: its budget was cut in this year's settlement and we have not "
        "found other funding yet.",
        "No progress on {topic} this quarter; a recovery plan went to our board in {month}.",
        "Work on {topic} has stopped while we restructure the team that runs it.",
        "Staff shortages mean {topic} has not moved since last quarter.",
    ),
    DeliveryStatus.COMPLETED: (
        "Completed this quarter: {topic} is now part of how we work.",
        "Done: {topic} carries on as business as usual.",
    ),
    DeliveryStatus.NOT_STARTED: ("Planned to start next quarter.", None, None),
}
# What a narrative calls the work, mid-sentence.
_THEME_TOPICS = {
    "good-business-charter": "our Good Business Charter accreditation",
    "real-living-wage": "paying the Real Living Wage",
    "flexible-working": "flexible working",
    "staff-progression": "staff training and progression",
    "local-procurement": "buying from Luton suppliers",
    "place-brand": "Step Forward Luton",
    "apprenticeships-work-experience": "apprenticeships and work experience",
    "targeted-skills-employment": "jobs for under-represented groups",
    "healthy-workplace": "our staff wellbeing programme",
    "social-connectedness": "our work on loneliness and isolation",
    "homes-health-safety-services": "home safety services",
    "net-zero": "our net zero plan",
    "energy-efficiency": "energy efficiency and renewables",
    "waste-reduction": "waste reduction and recycling",
    "greening-air-quality": "tree planting and air quality",
    "active-travel": "active travel",
    "climate-leadership": "climate training for staff",
    "child-friendly-town": "our Child Friendly Town work",
    "young-people-safe": "keeping young people safe",
    "support-vulnerable-children": "support for vulnerable children",
    "aspiration-achievement": "raising aspiration and achievement",
    "voice-in-shaping-services": "involving residents in shaping services",
    "diversity-inclusion": "diversity and inclusion at work",
    "disability-confident": "Disability Confident accreditation",
    "fairness-taskforce": "the Fairness Taskforce recommendations",
    "fair-dealing": "fair dealing",
    "pride-ambassador": "Pride in Luton",
    "volunteering": "staff volunteering",
    "vcs-links": "our work with the voluntary sector",
}
_PRIORITY_TOPICS = {
    "inclusive-economy": "this inclusive economy commitment",
    "improving-wellbeing": "this wellbeing commitment",
    "child-friendly-town": "this commitment to children and young people",
    "net-zero-town": "this net zero commitment",
    "empowered-community": "this community commitment",
}
_RISKS = (
    "We would welcome an introduction to other organisations working on {topic}.",
    "Support needed: a partner to share the cost of {topic}.",
    "Risk: if the funding is not confirmed by the end of next quarter, the work stops.",
)
_DISCONTINUED = (
    "We have stopped this: the external funding for {topic} ended in {month}, and what is left "
    "of the work now sits in our wider {priority} plan."
)
_EXTENSION_REASON = (
    "Our finance team is changing systems this quarter, so the figures will be a fortnight late."
)
_SEND_BACK_RISKS = (
    "Please say what support you need for the commitments marked at risk or off track, so the "
    "Place Board can help."
)
_SEND_BACK_EVIDENCE = (
    "Please add a link to the evidence for at least one of the commitments you report as done."
)
# How a goalpost moves, and the reason given (each reads true of the change it explains).
_GOALPOST_REASONS = {
    "lower": "Two of the sites we planned for lost their funding this year; the partnership "
    "agreed a lower figure.",
    "raise": "The first year went better than planned, so our board raised the target.",
    "deadline": "Funding for the second phase moved back two years, so the deadline moves with it.",
    "baseline": "We counted the baseline again from our own records; the first figure was an "
    "estimate.",
    "rephase": "We re-phased the work with our funder: a smaller first phase, finishing a year "
    "later.",
}


# The story itself --------------------------------------------------------------------------------


@dataclass
class _Track:
    """Where one commitment has got to."""

    status: DeliveryStatus | None = None
    value: Decimal | None = None


@dataclass
class _Roles:
    """Which organisations the story singles out, and in which quarter."""

    non_communicating: Organisation | None = None
    missing_latest: Organisation | None = None
    extension: tuple[Organisation, int] | None = None
    late: set[tuple[int, int]] = field(default_factory=set)  # (organisation id, quarter index)
    sent_back: set[tuple[int, int]] = field(default_factory=set)
    awaiting_review: set[int] = field(default_factory=set)  # organisation ids, latest quarter
    current_drafts: list[Organisation] = field(default_factory=list)


@dataclass
class _Goalpost:
    commitment: Commitment
    quarter: int  # index into the history quarters
    fields: dict[str, object]
    reason: str


class _Story:
    def __init__(
        self,
        today: date,
        seed: int,
        progress: Callable[[int], None] | None,
    ) -> None:
        self.today = today
        self.rng = random.Random(seed)  # noqa: S311  (demo data, not security)
        self.progress = progress or (lambda _: None)
        self.admin = _required_user(DEMO_ADMIN)
        self.demo_lead = _required_user(DEMO_LEAD)
        self.organisations = list(
            db.session.scalars(select(Organisation).order_by(Organisation.slug))
        )
        self.history, self.current = story_periods(today)
        self.commitments = {
            organisation.id: sorted(
                reportable_commitments(organisation.id), key=lambda c: (c.position, c.key)
            )
            for organisation in self.organisations
        }
        # Themes, priorities and milestones in three queries rather than three per commitment.
        ids = [c.id for cs in self.commitments.values() for c in cs]
        list(
            db.session.scalars(
                select(Commitment)
                .where(Commitment.id.in_(ids))
                .options(
                    selectinload(Commitment.themes),
                    selectinload(Commitment.primary_priority),
                    selectinload(Commitment.milestones),
                )
            )
        )
        self.tracks: dict[int, _Track] = {}
        self.leads: dict[int, User] = {}
        self.goalposts: list[_Goalpost] = []
        self.stated_targets: list[Commitment] = []
        # The latest update saved for each commitment, with its quarter's index.
        self.rows: dict[int, tuple[int, CommitmentUpdate]] = {}
        self.discontinued: tuple[Commitment, int] | None = None
        self.roles = _Roles()

    # Time ---------------------------------------------------------------------------------

    def moment(self, day: date, *, after: datetime | None = None) -> datetime:
        """A working-hours time on ``day`` (London), in UTC; never before ``after``."""
        day = min(day, self.today)
        minutes = self.rng.randrange(9 * 60, 17 * 60 + 30)
        at = datetime.combine(day, time(minutes // 60, minutes % 60), tzinfo=LONDON).astimezone(UTC)
        if after is not None and at <= after:
            at = after + timedelta(minutes=self.rng.randint(5, 90))
        return at

    def stamp(self, now: datetime) -> None:
        """Date the audit events the last service call made at the simulated time, not the clock."""
        _stamp(now)

    # The board ----------------------------------------------------------------------------

    def publish_summary(self, period: ReportingPeriod) -> None:
        """Built the night after the window closes (as the job does); the admin publishes it."""
        if period.closes_on >= self.today:
            return
        # Fixed times rather than the random generator's, so the returns' story stays the same.
        built_at = _at(period.closes_on + timedelta(days=1), time(0, 30))
        summary = ensure_summary(period, now=built_at)
        if summary is None:
            return
        self.stamp(built_at)
        published_at = _at(min(period.closes_on + timedelta(days=3), self.today), time(10, 0))
        publish_summary(summary, actor=self.admin, now=published_at)
        self.stamp(published_at)
        # Board members were emailed then: the outbox shows them sent, not waiting to go now.
        _mark_sent(
            Notification.kind == "board_published",
            Notification.idempotency_key.like(f"board-published:{summary.id}:%"),
            now=published_at,
        )

    # Set-up -------------------------------------------------------------------------------

    def run(self) -> None:
        self.choose_roles()
        first_open = self.history[0].opens_on if self.history else self.today
        setup = self.moment(first_open - timedelta(days=30))
        self.make_leads(setup)
        self.fill_smart_fields(setup)
        self.plan_goalposts()
        for index, period in enumerate(self.history):
            for organisation in self.organisations:
                self.play_quarter(organisation, period, index)
                self.progress(1)
            # Before the next quarter's goalposts move: the board saw the quarter as it closed.
            self.publish_summary(period)
        if self.current is not None:
            for organisation in self.organisations:
                if organisation in self.roles.current_drafts:
                    self.draft_current(organisation, self.current)
                self.progress(1)
        db.session.flush()

    def choose_roles(self) -> None:
        rng, roles = self.rng, self.roles
        quarters = len(self.history)
        regular = [o for o in self.organisations if o.slug != DEMO_LEAD_ORGANISATION]
        # Goalposts need the organisation to keep reporting: keep them out of the special roles.
        seeded_targets = {
            c.organisation_id
            for cs in self.commitments.values()
            for c in cs
            if c.target_value is not None
        }
        candidates = [o for o in regular if o.id not in seeded_targets]
        picked = rng.sample(candidates, k=min(len(candidates), 12))
        if quarters and len(picked) >= 12:
            roles.non_communicating = picked[0]
            roles.missing_latest = picked[1]
            if quarters >= 2:
                roles.extension = (picked[2], rng.randrange(quarters - 1))
            for organisation in picked[3:8]:
                roles.late.add((organisation.id, rng.randrange(quarters)))
            for organisation in picked[8:10]:
                roles.sent_back.add((organisation.id, rng.randrange(quarters)))
            roles.awaiting_review = {picked[10].id, picked[11].id}
        if self.current is not None:
            quiet = {roles.non_communicating.id} if roles.non_communicating else set()
            others = [o for o in regular if o.id not in quiet]
            demo = [o for o in self.organisations if o.slug == DEMO_LEAD_ORGANISATION]
            roles.current_drafts = demo + rng.sample(others, k=min(len(others), 5))

    def make_leads(self, now: datetime) -> None:
        """One lead per organisation to appear as the author (the demo lead for active-luton)."""
        for organisation in self.organisations:
            if organisation.slug == DEMO_LEAD_ORGANISATION:
                self.leads[organisation.id] = self.demo_lead
                continue
            email = f"lead+{organisation.slug}"[:64].rstrip("-") + "@example.org"
            user = accounts.find_user(email) or accounts.create_user(
                email=email,
                name=f"{organisation.name} lead"[:200],
                role=Role.LEAD,
                organisations=[organisation],
                actor=self.admin,
            )
            self.stamp(now)
            self.leads[organisation.id] = user

    def fill_smart_fields(self, now: datetime) -> None:
        """Owners for most commitments and targets for some, set up before the first quarter."""
        rng = self.rng
        for organisation in self.organisations:
            for commitment in self.commitments[organisation.id]:
                changes: dict[str, object] = {}
                if commitment.owner_name is None and rng.random() < 0.6:
                    changes["owner_name"] = rng.choice(_OWNERS)
                template = self.template_for(commitment)
                if commitment.target_value is not None:
                    # Stated in the pledge ("400 new affordable homes"): the lead adds the rest.
                    self.stated_targets.append(commitment)
                    changes.update(
                        owner_name=commitment.owner_name or rng.choice(_OWNERS),
                        baseline_value=commitment.baseline_value
                        if commitment.baseline_value is not None
                        else Decimal(78 if commitment.unit == "%" else 0),
                        baseline_date=commitment.baseline_date or _BASELINE_DATE,
                        target_date=commitment.target_date or date(2028, 3, 31),
                        direction=commitment.direction or Direction.INCREASE,
                    )
                elif template is not None and rng.random() < 0.35:
                    scale = rng.choice((1, 1, 2, 3)) if template.scales else 1
                    changes.update(
                        metric=template.metric,
                        unit=template.unit,
                        baseline_value=Decimal(template.baseline * scale),
                        baseline_date=_BASELINE_DATE,
                        target_value=Decimal(template.target * scale),
                        direction=template.direction,
                        target_date=commitment.target_date or rng.choice(_TARGET_DATES),
                    )
                elif commitment.target_date is None and rng.random() < 0.15:
                    changes["target_date"] = rng.choice(_TARGET_DATES)
                if changes:
                    actor = rng.choice((self.admin, self.leads[organisation.id]))
                    self.edit(commitment, changes, actor=actor, now=now)

    def edit(
        self,
        commitment: Commitment,
        changes: dict[str, object],
        *,
        actor: User,
        now: datetime,
        reason: str | None = None,
    ) -> list[TargetChange]:
        """Change a commitment as its edit page does (audited; moved goalposts recorded)."""
        details = CommitmentDetails(
            title=commitment.title or "",
            owner_name=commitment.owner_name,
            owner_email=commitment.owner_email,
            primary_priority_id=commitment.primary_priority_id,
            secondary_priority_id=commitment.secondary_priority_id,
            metric=commitment.metric,
            unit=commitment.unit,
            baseline_value=commitment.baseline_value,
            baseline_date=commitment.baseline_date,
            target_value=commitment.target_value,
            target_date=commitment.target_date,
            direction=commitment.direction,
            milestones=tuple(
                MilestoneEntry(m.id, m.title, m.due_on) for m in commitment.milestones
            ),
        )
        moved = update_commitment(
            commitment,
            replace(details, **changes),
            version=commitment.version,
            actor=actor,
            today=now.astimezone(LONDON).date(),
            reason=reason,
            now=now,
        )
        self.stamp(now)
        return moved

    def template_for(self, commitment: Commitment) -> _TargetTemplate | None:
        for theme in _themes(commitment):
            if theme.slug in _THEME_TARGETS:
                return _THEME_TARGETS[theme.slug]
        priority = commitment.primary_priority
        return _PRIORITY_TARGETS.get(priority.code) if priority else None

    def plan_goalposts(self) -> None:
        """Four numeric targets moved in a later quarter, each with a reason that fits."""
        if len(self.history) < 2:
            return
        quiet = {
            o.id for o in (self.roles.non_communicating, self.roles.missing_latest) if o is not None
        }
        numeric = [
            c
            for o in self.organisations
            if o.id not in quiet
            for c in self.commitments[o.id]
            if c.target_value is not None
            and c.target_date is not None
            and c.direction != Direction.DECREASE
        ]
        # The pledges that stated a number themselves ("400 new affordable homes") come first.
        stated = [c for c in numeric if c in self.stated_targets][:2]
        others = [c for c in numeric if c not in stated]
        chosen = stated + self.rng.sample(others, k=min(len(others), 4 - len(stated)))
        kinds = list(_GOALPOST_REASONS)
        self.rng.shuffle(kinds)
        for commitment in chosen:
            for kind in kinds:
                fields = self._moved(commitment, kind)
                if fields:
                    kinds.remove(kind)
                    quarter = self.rng.randrange(1, len(self.history))
                    reason = _GOALPOST_REASONS[kind]
                    self.goalposts.append(_Goalpost(commitment, quarter, fields, reason))
                    break

    def _moved(self, commitment: Commitment, kind: str) -> dict[str, object] | None:
        """The new values for one kind of move, or None when it cannot apply to this target."""
        target, baseline = commitment.target_value, commitment.baseline_value or Decimal(0)
        deadline = commitment.target_date
        assert target is not None and deadline is not None
        percent = commitment.unit == "%"
        if kind in {"lower", "rephase"}:
            lower = target - 5 if percent else (target * Decimal("0.85")).quantize(Decimal(1))
            if lower <= baseline:
                return None
            if kind == "lower":
                return {"target_value": lower}
            return {"target_value": lower, "target_date": _years_later(deadline, 1)}
        if kind == "raise":
            higher = target + 5 if percent else (target * Decimal("1.25")).quantize(Decimal(1))
            return None if percent and higher > 100 else {"target_value": higher}
        if kind == "deadline":
            return {"target_date": _years_later(deadline, 2)}
        # A baseline counted again: only where there was one to count.
        if baseline <= 0:
            return None
        recounted = baseline + (2 if percent else max(1, (baseline / 10).quantize(Decimal(1))))
        return {"baseline_value": recounted} if recounted < target else None

    def move_goalposts(
        self, organisation: Organisation, period: ReportingPeriod, index: int
    ) -> None:
        """Move the goalposts planned for this organisation and quarter, with their reasons."""
        for goalpost in self.goalposts:
            commitment = goalpost.commitment
            if goalpost.quarter != index or commitment.organisation_id != organisation.id:
                continue
            # Mid-quarter: after last quarter's return (even a late one), before this one opens.
            day = period.starts_on + timedelta(days=self.rng.randint(45, 60))
            actor = self.rng.choice((self.admin, self.leads[organisation.id]))
            moved = self.edit(
                commitment,
                goalpost.fields,
                actor=actor,
                now=self.moment(day),
                reason=goalpost.reason,
            )
            assert moved, f"commitment {commitment.id}: the change was not a moved goalpost"

    # One organisation's quarter -------------------------------------------------------------

    def play_quarter(self, organisation: Organisation, period: ReportingPeriod, index: int) -> None:
        roles, rng = self.roles, self.rng
        latest = index == len(self.history) - 1
        key = (organisation.id, index)
        if organisation is roles.non_communicating and index >= len(self.history) - 2:
            return
        lead = self.leads[organisation.id]
        due = period.due_on
        extension = roles.extension is not None and roles.extension == (organisation, index)
        sent_back = key in roles.sent_back
        if extension:
            granted = self.moment(due - timedelta(days=rng.randint(2, 6)))
            grant_extension(
                organisation,
                period,
                new_due=due + timedelta(days=14),
                reason=_EXTENSION_REASON,
                actor=self.admin,
                now=granted,
            )
            self.stamp(granted)
            submit_day = due + timedelta(days=rng.randint(3, 13))
        elif key in roles.late:
            submit_day = due + timedelta(days=rng.randint(2, 20))
        elif sent_back:
            submit_day = due - timedelta(days=rng.randint(9, 16))
        else:
            submit_day = due - timedelta(days=rng.randint(0, (due - period.ends_on).days + 4))
        submit_day = max(period.opens_on, min(submit_day, self.today))
        draft_day = max(period.opens_on, submit_day - timedelta(days=rng.randint(0, 6)))
        started = self.moment(draft_day)
        if extension:
            started = max(started, granted + timedelta(minutes=5))

        self.move_goalposts(organisation, period, index)
        missing = organisation is roles.missing_latest and latest
        commitments = self.commitments[organisation.id]
        if missing:
            # Started, never sent: the return is late and shows as a draft in the review queue.
            commitments = commitments[: max(1, len(commitments) // 3)]
        saved_at = started
        rows = []
        for commitment in commitments:
            data = self.update_for(organisation, period, index, commitment)
            row = save_update(
                organisation,
                period,
                commitment,
                data,
                version=None,
                complete=True,
                actor=lead,
                today=saved_at.date(),
            )
            self.stamp(saved_at)
            self.rows[commitment.id] = (index, row)
            rows.append(row)
            saved_at += timedelta(minutes=rng.randint(1, 4))
        if missing:
            return

        submitted_at = self.moment(submit_day, after=saved_at)
        # The receipt queued at the end of submit() reads and writes: left to autoflush, it
        # would write the audit row with the clock's time before stamp() dates it.
        with db.session.no_autoflush:
            outcome = submit(organisation, period, actor=lead, now=submitted_at)
        assert outcome.submitted, outcome.message
        self.stamp(submitted_at)
        return_ = return_for(organisation, period)
        _mark_return_emails_sent(return_, submitted_at)

        if sent_back:
            reviewed_at = self.moment(submit_day + timedelta(days=2), after=submitted_at)
            comment = self.send_back_and_fix(organisation, period, return_, rows, reviewed_at)
            resubmitted_at = self.moment(
                reviewed_at.date() + timedelta(days=rng.randint(1, 3)), after=reviewed_at
            )
            with db.session.no_autoflush:
                outcome = submit(organisation, period, actor=lead, now=resubmitted_at)
            assert outcome.submitted, comment
            self.stamp(resubmitted_at)
            _mark_return_emails_sent(return_, resubmitted_at)
            submitted_at = resubmitted_at

        if latest and organisation.id in roles.awaiting_review:
            return
        review_day = submitted_at.date() + timedelta(days=rng.randint(1, 12))
        if review_day > self.today:
            return  # not reviewed yet: it waits in the admins' queue
        reviewed_at = self.moment(review_day, after=submitted_at)
        with db.session.no_autoflush:  # as for submit(): the notice comes after the audit row
            accept(return_, version=return_.version, actor=self.admin, now=reviewed_at)
        self.stamp(reviewed_at)
        _mark_return_emails_sent(return_, reviewed_at)
        for row in rows:
            if row.has_evidence and rng.random() < _VERIFY_CHANCE:
                verify_evidence(row, actor=self.admin, now=reviewed_at)
                self.stamp(reviewed_at)

    def update_for(
        self,
        organisation: Organisation,
        period: ReportingPeriod,
        index: int,
        commitment: Commitment,
    ) -> UpdateInput:
        """This quarter's update for one commitment, drifting from last quarter's."""
        rng = self.rng
        track = self.tracks.setdefault(commitment.id, _Track())
        previous = track.status
        if previous is None:
            status = _pick(rng, _FIRST)
        elif previous in FINAL_STATUSES:
            status = previous
        else:
            status = _pick(rng, _DRIFT[previous])
        if (
            self.discontinued is None
            and index == len(self.history) - 2
            and previous in {DeliveryStatus.AT_RISK, DeliveryStatus.OFF_TRACK}
            and all(goalpost.commitment is not commitment for goalpost in self.goalposts)
        ):
            self.discontinued = (commitment, index)
            status = DeliveryStatus.DISCONTINUED
        last = self.rows.get(commitment.id)
        if (
            last is not None
            and last[0] == index - 1
            and self._reported(organisation, index - 1)
            and status == previous
            and (status in FINAL_STATUSES or rng.random() < _NO_CHANGE_CHANCE)
        ):
            return no_change_from(last[1])

        topic, priority = _topic(commitment)
        month = f"{period.ends_on:%B}"
        words = {"topic": topic, "Topic": topic[:1].upper() + topic[1:], "month": month}
        if status == DeliveryStatus.DISCONTINUED:
            narrative: str | None = _DISCONTINUED.format(priority=priority, **words)
        else:
            template = rng.choice(_NARRATIVES.get(status, (None,)))
            narrative = template.format(**words) if template else None
        risks = None
        if status in {DeliveryStatus.AT_RISK, DeliveryStatus.OFF_TRACK} and rng.random() < 0.5:
            risks = rng.choice(_RISKS).format(**words)
        evidence = None
        if rng.random() < _EVIDENCE_CHANCE.get(status, 0):
            evidence = (
                f"https://www.example.org/{organisation.slug}/{period.slug}/{_page(commitment)}"
            )
        value = self.next_value(commitment, track, status)
        track.status, track.value = status, value
        return UpdateInput(
            status=status,
            progress_value=value,
            narrative=narrative,
            evidence_url=evidence,
            risks=risks,
        )

    def _reported(self, organisation: Organisation, index: int) -> bool:
        if index < 0:
            return False
        if organisation is self.roles.non_communicating and index >= len(self.history) - 2:
            return False
        return not (organisation is self.roles.missing_latest and index == len(self.history) - 1)

    def next_value(
        self, commitment: Commitment, track: _Track, status: DeliveryStatus
    ) -> Decimal | None:
        """A progress value moving toward (or, off track, away from) the target."""
        target = commitment.target_value
        if target is None or status == DeliveryStatus.NOT_STARTED:
            return track.value if target is not None else None
        start = track.value
        if start is None:
            start = (
                commitment.baseline_value if commitment.baseline_value is not None else Decimal(0)
            )
        if status == DeliveryStatus.COMPLETED:
            value = target
        elif status == DeliveryStatus.DISCONTINUED:
            value = start
        else:
            low, high = _PROGRESS[status]
            value = start + (target - start) * Decimal(str(round(self.rng.uniform(low, high), 3)))
        places = Decimal("0.1") if commitment.unit == "%" else Decimal(1)
        value = max(Decimal(0), value).quantize(places)
        if commitment.unit == "%":
            value = min(value, Decimal(100))
        return value

    def send_back_and_fix(
        self,
        organisation: Organisation,
        period: ReportingPeriod,
        return_: Return,
        rows: list[CommitmentUpdate],
        reviewed_at: datetime,
    ) -> str:
        """The admin returns it with a comment; the lead makes the change asked for."""
        worrying = [
            r for r in rows if r.status in {DeliveryStatus.AT_RISK, DeliveryStatus.OFF_TRACK}
        ]
        comment = _SEND_BACK_RISKS if worrying else _SEND_BACK_EVIDENCE
        with _request_context():
            assert send_back(
                return_, comment, version=return_.version, actor=self.admin, now=reviewed_at
            )
        self.stamp(reviewed_at)
        _mark_return_emails_sent(return_, reviewed_at)
        fixed_at = self.moment(reviewed_at.date() + timedelta(days=1), after=reviewed_at)
        for row in worrying or rows[:1]:
            topic, _ = _topic(row.commitment)
            data = UpdateInput(
                status=row.status,
                progress_value=row.progress_value,
                narrative=row.narrative,
                evidence_url=row.evidence_url
                or f"https://www.example.org/{organisation.slug}/{period.slug}/report",
                risks=row.risks or f"Support needed: a partner to share the cost of {topic}.",
                no_change=row.no_change,
            )
            save_update(
                organisation,
                period,
                row.commitment,
                data,
                version=row.version,
                complete=True,
                actor=self.leads[organisation.id],
                today=fixed_at.date(),
            )
            self.stamp(fixed_at)
        return comment

    # The period open today -----------------------------------------------------------------

    def draft_current(self, organisation: Organisation, period: ReportingPeriod) -> None:
        """Half done: some updates complete, one or two not, nothing submitted."""
        rng = self.rng
        lead = self.leads[organisation.id]
        index = len(self.history)
        first = max(period.opens_on, self.today - timedelta(days=rng.randint(0, 10)))
        saved_at = self.moment(first)
        commitments = self.commitments[organisation.id]
        count = max(2, (len(commitments) + 1) // 2)
        for position, commitment in enumerate(commitments[:count]):
            data = self.update_for(organisation, period, index, commitment)
            complete = position < count - 1 or len(commitments) == 1
            if not complete:
                # Saved to come back to: no status chosen yet, a note to self.
                data = UpdateInput(
                    status=None,
                    progress_value=None,
                    narrative="Waiting for this quarter's figures from the team.",
                    evidence_url=None,
                    risks=None,
                )
            save_update(
                organisation,
                period,
                commitment,
                data,
                version=None,
                complete=complete,
                actor=lead,
                today=saved_at.date(),
            )
            self.stamp(saved_at)
            saved_at += timedelta(minutes=rng.randint(1, 6))


def _required_user(email: str) -> User:
    user = accounts.find_user(email)
    if user is None:
        raise DemoError(f"make the demo accounts first: no user {email}")
    return user


def _pick(rng: random.Random, weights: dict[DeliveryStatus, int]) -> DeliveryStatus:
    choices = list(weights)
    return rng.choices(choices, weights=[weights[c] for c in choices])[0]


def _topic(commitment: Commitment) -> tuple[str, str]:
    """What a narrative talks about (its theme, else its priority), and the priority's name."""
    code = commitment.primary_priority.code if commitment.primary_priority else None
    priority = commitment.primary_priority.name.lower() if commitment.primary_priority else "2040"
    for theme in _themes(commitment):
        if theme.slug in _THEME_TOPICS:
            return _THEME_TOPICS[theme.slug], priority
    return _PRIORITY_TOPICS.get(code or "", "this commitment"), priority


def _themes(commitment: Commitment) -> list[Theme]:
    # In the order the page shows them, whether the importer just made the list in this session
    # or it was read from the database: the story must not depend on which.
    return sorted(commitment.themes, key=lambda theme: (theme.name, theme.slug))


def _page(commitment: Commitment) -> str:
    """The last part of an evidence link: the theme, else the priority."""
    if commitment.themes:
        return _themes(commitment)[0].slug
    return commitment.primary_priority.code if commitment.primary_priority else "progress"


def _years_later(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def _request_context():  # type: ignore[no-untyped-def]
    """``send_back`` builds a link to the task list, which needs a request to build URLs in."""
    from flask import current_app

    return current_app.test_request_context()


def _mark_return_emails_sent(return_: Return, now: datetime) -> None:
    """A return's receipt, notice or sent-back email of the simulated past went then, not on the
    next start."""
    _mark_sent(
        Notification.kind.in_([SUBMITTED, SENT_BACK, ACCEPTED]),
        Notification.organisation_id == return_.organisation_id,
        Notification.period_id == return_.period_id,
        now=now,
    )


def _mark_sent(*criteria: ColumnElement[bool], now: datetime) -> None:
    """Emails of the simulated past still queued: sent when they were made, as if delivered."""
    db.session.flush()
    db.session.execute(
        update(Notification)
        .where(*criteria, Notification.state == NotificationState.QUEUED)
        .values(
            state=NotificationState.SENT, attempts=1, sent_at=now, created_at=now, updated_at=now
        )
        .execution_options(synchronize_session=False)
    )


def _stamp(now: datetime) -> None:
    """Date the audit events not yet flushed at ``now`` rather than the clock's time."""
    for row in db.session.new:
        if isinstance(row, AuditEvent) and row.occurred_at is None:
            row.occurred_at = now


def _at(day: date, at: time) -> datetime:
    """``at`` o'clock in London on ``day``, in UTC."""
    return datetime.combine(day, at, tzinfo=LONDON).astimezone(UTC)


# The summary -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DemoSummary:
    """What the demo made, in the words of the pages that show it."""

    today: date
    seed: int
    periods: list[str]
    current: str | None
    organisations: int
    submitted: int
    late: int
    extended: int
    sent_back: int
    awaiting_review: int
    missing: int
    updates: int
    statuses: dict[str, int]
    reporting: dict[str, int]
    goalposts: int
    goalpost_commitments: int
    evidence: dict[str, int]
    smart: dict[int, int]
    drafts: int
    published: list[str]

    def lines(self) -> list[str]:
        def count(mapping: dict, key: object) -> int:
            return mapping.get(key, 0)

        statuses = ", ".join(
            f"{count(self.statuses, s)} {s.label.lower()}"
            for s in DeliveryStatus
            if count(self.statuses, s)
        )
        smart = ", ".join(f"{score}: {n}" for score, n in sorted(self.smart.items()))
        lines = [
            f"Demo history as of {self.today:%-d %B %Y} (seed {self.seed}), "
            f"{self.organisations} organisations:",
            f"  Periods:     {', '.join(self.periods) or 'none due yet'}",
            f"  Returns:     {self.submitted} submitted ({self.late} late, {self.extended} on an "
            f"extension, {self.sent_back} sent back and resubmitted, {self.awaiting_review} "
            f"awaiting review), {self.missing} missing",
            f"  Reporting:   {count(self.reporting, ReportingStatus.ACTIVE)} active, "
            f"{count(self.reporting, ReportingStatus.LATE)} late, "
            f"{count(self.reporting, ReportingStatus.NON_COMMUNICATING)} not communicating",
            f"  Updates:     {self.updates} ({statuses})",
            f"  Evidence:    {count(self.evidence, 'self_declared')} self-declared, "
            f"{count(self.evidence, 'evidence_attached')} with evidence attached, "
            f"{count(self.evidence, 'verified')} verified",
            f"  Goalposts:   {self.goalposts} moved on {self.goalpost_commitments} commitments, "
            "each with a reason",
            f"  SMART score: {smart} (commitments per score)",
            f"  Board:       {', '.join(self.published) or 'no quarter closed yet'}"
            + (" summaries published" if self.published else ""),
        ]
        if self.current:
            lines.append(
                f"  {self.current}: open, {self.drafts} draft returns in progress, none submitted"
            )
        return lines


def summarise(
    today: date, seed: int, periods: Sequence[ReportingPeriod], current: ReportingPeriod | None
) -> DemoSummary:
    """Count what the demo made, from the database."""
    period_ids = [p.id for p in periods]
    organisations = db.session.scalar(select(func.count()).select_from(Organisation)) or 0
    returns = list(
        db.session.scalars(
            select(Return)
            .where(Return.period_id.in_(period_ids))
            .options(selectinload(Return.period))
        )
    )
    submitted = [r for r in returns if r.submitted_at is not None]
    late = [
        r
        for r in submitted
        if was_late(r.period.due_on, r.submitted_at.date(), extended_to=r.extended_due_on)
    ]
    updates = db.session.execute(
        select(CommitmentUpdate.status, CommitmentUpdate.evidence_grade)
        .join(Return, Return.id == CommitmentUpdate.return_id)
        .where(Return.period_id.in_(period_ids), Return.submitted_at.is_not(None))
    ).all()
    sent_back = db.session.scalar(
        select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "sent back")
    )
    goalposts = db.session.execute(
        select(func.count(), func.count(func.distinct(TargetChange.commitment_id)))
    ).one()
    smart = Counter(
        c.smart.score
        for c in db.session.scalars(
            select(Commitment).where(
                Commitment.is_heading.is_(False), Commitment.removed_from_page_at.is_(None)
            )
        )
    )
    published = {
        period_id
        for period_id in db.session.scalars(
            select(BoardSummary.period_id).where(
                BoardSummary.period_id.in_(period_ids), BoardSummary.published_at.is_not(None)
            )
        )
    }
    drafts = 0
    if current is not None:
        drafts = (
            db.session.scalar(
                select(func.count())
                .select_from(Return)
                .where(Return.period_id == current.id, Return.state == ReturnState.DRAFT)
            )
            or 0
        )
    return DemoSummary(
        today=today,
        seed=seed,
        periods=[p.label for p in periods],
        current=current.label if current else None,
        organisations=organisations,
        submitted=len(submitted),
        late=len(late),
        extended=sum(1 for r in submitted if r.extended_due_on),
        sent_back=sent_back or 0,
        awaiting_review=sum(1 for r in submitted if r.state == ReturnState.SUBMITTED),
        missing=organisations * len(periods) - len(submitted),
        updates=len(updates),
        statuses=dict(Counter(status for status, _ in updates)),
        reporting=dict(Counter(reporting_statuses(today).values())),
        goalposts=goalposts[0],
        goalpost_commitments=goalposts[1],
        evidence=dict(Counter(grade.value for _, grade in updates)),
        smart=dict(smart),
        drafts=drafts,
        published=[p.label for p in periods if p.id in published],
    )


def story_periods(today: date) -> tuple[list[ReportingPeriod], ReportingPeriod | None]:
    """The (up to) four latest periods due before ``today``, and the one open and not yet due."""
    periods = all_periods(newest_first=False)
    history = [p for p in periods if p.due_on < today][-HISTORY_QUARTERS:]
    current = [p for p in periods if state_on(p, today) == PeriodState.OPEN and today <= p.due_on]
    return history, (current[-1] if current else None)


def history_size(today: date) -> int:
    """How many organisation-quarters ``generate_history`` plays (for a progress bar)."""
    history, current = story_periods(today)
    organisations = db.session.scalar(select(func.count()).select_from(Organisation)) or 0
    return organisations * (len(history) + (1 if current else 0))


def generate_history(
    today: date,
    *,
    seed: int = DEFAULT_SEED,
    progress: Callable[[int], None] | None = None,
) -> DemoSummary | None:
    """Play out the four quarters before ``today`` and half of the open one; None if history exists.

    Needs the seed, the demo accounts and the periods (``prepare``). Flushes only.
    """
    if has_history():
        return None
    story = _Story(today, seed, progress)
    story.run()
    return summarise(today, seed, story.history, story.current)


# After the commit: the reminder ladder and today's jobs ------------------------------------------

_CHASE_NOTE = (
    "We have not had your return yet and the Place Board meets soon. If something is in the way, "
    "reply to this email and we will help."
)


def bring_to_today(today: date, rules: LadderRules) -> list[str]:
    """The latest past quarter's reminders and chases as they went, then today's daily jobs.

    Run after ``generate_history`` is committed: the reminder ladder commits per batch, as the
    daily job does. Each step is idempotent (the outbox keys and rung records), so running it
    twice sends nothing twice.
    """
    from jobs.tasks import update_reporting_status

    history, _ = story_periods(today)
    replayed = replay_reminders(history[-1], today, rules) if history else 0
    statuses = update_reporting_status(today)
    queued = send_reminders(today, rules).emails
    db.session.commit()
    lines = [f"  Reporting status stored: {statuses}"]
    if history:
        lines.append(
            f"  Outbox:      {replayed} reminders and chases sent for {history[-1].label}, "
            f"{queued} reminders queued today"
        )
    return lines


def replay_reminders(period: ReportingPeriod, today: date, rules: LadderRules) -> int:
    """The period's reminder ladder on each of its days before ``today``, and an admin's chase.

    The returns are already in, so only the organisations that never sent theirs hear from it:
    each rung on its day, the admins' digest of who is overdue, and a chase with a note ten
    days after the deadline. Each email is marked sent at 7 a.m. that day (the chase when the
    admin sent it), as the scheduler would have done. Commits.
    """
    admin = _required_user(DEMO_ADMIN)
    days = sorted(
        {
            step.on
            for step in ladder(
                opens_on=period.opens_on,
                due_on=period.due_on,
                extended_to=None,
                closes_on=period.closes_on,
                rules=rules,
            )
            if step.on < today
        }
    )
    chase_day = period.due_on + timedelta(days=10)
    sent = 0
    for day in days:
        started = datetime.now(UTC)
        sent += send_reminders(day, rules).emails
        at = _at(day, time(7, 0))
        _mark_sent(
            Notification.period_id == period.id,
            Notification.kind.like("reminder_%"),
            now=at,
        )
        db.session.execute(
            update(ReminderRecord)
            .where(ReminderRecord.period_id == period.id, ReminderRecord.recorded_at >= started)
            .values(recorded_at=at)
            .execution_options(synchronize_session=False)
        )
        db.session.commit()
    if period.due_on < chase_day <= min(period.closes_on, today - timedelta(days=1)):
        chased_at = _at(chase_day, time(11, 15))
        for position, item in enumerate(overdue(period, chase_day)):
            outcome = chase(
                item,
                period,
                actor=admin,
                note=_CHASE_NOTE if position == 0 else "",
                today=chase_day,
            )
            _stamp(chased_at)
            sent += outcome.queued
        _mark_sent(Notification.period_id == period.id, Notification.kind == "chase", now=chased_at)
        db.session.commit()
    return sent
