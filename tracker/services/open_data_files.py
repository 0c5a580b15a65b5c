"""The open-data downloads as files on disk, and the ETag that says whether one is current.

Building the region's JSON reads every accepted update (81 MB, tens of seconds), so the
downloads are served from a file the scheduler builds (the ``open-data`` job, every few
minutes, and ``tracker open-data build``). Whether the file is current is decided by its
**ETag**: a digest of a few cheap figures that move whenever anything published changes —
``services.public.last_changed`` (the newest edit of an organisation, pledge, commitment,
theme, the place or a period, target change, acceptance, verification or board summary, as
the API's Last-Modified uses), and counts and version sums that also move when a row is deleted
or an edit's timestamp was taken before another's (organisations, pledges, commitments and their
themes, accepted returns, periods), the priorities themselves (they carry no timestamp) and a
digest of the code that writes the files (a release that changes the format rebuilds them).

Each file's name carries its ETag (``open-data-<etag>.json``), written to a temporary file in
the same folder and renamed into place, so a reader never sees half a file and a name always
describes what is in it, however many builders run at once. When no file has the current
ETag, the route streams the live build (never stale data) and the job writes a new file.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from flask import current_app
from sqlalchemy import BigInteger, cast, func, select

from tracker.domain.enums import ReturnState
from tracker.extensions import begin_reading, db
from tracker.models import (
    Commitment,
    Organisation,
    Pledge,
    Priority,
    ReportingPeriod,
    Return,
    Theme,
)
from tracker.models.pledge import commitment_themes
from tracker.services import open_data
from tracker.services import public as public_service


@dataclass(frozen=True)
class Format:
    name: str  # json or csv
    filename: str
    mimetype: str
    build: Callable[[datetime], Iterator[str]]


FORMATS = {
    "json": Format("json", "open-data.json", "application/json", open_data.iter_json),
    "csv": Format("csv", "open-data.csv", "text/csv", lambda _at: open_data.iter_csv()),
}
# Temporary files older than this belonged to a build that died; the next build removes them.
ABANDONED_SECONDS = 3600


def _code_digest() -> bytes:
    digest = hashlib.sha256()
    for module in (open_data, public_service):
        try:
            digest.update(Path(module.__file__ or "").read_bytes())
        except OSError:  # pragma: no cover - running from an archive
            digest.update(module.__name__.encode())
    return digest.digest()


CODE_DIGEST = _code_digest()


@dataclass(frozen=True)
class Version:
    """What the published data looks like now: an ETag per format and when it last changed."""

    digest: str
    last_modified: datetime | None

    def etag(self, format_name: str) -> str:
        return hashlib.sha256(f"{self.digest}:{format_name}".encode()).hexdigest()[:32]


def current_version() -> Version:
    """The published data's fingerprint, in three small queries (no update is read)."""
    accepted = Return.state == ReturnState.ACCEPTED
    figures = [
        select(func.count(Organisation.id)).scalar_subquery(),
        select(func.coalesce(func.sum(Organisation.version), 0)).scalar_subquery(),
        select(func.count(Pledge.id)).scalar_subquery(),
        select(func.count(Commitment.id)).scalar_subquery(),
        select(func.coalesce(func.sum(Commitment.version), 0)).scalar_subquery(),
        select(func.count()).select_from(commitment_themes).scalar_subquery(),
        # Which theme each commitment has, not only how many links: moving one link changes it.
        select(
            func.coalesce(
                func.sum(
                    cast(commitment_themes.c.commitment_id, BigInteger) * 100_003
                    + commitment_themes.c.theme_id
                ),
                0,
            )
        ).scalar_subquery(),
        select(func.count(Theme.id)).scalar_subquery(),
        select(func.count(Return.id)).where(accepted).scalar_subquery(),
        select(func.coalesce(func.sum(Return.version), 0)).where(accepted).scalar_subquery(),
        select(func.count(ReportingPeriod.id)).scalar_subquery(),
    ]
    counts = db.session.execute(
        select(*(figure.label(f"f{n}") for n, figure in enumerate(figures)))
    ).one()
    priorities = db.session.execute(
        select(Priority.id, Priority.code, Priority.name, Priority.position).order_by(Priority.id)
    ).all()
    changed = public_service.last_changed()
    digest = hashlib.sha256(CODE_DIGEST)
    digest.update(open_data.SCHEMA.encode())
    digest.update(repr((tuple(counts), [tuple(p) for p in priorities])).encode())
    digest.update((changed.isoformat() if changed else "never").encode())
    return Version(digest.hexdigest(), changed)


