"""Finding the organisations and people admins type the names of (``tracker.domain.lookup``).

However many texts are looked up at once, and however many records there are, one statement
reads the candidates: for each text, how many records match it exactly and in part, and the
first few of them (exact matches first). Never every row: a region's admin pages would read
2,000 organisations or people to fill a list nobody can scroll.

Case is set aside by the database's own ``lower()`` on both sides, so the text and the record
are compared the same way on SQLite and PostgreSQL (SQLite lowers ASCII letters only: there,
"É" and "é" differ, so type such a name as it is written, or type part of it).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Integer, String, case, cast, func, literal, or_, select, union_all
from sqlalchemy.orm import InstrumentedAttribute

from tracker.domain.lookup import (
    NAMED,
    ORGANISATION,
    PERSON,
    Candidate,
    Candidates,
    Found,
    Kind,
    decide,
)
from tracker.extensions import db
from tracker.models import Organisation, User


def organisations_named(texts: Sequence[str]) -> list[Found]:
    """The organisation each text names (its name or slug, case aside), or why it is unclear."""
    return _look_up(texts, Organisation.id, Organisation.name, Organisation.slug, ORGANISATION)


def people_named(texts: Sequence[str]) -> list[Found]:
    """The person each text names (their name or email address, case aside), or why not."""
    return _look_up(texts, User.id, User.name, User.email, PERSON)


def _like_pattern(text: str) -> str:
    r"""``text`` anywhere in a value: its own ``%``, ``_`` and ``\`` match only themselves."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _look_up(
    texts: Sequence[str],
    id_: InstrumentedAttribute[int],
    name: InstrumentedAttribute[str],
    key: InstrumentedAttribute[str],
    kind: Kind,
) -> list[Found]:
    if not texts:
        return []
    # The texts as a table of their own (line, text, pattern), so one statement serves them all.
    wanted = union_all(
        *(
            select(
                cast(literal(line), Integer).label("line"),
                cast(literal(text), String).label("text"),
                cast(literal(_like_pattern(text)), String).label("pattern"),
            )
            for line, text in enumerate(texts)
        )
    ).cte("wanted")
    lowered_name, lowered_key = func.lower(name), func.lower(key)
    lowered_text, lowered_pattern = func.lower(wanted.c.text), func.lower(wanted.c.pattern)
    exact = case(
        (or_(lowered_name == lowered_text, lowered_key == lowered_text), 1),
        else_=0,
    )
    per_text = {"partition_by": wanted.c.line}
    ranked = (
        select(
            wanted.c.line,
            id_.label("id"),
            name.label("name"),
            key.label("key"),
            func.sum(exact).over(**per_text).label("exact"),
            func.count().over(**per_text).label("partial"),
            func.row_number()
            .over(**per_text, order_by=(exact.desc(), lowered_name, id_))
            .label("rank"),
        )
        .select_from(wanted)
        .join(
            id_.class_,
            or_(
                lowered_name.like(lowered_pattern, escape="\\"),
                lowered_key.like(lowered_pattern, escape="\\"),
            ),
        )
    ).subquery()
    rows = db.session.execute(
        select(ranked).where(ranked.c.rank <= NAMED).order_by(ranked.c.line, ranked.c.rank)
    ).all()
    first: dict[int, list[Candidate]] = {line: [] for line in range(len(texts))}
    counts: dict[int, tuple[int, int]] = {}
    for row in rows:
        first[row.line].append(Candidate(row.id, row.name, row.key))
        counts[row.line] = (int(row.exact or 0), int(row.partial))
    return [
        decide(Candidates(text, first[line], *counts.get(line, (0, 0))), kind)
        for line, text in enumerate(texts)
    ]
