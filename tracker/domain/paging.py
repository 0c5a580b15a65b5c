"""A long list shown a page at a time: which page to show, and which of the rows it holds.

A region has thousands of organisations, people and returns, far too many for one page, so
the admin's lists read one page of rows (and a count of them all). The page number comes from
the address, so anything can arrive: anything that is not a page number shows the first page,
and a number past the end shows the last, never an error or an empty page (a list shrinks
while an old link to its last page is still around). ``templates/macros/pagination.html``
draws the GOV.UK pagination for a ``Pagination``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Pagination:
    """Page ``page`` (from 1) of a list of ``total`` rows, ``size`` to a page."""

    page: int
    size: int
    total: int

    @property
    def pages(self) -> int:
        """How many pages the list has: one even when it is empty, to say so on."""
        return max(1, -(-self.total // self.size))

    @property
    def offset(self) -> int:
        """How many rows come before this page's."""
        return (self.page - 1) * self.size

    @property
    def first(self) -> int:
        """The place of this page's first row in the whole list, from 1 (0 when it is empty)."""
        return min(self.offset + 1, self.total)

    @property
    def last(self) -> int:
        """The place of this page's last row in the whole list."""
        return min(self.offset + self.size, self.total)


def pagination(asked: int | None, total: int, size: int) -> Pagination:
    """The page to show of ``total`` rows when page ``asked`` was asked for (None when what
    was asked is not a whole number): the nearest page there is."""
    pages = max(1, -(-total // size))
    return Pagination(page=min(max(1, asked or 1), pages), size=size, total=total)
