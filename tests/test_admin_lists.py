"""The admin's lists of people and organisations, fifty at a time with a search: for a region's
thousands, where one page of everything took a quarter of a second and most of a megabyte."""

from __future__ import annotations

from urllib.parse import parse_qs, urljoin, urlsplit

import pytest

from tests.factories import make_commitment, make_organisation, make_place, make_user
from tests.support.auth import sign_in
from tests.support.pages import get_page
from tests.support.rows import rows_loaded
from tracker.domain.enums import Confidence, Role
from tracker.models import Organisation, User


def names(page) -> list[str]:
    table = page.soup.find("table")
    return [row.th.get_text(" ", strip=True) for row in table.tbody.find_all("tr")] if table else []


def caption(page) -> str:
    return page.soup.find("caption").get_text(" ", strip=True)


def pages_nav(page) -> str:
    nav = page.soup.find("nav", class_="govuk-pagination")
    return nav.get_text(" ", strip=True) if nav else ""


def next_link(page) -> str:
    return page.soup.find("a", rel="next")["href"]


def query(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query)


@pytest.fixture
def admin(client, db_session):
    admin = make_user(db_session, Role.ADMIN, name="Zed Admin", email="zed@example.org")
    sign_in(client, admin)
    return admin


@pytest.fixture
def organisations(db_session):
    """A hundred and twenty organisations, the names in mixed case and out of order, half of
    them trusts; two share a name (the older one first)."""
    made = []
    for n in reversed(range(120)):
        kind = "Trust" if n % 2 == 0 else "Foods"
        name = f"{'alpha' if n < 5 else 'Org'} {n:03d} {kind}"
        made.append(make_organisation(db_session, name, slug=f"place-{n:03d}"))
    make_organisation(db_session, "Org 060 Trust", slug="second-of-the-name")
    return made


def test_organisations_come_fifty_at_a_time_by_name_with_the_whole_count(
    client, admin, organisations
):
    first = get_page(client, "/admin/organisations")
    shown = names(first)
    assert len(shown) == 50
    # By name whatever its case ("alpha" before "Org"), the older of two alike first.
    assert shown[:6] == [
        f"alpha {n:03d} {'Trust' if n % 2 == 0 else 'Foods'}" for n in range(5)
    ] + ["Org 005 Foods"]
    assert caption(first) == "121 organisations, showing 1 to 50"
    assert "1 of 3" in pages_nav(first)
    assert first.soup.find("a", rel="prev") is None

    second = get_page(client, next_link(first))
    assert caption(second) == "121 organisations, showing 51 to 100"
    assert names(second)[0] == "Org 050 Trust"
    twins = [a["href"] for a in second.soup.select("tbody th a") if a.text == "Org 060 Trust"]
    # Each link carries the list's page, for the way back to it.
    assert twins == [
        "/admin/organisations/place-060?page=2",
        "/admin/organisations/second-of-the-name?page=2",
    ]
    third = get_page(client, next_link(second))
    assert caption(third) == "121 organisations, showing 101 to 121"
    assert names(third)[-1] == "Org 119 Foods"
    assert third.soup.find("a", rel="next") is None
    assert get_page(client, third.soup.find("a", rel="prev")["href"]).text == second.text
    # Every organisation once, across the three pages.
    assert len(set(names(first) + names(second) + names(third))) == 120  # one name twice


def test_two_organisations_of_one_name_keep_their_order_across_pages(client, admin, db_session):
    for n in range(51):
        make_organisation(db_session, "Same Name", slug=f"same-{n:02d}")
    first = get_page(client, "/admin/organisations")
    second = get_page(client, next_link(first))
    links = [a["href"] for page in (first, second) for a in page.soup.select("tbody th a")]
    assert links == [f"/admin/organisations/same-{n:02d}" for n in range(50)] + [
        "/admin/organisations/same-50?page=2"
    ]


@pytest.mark.parametrize(
    ("asked", "first_name"),
    [
        ("99", "Org 099 Foods"),
        ("4", "Org 099 Foods"),
        ("0", "alpha 000 Trust"),
        ("x", "alpha 000 Trust"),
        ("-1", "alpha 000 Trust"),
        ("9" * 40, "alpha 000 Trust"),
    ],
    ids=["far past the end", "one past the end", "zero", "not a number", "negative", "huge"],
)
def test_a_page_out_of_range_or_not_a_number_shows_the_nearest_page(
    client, admin, organisations, asked, first_name
):
    page = get_page(client, f"/admin/organisations?page={asked}")
    assert names(page)[0] == first_name


