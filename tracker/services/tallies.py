"""Stored tallies: each quarter's returns and the pledges' figures, counted once per change.

Issue 17: on a region (2,000 organisations, 40,000 commitments, eight quarters) the admin's
work list recounted every quarter's returns and every commitment on each visit. A tally
(``models.Tally``) keeps those counts, counted by the very services every other page counts
with (``services.figures``), so the figures cannot disagree — only be behind, and a tally that
is behind is counted again before it is read:

- **Writers** note the tallies a change counts, and move their ``version`` on when the
  transaction commits. Changes made through the ORM are noted at flush (``_note_changes``): a
  return's state, submission, extension or missed record (its quarter), a commitment or
  organisation that changes who owes a return (every quarter), the place's reporting start
  (every quarter), a new quarter (its own tally), and any change to a commitment or
  organisation (the pledges' figures). The services that change a return with one conditional
  UPDATE (submit, review, ``return_for``) call ``returns_changed`` themselves. Just before the
  commit, one statement moves on every tally the transaction noted, in key order
  (``_move_on_at_commit``). A transaction that moved tallies on at each flush could lock
  ``returns:5`` and then ``commitments`` while another locked them the other way round, and
  PostgreSQL refused one of the two as a deadlock; one statement in key order takes the rows in
  the same order in every writer, so one waits for the other and both save.
- **Readers** (``stored_tallies``) count again each tally whose ``built_version`` is behind its
  ``version`` (or that has none: a quarter the scheduler made with one INSERT), and store the
  result with the version they read before counting, only if it is still current: a change
  that commits while they count leaves the tally behind (counted again next time), never wrong.
  A tally the reader's own transaction has noted is behind too: it is counted from what the
  transaction sees, and not stored, for it will be behind once the transaction commits. (The
  pages that read tallies, the admin's work list, change nothing: a transaction that stored
  tallies and then changed others would take their rows in two steps again.)

A quarter's tally keeps its returns grouped by the facts the rules read (for the figures), its
returns started and not accepted (grouped the same way, with their organisations) and the
organisations that owe one and never started it: everything the admin's work list shows.

Bulk SQL that bypasses the ORM (``INSERT … SELECT``, ``COPY``, ``UPDATE`` of many rows) must
call ``returns_changed`` or ``everything_changed`` itself.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, event, func, inspect, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, SessionTransaction

from tracker.domain.enums import ReturnState
from tracker.domain.figures import CommitmentFigures
from tracker.domain.worklist import ReturnFacts
from tracker.extensions import db
from tracker.models import Commitment, Organisation, Place, ReportingPeriod, Return, Tally

PLEDGES = "commitments"
FORMAT = 3  # of the stored data and its rules: a tally kept by others is counted again
_RETURN_PREFIX = "returns:"
# What a return's tally reads of it, and what decides whether an organisation owes a return.
_RETURN_FACTS = ("state", "submitted_at", "extended_due_on", "missed_at", "organisation_id")
_COMMITMENT_OWES = ("is_heading", "removed_from_page_at", "reports_from", "organisation_id")

tallies = Tally.__table__
_STATES = {state.value: state for state in ReturnState}  # a dict is quicker than the enum's call


def returns_key(period_id: int) -> str:
    return f"{_RETURN_PREFIX}{period_id}"


# Writers ------------------------------------------------------------------------------------


def _upsert(connection: Connection):  # type: ignore[no-untyped-def]
    return (postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert)(
        tallies
    )


def _move_on(connection: Connection, keys: Iterable[str]) -> None:
    """One more on each tally's version (made when missing), in key order: two writers lock
    the same rows in the same order."""
    ordered = sorted(set(keys))
    if not ordered:
        return
    statement = _upsert(connection).values([{"key": key, "version": 1} for key in ordered])
    connection.execute(
        statement.on_conflict_do_update(
            index_elements=["key"], set_={"version": tallies.c.version + 1}
        )
    )


def _every_period(connection: Connection) -> list[str]:
    return [returns_key(i) for i in connection.scalars(select(ReportingPeriod.id))]


@dataclass
class _Pending:
    """The tallies this session's transaction has changed, moved on only when it commits."""

    keys: set[str] = field(default_factory=set)
    every_period: bool = False  # every quarter's tally, resolved to their keys at commit

    def includes(self, key: str) -> bool:
        return key in self.keys or (self.every_period and key.startswith(_RETURN_PREFIX))


