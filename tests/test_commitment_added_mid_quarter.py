"""A commitment added during a quarter joins the returns its organisation can still answer.

QA finding 7: Alpha Trust submitted its Q2 return on 18 September; an admin added a commitment on
the 20th, and it was added to that submitted return as a "Not started" row nobody could fill in.
The review page read as if the organisation had reported "not started", the return was accepted
so, and the lead was left with an accepted return holding an unanswered row. A commitment added
after the organisation's return for the quarter went in (submitted or accepted) now starts with
the next quarter; a return still with its lead (not started, draft, sent back) takes it. The
same rule serves an admin's addition, a lead's approved proposal and an import of the page.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
import sqlalchemy as sa
import time_machine

from tests.factories import make_organisation, make_period, make_place, make_return, make_user
from tests.support.auth import sign_in
from tests.support.pages import get_page, version_on
from tests.support.seed import luton_page, luton_place
from tests.test_pledge_admin import PAGE
from tests.test_tallies import assert_true
from tests.test_year_of_operation import Q1, Q2, Q3, START, at
from tracker.config import window_rules
from tracker.domain.enums import DeliveryStatus, ReturnState, Role
from tracker.models import Commitment, Organisation, Priority
from tracker.services import proposals
from tracker.services import returns as service
from tracker.services.figures import return_figures
from tracker.services.periods import ensure_periods, period_by_slug
from tracker.services.pledge_import import import_pledge_page
from tracker.services.pledges import add_commitment

# The page again in September, with one more commitment for each organisation.
SEPTEMBER_PAGE = PAGE.replace(
    "- Plant 100 trees in Luton by 2030\n",
    "- Plant 100 trees in Luton by 2030\n- Volunteer 500 hours a year with local schools\n",
).replace(
    "- Cut our carbon emissions to net zero by 2040\n",
    "- Cut our carbon emissions to net zero by 2040\n- Run a careers fair every spring\n",
)

ALPHA_Q2 = "/admin/returns/2024-25-q2/alpha-trust"


class Pledges:
    """Two organisations from the pledge page, each with a lead, reporting since Q1."""

    def __init__(self, app, session) -> None:  # type: ignore[no-untyped-def]
        self.app = app
        place = make_place(session)
        place.reporting_starts_on = START
        import_pledge_page(
            luton_page(PAGE), luton_place(), source="pledges.txt", now=at(date(2024, 4, 1))
        )
        self.admin = make_user(session, Role.ADMIN, name="Ada Admin")
        self.orgs = {
            name: session.scalar(sa.select(Organisation).filter_by(name=name))
            for name in ("Alpha Trust", "Beta College")
        }
        self.leads = {
            name: make_user(session, organisations=[organisation], name=f"{name} lead")
            for name, organisation in self.orgs.items()
        }

    def day(self, today: date) -> None:
        ensure_periods(today, window_rules(self.app.config))

    def view(self, name: str, quarter, today: date) -> service.ReturnView:  # type: ignore[no-untyped-def]
        return service.return_view(self.orgs[name], period_by_slug(quarter.slug), today)

    def answer(self, name: str, quarter, today: date, *, only: int | None = None) -> None:  # type: ignore[no-untyped-def]
        """The lead answers every commitment still to do (or the first ``only`` of them)."""
        organisation, period = self.orgs[name], period_by_slug(quarter.slug)
        to_do = [
            task
            for task in service.return_view(organisation, period, today).tasks
            if not (task.update and task.update.complete)
        ]
        for task in to_do[:only]:
            service.save_update(
                organisation,
                period,
                task.commitment,
                service.UpdateInput(
                    status=DeliveryStatus.ON_TRACK,
                    narrative=f"{name} in {quarter.label}",
                    progress_value=Decimal(10) if task.commitment.target_value else None,
                ),
                version=task.update.version if task.update else None,
                complete=True,
                actor=self.leads[name],
                today=today,
            )

    def submit(self, name: str, quarter, today: date) -> service.SubmitOutcome:  # type: ignore[no-untyped-def]
        with self.app.test_request_context():
            return service.submit(
                self.orgs[name], period_by_slug(quarter.slug), actor=self.leads[name], now=at(today)
            )

    def accept(self, name: str, quarter, today: date) -> None:  # type: ignore[no-untyped-def]
        return_ = service.find_return(self.orgs[name], period_by_slug(quarter.slug))
        with self.app.test_request_context():
            assert service.accept(return_, version=return_.version, actor=self.admin, now=at(today))


def titles(view: service.ReturnView) -> list[str]:
    return [task.commitment.original_text for task in view.tasks]


def reports_from(session) -> dict[str, date | None]:  # type: ignore[no-untyped-def]
    return dict(session.execute(sa.select(Commitment.original_text, Commitment.reports_from)).all())


def test_commitments_added_in_september_join_the_returns_still_with_their_leads(
    app, client, db_session
):
    town = Pledges(app, db_session)
    town.day(date(2024, 6, 16))
    for name in town.orgs:
        town.answer(name, Q1, date(2024, 7, 1))
        assert town.submit(name, Q1, date(2024, 7, 1)).submitted
        town.accept(name, Q1, date(2024, 7, 2))

    # Q2's window opens on 16 September. Alpha Trust sends its return on the 18th; Beta
    # College has answered one commitment of two.
    town.day(date(2024, 9, 16))
    town.answer("Alpha Trust", Q2, date(2024, 9, 18))
    assert town.submit("Alpha Trust", Q2, date(2024, 9, 18)).submitted
    town.answer("Beta College", Q2, date(2024, 9, 18), only=1)
    assert_true(date(2024, 9, 18))
    before = titles(town.view("Alpha Trust", Q2, date(2024, 9, 18)))

    # On the 20th the page gains a commitment for each, the admin adds one to each, and on
    # the 21st the admin approves Alpha Trust's lead's proposal of another.
    import_pledge_page(
        luton_page(SEPTEMBER_PAGE),
        luton_place(),
        source="september.txt",
        now=at(date(2024, 9, 20)),
    )
    add_commitment(
        town.orgs["Beta College"], "Mentor 20", actor=town.admin, today=date(2024, 9, 20)
    )
    with time_machine.travel(at(date(2024, 9, 20)), tick=False):
        sign_in(client, town.admin)
        priority = db_session.scalar(sa.select(Priority.id).order_by(Priority.position))
        added = client.post(
            "/admin/organisations/alpha-trust/commitments/new",
            data={"text": "Plant 1,000 trees", "primary_priority": priority},
        )
        assert (
            "Added a commitment to Alpha Trust's pledge. Alpha Trust has already sent this "
            "quarter's return, so it is first reported on in 2024/25 Q3"
        ) in get_page(client, added.headers["Location"]).text
        client.post("/sign-out")
    proposal = proposals.propose_new(
        town.orgs["Alpha Trust"],
        {"original_text": "Recycle all our paper"},
        "Our board agreed it",
        actor=town.leads["Alpha Trust"],
    )
    with app.test_request_context():
        proposals.approve(
            proposal, "", actor=town.admin, today=date(2024, 9, 21), now=at(date(2024, 9, 21))
        )
    joined = reports_from(db_session)
    # Alpha Trust's Q2 return had gone in: its three start with Q3. Beta College's was a draft.
    assert {text: joined[text] for text in joined if joined[text]} == {
        "Volunteer 500 hours a year with local schools": Q3.starts_on,
        "Plant 1,000 trees": Q3.starts_on,
        "Recycle all our paper": Q3.starts_on,
        "Run a careers fair every spring": Q2.starts_on,
        "Mentor 20": Q2.starts_on,
    }
    assert_true(date(2024, 9, 21))

    # The submitted return is as Alpha Trust sent it: nothing unanswered, nothing "Not started".
    alpha = town.view("Alpha Trust", Q2, date(2024, 9, 21))
    assert titles(alpha) == before
    assert alpha.state == ReturnState.SUBMITTED and alpha.completed_count == len(alpha.tasks) == 2
    with time_machine.travel(at(date(2024, 9, 21)), tick=False):
        sign_in(client, town.admin)
        review = get_page(client, ALPHA_Q2)
        assert "Not started" not in review.text and "Plant 1,000 trees" not in review.text
        accepted = client.post(
            ALPHA_Q2 + "/accept", data={"version": version_on(review, ALPHA_Q2 + "/accept")}
        )
        assert accepted.status_code == 302
        client.post("/sign-out")
        sign_in(client, town.leads["Alpha Trust"])
        task_list = get_page(client, "/organisations/alpha-trust/returns/2024-25-q2")
        assert "accepted" in task_list.text and "Not started" not in task_list.text

    # Beta College's draft takes its two: it cannot be sent until they are answered.
    beta = town.view("Beta College", Q2, date(2024, 9, 22))
    assert len(beta.tasks) == 4 and beta.completed_count == 1
    refused = town.submit("Beta College", Q2, date(2024, 9, 22))
    assert refused.message == "Complete the 3 commitments still to do"
    town.answer("Beta College", Q2, date(2024, 9, 22))
    assert town.submit("Beta College", Q2, date(2024, 9, 22)).submitted
    town.accept("Beta College", Q2, date(2024, 9, 23))
    figures = return_figures(period_by_slug(Q2.slug), date(2024, 9, 23))
    assert (figures.expected, figures.accepted) == (2, 2)
    assert_true(date(2024, 9, 23))

    # Q3 asks Alpha Trust about all five; the accepted Q2 returns keep what they had.
    town.day(date(2024, 12, 16))
    december = date(2024, 12, 16)
    assert len(town.view("Alpha Trust", Q3, december).tasks) == 5
    assert len(town.view("Beta College", Q3, december).tasks) == 4
    assert titles(town.view("Alpha Trust", Q2, december)) == before
    assert len(town.view("Beta College", Q2, december).tasks) == 4
    assert_true(date(2024, 12, 16))


@pytest.mark.parametrize(
    ("state", "first_quarter"),
    [
        (None, Q2),
        (ReturnState.NOT_STARTED, Q2),
        (ReturnState.DRAFT, Q2),
        (ReturnState.RETURNED, Q2),
        (ReturnState.SUBMITTED, Q3),
        (ReturnState.ACCEPTED, Q3),
    ],
)
def test_a_commitment_starts_with_the_next_quarter_once_this_quarters_return_went_in(
    db_session, state, first_quarter
):
    place = make_place(db_session)
    place.reporting_starts_on = START
    admin = make_user(db_session, Role.ADMIN)
    organisation = make_organisation(db_session)
    q1, q2 = make_period(db_session, Q1), make_period(db_session, Q2)
    # Last quarter's return was accepted: only this quarter's counts.
    make_return(
        db_session,
        organisation,
        q1,
        state=ReturnState.ACCEPTED,
        submitted_at=at(date(2024, 7, 1)),
    )
    if state is not None:
        sent = state in {ReturnState.SUBMITTED, ReturnState.ACCEPTED, ReturnState.RETURNED}
        make_return(
            db_session,
            organisation,
            q2,
            state=state,
            submitted_at=at(date(2024, 9, 18)) if sent else None,
            review_comment="Add the figures" if state == ReturnState.RETURNED else None,
        )
    added = add_commitment(organisation, "Plant trees", actor=admin, today=date(2024, 9, 20))
    assert added.reports_from == first_quarter.starts_on