def test_searching_organisations_by_name_or_slug_in_any_case_keeps_the_search_across_pages(
    client, admin, organisations
):
    found = get_page(client, "/admin/organisations?q=TRUST")
    assert caption(found) == "61 organisations match ‘TRUST’, showing 1 to 50"
    assert all(name.endswith("Trust") for name in names(found))
    assert found.soup.find("input", {"name": "q"})["value"] == "TRUST"
    following = next_link(found)
    assert query(following) == {"q": ["TRUST"], "page": ["2"]}
    rest = get_page(client, following)
    assert caption(rest) == "61 organisations match ‘TRUST’, showing 51 to 61"
    assert all(name.endswith("Trust") for name in names(rest))
    assert query(rest.soup.find("a", rel="prev")["href"]) == {"q": ["TRUST"], "page": ["1"]}
    # A page past the end of what the search found: its last page, still searched.
    assert names(get_page(client, "/admin/organisations?q=trust&page=7")) == names(rest)

    by_slug = get_page(client, "/admin/organisations?q=second-of")
    assert names(by_slug) == ["Org 060 Trust"]
    assert caption(by_slug) == "1 organisation matches ‘second-of’"
    assert pages_nav(by_slug) == ""
    # Spaces around what was typed do not count; "%" and "_" are letters, not wildcards.
    assert caption(get_page(client, "/admin/organisations?q=++place-11+")) == (
        "10 organisations match ‘place-11’"
    )
    assert "‘%’" in get_page(client, "/admin/organisations?q=%25").text


def test_a_search_that_finds_nothing_says_so(client, admin, organisations):
    page = get_page(client, "/admin/organisations?q=nowhere")
    assert page.soup.find("table") is None
    assert "No organisation’s name or web address has ‘nowhere’ in it." in page.text
    assert page.link("Clear search") == "/admin/organisations"


def test_a_search_too_long_says_what_is_wrong_and_lists_everyone(client, admin, organisations):
    page = get_page(client, "/admin/organisations?q=" + "x" * 101)
    assert page.title.startswith("Error:")
    assert page.errors == ["Search must be 100 characters or fewer"]
    assert caption(page) == "121 organisations, showing 1 to 50"
    # PostgreSQL refuses a NUL in a query: it never gets that far.
    page = get_page(client, "/admin/users?q=a%00b")
    assert page.errors == ["Search people must not contain NUL characters"]


def test_organisations_show_their_leads(client, admin, db_session):
    organisation = make_organisation(db_session, "Led Org")
    make_user(db_session, Role.LEAD, name="Lee Lead", organisations=[organisation])
    page = get_page(client, "/admin/organisations?q=led")
    row = page.soup.find("tbody").find("tr")
    assert "Lee Lead" in row.get_text(" ", strip=True)


# People ----------------------------------------------------------------------------------------


@pytest.fixture
def people(db_session):
    """A hundred and twenty leads, a third of them at one firm; with the admin, 121 people."""
    home = make_organisation(db_session, "Home Org")
    made = []
    for n in reversed(range(120)):
        domain = "firm.example" if n % 3 == 0 else "example.org"
        made.append(
            make_user(
                db_session,
                Role.LEAD,
                name=f"Person {n:03d}",
                email=f"person{n:03d}@{domain}",
                organisations=[home] if n % 2 == 0 else [],
            )
        )
    return made


def test_people_come_fifty_at_a_time_by_name_with_the_whole_count(client, admin, people):
    first = get_page(client, "/admin/users")
    assert len(names(first)) == 50
    assert names(first)[:2] == ["Person 000", "Person 001"]
    assert caption(first) == "121 people, showing 1 to 50"
    row = first.soup.find("tbody").find("tr")
    assert "Home Org" in row.get_text(" ", strip=True)  # their organisations, page by page
    second = get_page(client, next_link(first))
    assert names(second)[0] == "Person 050"
    third = get_page(client, next_link(second))
    assert caption(third) == "121 people, showing 101 to 121"
    assert names(third)[-1] == "Zed Admin"
    assert names(get_page(client, "/admin/users?page=1000")) == names(third)
    assert names(get_page(client, "/admin/users?page=two")) == names(first)


