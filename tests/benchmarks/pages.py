"""``make bench``: the key pages through gunicorn over loopback, for the town and the region.

Each dataset goes into a scratch PostgreSQL database: the **town** is the Luton seed with the
demo history (``tracker demo``), the **region** is ``tests.benchmarks.region`` (2,000
organisations, 40,000 commitments, eight quarters) with a board summary built. One gunicorn
worker serves it; each page is read ``RUNS`` times by one signed-in browser (after a warm-up),
each read beside one of ``/healthz`` (the floor: one ``SELECT 1``), the two in turn, and the
page's p50 and p95 are printed as milliseconds and as multiples of the floor's p50 and p95
read beside it: the machine's speed drifts over a run (pages nobody changed moved 15–30%
between runs when the floor was read once at the start), and a ratio to the floor read at the
same moments keeps only what the page itself costs. The worker's peak RSS is read from
``/proc/<pid>/status`` (VmHWM), reset just before ``/open-data.json`` is sent.

``/open-data.json`` is measured as visitors meet it once the scheduler's ``open-data`` job has
run: served from the file it built (``tracker.services.open_data_files``). Building the files
is timed on its own, in-process, before the server starts, and reported beside the pages.

Targets are printed, never asserted. Run alone: ``python -m tests.benchmarks.pages``
(``--load`` also runs the load test against the region).
"""

from __future__ import annotations

import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import psutil
import requests
import sqlalchemy as sa
from werkzeug.security import generate_password_hash

from tests.benchmarks import targets
from tests.benchmarks.region import generate_region, quarters_to
from tests.conftest import make_test_app
from tests.factories import TOTP_SECRET
from tests.support.auth import current_code
from tests.support.databases import (
    migrate_to_head,
    postgres_url_or_reason,
    scratch_postgres_database,
)
from tracker.config import PROJECT_ROOT
from tracker.extensions import db
from tracker.services.demo import DEMO_PASSWORD

RUNS = 100
WARM_UP = 3
FLOOR = "/healthz"
# The load test's admins sign in at once; a two-factor code works once per account.
ADMINS_FOR_LOAD = 12
TOWN_RATIO = 10.0  # every key page's p50 at most 10× the floor's
REGION_P95 = {"board page": 0.150, "review queue": 0.200}
# Issue 17: these pages within 10× the floor on the region (the figure the issue names for each).
REGION_RATIO = 10.0
REGION_RATIOS = [
    ("admin overview", "p50"),
    ("update form", "p95"),
    ("public organisation page", "p95"),
]
OPEN_DATA_SECONDS = 2.0
# Seconds a threaded worker keeps an idle connection open, as docker-compose.yml's `web` does:
# longer than a simulated person thinks between pages (one to three seconds).
KEEP_ALIVE = 5


@dataclass
class Server:
    base: str
    process: subprocess.Popen[bytes]

    def workers(self) -> list[psutil.Process]:
        return psutil.Process(self.process.pid).children()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def server_environment(database_url: str, instance: Path) -> dict[str, str]:
    return {
        **os.environ,
        "TRACKER_ENV": "development",
        "DATABASE_URL": database_url,
        "SECRET_KEY": "bench-" + "x" * 40,
        "TRACKER_INSTANCE_PATH": str(instance),
        "MAIL_BACKEND": "file",
    }


@contextmanager
def gunicorn(
    database_url: str, instance: Path, workers: int = 1, threads: int = 1
) -> Iterator[Server]:
    """The real WSGI server on a free loopback port, stopped afterwards.

    Preloaded, as docker-compose.yml runs it: the app (its templates compiled) is built once
    and the workers fork from it. ``threads`` above one gives each worker threads (gthread).
    """
    port = _free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--workers",
            str(workers),
            "--threads",
            str(threads),
            "--preload",
            "--keep-alive",
            str(KEEP_ALIVE),
            "--bind",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
            "tracker.wsgi:app",
        ],
        env=server_environment(database_url, instance),
        cwd=PROJECT_ROOT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(base + FLOOR, timeout=10).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError("gunicorn did not start")
            time.sleep(0.2)
        while len(psutil.Process(process.pid).children()) < workers:
            time.sleep(0.1)
        yield Server(base, process)
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()


