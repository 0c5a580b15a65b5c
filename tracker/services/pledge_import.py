"""Importing a pledge page into the place, organisations, pledges, commitments and themes.

Idempotent: organisations are matched by slug and commitments by their stable key (a hash of
the normalised wording), so loading the same page again changes nothing. An edited page updates
what changed and adds what is new; a commitment no longer on the page is marked, never deleted
(it may have quarterly updates, and its history matters). The importer fills working fields
(title, priority, targets, sector) only where they are empty or were set by the importer
itself, so a person's edits survive a re-import; a target field a person cleared in the app
(``commitments.fields_decided``) stays empty. Flushes only: the caller commits.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from tracker.domain import themes as theme_catalogue
from tracker.domain.enums import Confidence
from tracker.domain.pledge_page import (
    ParsedCommitment,
    ParsedOrganisation,
    ParsedPage,
    SkippedLine,
)
from tracker.domain.priorities import classify
from tracker.domain.sectors import guess_sector
from tracker.domain.targets import extract_target
from tracker.extensions import db
from tracker.models import Commitment, Organisation, Place, Pledge, Priority, Theme, User
from tracker.services import audit
from tracker.services.commitments import fields_decided
from tracker.services.periods import commitment_joining_quarter, joining_quarter

LONDON = ZoneInfo("Europe/London")


class PlaceFileError(ValueError):
    """The place description (name and priorities) cannot be used."""


@dataclass(frozen=True)
class PlaceDefinition:
    name: str
    slug: str
    vision: str | None
    priorities: tuple[tuple[str, str, str | None], ...]  # code, name, description


def read_place_file(path: Path) -> PlaceDefinition:
    """Read a place's name and priorities from JSON (see ``seed/luton-2040-place.json``)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise PlaceFileError(f"cannot read the place file {path}: {error.strerror}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise PlaceFileError(f"the place file {path} is not valid JSON: {error}") from None
    try:
        priorities = tuple(
            (str(p["code"]), str(p["name"]), p.get("description")) for p in data["priorities"]
        )
        definition = PlaceDefinition(
            name=str(data["name"]),
            slug=str(data["slug"]),
            vision=data.get("vision"),
            priorities=priorities,
        )
    except (KeyError, TypeError) as error:
        raise PlaceFileError(
            f"the place file {path} needs a name, a slug and priorities with code and name"
            f" (missing {error})"
        ) from None
    if not definition.priorities:
        raise PlaceFileError(f"the place file {path} lists no priorities")
    return definition


@dataclass
class FlaggedCommitment:
    organisation: str
    line_no: int
    text: str
    reasons: list[str]


@dataclass
class ImportReport:
    """What an import made, changed and wants a person to look at."""

    source: str
    organisations_created: list[str] = field(default_factory=list)
    organisations_updated: list[str] = field(default_factory=list)
    organisations_unchanged: int = 0
    commitments_created: int = 0
    commitments_updated: int = 0
    commitments_unchanged: int = 0
    commitments_removed: list[tuple[str, str]] = field(default_factory=list)
    # What the web preview lists: (organisation, wording) of each new or changed commitment,
    # and organisations in the database that this page does not name (shown, never deleted).
    commitments_new: list[tuple[str, str]] = field(default_factory=list)
    commitments_changed: list[tuple[str, str]] = field(default_factory=list)
    organisations_not_on_page: list[str] = field(default_factory=list)
    # Organisations whose statement was edited in the app and differs from the page's: kept.
    statements_kept: list[str] = field(default_factory=list)
    commitments_total: int = 0
    bullets_seen: int = 0
    duplicates_folded: int = 0
    per_priority: Counter[str] = field(default_factory=Counter)
    per_confidence: Counter[str] = field(default_factory=Counter)
    themes: dict[str, tuple[str, int, int]] = field(default_factory=dict)
    derived_names: list[tuple[str, int]] = field(default_factory=list)
    flagged: list[FlaggedCommitment] = field(default_factory=list)
    skipped: list[SkippedLine] = field(default_factory=list)
    inline_commitments: list[tuple[str, str]] = field(default_factory=list)
    theme_candidates: list[list[tuple[str, str]]] = field(default_factory=list)
    targets_found: list[tuple[str, str, str]] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(
            self.organisations_created
            or self.organisations_updated
            or self.commitments_created
            or self.commitments_updated
            or self.commitments_removed
        )