def test_searching_people_by_name_or_email_keeps_the_search_across_pages(client, admin, people):
    by_email = get_page(client, "/admin/users?q=FIRM.example")
    assert caption(by_email) == "40 people match ‘FIRM.example’"
    assert names(by_email)[:2] == ["Person 000", "Person 003"]

    by_name = get_page(client, "/admin/users?q=person+0")
    assert caption(by_name) == "100 people match ‘person 0’, showing 1 to 50"
    rest = get_page(client, next_link(by_name))
    assert query(next_link(by_name)) == {"q": ["person 0"], "page": ["2"]}
    assert names(rest)[-1] == "Person 099"
    assert caption(rest) == "100 people match ‘person 0’, showing 51 to 100"

    nobody = get_page(client, "/admin/users?q=nobody-here")
    assert "Nobody’s name or email address has ‘nobody-here’ in it." in nobody.text
    assert nobody.soup.find("nav", class_="govuk-pagination") is None


# Back to the list as it was left ------------------------------------------------------------


def banner(page) -> str:
    return page.soup.select_one(".govuk-notification-banner__heading").get_text(strip=True)


def form_action(page, url: str) -> str:
    """Where the page's first form posts, as a browser resolves it from ``url``."""
    return urljoin(url, page.soup.find("main").find("form", method="post")["action"])


def test_saving_a_person_opened_from_a_search_goes_back_to_that_search_and_page(
    client, admin, people
):
    listing = get_page(client, "/admin/users?q=person+0&page=2")
    url = listing.link("Person 055")
    person = get_page(client, url)
    assert query(person.link("Back to people")) == {"q": ["person 0"], "page": ["2"]}
    invite = get_page(client, listing.link("Invite someone"))
    assert query(invite.link("Back to people")) == {"q": ["person 0"], "page": ["2"]}

    response = client.post(form_action(person, url), data={"name": "Person 055", "role": "board"})
    assert response.status_code == 302
    back = get_page(client, response.location)
    assert banner(back) == "Saved changes to Person 055"
    assert caption(back) == "100 people match ‘person 0’, showing 51 to 100"
    assert back.soup.find("input", {"name": "q"})["value"] == "person 0"

    # The other ways off a person's page go back the same way.
    person = get_page(client, back.link("Person 055"))
    deactivate = person.soup.find("button", string="Deactivate Person 055").find_parent("form")
    response = client.post(urljoin(url, deactivate["action"]))
    back = get_page(client, response.location)
    assert banner(back) == "Person 055 can no longer sign in"
    assert caption(back) == "100 people match ‘person 0’, showing 51 to 100"


def test_saving_an_organisation_opened_from_a_search_goes_back_to_that_search_and_page(
    client, admin, organisations
):
    listing = get_page(client, "/admin/organisations?q=trust&page=2")
    url = listing.link("Org 110 Trust")
    organisation = get_page(client, url)
    assert query(organisation.link("Back to organisations")) == {"q": ["trust"], "page": ["2"]}

    version = organisation.soup.find("input", {"name": "version"})["value"]
    response = client.post(
        form_action(organisation, url), data={"name": "Org 110 Trust", "version": version}
    )
    assert response.status_code == 302
    back = get_page(client, response.location)
    assert banner(back) == "Saved Org 110 Trust"
    assert caption(back) == "61 organisations match ‘trust’, showing 51 to 61"


def the_way_back(page, text: str = "Back to organisations") -> dict[str, list[str]]:
    return query(page.link(text))


