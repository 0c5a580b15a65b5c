"""Reading a long list a page at a time (``tracker.domain.paging`` decides which page).

The admin's lists of people and organisations count what their search keeps, then read only
the page's rows (with whatever the query loads beside them): two statements and the query's
own loaders, however long the list.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Select, func, or_, select
from sqlalchemy.orm import InstrumentedAttribute

from tracker.domain.paging import Pagination, pagination
from tracker.extensions import db


def containing(text: str, *columns: InstrumentedAttribute[str]) -> list[ColumnElement[bool]]:
    """SQL: any of ``columns`` has ``text`` in it, in any case (``%`` and ``_`` match only
    themselves); no condition at all when nothing was typed."""
    if not text:
        return []
    return [or_(*(column.icontains(text, autoescape=True) for column in columns))]


def page_of(query: Select[Any], asked: int | None, size: int) -> tuple[Pagination, list[Any]]:
    """The page nearest to ``asked`` of what ``query`` selects, in its order, and where it sits."""
    total = db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    paging = pagination(asked, total or 0, size)
    return paging, list(db.session.scalars(query.offset(paging.offset).limit(paging.size)))