def folder() -> Path:
    configured = current_app.config.get("OPEN_DATA_DIR")
    return Path(configured) if configured else Path(current_app.instance_path) / "open-data"


def _path(form: Format, etag: str) -> Path:
    stem, suffix = form.filename.rsplit(".", 1)
    return folder() / f"{stem}-{etag}.{suffix}"


def cached_file(form: Format, version: Version) -> Path | None:
    """The file with the current ETag, if one was built."""
    path = _path(form, version.etag(form.name))
    return path if path.is_file() else None


def build(
    form: Format, version: Version | None = None, *, now: datetime | None = None
) -> tuple[Path, int]:
    """Write the format's file for the data as it is now; its path and its size in bytes.

    The ETag is read before the data, so the file holds data at least as new as its name says:
    anything changed while it was built changes the ETag, and the file is not served.
    """
    began = time.time()
    version = version or current_version()
    target = _path(form, version.etag(form.name))
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(
        dir=target.parent, prefix=f".{form.filename}.", suffix=".tmp"
    )
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as output:
            for chunk in form.build(now or datetime.now(UTC)):
                output.write(chunk)
            output.flush()
            os.fsync(output.fileno())
        os.chmod(temporary, 0o644)
        os.replace(temporary, target)  # atomic: a reader sees the old file or the whole new one
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    size = target.stat().st_size
    _remove_others(form, keep=target, older_than=began)
    return target, size


def _remove_others(form: Format, *, keep: Path, older_than: float) -> None:
    """The format's files written before this build began, and temporary files of dead builds.

    A file written since (by a builder that started later, so possibly with newer data) is
    left for the next build to remove. A file being sent stays readable after its name is
    removed (POSIX), so this never cuts a download short; another builder's temporary file is
    left alone unless it is an hour old.
    """
    stem, suffix = form.filename.rsplit(".", 1)
    now = time.time()
    for path in keep.parent.glob(f"{stem}-*.{suffix}"):
        try:
            if path != keep and path.stat().st_mtime < older_than:
                path.unlink(missing_ok=True)
        except FileNotFoundError:
            continue
    for path in keep.parent.glob(f".{form.filename}.*.tmp"):
        try:
            if now - path.stat().st_mtime > ABANDONED_SECONDS:
                path.unlink(missing_ok=True)
        except FileNotFoundError:
            continue


# What the job says when it had nothing to do: runs that said so are pruned after two days.
UP_TO_DATE = "open data up to date"
NOT_PUBLISHED = "open data not published: nothing built"


def refresh(
    *, force: bool = False, say: Callable[[str], None] | None = None
) -> tuple[list[str], float]:
    """Build each format whose file is missing or stale; the names built and the seconds taken."""
    started = time.perf_counter()
    begin_reading()  # seconds of reading: on SQLite, writers must not queue behind it
    version = current_version()
    built = []
    for form in FORMATS.values():
        if not force and cached_file(form, version) is not None:
            if say:
                say(f"{form.filename}: up to date")
            continue
        if say:
            say(f"{form.filename}: building…")
        began = time.perf_counter()
        path, size = build(form, version)
        db.session.rollback()  # end the long read: nothing was written
        begin_reading()
        built.append(form.filename)
        if say:
            say(
                f"{form.filename}: {size / 2**20:.1f} MiB in {time.perf_counter() - began:.1f} s"
                f" ({path.name})"
            )
    return built, time.perf_counter() - started