def test_changing_the_pledge_of_an_organisation_opened_from_a_search_keeps_the_way_back(
    client, admin, organisations, db_session
):
    make_place(db_session)
    opened = get_page(client, "/admin/organisations?q=trust&page=2").link("Org 110 Trust")
    organisation = get_page(client, opened)
    left = {"q": ["trust"], "page": ["2"]}

    url = urljoin(opened, organisation.link("Edit the statement"))
    statement = get_page(client, url)
    assert the_way_back(statement, "Back to Org 110 Trust") == left
    response = client.post(form_action(statement, url), data={"statement": "We plant trees."})
    assert response.status_code == 302
    organisation = get_page(client, response.location)
    assert banner(organisation) == "Saved the pledge statement"
    assert the_way_back(organisation) == left

    for text in ("Plant 500 trees", "Insulate 200 homes"):
        url = urljoin(opened, organisation.link("Add a commitment"))
        new = get_page(client, url)
        assert the_way_back(new, "Back to Org 110 Trust") == left
        priority = new.soup.find("input", {"name": "primary_priority"})["value"]
        response = client.post(
            form_action(new, url), data={"text": text, "primary_priority": priority}
        )
        assert response.status_code == 302
        organisation = get_page(client, response.location)
        assert banner(organisation) == "Added a commitment to Org 110 Trust's pledge"
        assert the_way_back(organisation) == left

    move_up = organisation.soup.find(string="Move up").find_parent("form")
    organisation = get_page(client, client.post(urljoin(opened, move_up["action"])).location)
    assert banner(organisation) == "Moved the commitment"
    assert the_way_back(organisation) == left

    url = urljoin(opened, organisation.link("Retire Plant 500 trees"))
    retire = get_page(client, url)
    assert the_way_back(retire, "Back to Org 110 Trust") == left
    response = client.post(form_action(retire, url), data={"reason": "Done by the council"})
    organisation = get_page(client, response.location)
    assert banner(organisation) == "Retired the commitment: its history is kept"

    back = get_page(client, urljoin(opened, organisation.link("Back to organisations")))
    assert caption(back) == "61 organisations match ‘trust’, showing 51 to 61"
    assert back.soup.find("input", {"name": "q"})["value"] == "trust"


@pytest.mark.parametrize(
    ("crafted", "kept"),
    [
        ("q=trust&page=2&next=//evil.example", {"q": ["trust"], "page": ["2"]}),
        ("q=" + "x" * 101 + "&page=2", {"page": ["2"]}),
        ("q=trust&page=-2", {"q": ["trust"]}),
        ("q=trust&page=//evil.example&return_to=https://evil.example/", {"q": ["trust"]}),
    ],
    ids=["another site", "a search too long", "a negative page", "an address for a page"],
)
def test_a_pledge_change_keeps_only_the_lists_own_search_and_page(
    client, admin, organisations, crafted, kept
):
    url = f"/admin/organisations/place-110/statement?{crafted}"
    for back in (
        get_page(client, url).link("Back to Org 110 Trust"),
        client.post(url, data={"statement": "We plant trees."}).location,
    ):
        where = urlsplit(back)
        assert where[:3] == ("", "", "/admin/organisations/place-110")  # scheme, host, path
        assert parse_qs(where.query) == kept


@pytest.mark.parametrize(
    "crafted",
    [
        "next=//evil.example",
        "q=" + "x" * 101 + "&page=-2",
        "page=//evil.example&return_to=https://evil.example/",
    ],
    ids=["another site", "a search too long and a negative page", "an address for a page"],
)
def test_anything_but_the_lists_own_search_and_page_is_left_behind(client, admin, people, crafted):
    url = f"/admin/users/{people[0].id}?{crafted}"
    assert get_page(client, url).link("Back to people") == "/admin/users"
    response = client.post(url, data={"name": people[0].name, "role": "board"})
    assert response.location == "/admin/users"


def test_a_search_that_looks_like_an_address_is_only_searched_for(client, admin, people):
    url = f"/admin/users/{people[0].id}?q=//evil.example&page=3&next=https://evil.example/"
    response = client.post(url, data={"name": people[0].name, "role": "board"})
    back = urlsplit(response.location)
    assert (back.scheme, back.netloc, back.path) == ("", "", "/admin/users")
    assert parse_qs(back.query) == {"q": ["//evil.example"], "page": ["3"]}
    # The list finds nobody by that, so shows its one page, saying so.
    assert (
        "Nobody’s name or email address has ‘//evil.example’"
        in get_page(client, back.geturl()).text
    )


# Pledge items to check -------------------------------------------------------------------------


