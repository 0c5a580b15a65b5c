"""The open-data document (JSON) and table (CSV): every organisation and commitment.

Both stream: rows come from the database in batches and leave as text, so a region's worth of
commitments never sits in memory at once. A fixed number of queries whatever the size: the
catalogue (place, priorities, themes and their links), organisations, commitments in the
organisations' order, and the accepted updates in the same order, merged as they stream.

Each commitment carries its accepted quarters (issue 15): status, figure, narrative and evidence
link, published once the programme team accepted the return; the CSV, one row per commitment,
carries the latest. Never drafts, returns not accepted, risks, notes for the reviewer or
evidence files (those are served only to people signed in).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select

from tracker.domain.enums import DeliveryStatus
from tracker.domain.smart import smart_score
from tracker.extensions import db
from tracker.models import (
    Commitment,
    CommitmentUpdate,
    Organisation,
    Place,
    Pledge,
    Priority,
    ReportingPeriod,
    Theme,
)
from tracker.models.pledge import commitment_themes
from tracker.services.public import AcceptedUpdate, accepted_update, accepted_updates_query

SCHEMA = "pledge-tracker/open-data/v1"
DEFAULT_LICENCE = "Open Government Licence v3.0"
# Licences people name often, so the document can link to the terms; any other name is shown
# as written (or used as the link itself when it is a web address).
LICENCE_URLS = {
    "open government licence v3.0": (
        "https://www.nationalarchives.gov.uk/doc/open-government-licence/version/3/"
    ),
    "open government licence": (
        "https://www.nationalarchives.gov.uk/doc/open-government-licence/version/3/"
    ),
    "cc by 4.0": "https://creativecommons.org/licenses/by/4.0/",
    "creative commons attribution 4.0": "https://creativecommons.org/licenses/by/4.0/",
    "cc0 1.0": "https://creativecommons.org/publicdomain/zero/1.0/",
    "odc-by": "https://opendatacommons.org/licenses/by/1-0/",
}
CSV_COLUMNS = [
    "organisation",
    "organisation_slug",
    "commitment_id",
    "text",
    "title",
    "priority",
    "secondary_priority",
    "themes",
    "status",
    "target_metric",
    "target_value",
    "target_unit",
    "baseline",
    "target_due",
    "smart_score",
    "smart_missing",
    "flags",
    "latest_update_period",
    "latest_update_narrative",
    "latest_update_evidence_url",
]
# A spreadsheet runs a cell that starts with one of these as a formula.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value: Any) -> Any:
    """Text that a spreadsheet would take for a formula gets a leading apostrophe."""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


@dataclass(frozen=True)
class Licence:
    name: str
    url: str | None

    def as_json(self) -> dict[str, str | None]:
        return {"name": self.name, "url": self.url}


def licence_named(name: str | None) -> Licence:
    """The licence a place chose, with a link to its terms when the name is a known one."""
    name = " ".join((name or "").split()) or DEFAULT_LICENCE
    if name.lower().startswith(("https://", "http://")):
        return Licence(name, name)
    return Licence(name, LICENCE_URLS.get(name.lower()))


def licence() -> Licence:
    """The open-data licence: the place's choice, the Open Government Licence by default."""
    place = db.session.scalars(select(Place).order_by(Place.id)).first()
    return licence_named(place.open_data_licence if place else None)


def _number(value: Decimal | None) -> int | float | None:
    if value is None:
        return None
    return int(value) if value == value.to_integral_value() else float(value)


@dataclass(frozen=True)
class _Catalogue:
    place_name: str
    licence: Licence
    priorities: list[dict[str, str]]
    priority_codes: dict[int, str]
    theme_slugs: dict[int, list[str]]
    themes: list[dict[str, str]]


