"""Plain functions that build valid test data; tests say only what matters to them."""

from __future__ import annotations

import itertools
import secrets
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session
from werkzeug.security import generate_password_hash

from tracker.domain.calendar import Quarter, WindowRules
from tracker.domain.enums import DeliveryStatus, Role
from tracker.models import (
    Commitment,
    CommitmentUpdate,
    EvidenceFile,
    Organisation,
    Place,
    Pledge,
    Priority,
    ReportingPeriod,
    Return,
    User,
)

_counter = itertools.count(1)

LUTON_PRIORITIES = [
    ("inclusive-economy", "Inclusive economy"),
    ("improving-wellbeing", "Improving wellbeing"),
    ("child-friendly-town", "Child friendly town"),
    ("net-zero-town", "Net zero town"),
    ("empowered-community", "Empowered community"),
]


def make_place(session: Session, name: str = "Luton 2040") -> Place:
    existing = session.query(Place).filter_by(slug="luton-2040").one_or_none()
    if existing:
        return existing
    place = Place(slug="luton-2040", name=name)
    place.priorities = [
        Priority(code=code, name=label, position=i)
        for i, (code, label) in enumerate(LUTON_PRIORITIES)
    ]
    session.add(place)
    session.flush()
    return place


def make_organisation(session: Session, name: str | None = None, **fields: Any) -> Organisation:
    n = next(_counter)
    name = name or f"Organisation {n}"
    organisation = Organisation(name=name, slug=fields.pop("slug", f"org-{n}"), **fields)
    session.add(organisation)
    session.flush()
    return organisation


def add_organisations(session: Session, count: int, first_id: int = 50_000) -> list[int]:
    """A region's worth of organisations in one INSERT: "Organisation 0001" (org-0001) on."""
    rows = [
        {"id": first_id + n, "name": f"Organisation {n:04d}", "slug": f"org-{n:04d}", "version": 1}
        for n in range(1, count + 1)
    ]
    session.execute(insert(Organisation), rows)
    session.flush()
    return [row["id"] for row in rows]


def make_commitment(
    session: Session, organisation: Organisation | None = None, **fields: Any
) -> Commitment:
    organisation = organisation or make_organisation(session)
    pledge = organisation.pledges[0] if organisation.pledges else None
    if pledge is None:
        pledge = Pledge(organisation=organisation, statement="We pledge…")
        session.add(pledge)
    n = next(_counter)
    text = fields.pop("original_text", f"Commitment number {n}")
    commitment = Commitment(
        pledge=pledge,
        organisation_id=organisation.id,
        key=fields.pop("key", f"key-{n}"),
        original_text=text,
        title=fields.pop("title", text),
        **fields,
    )
    session.add(commitment)
    session.flush()
    return commitment


def make_period(
    session: Session, quarter: Quarter | None = None, *, flush: bool = True, **fields: Any
) -> ReportingPeriod:
    quarter = quarter or Quarter(2024, 1)
    window = quarter.window(WindowRules())
    values = {
        "slug": quarter.slug,
        "year": quarter.year,
        "quarter": quarter.number,
        "starts_on": quarter.starts_on,
        "ends_on": quarter.ends_on,
        "opens_on": window.opens_on,
        "due_on": window.due_on,
        "closes_on": window.closes_on,
    }
    values.update(fields)
    period = ReportingPeriod(**values)
    if flush:
        existing = session.query(ReportingPeriod).filter_by(slug=values["slug"]).one_or_none()
        if existing:
            return existing
        session.add(period)
        session.flush()
    return period


def make_return(
    session: Session, organisation: Organisation, period: ReportingPeriod, **fields: Any
) -> Return:
    return_ = Return(organisation=organisation, period=period, **fields)
    session.add(return_)
    session.flush()
    return return_


def make_update(
    session: Session, return_: Return, commitment: Commitment, **fields: Any
) -> CommitmentUpdate:
    values: dict[str, Any] = {"status": DeliveryStatus.ON_TRACK, "complete": True}
    values.update(fields)
    update = CommitmentUpdate(return_=return_, commitment=commitment, **values)
    session.add(update)
    session.flush()
    return update


def make_evidence_file(
    session: Session, update: CommitmentUpdate, name: str = "report.pdf", **fields: Any
) -> EvidenceFile:
    """A file row of an update; its key names nothing stored unless the test stores one."""
    values: dict[str, Any] = {
        "key": secrets.token_urlsafe(24),
        "content_type": "application/pdf",
        "size": 1024,
    }
    values.update(fields)
    file = EvidenceFile(update=update, name=name, **values)
    session.add(file)
    session.flush()
    return file


PASSWORD = "a perfectly good test password"
# Every test admin has two-factor authentication on with this secret (admins must), so tests
# compute their codes with pyotp; make_user(..., two_factor=False) for one who has not set it up.
TOTP_SECRET = "TESTADMINSECRETFORTWOFACTORCODES"
# Hashing with scrypt is deliberately slow; one hash serves every test user.
_PASSWORD_HASH = generate_password_hash(PASSWORD)


def make_user(
    session: Session,
    role: Role = Role.LEAD,
    *,
    organisations: list[Organisation] | None = None,
    with_password: bool = True,
    two_factor: bool | None = None,
    **fields: Any,
) -> User:
    n = next(_counter)
    if two_factor if two_factor is not None else role == Role.ADMIN:
        fields.setdefault("totp_secret", TOTP_SECRET)
        fields.setdefault("totp_enabled_at", datetime.now(UTC))
    user = User(
        email=fields.pop("email", f"person{n}@example.org"),
        name=fields.pop("name", f"Person {n}"),
        role=role,
        password_hash=_PASSWORD_HASH if with_password else None,
        organisations=list(organisations or []),
        **fields,
    )
    session.add(user)
    session.flush()
    return user


def today() -> date:
    return date(2024, 7, 1)