def ensure_place(definition: PlaceDefinition) -> tuple[Place, dict[str, Priority]]:
    """The instance's place with its priorities, created or brought up to date."""
    place = db.session.scalars(select(Place).options(selectinload(Place.priorities))).first()
    if place is None:
        place = Place(slug=definition.slug, name=definition.name, vision=definition.vision)
        db.session.add(place)
    existing = {priority.code: priority for priority in place.priorities}
    for position, (code, name, description) in enumerate(definition.priorities):
        priority = existing.get(code)
        if priority is None:
            priority = Priority(code=code, name=name, description=description, position=position)
            place.priorities.append(priority)
            existing[code] = priority
        else:
            priority.name, priority.description, priority.position = name, description, position
    db.session.flush()
    return place, existing


def ensure_themes() -> dict[str, Theme]:
    """Every theme of the catalogue as a row, by slug (names kept up to date)."""
    rows = {theme.slug: theme for theme in db.session.scalars(select(Theme))}
    for entry in theme_catalogue.CATALOGUE:
        theme = rows.get(entry.slug)
        if theme is None:
            theme = Theme(slug=entry.slug, name=entry.name, description=entry.description)
            db.session.add(theme)
            rows[entry.slug] = theme
        elif (theme.name, theme.description) != (entry.name, entry.description):
            theme.name, theme.description = entry.name, entry.description
    db.session.flush()
    return rows


def _snapshot(commitment: Commitment) -> dict[str, Any]:
    return {
        "original_text": commitment.original_text,
        "position": commitment.position,
        "is_heading": commitment.is_heading,
        "is_truncated": commitment.is_truncated,
        "duplicates_folded": commitment.duplicates_folded,
        "removed_from_page_at": commitment.removed_from_page_at,
        "primary_priority_id": commitment.primary_priority_id,
        "secondary_priority_id": commitment.secondary_priority_id,
        "priority_confidence": commitment.priority_confidence,
        "needs_review": commitment.needs_review,
        "title": commitment.title,
        "metric": commitment.metric,
        "unit": commitment.unit,
        "target_value": commitment.target_value,
        "baseline_value": commitment.baseline_value,
        "target_date": commitment.target_date,
        "direction": commitment.direction,
        "themes": sorted(theme.slug for theme in commitment.themes),
    }


