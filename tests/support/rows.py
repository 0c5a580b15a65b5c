"""How many rows a request reads back from the database, by model: a page that shows 50 of
2,000 must read 50, which a count of statements alone cannot tell."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa

from tracker.extensions import db


@contextmanager
def rows_loaded(*models: type) -> Iterator[Counter[str]]:
    """How many rows of each model the database hands back while inside, as a fresh request
    reads them (nothing cached)."""
    counted: Counter[str] = Counter()

    def loaded(target, context) -> None:  # type: ignore[no-untyped-def]
        counted[type(target).__name__] += 1

    db.session.expunge_all()
    for model in models:
        sa.event.listen(model, "load", loaded)
    try:
        yield counted
    finally:
        for model in models:
            sa.event.remove(model, "load", loaded)