def _catalogue() -> _Catalogue:
    place = db.session.scalars(select(Place).order_by(Place.id)).first()
    priorities = db.session.scalars(select(Priority).order_by(Priority.position)).all()
    themes = db.session.scalars(select(Theme).order_by(Theme.slug)).all()
    slug_of = {theme.id: theme.slug for theme in themes}
    by_commitment: dict[int, list[str]] = {}
    rows = db.session.execute(
        select(commitment_themes.c.commitment_id, commitment_themes.c.theme_id)
    )
    for commitment_id, theme_id in rows:
        by_commitment.setdefault(commitment_id, []).append(slug_of[theme_id])
    for slugs in by_commitment.values():
        slugs.sort()
    return _Catalogue(
        place_name=place.name if place else "",
        licence=licence_named(place.open_data_licence if place else None),
        priorities=[{"code": p.code, "name": p.name} for p in priorities],
        priority_codes={p.id: p.code for p in priorities},
        theme_slugs=by_commitment,
        themes=[{"slug": t.slug, "name": t.name} for t in themes],
    )


def _organisations() -> list[tuple[int, str, str, str | None]]:
    first_pledge = (
        select(Pledge.organisation_id, func.min(Pledge.id).label("pledge_id"))
        .group_by(Pledge.organisation_id)
        .subquery()
    )
    return list(
        db.session.execute(
            select(Organisation.id, Organisation.name, Organisation.slug, Pledge.statement)
            .outerjoin(first_pledge, first_pledge.c.organisation_id == Organisation.id)
            .outerjoin(Pledge, Pledge.id == first_pledge.c.pledge_id)
            .order_by(func.lower(Organisation.name), Organisation.id)
        )
    )


def _commitments_by_organisation() -> Iterator[tuple[int, Commitment]]:
    rows = db.session.execute(
        select(Commitment.organisation_id, Commitment)
        .join(Organisation, Organisation.id == Commitment.organisation_id)
        .order_by(
            func.lower(Organisation.name), Organisation.id, Commitment.position, Commitment.id
        )
        .execution_options(yield_per=1000)
    )
    for organisation_id, commitment in rows:  # noqa: UP028  (rows, not Row objects, go out)
        yield organisation_id, commitment


def _accepted_updates_in_order(
    *, latest_only: bool = False
) -> Iterator[tuple[int, AcceptedUpdate]]:
    """Every accepted update, in the commitments' order, newest quarter first (streamed).

    ``latest_only``: each commitment's newest only (the CSV's columns), picked in the database.
    """
    newest_first = (ReportingPeriod.year.desc(), ReportingPeriod.quarter.desc())
    query = accepted_updates_query().join(
        Organisation, Organisation.id == Commitment.organisation_id
    )
    if latest_only:
        ranked = (
            query.add_columns(
                Organisation.name.label("organisation_name"),
                Commitment.organisation_id,
                Commitment.position,
                func.row_number()
                .over(partition_by=CommitmentUpdate.commitment_id, order_by=newest_first)
                .label("rn"),
            )
        ).subquery()
        query = (
            select(ranked)
            .where(ranked.c.rn == 1)
            .order_by(
                func.lower(ranked.c.organisation_name),
                ranked.c.organisation_id,
                ranked.c.position,
                ranked.c.commitment_id,
            )
        )
    else:
        query = query.order_by(
            func.lower(Organisation.name),
            Organisation.id,
            Commitment.position,
            Commitment.id,
            *newest_first,
            CommitmentUpdate.id,
        )
    for row in db.session.execute(query.execution_options(yield_per=1000)):
        yield row.commitment_id, accepted_update(row)


def _update_record(update: AcceptedUpdate) -> dict[str, Any]:
    return {
        "period": update.period.slug,
        "status": str(update.status),
        "progress_value": _number(update.progress_value),
        "percent_of_target": _number(update.percent),
        "narrative": update.narrative,
        "evidence_url": update.evidence_url,
        "evidence_grade": str(update.evidence_grade),
        "accepted_at": update.accepted_at.isoformat(timespec="seconds")
        if update.accepted_at
        else None,
    }