_PENDING = "tallies.pending"  # in ``Session.info``, cleared when the root transaction ends


def _pending(session: Session) -> _Pending:
    return session.info.setdefault(_PENDING, _Pending())


def _pending_now(session: Session) -> _Pending:
    """What is pending, without noting an empty set on a session that has none."""
    return session.info.get(_PENDING) or _Pending()


def returns_changed(period_ids: Collection[int]) -> None:
    """The returns of these quarters changed outside the ORM's flush: count them again."""
    _pending(db.session()).keys.update(returns_key(i) for i in period_ids)


def everything_changed() -> None:
    """Who owes what changed outside the ORM (bulk SQL): count every tally again."""
    pending = _pending(db.session())
    pending.keys.add(PLEDGES)
    pending.every_period = True


def _changed(obj: object, names: Sequence[str]) -> bool:
    state = inspect(obj)
    return any(state.attrs[name].history.has_changes() for name in names)


def _before(obj: object, name: str) -> list[Any]:
    history = inspect(obj).attrs[name].history
    return [*history.deleted, *history.unchanged, *history.added]


def _note_changes(session: Session, _context: object) -> None:
    """After each flush: note the tallies whose counts what was flushed changes."""
    keys: set[str] = set()
    every_period = False
    for obj in session.new:
        if isinstance(obj, Return):
            keys.add(returns_key(obj.period_id))
        elif isinstance(obj, Commitment | Organisation):
            keys.add(PLEDGES)
            every_period = True
        elif isinstance(obj, Place):
            every_period = True
        elif isinstance(obj, ReportingPeriod):
            keys.add(returns_key(obj.id))
    for obj in session.deleted:
        if isinstance(obj, Return):
            periods = [i for i in _before(obj, "period_id") if i is not None]
            keys.update(returns_key(i) for i in periods)
            every_period = every_period or not periods  # not loaded: which quarter is unknown
        elif isinstance(obj, Commitment | Organisation):
            keys.add(PLEDGES)
            every_period = True
    for obj in session.dirty:
        if isinstance(obj, Return):
            if _changed(obj, (*_RETURN_FACTS, "period_id")):
                keys.update(returns_key(i) for i in _before(obj, "period_id") if i is not None)
        elif isinstance(obj, Commitment):
            if session.is_modified(obj):
                keys.add(PLEDGES)
            every_period = every_period or _changed(obj, _COMMITMENT_OWES)
        elif isinstance(obj, Organisation):
            if session.is_modified(obj):
                keys.add(PLEDGES)
            every_period = every_period or _changed(obj, ("reports_from",))
        elif isinstance(obj, Place):
            every_period = every_period or _changed(obj, ("reporting_starts_on",))
    if keys or every_period:
        pending = _pending(session)
        pending.keys.update(keys)
        pending.every_period = pending.every_period or every_period


def _move_on_at_commit(session: Session) -> None:
    """Before the transaction commits: move on every tally it changed, in one statement.

    SQLAlchemy calls this before the commit's own last flush, so flush first: what it writes is
    noted too. A savepoint's commit (``begin_nested``) leaves them to the transaction's. What
    is pending stays until the transaction ends (``_forget_pending``): a commit that fails and
    is tried again moves the tallies on again, which only has them counted again.
    """
    if session.in_nested_transaction():
        return
    session.flush()
    pending = session.info.get(_PENDING)
    if pending is None:
        return
    connection = session.connection()
    keys = set(pending.keys)
    if pending.every_period:
        keys.update(_every_period(connection))
    _move_on(connection, keys)