class _Importer:
    def __init__(
        self,
        page: ParsedPage,
        source: str,
        priorities: dict[str, Priority],
        themes: dict[str, Theme],
        now: datetime,
        actor: User | None = None,
    ) -> None:
        self.actor = actor
        self.page = page
        self.priorities = priorities
        self.themes = themes
        self.now = now
        self.report = ImportReport(source=source, bullets_seen=page.bullet_count)
        self.source = source
        self.today = now.astimezone(LONDON).date()
        self.joins_from = joining_quarter(self.today)
        self.commitments_join_from: dict[int, date | None] = {}

    def run(self, progress: Callable[[ParsedOrganisation], None] | None) -> ImportReport:
        slugs = [parsed.slug for parsed in self.page.organisations]
        organisations = {
            organisation.slug: organisation
            for organisation in db.session.scalars(
                select(Organisation)
                .where(Organisation.slug.in_(slugs))
                .options(
                    selectinload(Organisation.pledges)
                    .selectinload(Pledge.commitments)
                    .selectinload(Commitment.themes)
                )
            )
        }
        for parsed in self.page.organisations:
            self._organisation(parsed, organisations.get(parsed.slug))
            if progress:
                progress(parsed)
        self.report.organisations_not_on_page = list(
            db.session.scalars(
                select(Organisation.name)
                .where(Organisation.slug.not_in(slugs))
                .order_by(func.lower(Organisation.name))
            )
        )
        db.session.flush()
        self._summarise()
        return self.report

    def _organisation(self, parsed: ParsedOrganisation, organisation: Organisation | None) -> None:
        created = organisation is None
        if organisation is None:
            organisation = Organisation(
                slug=parsed.slug,
                name=parsed.name,
                sector=guess_sector(parsed.name),
                name_needs_review=parsed.name_derived,
                # Joining once reporting has begun: it reports from the quarter it joined.
                reports_from=self.joins_from,
            )
            db.session.add(organisation)
            db.session.flush()
            self.report.organisations_created.append(parsed.name)
            audit.record(
                "imported",
                "organisation",
                organisation.id,
                actor=self.actor,
                actor_label=f"import of {self.source}",
                organisation_id=organisation.id,
                after={"name": parsed.name, "slug": parsed.slug},
            )
        if parsed.name_derived:
            self.report.derived_names.append((parsed.name, parsed.line_no))
        for sentence in parsed.inline_commitments:
            self.report.inline_commitments.append((parsed.name, sentence))

        pledge = organisation.pledges[0] if organisation.pledges else None
        changed = False
        if pledge is None:
            pledge = Pledge(
                organisation=organisation, statement=parsed.statement, source=self.source
            )
            db.session.add(pledge)
        elif pledge.statement != parsed.statement and pledge.statement_maintained_in_app:
            self.report.statements_kept.append(organisation.name)
        elif pledge.statement != parsed.statement:
            audit.record(
                "statement changed on the page",
                "pledge",
                pledge.id,
                actor=self.actor,
                actor_label=f"import of {self.source}",
                organisation_id=organisation.id,
                before={"statement": pledge.statement},
                after={"statement": parsed.statement},
            )
            pledge.statement = parsed.statement
            pledge.source = self.source
            changed = True

        existing = {commitment.key: commitment for commitment in pledge.commitments}
        seen: set[str] = set()
        for item in parsed.commitments:
            seen.add(item.key)
            commitment = existing.get(item.key)
            if commitment is None:
                commitment = self._new_commitment(organisation, pledge, item)
                # Added to a pledge already reporting: reported on from this quarter, or the
                # next if the organisation has sent this quarter's return.
                if not created:
                    commitment.reports_from = self._commitments_join(organisation)
                self.report.commitments_created += 1
                self.report.commitments_new.append((organisation.name, item.text))
            elif self._refresh_commitment(organisation, commitment, item):
                self.report.commitments_updated += 1
                self.report.commitments_changed.append((organisation.name, item.text))
                changed = True
            else:
                self.report.commitments_unchanged += 1
            self._note(organisation.name, item, commitment)

        for key, commitment in existing.items():
            # Made in the app (added, split, merged): the page never had it, so it stays.
            if (
                key not in seen
                and commitment.removed_from_page_at is None
                and not commitment.maintained_in_app
            ):
                commitment.removed_from_page_at = self.now
                self.report.commitments_removed.append(
                    (organisation.name, commitment.original_text)
                )
                audit.record(
                    "no longer on the page",
                    "commitment",
                    commitment.id,
                    actor=self.actor,
                    actor_label=f"import of {self.source}",
                    organisation_id=organisation.id,
                )
                changed = True

        if created:
            return
        if changed:
            self.report.organisations_updated.append(organisation.name)
        else:
            self.report.organisations_unchanged += 1

    def _commitments_join(self, organisation: Organisation) -> date | None:
        """``reports_from`` for the commitments new on an organisation's pledge (read once)."""
        if organisation.id not in self.commitments_join_from:
            self.commitments_join_from[organisation.id] = commitment_joining_quarter(
                organisation, self.today
            )
        return self.commitments_join_from[organisation.id]

    def _new_commitment(
        self, organisation: Organisation, pledge: Pledge, item: ParsedCommitment
    ) -> Commitment:
        commitment = Commitment(
            pledge=pledge,
            organisation_id=organisation.id,
            key=item.key,
            original_text=item.text,
        )
        self._apply_page(commitment, item)
        self._apply_analysis(commitment, item)
        db.session.add(commitment)
        return commitment

    def _apply_page(self, commitment: Commitment, item: ParsedCommitment) -> None:
        """Fields that only the page decides, unless a person has since decided them in the app."""
        if not commitment.maintained_in_app:
            commitment.original_text = item.text
            commitment.position = item.position
            commitment.is_heading = "heading" in item.flags
            commitment.is_truncated = "truncated" in item.flags
        commitment.duplicates_folded = item.duplicates_folded
        if commitment.retired_reason is None:  # an admin's retiring stands
            commitment.removed_from_page_at = None

    def _apply_analysis(self, commitment: Commitment, item: ParsedCommitment) -> None:
        """Fields the importer proposes; a person's choices are never overwritten."""
        classification = classify(item.text)
        if commitment.priority_confidence != Confidence.MANUAL:
            primary = self.priorities.get(classification.primary or "")
            secondary = self.priorities.get(classification.secondary or "")
            commitment.primary_priority = primary
            commitment.secondary_priority = secondary if secondary is not primary else None
            commitment.priority_confidence = (
                Confidence(classification.confidence) if primary else Confidence.LOW
            )
            commitment.needs_review = primary is None or classification.needs_review
        if not commitment.title:
            title = classification.title if classification.title != item.text else item.title
            commitment.title = title[:500]
        target = extract_target(item.text)
        empty = {
            attribute: value
            for attribute, value in (
                ("target_value", target.value),
                ("unit", target.unit),
                ("metric", target.metric),
                ("baseline_value", target.baseline),
                ("direction", target.direction),
                ("target_date", target.due),
            )
            if value is not None and getattr(commitment, attribute) is None
        }
        # An empty field may be one a person cleared (a target removed with a reason): theirs.
        decided = fields_decided(commitment.id) if empty and commitment.id else frozenset()
        for attribute, value in empty.items():
            if attribute not in decided:
                setattr(commitment, attribute, value)
        wanted = [self.themes[slug] for slug in theme_catalogue.themes_for(item.text)]
        for theme in wanted:
            if theme not in commitment.themes:
                commitment.themes.append(theme)

    def _refresh_commitment(
        self, organisation: Organisation, commitment: Commitment, item: ParsedCommitment
    ) -> bool:
        before = _snapshot(commitment)
        self._apply_page(commitment, item)
        self._apply_analysis(commitment, item)
        after = _snapshot(commitment)
        if before == after:
            return False
        changes = {key for key in after if before[key] != after[key]}
        audit.record(
            "updated from the page",
            "commitment",
            commitment.id or item.key,
            actor=self.actor,
            actor_label=f"import of {self.source}",
            organisation_id=organisation.id,
            before={key: before[key] for key in changes},
            after={key: after[key] for key in changes},
        )
        return True

    def _note(self, organisation: str, item: ParsedCommitment, commitment: Commitment) -> None:
        report = self.report
        report.commitments_total += 1
        report.duplicates_folded += item.duplicates_folded
        priority = commitment.primary_priority
        report.per_priority[priority.code if priority else "(none)"] += 1
        report.per_confidence[str(commitment.priority_confidence or "none")] += 1
        reasons = []
        if commitment.needs_review:
            reasons.append("priority needs review")
        if commitment.is_heading:
            reasons.append("reads like a heading")
        if commitment.is_truncated:
            reasons.append("looks cut off")
        if item.duplicates_folded:
            reasons.append(f"{item.duplicates_folded} identical copy folded in")
        if reasons:
            report.flagged.append(FlaggedCommitment(organisation, item.line_no, item.text, reasons))
        found = []
        if commitment.target_value is not None:
            found.append(f"target {commitment.target_value.normalize():f} {commitment.unit or ''}")
        if commitment.target_date is not None:
            found.append(f"due {commitment.target_date.isoformat()}")
        if found:
            report.targets_found.append((organisation, item.text, "; ".join(found).strip()))

    def _summarise(self) -> None:
        report = self.report
        report.skipped = list(self.page.skipped)
        pledged: dict[str, set[str]] = {}
        counts: Counter[str] = Counter()
        texts: list[tuple[str, str, bool]] = []
        for parsed in self.page.organisations:
            for item in parsed.commitments:
                slugs = theme_catalogue.themes_for(item.text)
                for slug in slugs:
                    pledged.setdefault(slug, set()).add(parsed.slug)
                    counts[slug] += 1
                texts.append((parsed.name, item.text, bool(slugs)))
        for slug, organisations in pledged.items():
            report.themes[slug] = (self.themes[slug].name, len(organisations), counts[slug])
        # Near-identical wording across organisations that no theme covers: a theme to add?
        unthemed = [(name, text) for name, text, themed in texts if not themed]
        for group in theme_catalogue.near_duplicate_groups([text for _, text in unthemed]):
            members = [unthemed[index] for index in group]
            if len({name for name, _ in members}) > 1:
                report.theme_candidates.append(members)


