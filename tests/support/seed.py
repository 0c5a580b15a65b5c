"""Loading the real Luton pledge page in tests."""

from __future__ import annotations

from tracker.config import PROJECT_ROOT
from tracker.domain.pledge_page import ParsedPage, parse_pledge_page
from tracker.services.pledge_import import (
    ImportReport,
    PlaceDefinition,
    import_pledge_page,
    read_place_file,
)

SEED = PROJECT_ROOT / "seed" / "luton-2040-pledges.txt"
PLACE = PROJECT_ROOT / "seed" / "luton-2040-place.json"


def luton_place() -> PlaceDefinition:
    return read_place_file(PLACE)


def luton_page(text: str | None = None) -> ParsedPage:
    return parse_pledge_page(text if text is not None else SEED.read_text(encoding="utf-8"))


def load_luton(text: str | None = None) -> ImportReport:
    return import_pledge_page(luton_page(text), luton_place(), source=SEED.name)