def _forget_pending(session: Session, transaction: SessionTransaction) -> None:
    """When the session's transaction ends, committed or rolled back, nothing is pending.

    A savepoint rolled back keeps what its flushes noted: the tally is counted again for
    nothing, which is harmless (a tally behind is only ever counted again, never wrong).
    """
    if transaction.parent is None:
        session.info.pop(_PENDING, None)


_LISTENERS = (
    ("after_flush", _note_changes),
    ("before_commit", _move_on_at_commit),
    ("after_transaction_end", _forget_pending),
)


def listen() -> None:
    """Keep the tallies true in every transaction of every session (once per process)."""
    for name, listener in _LISTENERS:
        if not event.contains(Session, name, listener):
            event.listen(Session, name, listener)


# Readers ------------------------------------------------------------------------------------


def _stored(
    keys: Sequence[str], count: Callable[[list[str]], dict[str, dict[str, Any]]]
) -> dict[str, dict[str, Any]]:
    """The data of each tally in ``keys``, those behind counted again by ``count``.

    A tally this transaction has changed is behind too: counted from what it sees, and not
    kept, as it will be behind once the transaction commits (and keeping it would lock the
    tally's row until then). The others counted again are kept.
    """
    session = db.session()
    if session.autoflush:
        session.flush()  # what this transaction changed is noted first, as a query would
    pending = _pending_now(session)
    connection = session.connection()
    rows = {
        row.key: row
        for row in connection.execute(
            select(tallies.c.key, tallies.c.version, tallies.c.built_version, tallies.c.data).where(
                tallies.c.key.in_(list(keys))
            )
        )
    }
    behind = [
        key
        for key in keys
        if key not in rows
        or pending.includes(key)
        or rows[key].built_version != rows[key].version
        or (rows[key].data or {}).get("format") != FORMAT
    ]
    found = {key: rows[key].data for key in keys if key not in behind}
    if not behind:
        return found
    counted = {key: {**data, "format": FORMAT} for key, data in count(behind).items()}
    found.update(counted)
    kept = sorted(key for key in behind if not pending.includes(key))
    if not kept:
        return found
    now = datetime.now(UTC)
    read = {key: rows[key].version if key in rows else 0 for key in kept}
    statement = _upsert(connection).values(
        [
            {
                "key": key,
                "version": read[key],
                "built_version": read[key],
                "data": counted[key],
                "built_at": now,
            }
            for key in kept
        ]
    )
    excluded = statement.excluded
    # Kept only if nobody moved the version on since it was read.
    connection.execute(
        statement.on_conflict_do_update(
            index_elements=["key"],
            set_={
                "data": excluded.data,
                "built_version": excluded.built_version,
                "built_at": excluded.built_at,
            },
            where=tallies.c.version == excluded.built_version,
        )
    )
    return found


def _facts_key(fact: ReturnFacts) -> tuple[str | None, str | None, str | None, bool]:
    return (
        fact.state.value if fact.state else None,
        fact.submitted_on.isoformat() if fact.submitted_on else None,
        fact.extended_to.isoformat() if fact.extended_to else None,
        fact.missed_recorded,
    )


def _order(item: tuple[tuple[Any, ...], int]) -> tuple[str, ...]:
    return tuple("" if part is None else str(part) for part in item[0])


@lru_cache(maxsize=4096)
def _day(text: str | None) -> date | None:
    return date.fromisoformat(text) if text else None


@dataclass(frozen=True)
class PledgeTally:
    figures: CommitmentFigures  # services.figures.commitment_figures
    open_items: int  # services.pledges.open_item_count: what the import flagged, still open
    names_to_confirm: int  # organisation names read from a pledge paragraph, unconfirmed


@dataclass(frozen=True)
class QuarterTally:
    """One quarter's expected returns, as its stored tally keeps them."""

    # Every expected return as (facts, how many share them): the returns
    # ``services.figures.return_facts`` finds, a few dozen rows instead of one per organisation.
    counted: list[tuple[ReturnFacts, int]]
    # The returns started and not accepted — the ones that can ask for work — grouped by their
    # facts: (facts, the organisations whose return has them, by id).
    open: list[tuple[ReturnFacts, list[int]]]
    # The organisations that owe a return and have none at all (all alike: ``unstarted_facts``).
    unstarted: list[int]
    unstarted_facts: ReturnFacts