def import_pledge_page(
    page: ParsedPage,
    place: PlaceDefinition,
    *,
    source: str,
    now: datetime | None = None,
    progress: Callable[[ParsedOrganisation], None] | None = None,
    actor: User | None = None,
) -> ImportReport:
    """Bring the database in line with a parsed pledge page; flushes, never commits."""
    _, priorities = ensure_place(place)
    themes = ensure_themes()
    importer = _Importer(page, source, priorities, themes, now or datetime.now(UTC), actor)
    return importer.run(progress)


def report_lines(report: ImportReport, *, dry_run: bool = False) -> list[str]:
    """The import report as plain text lines, most important first."""
    lines = []
    if dry_run:
        lines.append(f"Dry run of {report.source}: nothing was written.")
    total_orgs = (
        len(report.organisations_created)
        + len(report.organisations_updated)
        + report.organisations_unchanged
    )
    lines.append(
        f"Organisations: {total_orgs} ({len(report.organisations_created)} new, "
        f"{len(report.organisations_updated)} changed, {report.organisations_unchanged} unchanged)"
    )
    lines.append(
        f"Commitments: {report.commitments_total} ({report.commitments_created} new, "
        f"{report.commitments_updated} changed, {report.commitments_unchanged} unchanged, "
        f"{len(report.commitments_removed)} no longer on the page)"
    )
    if report.statements_kept:
        lines.append(
            f"Statements edited in the app, kept (the page's wording differs):"
            f" {', '.join(report.statements_kept)}"
        )
    other_bullets = sum(
        1 for line in report.skipped if line.bullet and not line.reason.startswith("duplicate")
    )
    lines.append(
        f"Bullets on the page: {report.bullets_seen} = {report.commitments_total} commitments"
        f" + {report.duplicates_folded} identical copies folded in"
        f" + {other_bullets} not commitments (listed below)"
    )
    lines.append("")
    lines.append("Commitments per priority:")
    for code, count in sorted(report.per_priority.items(), key=lambda item: (-item[1], item[0])):
        lines.append(f"  {code:<24} {count:>4}")
    confidence = ", ".join(f"{k} {v}" for k, v in sorted(report.per_confidence.items()))
    lines.append(f"  (how decided: {confidence})")
    lines.append("")
    lines.append(f"Themes ({len(report.themes)}), by organisations pledging:")
    for _, (name, organisations, commitments) in sorted(
        report.themes.items(), key=lambda item: (-item[1][1], item[1][0])
    ):
        lines.append(f"  {name:<45} {organisations:>3} organisations, {commitments:>3} commitments")

    def section(title: str, rows: list[str]) -> None:
        if rows:
            lines.append("")
            lines.append(f"{title} ({len(rows)}):")
            lines.extend(f"  {row}" for row in rows)

    section(
        "Needs a human look: organisation names read from the paragraph (no heading line)",
        [f"line {line}: {name}" for name, line in report.derived_names],
    )
    section(
        "Needs a human look: flagged commitments",
        [
            f"line {item.line_no} [{item.organisation}] {_clip(item.text)} — "
            + ", ".join(item.reasons)
            for item in report.flagged
        ],
    )
    section(
        "Not imported: lines that are not an organisation, statement or commitment",
        [f"line {line.line_no}: {_clip(line.text)} — {line.reason}" for line in report.skipped],
    )
    section(
        "Commitments written inline in a statement (not imported as commitments)",
        [f"[{name}] {_clip(sentence)}" for name, sentence in report.inline_commitments],
    )
    section(
        "Organisations not on this page (kept as they are)",
        list(report.organisations_not_on_page),
    )
    section(
        "No longer on the page (kept, marked)",
        [f"[{name}] {_clip(text)}" for name, text in report.commitments_removed],
    )
    section(
        "Targets and deadlines read from the text",
        [f"[{name}] {_clip(text, 60)} → {found}" for name, text, found in report.targets_found],
    )
    section(
        "Possible new themes: near-identical wording in several organisations",
        [
            "; ".join(f"[{name}] {_clip(text, 50)}" for name, text in group)
            for group in report.theme_candidates
        ],
    )
    return lines


def _clip(text: str, width: int = 90) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"
