"""Every kind of audit event reads as a sentence, with its values as people write them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from tracker.models import AuditEvent
from tracker.services.audit_words import (
    Change,
    EmailName,
    Names,
    ReturnName,
    UpdateName,
    describe,
    value_text,
)

ADA, LEE = 1, 2
ACTIVE = 10
Q1_RETURN = 20

NAMES = Names(
    organisations={ACTIVE: "Active Luton"},
    organisations_by_slug={"active-luton": "Active Luton"},
    people={ADA: "Ada Admin", LEE: "Lee Lead"},
    commitments={30: "Build 400 homes"},
    returns={Q1_RETURN: ReturnName("Active Luton", "2024/25 Q1")},
    updates={40: UpdateName("Build 400 homes", ReturnName("Active Luton", "2024/25 Q1"))},
    priorities={1: "Inclusive economy", 4: "Net zero town"},
    themes={"real-living-wage": "Real Living Wage"},
    emails={50: EmailName("Lee Lead <lee@example.org>", "Your return is due")},
)


def event(action: str, kind: str, entity: int | str, **fields: Any) -> AuditEvent:
    fields.setdefault("actor_id", ADA)
    fields.setdefault("actor_label", "ada@example.org")
    fields.setdefault("organisation_id", ACTIVE)
    return AuditEvent(action=action, entity_type=kind, entity_id=str(entity), **fields)


@pytest.mark.parametrize(
    ("recorded", "sentence", "changes"),
    [
        (
            event(
                "imported",
                "organisation",
                ACTIVE,
                actor_id=None,
                actor_label="import of luton-2040-pledges.txt",
                after={"name": "Active Luton", "slug": "active-luton"},
            ),
            "The import of luton-2040-pledges.txt added the organisation Active Luton from the "
            "pledge page",
            [
                Change("Name", None, "Active Luton"),
                Change("Web address name", None, "active-luton"),
            ],
        ),
        (
            event(
                "statement changed on the page",
                "pledge",
                7,
                actor_id=None,
                actor_label="import of luton-2040-pledges.txt",
                before={"statement": "We pledge."},
                after={"statement": "We pledge more."},
            ),
            "The import of luton-2040-pledges.txt updated Active Luton's pledge statement from "
            "the pledge page",
            [Change("Pledge statement", "We pledge.", "We pledge more.")],
        ),
        (
            event(
                "updated",
                "commitment",
                30,
                before={
                    "target_value": "400",
                    "target_date": "2030-03-31",
                    "primary_priority_id": 1,
                    "direction": "increase",
                    "milestones": [["Half way", "2027-03-31"]],
                },
                after={
                    "target_value": "12500.5",
                    "target_date": "2031-03-31",
                    "primary_priority_id": 4,
                    "direction": "decrease",
                    "milestones": [],
                    "reason for change": "The funding moved",
                },
            ),
            "Ada Admin changed the commitment “Build 400 homes” (Active Luton)",
            [
                Change("Target", "400", "12,500.5"),
                Change("Target date", "31 March 2030", "31 March 2031"),
                Change("Direction", "Increase", "Decrease"),
                Change("Priority", "Inclusive economy", "Net zero town"),
                Change("Milestones", "Half way (by 31 March 2027)", "none"),
                Change("Reason for the change", None, "The funding moved"),
            ],
        ),
        (
            event(
                "updated from the page",
                "commitment",
                30,
                actor_id=None,
                actor_label="import of luton-2040-pledges.txt",
                before={"priority_confidence": "low", "themes": [], "is_heading": False},
                after={
                    "priority_confidence": "explicit",
                    "themes": ["real-living-wage"],
                    "is_heading": True,
                },
            ),
            "The import of luton-2040-pledges.txt updated the commitment “Build 400 homes” "
            "(Active Luton) from the pledge page",
            [
                Change("How the priority was chosen", "A guess to check", "Stated in the pledge"),
                Change("A heading, not a commitment", "No", "Yes"),
                Change("Themes", "none", "Real Living Wage"),
            ],
        ),
        (
            event(
                "dates changed",
                "period",
                "2024-25-q1",
                organisation_id=None,
                before={"due_on": "2024-07-21", "opens_on": "2024-06-16"},
                after={"due_on": "2024-07-28", "opens_on": "2024-06-16"},
            ),
            "Ada Admin changed the reporting dates of 2024/25 Q1",
            [Change("Due", "21 July 2024", "28 July 2024")],
        ),
        (
            event(
                "built board summary",
                "board_summary",
                3,
                actor_id=None,
                actor_label="system",
                organisation_id=None,
                after={"period": "2024-25-q1", "revision": 1, "reason": None},
            ),
            "The system built the 2024/25 Q1 board summary",
            [Change("Revision", None, "1")],
        ),
        (
            event(
                "published board summary",
                "board_summary",
                3,
                organisation_id=None,
                after={"period": "2024-25-q1", "revision": 2, "emails": 3},
            ),
            "Ada Admin published the 2024/25 Q1 board summary",
            [Change("Revision", None, "2"), Change("Board members emailed", None, "3")],
        ),
        (
            event(
                "queued again",
                "notification",
                50,
                before={"state": "failed", "last_error": "550 mailbox unavailable"},
            ),
            "Ada Admin queued the email “Your return is due” to Lee Lead <lee@example.org> to be "
            "sent again",
            [
                Change("State", "Failed", None),
                Change("Last error", "550 mailbox unavailable", None),
            ],
        ),
        (
            event("verified evidence", "commitment_update", 40),
            "Ada Admin verified the evidence for “Build 400 homes” in Active Luton's 2024/25 Q1 "
            "return",
            [],
        ),
        (
            event(
                "saved update",
                "commitment_update",
                40,
                actor_id=LEE,
                before={"progress_value": "120.0000", "evidence_url": None},
                after={"progress_value": "150", "evidence_url": "https://example.org/report"},
            ),
            "Lee Lead saved the update on “Build 400 homes” in Active Luton's 2024/25 Q1 return",
            [
                Change("Progress", "120", "150"),
                Change("Link to evidence", "none", "https://example.org/report"),
            ],
        ),
        (
            event("accepted invitation", "user", LEE, actor_id=LEE, organisation_id=None),
            "Lee Lead accepted their invitation",
            [],
        ),
        (
            event(
                "updated",
                "user",
                LEE,
                organisation_id=None,
                before={"role": "lead", "organisations": ["active-luton"]},
                after={"role": "board", "organisations": []},
            ),
            "Ada Admin changed Lee Lead's account",
            [
                Change("Role", "Organisation lead", "Board member"),
                Change("Organisations", "Active Luton", "none"),
            ],
        ),
        (
            event(
                "created",
                "user",
                LEE,
                actor_id=None,
                actor_label="command line",
                organisation_id=None,
                after={"name": "Lee Lead", "role": "lead", "active": True},
            ),
            "Someone at the command line added an account for Lee Lead",
            [
                Change("Name", None, "Lee Lead"),
                Change("Role", None, "Organisation lead"),
                Change("Active", None, "Yes"),
            ],
        ),
        (
            # Someone whose account has gone is named by the address they had.
            event("accepted", "return", Q1_RETURN, actor_id=None, actor_label="gone@example.org"),
            "gone@example.org accepted Active Luton's 2024/25 Q1 return",
            [],
        ),
        (
            event("submitted", "return", 999, after={"period": "2024-25-q1", "late": True}),
            "Ada Admin submitted a return of Active Luton",
            [Change("Late", None, "Yes")],
        ),
        (
            event("renamed", "widget", 5, organisation_id=None),
            "Ada Admin renamed a widget",
            [],
        ),
    ],
)
def test_each_kind_of_event_reads_as_a_sentence(recorded, sentence, changes):
    described = describe(recorded, NAMES)
    assert described.sentence == sentence
    assert described.changes == changes


def test_values_read_as_people_write_them():
    names = Names()
    assert value_text("active", False, names) == "No"
    assert value_text("late", True, names) == "Yes"
    assert value_text("website", None, names) == "none"
    assert value_text("expires_at", "2024-08-06T10:00:00+00:00", names) == (
        "6 August 2024 at 11:00am"
    )
    assert value_text("something_new", "2025-07-21", names) == "21 July 2025"
    assert value_text("status", "off_track", names) == "Off track"
    assert value_text("sector", "voluntary_community", names) == "Voluntary and community"
    assert value_text("reporting_status", "non_communicating", names) == "Not communicating"
    assert value_text("to", ["a@example.org", "b@example.org"], names) == (
        "a@example.org, b@example.org"
    )
    assert value_text("removed_from_page_at", datetime(2025, 1, 6, 9, 5, tzinfo=UTC), names) == (
        "6 January 2025 at 9:05am"
    )
    # A value the code no longer knows still reads as itself rather than failing.
    assert value_text("status", "paused", names) == "paused"


def test_when_reporting_began_and_when_an_organisation_joined_read_as_quarters():
    from tracker.models import AuditEvent
    from tracker.services.audit_words import Names, describe

    moved = describe(
        AuditEvent(
            action="reporting start changed",
            entity_type="place",
            entity_id="1",
            actor_label="ada@example.org",
            before={"first_quarter": "2026/27 Q3"},
            after={"first_quarter": "2025/26 Q3"},
        ),
        Names(),
    )
    assert moved.summary == "changed the quarter reporting began with"
    assert [(c.label, c.before, c.after) for c in moved.changes] == [
        ("First quarter of reporting", "2026/27 Q3", "2025/26 Q3")
    ]
    joined = describe(
        AuditEvent(
            action="updated",
            entity_type="organisation",
            entity_id="1",
            actor_label="ada@example.org",
            before={"reports_from": None},
            after={"reports_from": "2024-10-01"},
        ),
        Names(),
    )
    assert [(c.label, c.after) for c in joined.changes] == [
        ("First quarter it reports for", "2024/25 Q3")
    ]
