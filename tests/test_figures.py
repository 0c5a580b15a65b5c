"""Every figure agrees on every page: one service counts organisations, commitments and returns.

Issue 14 found commitments totalling 338 on the home page, 335 on the board and 326 on the
priorities page with no explanation, and "1 of 40 submitted" on the overview beside "Waiting for
review (0)" in the queue after a send-back. Here one small world is rendered through the home,
priorities, board, admin overview and review queue pages, and their figures must agree — and
say in words what they leave out.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

import pytest
import time_machine

from tests.factories import (
    make_commitment,
    make_organisation,
    make_period,
    make_place,
    make_return,
    make_user,
)
from tests.support.auth import sign_in
from tests.support.pages import get_page
from tracker.domain.calendar import Quarter
from tracker.domain.enums import ReturnState, Role
from tracker.services.board import build_summary
from tracker.services.figures import commitment_figures, return_figures

Q1 = Quarter(2024, 1)  # due 21 July 2024, closes 11 August
TODAY = date(2024, 8, 1)
NOW = datetime(2024, 8, 1, 10, tzinfo=UTC)
SUBMITTED = datetime(2024, 7, 15, 10, tzinfo=UTC)


@pytest.fixture
def world(db_session):
    place = make_place(db_session)
    place.reporting_starts_on = Q1.starts_on
    period = make_period(db_session, Q1)
    economy, net_zero = place.priorities[0].id, place.priorities[3].id
    states = {
        "Accepted Org": ReturnState.ACCEPTED,
        "Waiting Org": ReturnState.SUBMITTED,
        "Sent Back Org": ReturnState.RETURNED,
        "Drafting Org": ReturnState.DRAFT,
        "Silent Org": None,
    }
    for n, (name, state) in enumerate(states.items()):
        organisation = make_organisation(db_session, name, slug=f"org-{n}")
        make_commitment(db_session, organisation, primary_priority_id=economy)
        make_commitment(db_session, organisation, primary_priority_id=net_zero)
        if n == 0:
            # Left out of every count, and said so: a heading, a retired commitment.
            make_commitment(db_session, organisation, is_heading=True)
            make_commitment(db_session, organisation, removed_from_page_at=SUBMITTED)
            make_commitment(db_session, organisation)  # no priority chosen yet
        if state is not None:
            make_return(
                db_session,
                organisation,
                period,
                state=state,
                submitted_at=None if state == ReturnState.DRAFT else SUBMITTED,
                review_comment="Add figures" if state == ReturnState.RETURNED else None,
            )
    make_organisation(db_session, "Nothing Yet Org", slug="nothing-yet")  # no commitments
    admin = make_user(db_session, Role.ADMIN)
    build_summary(period, actor=admin, now=NOW)
    return period, admin


def numbers(text: str, pattern: str) -> tuple[int, ...]:
    found = re.search(pattern, text)
    assert found, f"{pattern!r} not in {text[:2000]!r}"
    return tuple(int(group) for group in found.groups())


@time_machine.travel(NOW, tick=False)
def test_every_page_counts_the_same_commitments_organisations_and_returns(
    client, db_session, world
):
    period, admin = world
    pledges = commitment_figures()
    returns = return_figures(period, TODAY)
    assert (pledges.tracked, pledges.organisations, pledges.without_priority) == (11, 5, 1)
    assert (pledges.headings, pledges.retired, pledges.organisations_without) == (1, 1, 1)
    assert returns.expected == 5
    assert (returns.accepted, returns.awaiting_review, returns.sent_back) == (1, 1, 1)
    assert (returns.in_progress, returns.not_started, returns.received) == (1, 1, 2)
    left_out = (
        "Not counted: 1 heading that introduces a list of commitments, 1 commitment retired "
        "from its pledge (kept in the history) and 1 organisation with no commitments to track "
        "yet."
    )

    home = get_page(client, "/")
    assert numbers(home.text, r"(\d+) organisations have pledged (\d+) commitments") == (5, 11)
    assert left_out in home.text
    listed = [int(row.find("td").text) for row in home.soup.select("tbody tr")]
    assert len(listed) == 5 and sum(listed) == 11

    priorities = get_page(client, "/priorities")
    per_priority = [int(row.find_all("td")[1].text) for row in priorities.soup.select("tbody tr")]
    assert sum(per_priority) + 1 == 11
    assert "In all, 11 commitments from 5 organisations. 1 of the commitments has no priority" in (
        priorities.text
    )
    assert left_out in priorities.text

    sign_in(client, admin)
    board = get_page(client, f"/board/{period.slug}")
    assert numbers(board.text, r"Off track (\d+) of (\d+) commitments")[1] == 11
    assert numbers(board.text, r"Returns from (\d+) organisations") == (5,)
    assert "Counted: 11 commitments from 5 organisations. " + left_out in board.text
    assert numbers(
        board.text,
        r"Of the (\d+) returns submitted, (\d+) was accepted, (\d+) is waiting for review "
        r"and (\d+) was sent back",
    ) == (3, 1, 1, 1)

    overview = get_page(client, "/admin")
    assert numbers(
        overview.text, r"(\d+) of (\d+) returns in: (\d+) accepted and (\d+) waiting"
    ) == (
        2,
        5,
        1,
        1,
    )
    assert numbers(
        overview.text, r"(\d+) sent back for changes (\d+) in progress (\d+) not started"
    ) == (
        1,
        1,
        1,
    )
    assert "6 organisations with 11 commitments" in overview.text

    queue = get_page(client, f"/admin/returns/{period.slug}")
    tabs = [a.get_text(strip=True) for a in queue.soup.select("nav[aria-label='Which returns'] a")]
    assert tabs == ["All (5)", "Waiting for review (1)", "Sent back (1)", "Not in yet (3)"]
    assert len(queue.soup.select("tbody tr")) == 5
    assert numbers(queue.text, r"(\d+) of (\d+) returns in") == (2, 5)