def signed_in(base: str, email: str, password: str = DEMO_PASSWORD) -> requests.Session:
    """A browser signed in through the real form (with its CSRF token), second factor too."""
    browser = requests.Session()
    html = browser.get(base + "/sign-in", timeout=30).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', html)
    data = {"email": email, "password": password, "csrf_token": token.group(1) if token else ""}
    response = browser.post(base + "/sign-in", data=data, allow_redirects=False, timeout=30)
    if response.status_code != 302:
        raise RuntimeError(f"could not sign in as {email}: {response.status_code}")
    if response.headers["Location"].startswith("/account/two-factor"):
        html = browser.get(base + "/account/two-factor", timeout=30).text
        token = re.search(r'name="csrf_token" value="([^"]+)"', html)
        data = {"code": current_code(), "csrf_token": token.group(1) if token else ""}
        response = browser.post(
            base + "/account/two-factor", data=data, allow_redirects=False, timeout=30
        )
        if response.status_code != 302:
            raise RuntimeError(f"the second factor of {email} failed: {response.status_code}")
    return browser


def enrol_admins(main_admin: str, extra: int = 0) -> list[str]:
    """Turn on the second factor (the tests' known secret) for ``main_admin`` and add ``extra``
    admins like them: a code works once, so each simulated admin of the load test needs its own.
    """
    emails = [main_admin] + [f"bench.admin{n}@example.org" for n in range(1, extra + 1)]
    stamp = datetime.now(UTC)
    password_hash = db.session.scalar(
        sa.text("SELECT password_hash FROM users WHERE email = :email"), {"email": main_admin}
    )
    for email in emails[1:]:
        db.session.execute(
            sa.text(
                "INSERT INTO users (email, name, role, password_hash, active, session_version,"
                " created_at, updated_at) VALUES (:email, 'Bench Admin', 'admin', :hash, true, 1,"
                " :stamp, :stamp)"
            ),
            {"email": email, "hash": password_hash, "stamp": stamp},
        )
    db.session.execute(
        sa.text(
            "UPDATE users SET totp_secret = :secret, totp_enabled_at = :stamp"
            " WHERE email IN :emails"
        ).bindparams(sa.bindparam("emails", expanding=True)),
        {"secret": TOTP_SECRET, "stamp": stamp, "emails": emails},
    )
    db.session.commit()
    return emails


def percentile(times: list[float], share: float) -> float:
    ordered = sorted(times)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def _read(browser: requests.Session, url: str) -> float:
    start = time.perf_counter()
    response = browser.get(url, allow_redirects=False, timeout=120)
    _ = response.content
    return time.perf_counter() - start


def timings(
    browser: requests.Session,
    url: str,
    runs: int = RUNS,
    warm_up: int = WARM_UP,
    floor: tuple[requests.Session, str] | None = None,
) -> tuple[list[float], list[float]] | str:
    """Seconds for each full response (body read), or why the page could not be measured.

    With ``floor`` (a browser and the floor's URL), the floor is read beside the page, one
    read of each in turn, so both see the same moment of a machine whose speed drifts; the
    second list holds those floor reads (empty without ``floor``).
    """
    for _ in range(warm_up):
        response = browser.get(url, allow_redirects=False, timeout=120)
        if response.status_code != 200:
            return f"HTTP {response.status_code}"
    times: list[float] = []
    floors: list[float] = []
    for run in range(runs):
        if floor is None:
            times.append(_read(browser, url))
        elif run % 2:  # which goes first alternates: neither always follows the other
            times.append(_read(browser, url))
            floors.append(_read(*floor))
        else:
            floors.append(_read(*floor))
            times.append(_read(browser, url))
    return times, floors


@dataclass(frozen=True)
class Accounts:
    lead: str
    admin: str
    organisation: str  # the lead's organisation (the biggest they report for)
    period: str  # the current period
    commitment: int  # one of the organisation's commitments
    public_organisation: str  # the organisation with the most commitments


