"""Importing a pledge page from the browser: a preview that writes nothing, then the import.

The same parser and import service as ``tracker seed load`` (``domain.pledge_page``,
``services.pledge_import``). The preview runs the import inside a savepoint and rolls it back,
so it shows exactly what the import would do to the database as it is now, and writes nothing
(no audit rows either). Its digest covers the page text and everything the preview showed;
confirming runs the import again and keeps it only if the digest is the same, so what is applied
is what the admin saw, and a database changed in between gets a fresh preview instead.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from tracker.config import PROJECT_ROOT
from tracker.domain.pledge_page import PledgePageError, decode_pledge_page, parse_pledge_page
from tracker.extensions import db
from tracker.models import Place, User
from tracker.services import audit
from tracker.services.pledge_import import (
    ImportReport,
    PlaceDefinition,
    import_pledge_page,
    read_place_file,
)

# The Luton page is 60 KB; a page six times as long is still a page, not a mistake.
MAX_PAGE_BYTES = 400 * 1024  # under the 500 KB a form field may hold (the confirm form)
DEFAULT_PLACE_FILE = PROJECT_ROOT / "seed" / "luton-2040-place.json"
PASTED = "pasted page"


class UploadError(ValueError):
    """The file or text cannot be imported; ``field`` is where the message belongs."""

    def __init__(self, message: str, field: str = "page_file") -> None:
        super().__init__(message)
        self.field = field


class StalePreview(Exception):
    """The database changed between the preview and the confirmation."""

    def __init__(self, preview: Preview) -> None:
        super().__init__("The pledges changed since the preview")
        self.preview = preview


@dataclass(frozen=True)
class Preview:
    text: str
    source: str
    report: ImportReport
    digest: str

    @property
    def changed(self) -> bool:
        return self.report.changed


def read_page(data: bytes | None, filename: str | None, pasted: str | None) -> tuple[str, str]:
    """The page text and a name for it, from an uploaded file or pasted text."""
    if data:
        if len(data) > MAX_PAGE_BYTES:
            raise UploadError("The file must be smaller than 400 KB")
        try:
            text = decode_pledge_page(data)
        except PledgePageError as error:
            raise UploadError(str(error)) from None
        source = (filename or "").replace("\\", "/").rsplit("/", 1)[-1][:200] or "uploaded page"
    elif pasted and pasted.strip():
        if len(pasted.encode("utf-8", "surrogatepass")) > MAX_PAGE_BYTES:
            raise UploadError("The pasted text must be shorter than 400 KB", field="page_text")
        text, source = pasted, PASTED
    elif data is not None and filename:
        raise UploadError("The selected file is empty")
    else:
        raise UploadError("Choose a file or paste the text of the pledge page")
    if "\x00" in text:
        raise UploadError("The page must not contain NUL characters", field="page_text")
    return text, source


def place_definition() -> PlaceDefinition:
    """The place as the database has it (so an import changes no priority), else the seed's."""
    place = db.session.scalars(
        select(Place).options(selectinload(Place.priorities)).order_by(Place.id).limit(1)
    ).first()
    if place is None:
        return read_place_file(DEFAULT_PLACE_FILE)
    return PlaceDefinition(
        name=place.name,
        slug=place.slug,
        vision=place.vision,
        priorities=tuple(
            (p.code, p.name, p.description)
            for p in sorted(place.priorities, key=lambda p: (p.position, p.id))
        ),
    )


def preview_import(text: str, source: str, *, now: datetime) -> Preview:
    """What importing ``text`` would change, worked out in a savepoint that is rolled back."""
    text = _lines(text)
    page = _parse(text)
    savepoint = db.session.begin_nested()
    try:
        report = import_pledge_page(page, place_definition(), source=source, now=now)
    finally:
        savepoint.rollback()
    return Preview(text=text, source=source, report=report, digest=_digest(text, source, report))


def confirm_import(text: str, source: str, digest: str, *, actor: User, now: datetime) -> Preview:
    """Import ``text`` if it still does what its preview (``digest``) showed; flushes only.

    Raises ``StalePreview`` with the new preview, having written nothing, when it would not.
    """
    text = _lines(text)
    page = _parse(text)
    savepoint = db.session.begin_nested()
    try:
        report = import_pledge_page(page, place_definition(), source=source, now=now, actor=actor)
    except Exception:
        savepoint.rollback()
        raise
    done = Preview(text=text, source=source, report=report, digest=_digest(text, source, report))
    if done.digest != digest:
        savepoint.rollback()
        raise StalePreview(preview_import(text, source, now=now))
    savepoint.commit()
    audit.record(
        "imported the pledge page" if report.changed else "imported the pledge page: no changes",
        "pledge_page",
        source,
        actor=actor,
        after={
            "organisations new": len(report.organisations_created),
            "organisations changed": len(report.organisations_updated),
            "commitments new": report.commitments_created,
            "commitments changed": report.commitments_updated,
            "commitments no longer on the page": len(report.commitments_removed),
        },
    )
    db.session.flush()
    return done


def _lines(text: str) -> str:
    """LF line breaks: a browser sends the confirm form's copy of the page with CRLF."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _parse(text: str):  # type: ignore[no-untyped-def]
    try:
        return parse_pledge_page(text)
    except PledgePageError as error:
        raise UploadError(str(error)) from None


def _plain(value: object) -> object:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    return str(value)


def _digest(text: str, source: str, report: ImportReport) -> str:
    fields = {k: dict(v) if isinstance(v, Counter) else v for k, v in vars(report).items()}
    shown = json.dumps(fields, sort_keys=True, default=_plain)
    return hashlib.sha256(f"{source}\n{text}\n{shown}".encode("utf-8", "surrogatepass")).hexdigest()
