"""Reading the audit log, for the admins' audit page: each event in words.

A page names every record its events mention (people, organisations, commitments, returns and
their quarters, updates, emails) with one query per kind of record, never one per event, so it
reads a fixed number of statements however long the log is (``tests/test_query_budgets.py``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, or_, select

from tracker.domain.calendar import Quarter
from tracker.domain.paging import Pagination, pagination
from tracker.extensions import db
from tracker.models import (
    AuditEvent,
    Commitment,
    CommitmentUpdate,
    Notification,
    Organisation,
    Priority,
    ReportingPeriod,
    Return,
    Theme,
    User,
)
from tracker.services.audit_words import (
    Description,
    EmailName,
    Names,
    ReturnName,
    UpdateName,
    describe,
    entity_number,
)

PAGE_SIZE = 50
LONDON = ZoneInfo("Europe/London")
# A commitment without a title is named by the start of its wording.
WORDING_SHOWN = 80


@dataclass(frozen=True)
class AuditEntry:
    event: AuditEvent
    description: Description


@dataclass(frozen=True)
class AuditPage:
    entries: list[AuditEntry]
    paging: Pagination

    @property
    def total(self) -> int:
        return self.paging.total

    @property
    def page(self) -> int:
        return self.paging.page

    @property
    def pages(self) -> int:
        return self.paging.pages


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=LONDON).astimezone(UTC)


def audit_events(
    *,
    organisation_id: int | None = None,
    actor_id: int | None = None,
    since: date | None = None,
    until: date | None = None,
    page: int = 1,
) -> AuditPage:
    """Events newest first, filtered; days are London days, as people mean them."""
    conditions = []
    if organisation_id is not None:
        conditions.append(AuditEvent.organisation_id == organisation_id)
    if actor_id is not None:
        conditions.append(AuditEvent.actor_id == actor_id)
    if since is not None:
        conditions.append(AuditEvent.occurred_at >= _start_of(since))
    if until is not None:
        conditions.append(AuditEvent.occurred_at < _start_of(until + timedelta(days=1)))
    total = db.session.scalar(select(func.count()).select_from(AuditEvent).where(*conditions))
    paging = pagination(page, total or 0, PAGE_SIZE)
    events = db.session.scalars(
        select(AuditEvent)
        .where(*conditions)
        .order_by(AuditEvent.occurred_at.desc(), AuditEvent.id.desc())
        .limit(paging.size)
        .offset(paging.offset)
    ).all()
    names = names_for(events)
    return AuditPage([AuditEntry(event, describe(event, names)) for event in events], paging)


@dataclass
class _Wanted:
    """The ids (and slugs) of the records a page of events mentions, by kind."""

    people: set[int] = field(default_factory=set)
    organisations: set[int] = field(default_factory=set)
    organisation_slugs: set[str] = field(default_factory=set)
    commitments: set[int] = field(default_factory=set)
    returns: set[int] = field(default_factory=set)
    updates: set[int] = field(default_factory=set)
    priorities: set[int] = field(default_factory=set)
    themes: set[str] = field(default_factory=set)
    emails: set[int] = field(default_factory=set)

    def note(self, event: AuditEvent) -> None:
        if event.actor_id is not None:
            self.people.add(event.actor_id)
        if event.organisation_id is not None:
            self.organisations.add(event.organisation_id)
        number = entity_number(event)
        by_kind = {
            "user": self.people,
            "organisation": self.organisations,
            "commitment": self.commitments,
            "return": self.returns,
            "commitment_update": self.updates,
            "notification": self.emails,
        }
        if number is not None and event.entity_type in by_kind:
            by_kind[event.entity_type].add(number)
        for snapshot in (event.before or {}, event.after or {}):
            self._note_snapshot(event.entity_type, snapshot)

    def _note_snapshot(self, kind: str, snapshot: dict[str, Any]) -> None:
        if kind == "user":
            self.organisation_slugs.update(_strings(snapshot.get("organisations")))
        for key in ("primary_priority_id", "secondary_priority_id"):
            if isinstance(snapshot.get(key), int):
                self.priorities.add(snapshot[key])
        self.themes.update(_strings(snapshot.get("themes")))


def _strings(value: object) -> Iterable[str]:
    return [item for item in value if isinstance(item, str)] if isinstance(value, list) else []


def _commitment_name(title: str | None, wording: str) -> str:
    if title:
        return title
    return wording if len(wording) <= WORDING_SHOWN else wording[:WORDING_SHOWN].rstrip() + "…"


def names_for(events: Iterable[AuditEvent]) -> Names:
    """The names of every record the events mention, one query per kind of record."""
    wanted = _Wanted()
    for event in events:
        wanted.note(event)
    names = Names()
    if wanted.people:
        names.people = dict(
            db.session.execute(select(User.id, User.name).where(User.id.in_(wanted.people))).all()
        )
    if wanted.organisations or wanted.organisation_slugs:
        for id_, slug, name in db.session.execute(
            select(Organisation.id, Organisation.slug, Organisation.name).where(
                or_(
                    Organisation.id.in_(wanted.organisations),
                    Organisation.slug.in_(wanted.organisation_slugs),
                )
            )
        ):
            names.organisations[id_] = name
            names.organisations_by_slug[slug] = name
    if wanted.commitments:
        names.commitments = {
            id_: _commitment_name(title, wording)
            for id_, title, wording in db.session.execute(
                select(Commitment.id, Commitment.title, Commitment.original_text).where(
                    Commitment.id.in_(wanted.commitments)
                )
            )
        }
    if wanted.returns:
        names.returns = {
            id_: ReturnName(organisation, Quarter(year, quarter).label)
            for id_, organisation, year, quarter in db.session.execute(
                select(Return.id, Organisation.name, ReportingPeriod.year, ReportingPeriod.quarter)
                .join(Organisation, Organisation.id == Return.organisation_id)
                .join(ReportingPeriod, ReportingPeriod.id == Return.period_id)
                .where(Return.id.in_(wanted.returns))
            )
        }
    if wanted.updates:
        names.updates = {
            id_: UpdateName(
                _commitment_name(title, wording),
                ReturnName(organisation, Quarter(year, quarter).label),
            )
            for id_, title, wording, organisation, year, quarter in db.session.execute(
                select(
                    CommitmentUpdate.id,
                    Commitment.title,
                    Commitment.original_text,
                    Organisation.name,
                    ReportingPeriod.year,
                    ReportingPeriod.quarter,
                )
                .join(Commitment, Commitment.id == CommitmentUpdate.commitment_id)
                .join(Return, Return.id == CommitmentUpdate.return_id)
                .join(Organisation, Organisation.id == Return.organisation_id)
                .join(ReportingPeriod, ReportingPeriod.id == Return.period_id)
                .where(CommitmentUpdate.id.in_(wanted.updates))
            )
        }
    if wanted.priorities:
        names.priorities = dict(
            db.session.execute(
                select(Priority.id, Priority.name).where(Priority.id.in_(wanted.priorities))
            ).all()
        )
    if wanted.themes:
        names.themes = dict(
            db.session.execute(
                select(Theme.slug, Theme.name).where(Theme.slug.in_(wanted.themes))
            ).all()
        )
    if wanted.emails:
        names.emails = {
            id_: EmailName(f"{name} <{email}>" if name else email, subject)
            for id_, name, email, subject in db.session.execute(
                select(
                    Notification.id,
                    Notification.recipient_name,
                    Notification.recipient_email,
                    Notification.subject,
                ).where(Notification.id.in_(wanted.emails))
            )
        }
    return names
