"""Which page of a long list to show: the nearest real one to what the address asked for."""

from __future__ import annotations

import pytest

from tracker.domain.paging import pagination


def test_a_list_of_a_hundred_and_twenty_comes_in_three_pages_of_fifty():
    middle = pagination(2, total=120, size=50)
    assert (middle.page, middle.pages, middle.offset, middle.first, middle.last) == (
        2,
        3,
        50,
        51,
        100,
    )
    last = pagination(3, total=120, size=50)
    assert (last.first, last.last) == (101, 120)


@pytest.mark.parametrize(
    ("asked", "shown"),
    [(None, 1), (0, 1), (1, 1), (3, 3), (4, 3), (2**31 - 1, 3)],
    ids=["not a number", "zero", "first", "last", "one past the end", "far past the end"],
)
def test_a_page_out_of_range_shows_the_nearest_one(asked, shown):
    assert pagination(asked, total=120, size=50).page == shown


def test_an_empty_list_is_one_empty_page():
    empty = pagination(5, total=0, size=50)
    assert (empty.page, empty.pages, empty.offset, empty.first, empty.last) == (1, 1, 0, 0, 0)
