"""Flask extensions, created unbound; ``create_app`` binds them."""

from collections.abc import Iterator
from contextlib import contextmanager

from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect

from tracker.models.base import Base

db = SQLAlchemy(model_class=Base)
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()

# An execution option: the transaction only reads (see ``begin_reading``).
READER = "tracker_reader"


def begin_reading() -> bool:
    """Begin the session's next transaction as a reader: what follows must not write.

    On SQLite every other transaction takes the write lock at BEGIN (``tracker._sqlite_begin``),
    which is right for the few milliseconds a page holds it and wrong for a read that runs for
    seconds, such as building the open data: every writer would queue behind it, and one that
    waited longer than the busy timeout would fail. A reader's BEGIN is deferred: in WAL mode
    it reads one snapshot throughout and holds nobody up. (PostgreSQL's readers never block
    writers; there it changes nothing.) Call it between transactions, before the first read;
    inside a transaction it changes nothing, and the reads join that transaction. Whether it
    began a reader: only then may the caller end it with a rollback, having written nothing.
    """
    session = db.session()
    if session.in_transaction():
        return False
    session.connection(execution_options={READER: True})
    return True


def insert_ignoring_conflicts(table: object, *, index_elements: list[str], **values: object):  # type: ignore[no-untyped-def]
    """``INSERT … ON CONFLICT DO NOTHING`` for the database in use (PostgreSQL or SQLite).

    For rows two people (or two processes) may create at the same moment: the loser's insert
    does nothing, and both then read the one row. Without ``values``, execute it with a list of
    rows (one statement for them all).
    """
    from sqlalchemy.dialects import postgresql, sqlite

    dialect = db.session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(table)
    if values:
        statement = statement.values(**values)
    return statement.on_conflict_do_nothing(index_elements=index_elements)


@contextmanager
def rows_kept_after_commit() -> Iterator[None]:
    """Inside, a commit leaves loaded rows readable instead of expiring them.

    For jobs that load many rows once and commit in small steps: without it, each commit
    expires every row in the session and the next read of each one is another query.
    """
    session = db.session()
    before = session.expire_on_commit
    session.expire_on_commit = False
    try:
        yield
    finally:
        session.expire_on_commit = before
