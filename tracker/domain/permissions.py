"""Who may do what to an organisation's private records.

The matrix (RELIABILITY.md, "Access control"): admins do everything; an organisation's leads
view, edit and submit its records, and review nothing; board members view everything and change
nothing; anyone not signed in sees only public pages.
"""

from __future__ import annotations

from enum import StrEnum

from tracker.domain.enums import Role


class Action(StrEnum):
    VIEW = "view"
    EDIT = "edit"
    SUBMIT = "submit"
    REVIEW = "review"


def allowed(role: Role | None, action: Action, *, leads_organisation: bool) -> bool:
    """Whether someone with ``role`` may take ``action`` on an organisation's records."""
    if role is None:
        return False
    if role == Role.ADMIN:
        return True
    if role == Role.BOARD:
        return action == Action.VIEW
    if role == Role.LEAD:
        return leads_organisation and action in {Action.VIEW, Action.EDIT, Action.SUBMIT}
    return False


def hides_existence(role: Role | None, *, leads_organisation: bool) -> bool:
    """Whether a refusal should look like "not found" (another organisation's records)."""
    return role == Role.LEAD and not leads_organisation