def pick_accounts(admin: str, lead_first: str | None = None) -> Accounts:
    """A lead whose current return can still be edited, and what to read, from the database."""
    from tracker.services.periods import current_period
    from tracker.services.returns import reportable_commitments

    period = current_period(datetime.now(UTC).date())
    assert period is not None
    row = db.session.execute(
        sa.text(
            """
            SELECT u.email, o.slug, o.id FROM users u
            JOIN organisation_leads l ON l.user_id = u.id
            JOIN organisations o ON o.id = l.organisation_id
            LEFT JOIN returns r ON r.organisation_id = o.id AND r.period_id = :period
            WHERE u.password_hash IS NOT NULL AND u.active AND u.role = 'lead'
            ORDER BY coalesce(r.state, 'not_started') IN ('not_started', 'draft', 'returned')
                DESC, u.email = :first DESC,
                (SELECT count(*) FROM commitments c WHERE c.organisation_id = o.id) DESC, o.id
            LIMIT 1
            """
        ),
        {"period": period.id, "first": lead_first or ""},
    ).one()
    biggest = db.session.scalar(
        sa.text(
            "SELECT o.slug FROM organisations o JOIN commitments c ON c.organisation_id = o.id"
            " GROUP BY o.id ORDER BY count(*) DESC, o.id LIMIT 1"
        )
    )
    commitment = reportable_commitments(row.id)[0].id
    return Accounts(row.email, admin, row.slug, period.slug, commitment, biggest)


def open_for_lead(accounts: Accounts, today: date) -> None:
    """Let the picked lead change their return today, as the programme team would.

    Between one quarter's window closing and the next opening no return can be changed: the
    admin grants the lead's organisation an extension of a fortnight (the app's own action), so
    the update form is the one a lead given more time meets. Inside a window nothing changes.
    """
    from tracker.models import Organisation, User
    from tracker.services.periods import grant_extension, period_by_slug
    from tracker.services.returns import return_view

    organisation = db.session.scalar(
        sa.select(Organisation).where(Organisation.slug == accounts.organisation)
    )
    period = period_by_slug(accounts.period)
    assert organisation is not None and period is not None
    if return_view(organisation, period, today).editable:
        return
    admin = db.session.scalar(sa.select(User).where(User.email == accounts.admin))
    assert admin is not None
    grant_extension(
        organisation,
        period,
        new_due=today + timedelta(days=14),
        reason="Their lead was away",
        actor=admin,
        today=today,
    )
    assert return_view(organisation, period, today).editable
    db.session.commit()


def key_pages(accounts: Accounts) -> list[tuple[str, str, str]]:
    """(name, who reads it, url) for each key page."""
    org, period = accounts.organisation, accounts.period
    return [
        ("task list", "lead", f"/organisations/{org}/returns/{period}"),
        (
            "update form",
            "lead",
            f"/organisations/{org}/returns/{period}/commitments/{accounts.commitment}",
        ),
        ("admin overview", "admin", "/admin"),
        ("review queue", "admin", f"/admin/returns/{period}"),
        ("board page", "admin", f"/board/{period}"),
        ("public organisation page", "public", f"/organisations/{accounts.public_organisation}"),
        # Lists of every organisation or person, a page at a time: on the region, before they
        # were paged, each read all 2,000 (0.2 to 0.35 s).
        ("organisations directory", "public", "/organisations"),
        ("admin's people", "admin", "/admin/users"),
        ("audit log", "admin", "/admin/audit"),
        ("/open-data.json", "public", "/open-data.json"),
    ]


