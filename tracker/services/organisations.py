"""Reading organisations."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from tracker.extensions import db
from tracker.models import Commitment, Organisation


@dataclass(frozen=True)
class OrganisationListing:
    slug: str
    name: str
    sector: str | None
    commitment_count: int


def list_organisations() -> list[OrganisationListing]:
    """Every organisation by name, with how many commitments it has pledged (one query)."""
    counts = (
        select(Commitment.organisation_id, func.count().label("n"))
        .where(Commitment.removed_from_page_at.is_(None))
        .group_by(Commitment.organisation_id)
        .subquery()
    )
    rows = db.session.execute(
        select(Organisation.slug, Organisation.name, Organisation.sector, counts.c.n)
        .outerjoin(counts, counts.c.organisation_id == Organisation.id)
        .order_by(func.lower(Organisation.name))
    )
    return [
        OrganisationListing(slug=slug, name=name, sector=sector, commitment_count=n or 0)
        for slug, name, sector, n in rows
    ]
