"""``make bench``: the speed figures the issues ask for, printed, never asserted.

These machines are noisy, so targets are reported beside the figures for a person to judge.
Run: ``python -m tests.benchmarks`` for every part, or name the parts to run:
``python -m tests.benchmarks board ladder`` (parts: seed, ladder, board, pages, load; ``pages``
takes ``town`` or ``region`` alone too). Every target line reads "target: … met|MISSED", and
the figures of the parts run go to ``test-artifacts/bench.json``.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

from tests.benchmarks import targets
from tests.conftest import make_test_app
from tests.support.databases import (
    migrate_to_head,
    postgres_url_or_reason,
    scratch_postgres_database,
)
from tests.support.seed import SEED, luton_place
from tracker.domain.pledge_page import decode_pledge_page, parse_pledge_page
from tracker.extensions import db
from tracker.services.pledge_import import import_pledge_page

RUNS = 5


def timed(action: Callable[[], object], runs: int = RUNS) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return times


def seed_import(database_url: str, instance: Path) -> tuple[list[float], list[float]]:
    """Times of a first import into an empty database, and of loading the same page again."""
    app = make_test_app(database_url, instance)
    migrate_to_head(app)
    place = luton_place()
    data = SEED.read_bytes()

    def first_load() -> None:
        with app.app_context():
            page = parse_pledge_page(decode_pledge_page(data))
            import_pledge_page(page, place, source=SEED.name)
            db.session.rollback()  # leave the database empty for the next run

    def reload() -> None:
        with app.app_context():
            page = parse_pledge_page(decode_pledge_page(data))
            import_pledge_page(page, place, source=SEED.name)
            db.session.commit()

    first = timed(first_load)
    reload()  # the page is loaded once; now measure loading it again
    again = timed(reload)
    with app.app_context():
        db.engine.dispose()
    return first, again


def row(label: str, times: list[float], target: float | None = None) -> str:
    median = statistics.median(times)
    targets.figure(f"seed import, {label}, median", median, "s")
    verdict = ""
    if target is not None:
        verdict = f"  target ≤ {target:.1f} s: {'met' if median <= target else 'MISSED'}"
        verdict += f" ({median / target:.2f}× the target)"
    return f"  {label:<44} median {median:6.3f} s  min {min(times):6.3f} s{verdict}"


def main() -> int:
    print(f"Seed import of {SEED.name} ({RUNS} runs each)")
    with ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        parse_times = timed(lambda: parse_pledge_page(decode_pledge_page(SEED.read_bytes())))
        print(row("parse only", parse_times))
        first, again = seed_import(f"sqlite:///{folder / 'bench.db'}", folder / "sqlite")
        print(row("SQLite: import into an empty database", first, target=2.0))
        print(row("SQLite: load the same page again", again, target=2.0))
        url, reason = postgres_url_or_reason()
        if url is None:
            print(f"  PostgreSQL: skipped ({reason})")
        else:
            scratch = stack.enter_context(scratch_postgres_database(url))
            first, again = seed_import(scratch, folder / "postgres")
            print(row("PostgreSQL: import into an empty database", first, target=2.0))
            print(row("PostgreSQL: load the same page again", again, target=2.0))
    return 0


PARTS = ("seed", "ladder", "board", "pages", "town", "region", "load")


def everything(parts: list[str] | None = None) -> int:
    """The benchmarks named (all by default), one after another, then bench.json."""
    from tests.benchmarks import board, ladder, load, pages

    wanted = parts or ["seed", "ladder", "board", "pages", "load"]
    unknown = [part for part in wanted if part not in PARTS]
    if unknown:
        print(f"unknown part(s) {', '.join(unknown)}: choose from {', '.join(PARTS)}")
        return 2
    runs: dict[str, Callable[[], int]] = {
        "seed": main,
        "ladder": ladder.main,
        "board": board.main,
        "pages": pages.main,
        "town": lambda: pages.main(["town"]),
        "region": lambda: pages.main(["region"]),
        "load": load.main,
    }
    status = 0
    for index, part in enumerate(wanted):
        if index:
            print()
        status = runs[part]() or status
    written = targets.write_json(parts=wanted)
    print(f"\nThe figures and verdicts: {written.relative_to(written.parents[1])}")
    return status


if __name__ == "__main__":
    sys.exit(everything(sys.argv[1:]))
