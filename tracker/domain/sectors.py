"""A first guess at an organisation's sector from its name, for admins to confirm.

The pledge page says nothing about sectors, but the public list filters by them. The guess is a
short table of words in the organisation's name, checked in order (the first rule that matches
wins, so "NHS Foundation Trust" is health before "Foundation" makes it a charity). An admin can
change the sector; the importer never overwrites one that is set.
"""

from __future__ import annotations

import re

from tracker.domain.enums import Sector

RULES: tuple[tuple[Sector, str], ...] = (
    (Sector.HEALTH, r"\b(nhs|health|hospice|care board|healthcare|medical|sexual health|elft)\b"),
    (Sector.EDUCATION, r"\b(college|university|school|academy|learning trust|sixth form)\b"),
    (Sector.HOUSING, r"\b(housing|homes)\b"),
    (
        Sector.PUBLIC_BODY,
        r"\b(council|lord-lieutenant|lieutenancy|enterprise partnership|semlep|bid|police)\b",
    ),
    (
        Sector.BUSINESS,
        r"\b(ltd|limited|plc|airport|construction|media|mall|tui|penrose|operations)\b",
    ),
    (
        Sector.VOLUNTARY_COMMUNITY,
        r"\b(charity|foundation|forum|foodbank|trust|community|council of faiths|youth council"
        r"|citizens advice|healthwatch|goodgym|noah|abcd|feast|peace child|active|be active)\b",
    ),
)
_COMPILED = tuple((sector, re.compile(pattern, re.IGNORECASE)) for sector, pattern in RULES)


def guess_sector(name: str) -> Sector | None:
    """The sector the name suggests, or None when nothing in the table matches."""
    for sector, pattern in _COMPILED:
        if pattern.search(name):
            return sector
    return None
