"""``make load``: 50 people at once for 60 seconds against gunicorn with 4 workers (the region).

The synthetic region (``tests.benchmarks.region``) goes into a scratch PostgreSQL database and
gunicorn serves it with four workers on loopback; locust, headless, runs the mixed workload of
``tests/benchmarks/locustfile.py`` (the public, signed-in leads, admins, the API). Printed:
requests, throughput, p50/p95/max, and the errors, which must be zero (the exit status says so).

Run: ``python -m tests.benchmarks.load`` (or ``make load``). Also: ``USERS``, ``SECONDS``.
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from tests.benchmarks.pages import region_served
from tests.support.databases import postgres_url_or_reason
from tracker.config import PROJECT_ROOT
from tracker.services.demo import DEMO_PASSWORD

USERS = int(os.environ.get("USERS", "50"))
SECONDS = int(os.environ.get("SECONDS", "60"))
WORKERS = 4
LOCUSTFILE = Path(__file__).with_name("locustfile.py")


def run_locust(base: str, period: str, organisations: int, folder: Path) -> list[dict[str, str]]:
    """Run the workload; the rows of locust's stats CSV (one per page, then Aggregated)."""
    prefix = folder / "load"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "locust",
            "--locustfile",
            str(LOCUSTFILE),
            "--headless",
            "--users",
            str(USERS),
            "--spawn-rate",
            str(max(1, USERS // 5)),
            "--run-time",
            f"{SECONDS}s",
            "--host",
            base,
            "--csv",
            str(prefix),
            "--only-summary",
            "--loglevel",
            "WARNING",
            "--exit-code-on-error",
            "0",
        ],
        env={
            **os.environ,
            "LOAD_ORGANISATIONS": str(organisations),
            "LOAD_PERIOD": period,
            "LOAD_PASSWORD": DEMO_PASSWORD,
        },
        cwd=PROJECT_ROOT,
        check=True,
        capture_output=True,
    )
    with open(f"{prefix}_stats.csv", newline="") as stats:
        return list(csv.DictReader(stats))


def report(rows: list[dict[str, str]]) -> tuple[list[str], int]:
    lines = [
        f"  {'request':<42} {'count':>7} {'errors':>6} {'req/s':>7} {'p50 ms':>7}"
        f" {'p95 ms':>7} {'max ms':>7}"
    ]
    errors = 0
    for row in rows:
        name = "all requests" if row["Name"] == "Aggregated" else f"{row['Type']} {row['Name']}"
        lines.append(
            f"  {name[:42]:<42} {int(row['Request Count']):>7} {int(row['Failure Count']):>6}"
            f" {float(row['Requests/s']):7.1f} {row['50%']:>7} {row['95%']:>7}"
            f" {float(row['Max Response Time']):7.0f}"
        )
        if row["Name"] == "Aggregated":
            errors = int(row["Failure Count"])
    return lines, errors


def main() -> int:
    url, reason = postgres_url_or_reason()
    if url is None:
        print(f"Load test: skipped ({reason})")
        return 0
    with tempfile.TemporaryDirectory() as folder:
        with region_served(url, Path(folder), workers=WORKERS) as (server, accounts, facts):
            print(
                f"  load: {USERS} people at once for {SECONDS} s (1–3 s between pages),"
                f" gunicorn with {WORKERS} workers, locust on the same machine"
            )
            rows = run_locust(server.base, accounts.period, facts.organisations, Path(folder))
        lines, errors = report(rows)
    print("\n".join(lines))
    print(f"  target: zero errors: {'met' if errors == 0 else f'MISSED ({errors} errors)'}")
    return 0 if errors == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