@pytest.fixture
def flagged(db_session):
    """After a region's import: 110 guessed priorities across three organisations, two names
    read from a paragraph and one lead-in bullet."""
    place = make_place(db_session)
    for name in ("Bravo Trust", "Alpha Trust", "Charlie Trust"):
        organisation = make_organisation(db_session, name)
        for n in range(37 if name != "Charlie Trust" else 36):
            make_commitment(
                db_session,
                organisation,
                original_text=f"{name} promise {n:02d}",
                position=n,
                needs_review=True,
                priority_confidence=Confidence.LOW,
                primary_priority_id=place.priorities[0].id,
            )
    for name in ("ELFT", "At TUI"):
        make_organisation(db_session, name, name_needs_review=True)
    make_commitment(db_session, original_text="Building a fairer town including", is_heading=True)


def test_the_items_to_check_show_the_first_of_each_kind_and_their_whole_counts(
    client, admin, flagged
):
    assert "113 pledge items to check" in get_page(client, "/admin").text
    page = get_page(client, "/admin/pledges/review")
    assert "113 items the import could not decide on its own" in page.text
    headings = [h.get_text(strip=True) for h in page.soup.find("main").find_all("h2")]
    assert headings == [
        "Names read from a paragraph (2)",
        "Priorities to choose or check (110)",
        "Lead-in or cut-off bullets (1)",
    ]
    lists = page.soup.select("main ul.govuk-list--spaced")
    assert [a.text for a in lists[0].find_all("a")] == ["At TUI", "ELFT"]
    priorities = [a.text for a in lists[1].find_all("a")]
    assert len(priorities) == 25
    assert priorities[:2] == ["Alpha Trust promise 00", "Alpha Trust promise 01"]
    assert "Alpha Trust: Alpha Trust promise 00 — Inclusive economy (a guess)" in page.text
    assert "And 85 more: see all 110" in page.text
    assert len(lists[2].find_all("a")) == 1
    assert page.text.count("see all") == 1  # the two names and the one bullet are all shown


def test_every_item_of_a_kind_a_page_at_a_time(client, admin, flagged):
    review = get_page(client, "/admin/pledges/review")
    url = review.link("see all 110 priorities to choose or check")
    assert url == "/admin/pledges/review/priorities"

    def promises(page) -> list[str]:
        return [a.text for a in page.soup.select("main ul.govuk-list--spaced a")]

    first = get_page(client, url)
    assert first.h1 == "Priorities to choose or check"
    assert "110 to check, showing 1 to 50" in first.text
    assert "1 of 3" in pages_nav(first)
    second = get_page(client, next_link(first))
    assert promises(second)[0] == "Bravo Trust promise 13"  # after Alpha's 37 and Bravo's 13
    third = get_page(client, next_link(second))
    assert "110 to check, showing 101 to 110" in third.text
    assert promises(third)[-1] == "Charlie Trust promise 35"
    seen = promises(first) + promises(second) + promises(third)
    assert len(seen) == len(set(seen)) == 110

    assert promises(get_page(client, url + "?page=12")) == promises(third)
    assert promises(get_page(client, url + "?page=last")) == promises(first)
    names_page = get_page(client, "/admin/pledges/review/names")
    assert promises(names_page) == ["At TUI", "ELFT"] and pages_nav(names_page) == ""
    get_page(client, "/admin/pledges/review/nonsense", status=404)


def test_a_kind_with_nothing_left_to_check_says_so(client, admin, db_session):
    page = get_page(client, "/admin/pledges/review/lead-ins")
    assert "None to check: every one has been put right." in page.text


# Only a page is read -------------------------------------------------------------------------


def test_a_page_of_people_reads_that_page_and_only_its_peoples_organisations(
    client, admin, db_session
):
    for n in range(120):
        organisation = make_organisation(db_session, f"Own Org {n:03d}")
        make_user(db_session, Role.LEAD, name=f"Lead {n:03d}", organisations=[organisation])
    with rows_loaded(User, Organisation) as counted:
        page = get_page(client, "/admin/users?page=2")
    assert names(page)[0] == "Lead 050"
    # The signed-in admin, then fifty people and their fifty organisations.
    assert counted == {"User": 51, "Organisation": 50}


def test_a_page_of_organisations_reads_that_page(client, admin, organisations):
    with rows_loaded(User, Organisation) as counted:
        get_page(client, "/admin/organisations?q=trust")
    assert counted == {"User": 1, "Organisation": 50}