def _peak_rss(worker: psutil.Process) -> int:
    for line in Path(f"/proc/{worker.pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return worker.memory_info().rss


def _reset_peak(worker: psutil.Process) -> bool:
    try:
        Path(f"/proc/{worker.pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def measure(server: Server, accounts: Accounts) -> tuple[list[str], dict[str, float]]:
    """The table's lines for one dataset, and each page's p50/p95 for the verdicts."""
    browsers = {
        "public": requests.Session(),
        "lead": signed_in(server.base, accounts.lead),
        "admin": signed_in(server.base, accounts.admin),
    }
    (worker,) = server.workers()
    # Open data first, on a worker whose peak is reset: the peak while streaming it.
    before = worker.memory_info().rss
    reset = _reset_peak(worker)
    response = browsers["public"].get(server.base + "/open-data.json", timeout=300)
    size = len(response.content)
    # send_file answers with Accept-Ranges; the live build (no current file) streams without.
    from_file = response.headers.get("Accept-Ranges") == "bytes"
    streaming_peak = _peak_rss(worker)
    floor_reads = timings(browsers["public"], server.base + FLOOR)
    assert not isinstance(floor_reads, str), floor_reads
    everywhere = list(floor_reads[0])  # every read of the floor in the run, for its own line
    lines = [
        f"  {'page':<26} {'p50 ms':>8} {'p95 ms':>8} {'p50 ×floor':>11} {'p95 ×floor':>11}",
    ]
    figures: dict[str, float] = {}
    for name, who, url in key_pages(accounts):
        big = url == "/open-data.json"  # read once already, to measure memory
        measured = timings(
            browsers[who],
            server.base + url,
            RUNS // 8 if big else RUNS,
            0 if big else WARM_UP,
            floor=(browsers["public"], server.base + FLOOR),
        )
        if isinstance(measured, str):
            lines.append(f"  {name:<26} not measured: {url} answered {measured}")
            continue
        times, beside = measured
        everywhere += beside
        p50, p95 = statistics.median(times), percentile(times, 0.95)
        figures[f"{name} p50"], figures[f"{name} p95"] = p50, p95
        # Each page against the floor read beside it: the page's ratio to the floor at the
        # same moment, whatever else the machine was doing then.
        floor_p50, floor_p95 = statistics.median(beside), percentile(beside, 0.95)
        figures[f"{name} floor p50"], figures[f"{name} floor p95"] = floor_p50, floor_p95
        lines.append(
            f"  {name:<26} {p50 * 1000:8.1f} {p95 * 1000:8.1f}"
            f" {p50 / floor_p50:10.1f}× {p95 / floor_p95:10.1f}×"
        )
    figures["floor p50"] = statistics.median(everywhere)
    figures["floor p95"] = percentile(everywhere, 0.95)
    lines.insert(
        1,
        f"  {FLOOR + ' (the floor)':<26} {figures['floor p50'] * 1000:8.1f}"
        f" {figures['floor p95'] * 1000:8.1f}    (all {len(everywhere)} reads in the run; each"
        " page's × is to the floor read beside it)",
    )
    lines.append(
        f"  worker RSS: {before / 2**20:.0f} MiB before /open-data.json"
        f" ({size / 2**20:.1f} MiB streamed); peak while streaming"
        f" {streaming_peak / 2**20:.0f} MiB{'' if reset else ' (peak since start)'};"
        f" peak after every page {_peak_rss(worker) / 2**20:.0f} MiB"
    )
    lines.append(
        "  /open-data.json was served from the file the open-data job built"
        if from_file
        else "  /open-data.json was NOT served from a file: the live build was streamed"
    )
    figures["open data from file"] = 1.0 if from_file else 0.0
    figures["streaming growth"] = (streaming_peak - before) / 2**20
    figures["streamed"] = size / 2**20
    return lines, figures


@dataclass(frozen=True)
class Served:
    """A dataset behind gunicorn: where, who to be, and every lead who can sign in."""

    server: Server
    accounts: Accounts
    admins: list[str]  # admins with the tests' TOTP secret, one per simulated admin
    leads: list[tuple[str, str]]  # (email, organisation slug)
    organisations: list[str]  # every organisation's slug
    description: str
    # Seconds to build each open-data file (the scheduler's job, timed in-process).
    open_data_build: dict[str, float] = field(default_factory=dict)


def build_open_data() -> dict[str, float]:
    """Build the open-data files as the scheduler's job does; the seconds each took."""
    from tracker.services.open_data_files import FORMATS, build, current_version

    version = current_version()
    seconds = {}
    for form in FORMATS.values():
        started = time.perf_counter()
        build(form, version)
        seconds[form.filename] = time.perf_counter() - started
    db.session.rollback()
    return seconds


def report_open_data_build(dataset: str, seconds: dict[str, float]) -> str:
    for name, value in seconds.items():
        targets.figure(f"{dataset}: {name} build", value, "s")
    return "  open-data files built (the open-data job, in-process): " + ", ".join(
        f"{name} {value:.1f} s" for name, value in seconds.items()
    )


def _leads_and_organisations() -> tuple[list[tuple[str, str]], list[str]]:
    leads = db.session.execute(
        sa.text(
            "SELECT u.email, o.slug FROM users u JOIN organisation_leads l ON l.user_id = u.id"
            " JOIN organisations o ON o.id = l.organisation_id"
            " WHERE u.password_hash IS NOT NULL AND u.active ORDER BY u.id, o.id"
        )
    ).all()
    slugs = db.session.scalars(sa.text("SELECT slug FROM organisations ORDER BY id")).all()
    return [(email, slug) for email, slug in leads], list(slugs)


@contextmanager
def town_served(
    server_url: str, folder: Path, workers: int = 1, threads: int = 1
) -> Iterator[Served]:
    """The Luton seed with the demo history (`tracker demo`), served by gunicorn."""
    with scratch_postgres_database(server_url) as scratch:
        app = make_test_app(scratch, folder / "town")
        migrate_to_head(app)
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "tracker", "demo"],
            env=server_environment(scratch, folder / "town"),
            cwd=PROJECT_ROOT,
            check=True,
            capture_output=True,
        )
        seconds = time.perf_counter() - start
        with app.app_context():
            accounts = pick_accounts("admin@example.org", lead_first="lead@example.org")
            # By today the demo's leads have all submitted: an admin sends one back, so its
            # update form can be read (a submitted return's form redirects to the task list).
            db.session.execute(
                sa.text(
                    "UPDATE returns SET state = 'returned', review_comment = 'Add the evidence'"
                    " WHERE state IN ('submitted', 'accepted') AND organisation_id ="
                    " (SELECT id FROM organisations WHERE slug = :organisation) AND period_id ="
                    " (SELECT id FROM reporting_periods WHERE slug = :period)"
                ),
                {"organisation": accounts.organisation, "period": accounts.period},
            )
            db.session.commit()
            counts = db.session.execute(
                sa.text(
                    "SELECT (SELECT count(*) FROM organisations), (SELECT count(*) FROM"
                    " commitments), (SELECT count(*) FROM commitment_updates)"
                )
            ).one()
            leads, organisations = _leads_and_organisations()
            admins = enrol_admins(accounts.admin, extra=ADMINS_FOR_LOAD)
            built = build_open_data()  # after every change: the files are current
            db.engine.dispose()
        description = (
            f"Town: the Luton seed with the demo history ({counts[0]} organisations,"
            f" {counts[1]} commitments, {counts[2]} updates; `tracker demo` took {seconds:.1f} s)"
        )
        with gunicorn(scratch, folder / "town", workers=workers, threads=threads) as server:
            yield Served(server, accounts, admins, leads, organisations, description, built)


