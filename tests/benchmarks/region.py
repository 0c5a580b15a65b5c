"""A synthetic region for benchmarks: thousands of organisations reporting for eight quarters.

``generate_region(engine)`` fills an empty, migrated PostgreSQL database with a deterministic
region (the same seed gives the same rows) through ``COPY``, in seconds rather than the hours
factories would take:

- 2,000 organisations with a skewed number of commitments — many with 5, a good share with 30,
  the rest in between — 40,000 in all (20 per organisation on average);
- the place's five priorities (a few commitments have none yet) and ten themes;
- eight quarters of returns: most on time, a share late, a few left as drafts or never started,
  a handful of organisations gone silent for the last two quarters, the newest quarter's
  returns partly still waiting for review;
- one update per commitment per return (≈ 310,000), statuses drifting from quarter to quarter
  (a Markov chain: on track slips to at risk, at risk recovers or goes off track, some complete),
  "no change" quarters, progress values for commitments with numeric targets, narratives where
  the rules require them, and some moved goalposts;
- people who can sign in (with ``password_hash``): an admin (admin@example.org), a board member
  (board@example.org) and a lead for each organisation (lead-<n>@example.org, organisation n);
- the outbox: a reminder to each organisation's lead each quarter (a few failed), and the
  admins' chases of organisations late with the newest quarter, in the audit log.

It only writes rows; it does not commit anything else or touch the schema. Sequences are moved
past the ids it used, so the application can insert after it.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from tracker.domain.calendar import Quarter, WindowRules, period_for

PRIORITIES = [
    ("inclusive-economy", "Inclusive economy"),
    ("improving-wellbeing", "Improving wellbeing"),
    ("child-friendly-town", "Child friendly town"),
    ("net-zero-town", "Net zero town"),
    ("empowered-community", "Empowered community"),
]
THEMES = [
    "Real Living Wage",
    "Good Business Charter",
    "Net zero",
    "Disability Confident employer",
    "Fairness Taskforce",
    "Apprenticeships and work experience",
    "Volunteering",
    "Local procurement",
    "Waste reduction",
    "Active travel",
]
# How a commitment's status moves from one quarter to the next (weights).
DRIFT = {
    "not_started": {"not_started": 55, "on_track": 35, "at_risk": 8, "off_track": 2},
    "on_track": {"on_track": 76, "at_risk": 10, "off_track": 3, "completed": 10, "discontinued": 1},
    "at_risk": {"at_risk": 45, "on_track": 30, "off_track": 20, "discontinued": 5},
    "off_track": {"off_track": 60, "at_risk": 25, "on_track": 10, "discontinued": 5},
    "completed": {"completed": 100},
    "discontinued": {"discontinued": 100},
}
EXPLAINED = {"at_risk", "off_track", "discontinued"}


@dataclass(frozen=True)
class RegionFacts:
    """What was made, for a benchmark to print and a test to check."""

    organisations: int
    commitments: int
    periods: tuple[str, ...]  # slugs, oldest first
    returns: int
    updates: int
    target_changes: int
    today: date  # the day the region is as of (by default ten days after the last window closed)
    seconds: float
    users: int = 0
    notifications: int = 0

    @property
    def latest_period(self) -> str:
        return self.periods[-1]


def newest_opened(today: date, rules: WindowRules | None = None) -> Quarter:
    """The newest quarter whose return window has opened by ``today``: the one leads are
    reporting on (or have just reported on) that day, as the scheduler would have made it."""
    rules = rules or WindowRules()
    quarter = period_for(today)
    while quarter.window(rules).opens_on > today:
        quarter = quarter.previous()
    return quarter


def quarters_to(today: date, quarters: int = 8) -> Quarter:
    """The first of ``quarters`` quarters ending with the one open (or just closed) on ``today``."""
    first = newest_opened(today)
    for _ in range(quarters - 1):
        first = first.previous()
    return first


def _sizes(rng: random.Random, organisations: int, mean: int) -> list[int]:
    sizes = []
    for _ in range(organisations):
        roll = rng.random()
        sizes.append(30 if roll < 0.4 else 5 if roll < 0.7 else rng.randint(8, 26))
    # Nudge the middle sizes until the total is exactly organisations × mean.
    target = organisations * mean
    middle = [i for i, size in enumerate(sizes) if 5 < size < 30]
    step = 1 if sum(sizes) < target else -1
    while sum(sizes) != target and middle:
        for i in list(middle):
            if sum(sizes) == target:
                break
            sizes[i] += step
            if not 5 < sizes[i] < 30:
                middle.remove(i)
    return sizes


def _copy(cursor: Any, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    count = 0
    with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
            count += 1
    return count


def generate_region(
    engine: sa.Engine,
    *,
    organisations: int = 2000,
    commitments_per_organisation: int = 20,
    quarters: int = 8,
    first: Quarter = Quarter(2024, 1),  # noqa: B008 - a frozen value
    seed: int = 1,
    password_hash: str | None = None,
    today: date | None = None,
) -> RegionFacts:
    """Fill an empty migrated PostgreSQL database with a synthetic region, deterministically.

    ``today`` is the day the region is as of (ten days after the last window closed when not
    given): nothing is submitted after it, the last period is open if its window is, and only
    returns overdue by then are chased. A server reading the region on the real clock wants
    ``first=quarters_to(today), today=today``.
    """
    if engine.dialect.name != "postgresql":
        raise ValueError("generate_region uses COPY: give it a PostgreSQL engine")
    started = time.perf_counter()
    rng = random.Random(seed)
    rules = WindowRules()
    periods = [first]
    while len(periods) < quarters:
        periods.append(periods[-1].next())
    windows = [q.window(rules) for q in periods]
    today = today or windows[-1].closes_on + timedelta(days=10)
    stamp = datetime.combine(first.starts_on, datetime.min.time(), UTC)

    sizes = _sizes(rng, organisations, commitments_per_organisation)
    # Organisations that stop reporting for the last two quarters (non-communicating).
    silent = set(rng.sample(range(1, organisations + 1), max(1, organisations // 40)))

    organisation_rows = []
    pledge_rows = []
    commitment_rows = []
    theme_links = []
    commitment_ids: dict[int, list[int]] = {}
    targets: dict[int, tuple[Decimal, str]] = {}
    next_commitment = 1
    for org in range(1, organisations + 1):
        organisation_rows.append(
            (org, f"org-{org}", f"Organisation {org:04d}", "active", False, 1, stamp, stamp)
        )
        pledge_rows.append((org, org, f"Organisation {org:04d} pledges…", stamp, stamp))
        ids = []
        for position in range(sizes[org - 1]):
            cid = next_commitment
            next_commitment += 1
            priority = None if rng.random() < 0.05 else rng.randint(1, len(PRIORITIES))
            has_target = rng.random() < 0.3
            target = Decimal(rng.choice([10, 50, 100, 400, 1000])) if has_target else None
            if target is not None:
                targets[cid] = (target, "count")
            commitment_rows.append(
                [
                    cid,
                    org,
                    org,
                    f"k{cid}",
                    position,
                    f"Commitment {cid} of organisation {org}",
                    f"Commitment {cid}",
                    priority,
                    "count" if has_target else None,
                    target,
                    date(2030, 3, 31) if rng.random() < 0.5 else None,
                    f"Owner {cid}" if rng.random() < 0.6 else None,
                    "not_started",  # current_status, set below from the accepted updates
                    stamp,
                    stamp,
                ]
            )
            if rng.random() < 0.3:
                theme_links.append((cid, rng.randint(1, len(THEMES))))
            ids.append(cid)
        commitment_ids[org] = ids

    return_rows = []
    update_rows = []
    change_rows = []
    status = {cid: "not_started" for cid in range(1, next_commitment)}
    progress: dict[int, Decimal] = {}
    unchanged: dict[int, int] = {}
    return_id = 0
    update_id = 0
    for p_index, (quarter, window) in enumerate(zip(periods, windows, strict=True)):
        period_id = p_index + 1
        newest = p_index == len(periods) - 1
        for org in range(1, organisations + 1):
            roll = rng.random()
            if org in silent and p_index >= len(periods) - 2:
                continue  # gone quiet
            if roll < 0.03:
                continue  # never started this quarter
            return_id += 1
            if roll < 0.08:
                state, submitted = "draft", None
            else:
                late = rng.random() < 0.15
                offset = rng.randint(1, 20) if late else -rng.randint(0, 14)
                submitted = datetime.combine(
                    window.due_on + timedelta(days=offset), datetime.min.time(), UTC
                ) + timedelta(hours=10)
                state = "submitted" if newest and rng.random() < 0.1 else "accepted"
                if submitted.date() > today:  # the window is open: not sent yet
                    state, submitted = "draft", None
            return_rows.append((return_id, org, period_id, state, submitted, 1, stamp, stamp))
            for cid in commitment_ids[org]:
                update_id += 1
                before = status[cid]
                no_change = rng.random() < 0.1
                if no_change:
                    now = before
                    unchanged[cid] = unchanged.get(cid, 0) + 1
                else:
                    weights = DRIFT[before]
                    now = rng.choices(list(weights), weights=list(weights.values()))[0]
                    unchanged[cid] = 0
                    if cid in targets and now not in {"not_started", "discontinued"}:
                        step = targets[cid][0] / 8 * Decimal(rng.randint(0, 2))
                        progress[cid] = min(targets[cid][0], progress.get(cid, Decimal(0)) + step)
                complete = state != "draft"
                narrative = (
                    f"Quarter {quarter.label}: explained"
                    if now in EXPLAINED or rng.random() < 0.3
                    else None
                )
                update_rows.append(
                    (
                        update_id,
                        return_id,
                        cid,
                        now,
                        complete,
                        progress.get(cid) if cid in targets else None,
                        narrative,
                        "self_declared",
                        no_change,
                        unchanged[cid],
                        # Submitting fixes the target the figure was reported against.
                        targets[cid][0] if cid in targets and submitted else None,
                        1,
                        stamp,
                        stamp,
                        quarter.year * 4 + quarter.number,
                    )
                )
                if state == "accepted":
                    status[cid] = now
                if complete and rng.random() < 0.002:
                    change_rows.append(
                        (
                            cid,
                            period_id,
                            stamp,
                            "target_date",
                            "2029-03-31",
                            "2030-03-31",
                            "Funding moved",
                        )
                    )
    for row in commitment_rows:
        row[12] = status[row[0]]

    user_rows = [
        (1, "admin@example.org", "Ada Admin", "admin", password_hash, True, 1, stamp, stamp),
        (2, "board@example.org", "Bo Board", "board", password_hash, True, 1, stamp, stamp),
    ]
    lead_links = []
    for org in range(1, organisations + 1):
        email, name = f"lead-{org}@example.org", f"Lead {org}"
        user_rows.append((org + 2, email, name, "lead", password_hash, True, 1, stamp, stamp))
        lead_links.append((org + 2, org))
    notification_rows = []
    for p_index, (quarter, window) in enumerate(zip(periods, windows, strict=True)):
        sent = datetime.combine(window.opens_on, datetime.min.time(), UTC) + timedelta(hours=9)
        for org in range(1, organisations + 1):
            failed = rng.random() < 0.02
            notification_rows.append(
                (
                    "reminder_window_open",
                    f"reminder:{quarter.slug}:{org}:open:user-{org + 2}",
                    f"lead-{org}@example.org",
                    f"Lead {org}",
                    org + 2,
                    org,
                    p_index + 1,
                    f"Organisation {org:04d}: your {quarter.label} return is open",
                    "Tell us how your commitments are going.",
                    "failed" if failed else "sent",
                    3 if failed else 1,
                    None if failed else sent,
                    "550 mailbox unavailable" if failed else None,
                    sent,
                    sent,
                )
            )
    # The admins chase what is overdue: nothing before the newest return falls due.
    overdue = today > windows[-1].due_on
    late = sorted(
        {row[1] for row in return_rows if overdue and row[2] == len(periods) and row[4] is None}
    )
    chase_rows = [
        (
            datetime.combine(today - timedelta(days=2), datetime.min.time(), UTC),
            1,
            "Ada Admin",
            "chased",
            "organisation",
            str(org),
            org,
        )
        for org in late
    ]

    with engine.begin() as connection:
        raw = connection.connection.driver_connection
        with raw.cursor() as cursor:
            cursor.execute(
                "INSERT INTO places (id, slug, name, publish_publicly, open_data_licence,"
                " reporting_starts_on, created_at, updated_at) VALUES (1, 'luton-2040',"
                " 'Luton 2040', true, 'Open Government Licence v3.0', %s, now(), now())",
                (first.starts_on,),
            )
            _copy(
                cursor,
                "priorities",
                ["id", "place_id", "code", "name", "position"],
                [(i + 1, 1, code, name, i) for i, (code, name) in enumerate(PRIORITIES)],
            )
            _copy(
                cursor,
                "themes",
                ["id", "slug", "name", "created_at", "updated_at"],
                [
                    (i + 1, name.lower().replace(" ", "-"), name, stamp, stamp)
                    for i, name in enumerate(THEMES)
                ],
            )
            _copy(
                cursor,
                "reporting_periods",
                [
                    "id",
                    "slug",
                    "year",
                    "quarter",
                    "starts_on",
                    "ends_on",
                    "opens_on",
                    "due_on",
                    "closes_on",
                    "state",
                    "version",
                    "created_at",
                    "updated_at",
                ],
                [
                    (
                        i + 1,
                        q.slug,
                        q.year,
                        q.number,
                        q.starts_on,
                        q.ends_on,
                        w.opens_on,
                        w.due_on,
                        w.closes_on,
                        "upcoming"
                        if today < w.opens_on
                        else "open"
                        if today <= w.closes_on
                        else "closed",
                        1,
                        stamp,
                        stamp,
                    )
                    for i, (q, w) in enumerate(zip(periods, windows, strict=True))
                ],
            )
            _copy(
                cursor,
                "organisations",
                [
                    "id",
                    "slug",
                    "name",
                    "reporting_status",
                    "name_needs_review",
                    "version",
                    "created_at",
                    "updated_at",
                ],
                organisation_rows,
            )
            _copy(
                cursor,
                "pledges",
                ["id", "organisation_id", "statement", "created_at", "updated_at"],
                pledge_rows,
            )
            _copy(
                cursor,
                "commitments",
                [
                    "id",
                    "pledge_id",
                    "organisation_id",
                    "key",
                    "position",
                    "original_text",
                    "title",
                    "primary_priority_id",
                    "metric",
                    "target_value",
                    "target_date",
                    "owner_name",
                    "current_status",
                    "created_at",
                    "updated_at",
                    "needs_review",
                    "is_heading",
                    "is_truncated",
                    "duplicates_folded",
                    "maintained_in_app",
                    "version",
                ],
                ([*row, False, False, False, 0, False, 1] for row in commitment_rows),
            )
            _copy(cursor, "commitment_themes", ["commitment_id", "theme_id"], theme_links)
            _copy(
                cursor,
                "returns",
                [
                    "id",
                    "organisation_id",
                    "period_id",
                    "state",
                    "submitted_at",
                    "version",
                    "created_at",
                    "updated_at",
                ],
                return_rows,
            )
            updates = _copy(
                cursor,
                "commitment_updates",
                [
                    "id",
                    "return_id",
                    "commitment_id",
                    "status",
                    "complete",
                    "progress_value",
                    "narrative",
                    "evidence_grade",
                    "no_change",
                    "unchanged_quarters",
                    "reported_target_value",
                    "version",
                    "created_at",
                    "updated_at",
                    "period_ordinal",
                ],
                update_rows,
            )
            _copy(
                cursor,
                "target_changes",
                [
                    "commitment_id",
                    "period_id",
                    "changed_at",
                    "field",
                    "old_value",
                    "new_value",
                    "reason",
                ],
                change_rows,
            )
            _copy(
                cursor,
                "users",
                [
                    "id",
                    "email",
                    "name",
                    "role",
                    "password_hash",
                    "active",
                    "session_version",
                    "created_at",
                    "updated_at",
                ],
                user_rows,
            )
            _copy(cursor, "organisation_leads", ["user_id", "organisation_id"], lead_links)
            notifications = _copy(
                cursor,
                "notifications",
                [
                    "kind",
                    "idempotency_key",
                    "recipient_email",
                    "recipient_name",
                    "recipient_user_id",
                    "organisation_id",
                    "period_id",
                    "subject",
                    "body_text",
                    "state",
                    "attempts",
                    "sent_at",
                    "last_error",
                    "created_at",
                    "updated_at",
                ],
                notification_rows,
            )
            _copy(
                cursor,
                "audit_events",
                [
                    "occurred_at",
                    "actor_id",
                    "actor_label",
                    "action",
                    "entity_type",
                    "entity_id",
                    "organisation_id",
                ],
                chase_rows,
            )
            for table in (
                "users",
                "places",
                "priorities",
                "themes",
                "reporting_periods",
                "organisations",
                "pledges",
                "commitments",
                "returns",
                "commitment_updates",
            ):
                cursor.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
                    f" (SELECT max(id) FROM {table}))"
                )
    # VACUUM as well as ANALYZE: a database in use has been vacuumed, and one just filled by
    # COPY has not (no visibility map, hint bits set by the first reads), so autovacuum would
    # start on 300,000 new rows while the pages are timed and slow every figure by a third.
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql("VACUUM (ANALYZE)")
    return RegionFacts(
        organisations=organisations,
        commitments=next_commitment - 1,
        periods=tuple(q.slug for q in periods),
        returns=len(return_rows),
        updates=updates,
        target_changes=len(change_rows),
        today=today,
        seconds=time.perf_counter() - started,
        users=len(user_rows),
        notifications=notifications,
    )