@dataclass(frozen=True)
class Tallies:
    returns: dict[int, QuarterTally]  # by period id
    pledges: PledgeTally | None  # when asked for


def _open_groups(facts: dict[int, ReturnFacts]) -> dict[tuple[Any, ...], list[int]]:
    groups: dict[tuple[Any, ...], list[int]] = defaultdict(list)
    for org, fact in sorted(facts.items()):
        if fact.state is not None and fact.state != ReturnState.ACCEPTED:
            groups[_facts_key(fact)].append(org)
    return groups


def _read(period: ReportingPeriod, state: Any, submitted: Any, extended: Any, missed: Any):  # type: ignore[no-untyped-def]
    return _facts(period.due_on, period.closes_on, state, submitted, extended, bool(missed))


@lru_cache(maxsize=4096)
def _facts(
    due_on: date, closes_on: date, state: Any, submitted: Any, extended: Any, missed: bool
) -> ReturnFacts:
    """Facts read back from a tally (kept: a region's quarters share a few hundred, and
    making them afresh each time was most of reading the tallies)."""
    return ReturnFacts(
        state=_STATES[state] if state else None,
        due_on=due_on,
        closes_on=closes_on,
        extended_to=_day(extended),
        submitted_on=_day(submitted),
        missed_recorded=missed,
    )


def stored_tallies(periods: Sequence[ReportingPeriod], *, pledges: bool = False) -> Tallies:
    """The stored tallies of these quarters' returns (and of the pledges), those behind counted
    again first (two statements when none is behind)."""
    from tracker.services.figures import commitment_figures, return_facts
    from tracker.services.pledges import open_item_count

    by_key = {returns_key(p.id): p for p in periods}

    def count(keys: list[str]) -> dict[str, dict[str, Any]]:
        counted: dict[str, dict[str, Any]] = {}
        wanted = [by_key[key] for key in keys if key in by_key]
        facts = return_facts(wanted) if wanted else {}
        for period in wanted:
            mine = facts.get(period.id, {})
            groups = Counter(_facts_key(f) for f in mine.values())
            counted[returns_key(period.id)] = {
                "facts": [[*key, n] for key, n in sorted(groups.items(), key=_order)],
                "open": [
                    [*key, orgs] for key, orgs in sorted(_open_groups(mine).items(), key=_order)
                ],
                "unstarted": sorted(org for org, f in mine.items() if f.state is None),
            }
        if PLEDGES in keys:
            names = db.session.scalar(
                select(func.count()).select_from(Organisation).where(Organisation.name_needs_review)
            )
            counted[PLEDGES] = {
                "figures": commitment_figures().as_dict(),
                "open_items": open_item_count(),
                "names_to_confirm": names or 0,
            }
        return counted

    data = _stored([*by_key, *([PLEDGES] if pledges else [])], count)
    returns = {}
    for key, period in by_key.items():
        stored = data[key]
        returns[period.id] = QuarterTally(
            counted=[(_read(period, *row[:4]), int(row[4])) for row in stored["facts"]],
            open=[(_read(period, *row[:4]), list(row[4])) for row in stored["open"]],
            unstarted=list(stored["unstarted"]),
            unstarted_facts=_read(period, None, None, None, False),
        )
    pledge_tally = None
    if pledges:
        stored = data[PLEDGES]
        pledge_tally = PledgeTally(
            CommitmentFigures.from_dict(stored["figures"]),
            int(stored["open_items"]),
            int(stored["names_to_confirm"]),
        )
    return Tallies(returns, pledge_tally)


def stored_return_facts(
    periods: Sequence[ReportingPeriod],
) -> dict[int, list[tuple[ReturnFacts, int]]]:
    """Each quarter's expected returns as (facts, how many returns share them)."""
    return {period_id: q.counted for period_id, q in stored_tallies(periods).returns.items()}