def town(server_url: str, folder: Path) -> None:
    """The town's key pages against the floor."""
    with town_served(server_url, folder) as served:
        print(f"{served.description}, one gunicorn worker, {RUNS} reads of each page")
        lines, figures = measure(served.server, served.accounts)
        lines.append(report_open_data_build("town", served.open_data_build))
    print("\n".join(lines))
    worst = max((times_floor(figures, name, "p50"), name) for name in measured_pages(figures))
    record("town", figures)
    targets.target(
        f"every key page's p50 ≤ {TOWN_RATIO:.0f}× the floor (town)",
        worst[0] <= TOWN_RATIO,
        f"the slowest, {worst[1]}, {worst[0]:.1f}×",
    )


def measured_pages(figures: dict[str, float]) -> list[str]:
    """The pages ``measure`` timed, by name (not the floor, nor the floor beside each)."""
    return [
        key.removesuffix(" p50")
        for key in figures
        if key.endswith(" p50") and not key.endswith("floor p50")
    ]


def times_floor(figures: dict[str, float], name: str, share: str) -> float:
    """A page's p50 or p95 as a multiple of the floor's read beside it."""
    return figures[f"{name} {share}"] / figures[f"{name} floor {share}"]


def record(dataset: str, figures: dict[str, float]) -> None:
    """Every page's p50 and p95 (ms and × the floor) for bench.json."""
    for share in ("p50", "p95"):
        targets.figure(f"{dataset}: floor {share}", figures[f"floor {share}"] * 1000, "ms")
    for name in measured_pages(figures):
        for share in ("p50", "p95"):
            targets.figure(f"{dataset}: {name} {share}", figures[f"{name} {share}"] * 1000, "ms")
            targets.figure(
                f"{dataset}: {name} {share} ×floor", times_floor(figures, name, share), "×"
            )
    for key in ("streaming growth", "streamed"):
        if key in figures:
            targets.figure(f"{dataset}: /open-data.json {key}", figures[key], "MiB")


