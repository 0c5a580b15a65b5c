"""Organisations: listing them, and the admin's changes to them (audited)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from tracker.domain.calendar import period_for
from tracker.domain.enums import ContactRole, Sector
from tracker.domain.paging import Pagination
from tracker.domain.pledge_page import slugify
from tracker.extensions import db
from tracker.models import (
    Commitment,
    Organisation,
    OrganisationContact,
    ReportingPeriod,
    Return,
    User,
)
from tracker.services import audit
from tracker.services.paging import containing, page_of
from tracker.services.periods import joining_quarter

# Organisations the admin's list shows at once: as many as a page of the admin's work list.
ORGANISATION_PAGE_SIZE = 50


@dataclass(frozen=True)
class OrganisationListing:
    slug: str
    name: str
    sector: str | None
    commitment_count: int


def list_organisations(up_to: int | None = None) -> list[OrganisationListing] | None:
    """Every organisation that has pledged, by name, with its tracked commitments (one query);
    None when there are more than ``up_to`` (reading ``up_to + 1`` of them to know).

    Counted as ``services.figures`` counts: lead-in headings and retired commitments are left
    out, and an organisation with nothing to track is not listed as pledging.
    """
    counts = (
        select(Commitment.organisation_id, func.count().label("n"))
        .where(Commitment.removed_from_page_at.is_(None), Commitment.is_heading.is_(False))
        .group_by(Commitment.organisation_id)
        .subquery()
    )
    rows = db.session.execute(
        select(Organisation.slug, Organisation.name, Organisation.sector, counts.c.n)
        .join(counts, counts.c.organisation_id == Organisation.id)
        .order_by(func.lower(Organisation.name), Organisation.id)
        .limit(None if up_to is None else up_to + 1)
    ).all()
    if up_to is not None and len(rows) > up_to:
        return None
    return [
        OrganisationListing(slug=slug, name=name, sector=sector, commitment_count=n or 0)
        for slug, name, sector, n in rows
    ]


class OrganisationError(ValueError):
    """A change to an organisation that cannot be made; the message is for the person asking."""


class StaleEdit(OrganisationError):
    """Someone else saved the record after this form was opened."""


@dataclass(frozen=True)
class OrganisationDetails:
    name: str
    sector: Sector | None
    website: str | None
    deputy_name: str | None = None
    deputy_email: str | None = None
    sponsor_name: str | None = None
    sponsor_email: str | None = None
    # The first day of the first quarter it reports for; None: from when reporting began.
    reports_from: date | None = None


def _snapshot(organisation: Organisation) -> dict[str, object]:
    snapshot: dict[str, object] = {
        "name": organisation.name,
        "slug": organisation.slug,
        "sector": organisation.sector,
        "website": organisation.website,
        "reports_from": organisation.reports_from,
    }
    for contact in organisation.contacts:
        snapshot[f"{contact.role}"] = f"{contact.name} <{contact.email}>"
    return snapshot


def unique_slug(name: str) -> str:
    """A readable, unused slug for a new organisation's URLs."""
    base = slugify(name) or "organisation"
    taken = set(
        db.session.scalars(select(Organisation.slug).where(Organisation.slug.like(f"{base}%")))
    )
    slug, n = base, 2
    while slug in taken:
        slug, n = f"{base}-{n}", n + 1
    return slug


def create_organisation(
    details: OrganisationDetails, *, actor: User, today: date | None = None
) -> Organisation:
    """Add an organisation that pledged (its slug is made from its name, once).

    Without a first quarter in ``details``, one joining on ``today`` once reporting has begun
    reports from the quarter it joined (``periods.joining_quarter``).
    """
    organisation = Organisation(slug=unique_slug(details.name), name=details.name)
    db.session.add(organisation)
    _apply(organisation, details)
    if details.reports_from is None and today is not None:
        organisation.reports_from = joining_quarter(today)
    db.session.flush()
    audit.record(
        "created",
        "organisation",
        organisation.id,
        actor=actor,
        organisation_id=organisation.id,
        after=_snapshot(organisation),
    )
    return organisation


