"""The review queue a page at a time, filtered to what needs an admin: for a region's thousands."""

from __future__ import annotations

from datetime import UTC, datetime

import time_machine

from tests.factories import (
    make_commitment,
    make_organisation,
    make_period,
    make_return,
    make_user,
)
from tests.support.auth import sign_in
from tests.support.pages import get_page
from tracker.domain.enums import ReturnState, Role

DURING = datetime(2024, 7, 25, 10, tzinfo=UTC)


def names(page) -> list[str]:
    table = page.soup.find("table")
    return [row.th.get_text(strip=True) for row in table.tbody.find_all("tr")] if table else []


@time_machine.travel(DURING, tick=False)
def test_a_long_queue_comes_a_hundred_at_a_time_with_filters(client, db_session):
    period = make_period(db_session)
    for n in range(130):
        organisation = make_organisation(db_session, f"Queue Org {n:03d}", slug=f"queue-{n:03d}")
        make_commitment(db_session, organisation)
        if n % 10 == 0:
            make_return(
                db_session,
                organisation,
                period,
                state=ReturnState.SUBMITTED,
                submitted_at=datetime(2024, 7, 20, tzinfo=UTC),
            )
    admin = make_user(db_session, Role.ADMIN)
    sign_in(client, admin)
    url = f"/admin/returns/{period.slug}"

    first = get_page(client, url)
    assert len(names(first)) == 100 and names(first)[0] == "Queue Org 000"
    assert "1 of 2" in first.soup.find("nav", class_="govuk-pagination").text
    assert "13 of 130 returns in: 0 accepted and 13 waiting for review" in first.text
    second = get_page(client, first.soup.find("a", rel="next")["href"])
    assert names(second)[0] == "Queue Org 100" and len(names(second)) == 30

    waiting = get_page(client, first.link("Waiting for review (13)"))
    assert names(waiting) == [f"Queue Org {n:03d}" for n in range(0, 130, 10)]
    assert waiting.soup.find("nav", class_="govuk-pagination") is None
    not_in = get_page(client, first.link("Not in yet (117)"))
    assert "Queue Org 001" in names(not_in) and "Queue Org 000" not in names(not_in)

    # A page out of range or not a number shows the nearest real one, never an error.
    assert names(get_page(client, url + "?page=99"))[0] == "Queue Org 100"
    assert names(get_page(client, url + "?page=x&show=nonsense"))[0] == "Queue Org 000"