@contextmanager
def region_served(
    server_url: str, folder: Path, workers: int = 1, threads: int = 1
) -> Iterator[Served]:
    """The synthetic region with people and a published board summary, served by gunicorn."""
    from tracker.services.board import build_summary, publish_summary
    from tracker.services.periods import period_by_slug

    today = datetime.now(UTC).date()
    with scratch_postgres_database(server_url) as scratch:
        app = make_test_app(scratch, folder / "region", PUBLIC_BASE_URL="http://127.0.0.1")
        migrate_to_head(app)
        with app.app_context():
            # The server reads the region on the real clock: its eight quarters end with the
            # one whose window opened most recently, as the scheduler would have made them.
            facts = generate_region(
                db.engine,
                password_hash=generate_password_hash(DEMO_PASSWORD),
                first=quarters_to(today),
                today=today,
            )
            period = period_by_slug(facts.latest_period)
            assert period is not None
            summary = build_summary(period, actor=None, now=datetime.now(UTC))
            publish_summary(summary, actor=None)  # the public API shows published ones only
            db.session.commit()
            accounts = pick_accounts("admin@example.org")
            open_for_lead(accounts, today)
            leads, organisations = _leads_and_organisations()
            admins = enrol_admins(accounts.admin, extra=ADMINS_FOR_LOAD)
            built = build_open_data()  # after every change: the files are current
            db.engine.dispose()
        description = (
            f"Region: {facts.organisations:,} organisations, {facts.commitments:,} commitments,"
            f" {len(facts.periods)} quarters, {facts.updates:,} updates, {facts.users:,} people,"
            f" {facts.notifications:,} emails (generated in {facts.seconds:.1f} s)"
        )
        with gunicorn(scratch, folder / "region", workers=workers, threads=threads) as server:
            yield Served(server, accounts, admins, leads, organisations, description, built)


def region(server_url: str, folder: Path) -> None:
    with region_served(server_url, folder) as served:
        print(served.description)
        print(f"  one gunicorn worker, {RUNS} reads of each page ({RUNS // 8} of /open-data.json)")
        lines, figures = measure(served.server, served.accounts)
        lines.append(report_open_data_build("region", served.open_data_build))
    print("\n".join(lines))
    record("region", figures)
    for name, limit in REGION_P95.items():
        p95 = figures.get(f"{name} p95")
        targets.target(
            f"{name} p95 ≤ {limit * 1000:.0f} ms (region)",
            None if p95 is None else p95 <= limit,
            "not measured" if p95 is None else f"{p95 * 1000:.0f} ms",
        )
    for name, share in REGION_RATIOS:
        value = figures.get(f"{name} {share}")
        ratio = None if value is None else times_floor(figures, name, share)
        targets.target(
            f"{name} {share} ≤ {REGION_RATIO:.0f}× the floor (region)",
            None if ratio is None else ratio <= REGION_RATIO,
            "not measured" if ratio is None else f"{value * 1000:.0f} ms, {ratio:.1f}×",
        )
    whole = figures.get("/open-data.json p50")
    targets.target(
        f"/open-data.json, the whole region, ≤ {OPEN_DATA_SECONDS:.0f} s (p50 of {RUNS // 8},"
        " served from the file the open-data job built)",
        None if whole is None else whole <= OPEN_DATA_SECONDS and figures["open data from file"],
        "not measured"
        if whole is None
        else f"{whole:.2f} s"
        + ("" if figures["open data from file"] else ", the live build: no current file"),
    )
    growth, sent = figures["streaming growth"], figures["streamed"]
    targets.target(
        "/open-data.json streams with memory flat: the worker grows by less than half what it"
        " sends",
        growth < sent / 2,
        f"grew {growth:.0f} MiB while sending {sent:.0f} MiB",
    )


def main(datasets: list[str] | None = None) -> int:
    """The key pages of the town and the region (or the ``datasets`` named)."""
    url, reason = postgres_url_or_reason()
    if url is None:
        print(f"Key pages through gunicorn: skipped ({reason})")
        return 0
    wanted = datasets or ["town", "region"]
    with tempfile.TemporaryDirectory() as folder:
        for index, dataset in enumerate(wanted):
            if index:
                print()
            {"town": town, "region": region}[dataset](url, Path(folder))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