def update_organisation(
    organisation: Organisation, details: OrganisationDetails, *, version: int, actor: User
) -> None:
    """Save an edit; refuses one made on a version someone else has since changed."""
    if organisation.version != version:
        raise StaleEdit(
            "Someone else changed this organisation while you were editing it. "
            "Their changes are shown below: make yours again."
        )
    _check_first_quarter(organisation, details.reports_from)
    before = _snapshot(organisation)
    _apply(organisation, details)
    organisation.name_needs_review = False  # a person has now looked at the name
    after = _snapshot(organisation)
    if before == after:
        return
    organisation.updated_at = datetime.now(UTC)  # bumps the version even if only contacts changed
    db.session.flush()
    audit.record(
        "updated",
        "organisation",
        organisation.id,
        actor=actor,
        organisation_id=organisation.id,
        before=before,
        after=after,
    )


def _check_first_quarter(organisation: Organisation, reports_from: date | None) -> None:
    """An organisation cannot start reporting after a quarter it has already reported for."""
    if reports_from is None or reports_from == organisation.reports_from:
        return
    reported = db.session.scalar(
        select(func.min(ReportingPeriod.starts_on))
        .join(Return, Return.period_id == ReportingPeriod.id)
        .where(Return.organisation_id == organisation.id, Return.submitted_at.is_not(None))
    )
    if reported is not None and reports_from > reported:
        raise OrganisationError(
            f"{organisation.name} sent a return for {period_for(reported).label}, so it must "
            "report from then or earlier"
        )


def _apply(organisation: Organisation, details: OrganisationDetails) -> None:
    organisation.name = details.name
    organisation.reports_from = details.reports_from
    organisation.sector = details.sector
    organisation.website = details.website or None
    for role, name, email in (
        (ContactRole.DEPUTY, details.deputy_name, details.deputy_email),
        (ContactRole.SPONSOR, details.sponsor_name, details.sponsor_email),
    ):
        existing = organisation.contact(role)
        if name and email:
            if existing is None:
                organisation.contacts.append(OrganisationContact(role=role, name=name, email=email))
            else:
                existing.name, existing.email = name, email
        elif existing is not None:
            organisation.contacts.remove(existing)


def organisation_by_slug(slug: str) -> Organisation | None:
    return db.session.scalar(select(Organisation).where(Organisation.slug == slug))


def organisations_if_few(up_to: int) -> list[Organisation] | None:
    """Every organisation, by name, if there are at most ``up_to``; else None.

    One statement either way, reading at most ``up_to + 1`` rows: a region's 2,000 are not read
    to find out that there are too many to list.
    """
    first = list(
        db.session.scalars(
            select(Organisation)
            .order_by(func.lower(Organisation.name), Organisation.id)
            .limit(up_to + 1)
        )
    )
    return first if len(first) <= up_to else None


def organisations_with_ids(ids: Iterable[int]) -> list[Organisation]:
    """The organisations with these ids (ids the server found, not ids a request sent), by name."""
    wanted = set(ids)
    if not wanted:
        return []
    return list(
        db.session.scalars(
            select(Organisation)
            .where(Organisation.id.in_(wanted))
            .order_by(func.lower(Organisation.name), Organisation.id)
        )
    )


def organisations_page(search: str, page: int | None) -> tuple[Pagination, list[Organisation]]:
    """One page of the admin's list of organisations, by name, with their leads and contacts;
    ``search`` (when given) keeps those whose name or slug has it in, in any case.

    Four statements whatever the size: the count, the page, and the page's leads and contacts.
    """
    return page_of(
        select(Organisation)
        .where(*containing(search, Organisation.name, Organisation.slug))
        .options(selectinload(Organisation.leads), selectinload(Organisation.contacts))
        .order_by(func.lower(Organisation.name), Organisation.id),
        page,
        ORGANISATION_PAGE_SIZE,
    )