def _record(
    commitment: Commitment, catalogue: _Catalogue, updates: list[AcceptedUpdate] | None = None
) -> dict[str, Any]:
    score = smart_score(
        title=commitment.title,
        metric=commitment.metric,
        target_value=commitment.target_value,
        owner=commitment.owner_name,
        priority=commitment.primary_priority_id,
        target_date=commitment.target_date,
    )
    return {
        "id": commitment.id,
        "text": commitment.original_text,
        "title": commitment.title,
        "priority": catalogue.priority_codes.get(commitment.primary_priority_id or 0),
        "secondary_priority": catalogue.priority_codes.get(commitment.secondary_priority_id or 0),
        "themes": catalogue.theme_slugs.get(commitment.id, []),
        "status": str(commitment.current_status or DeliveryStatus.NOT_STARTED),
        "target": {
            "metric": commitment.metric,
            "value": _number(commitment.target_value),
            "unit": commitment.unit,
            "baseline": _number(commitment.baseline_value),
            "due": commitment.target_date.isoformat() if commitment.target_date else None,
        },
        "smart": {"score": score.score, "missing": list(score.missing)},
        "flags": commitment.flags,
        "updates": [_update_record(update) for update in updates or []],
    }


def iter_organisations(
    catalogue: _Catalogue | None = None, *, latest_update_only: bool = False
) -> Iterator[tuple[tuple[int, str, str, str | None], list[dict]]]:
    """Each organisation with its commitment records, in name order.

    ``latest_update_only``: each record's ``updates`` holds only the newest accepted quarter.
    """
    catalogue = catalogue or _catalogue()
    commitments = _commitments_by_organisation()
    updates = _accepted_updates_in_order(latest_only=latest_update_only)
    pending = next(commitments, None)
    pending_update = next(updates, None)
    for organisation in _organisations():
        records = []
        while pending is not None and pending[0] == organisation[0]:
            commitment = pending[1]
            # Both streams run in the same order: this commitment's updates come next.
            own = []
            while pending_update is not None and pending_update[0] == commitment.id:
                own.append(pending_update[1])
                pending_update = next(updates, None)
            records.append(_record(commitment, catalogue, own))
            db.session.expunge(commitment)  # keep memory flat while streaming
            pending = next(commitments, None)
        yield organisation, records


def iter_json(generated_at: datetime) -> Iterator[str]:
    """The open-data JSON document, in pieces."""
    catalogue = _catalogue()
    head = {
        "schema": SCHEMA,
        "generated_at": generated_at.isoformat(timespec="seconds"),
        "licence": catalogue.licence.as_json(),
        "place": {"name": catalogue.place_name, "priorities": catalogue.priorities},
        "themes": catalogue.themes,
    }
    yield json.dumps(head, ensure_ascii=False)[:-1] + ', "organisations": ['
    for index, ((_, name, slug, statement), records) in enumerate(iter_organisations(catalogue)):
        organisation = {"name": name, "slug": slug, "statement": statement, "commitments": records}
        yield ("," if index else "") + json.dumps(organisation, ensure_ascii=False)
    yield "]}\n"


def iter_csv() -> Iterator[str]:
    """The open-data table: one row per commitment, cells guarded against formula injection."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def flush() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    writer.writerow(CSV_COLUMNS)
    yield flush()
    for (_, name, slug, _), records in iter_organisations(latest_update_only=True):
        for record in records:
            target = record["target"]
            row = [
                name,
                slug,
                record["id"],
                record["text"],
                record["title"],
                record["priority"],
                record["secondary_priority"],
                ";".join(record["themes"]),
                record["status"],
                target["metric"],
                target["value"],
                target["unit"],
                target["baseline"],
                target["due"],
                record["smart"]["score"],
                "".join(record["smart"]["missing"]),
                ";".join(record["flags"]),
                *_latest_cells(record["updates"]),
            ]
            writer.writerow([csv_safe(cell) for cell in row])
        yield flush()


def _latest_cells(updates: list[dict[str, Any]]) -> list[Any]:
    """The CSV's latest-update columns: the newest accepted quarter, its words and its link."""
    if not updates:
        return [None, None, None]
    latest = updates[0]
    return [latest["period"], latest["narrative"], latest["evidence_url"]]


def is_published() -> bool:
    """Whether the place publishes its pledges (on unless an admin turned it off)."""
    place = db.session.scalars(select(Place)).first()
    return place is None or place.publish_publicly
