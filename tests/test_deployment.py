"""docker-compose.yml, the Dockerfile and the Makefile say what the README promises (Docker
cannot run here)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import require
from tracker.config import PROJECT_ROOT


def compose() -> dict:
    return yaml.safe_load((PROJECT_ROOT / "docker-compose.yml").read_text())


def test_compose_names_the_services():
    services = compose()["services"]
    assert {"db", "web", "scheduler", "mail"} <= set(services)


def test_database_is_postgres_16_with_a_volume_and_a_healthcheck():
    db = compose()["services"]["db"]
    assert db["image"].startswith("postgres:16")
    assert any(volume.endswith(":/var/lib/postgresql/data") for volume in db["volumes"])
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])


def test_web_is_gunicorn_with_several_workers_after_migrations():
    services = compose()["services"]
    web = services["web"]
    command = " ".join(web["command"])
    assert command.startswith("gunicorn")
    assert "tracker.wsgi:app" in command
    workers = re.search(r"--workers=\$\{WEB_WORKERS:-(\d+)\}", command)
    assert workers and int(workers.group(1)) > 1
    assert web["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert services["migrate"]["command"] == ["tracker", "db", "upgrade"]


def test_web_and_the_image_preload_the_app_with_threads_like_the_load_test():
    # The load test's server (tests/benchmarks/load.py) is run the way `web` is: threads in
    # each worker, and the app built once before the workers fork.
    from tests.benchmarks import load

    command = " ".join(compose()["services"]["web"]["command"])
    assert "--preload" in command
    threads = re.search(r"--threads=\$\{WEB_THREADS:-(\d+)\}", command)
    assert threads and int(threads.group(1)) == load.THREADS > 1
    dockerfile = (PROJECT_ROOT / "Dockerfile").read_text()
    cmd = next(line for line in dockerfile.splitlines() if line.startswith("CMD"))
    assert '"--preload"' in cmd and f'"--threads", "{load.THREADS}"' in cmd
    # Idle connections outlive a person's pause between pages (the bench's too).
    from tests.benchmarks.pages import KEEP_ALIVE

    assert f"--keep-alive=${{WEB_KEEP_ALIVE:-{KEEP_ALIVE}}}" in command
    assert f'"--keep-alive", "{KEEP_ALIVE}"' in cmd


def test_the_served_app_has_every_template_compiled_before_a_request(tmp_path):
    env = {**os.environ, "TRACKER_ENV": "development", "TRACKER_INSTANCE_PATH": str(tmp_path)}
    script = (
        "from tracker.wsgi import app; env = app.jinja_env;"
        " names = env.list_templates(); print(len(names), len(env.cache))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], env=env, cwd=PROJECT_ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    templates, compiled = map(int, result.stdout.split())
    assert templates > 100 and compiled == templates


def test_exactly_one_scheduler_runs_the_jobs():
    services = compose()["services"]
    assert services["scheduler"]["command"] == ["tracker", "jobs", "run"]
    assert "deploy" not in services["scheduler"]  # no replicas
    others = [name for name, s in services.items() if name != "scheduler"]
    for name in others:
        assert "jobs" not in " ".join(map(str, services[name].get("command", []))), name


def test_files_the_web_and_the_scheduler_both_use_live_on_shared_volumes():
    # Uploaded evidence must outlive a release and be the same files the scheduler prunes; the
    # open-data files the scheduler builds are the ones the web sends.
    compose_file = compose()
    services = compose_file["services"]
    for folder in ("/app/instance/evidence", "/app/instance/open-data"):
        mounts = {
            name: volume
            for name in ("web", "scheduler")
            for volume in services[name].get("volumes", [])
            if volume.endswith(f":{folder}")
        }
        assert set(mounts) == {"web", "scheduler"}, folder
        named = {volume.split(":")[0] for volume in mounts.values()}
        assert len(named) == 1 and named <= set(compose_file["volumes"]), folder


def test_mail_is_mailpit_and_the_app_talks_to_it():
    services = compose()["services"]
    assert services["mail"]["image"].startswith("axllent/mailpit")
    env = services["web"]["environment"]
    assert env["MAIL_SERVER"].endswith(":-mail}")
    assert env["TRACKER_ENV"] == "production"
    assert env["SECRET_KEY"].startswith("${SECRET_KEY:?")  # compose refuses to start without it


def test_dockerfile_builds_assets_in_node_and_runs_as_a_non_root_user():
    dockerfile = (PROJECT_ROOT / "Dockerfile").read_text()
    stages = re.findall(r"^FROM (\S+) AS (\w+)", dockerfile, flags=re.MULTILINE)
    assert [name for _, name in stages] == ["assets", "runtime"]
    assert stages[0][0].startswith("node:")
    assert stages[1][0].startswith("python:3.11")
    assert "COPY --from=assets" in dockerfile
    users = re.findall(r"^USER (\S+)", dockerfile, flags=re.MULTILINE)
    assert users and users[-1] not in {"root", "0"}


# Stands in for the `tracker` command: notes the link base each process was given. `make run`
# starts the scheduler in the background just before the web app, so the stand-in web app waits
# until the scheduler has started, as the real one would still be running.
FAKE_TRACKER = """#!/bin/sh
echo "$PUBLIC_BASE_URL $*" >> "$TRACKER_LOG"
if [ "$1" = run ]; then
  for _ in $(seq 100); do grep -q " jobs run$" "$TRACKER_LOG" && exit 0; sleep 0.05; done
fi
"""


def make_run(tmp_path: Path, *arguments: str, **env: str) -> dict[str, str]:
    """``make run`` with a stand-in ``tracker``: which base URL each command had for links."""
    if shutil.which("make") is None:
        require("make", "make is not installed")
    bin_dir = tmp_path / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    (tmp_path / "instance").mkdir()
    tracker = bin_dir / "tracker"
    tracker.write_text(FAKE_TRACKER)
    tracker.chmod(0o755)
    log = tmp_path / "commands.log"
    environment = {
        name: value
        for name, value in os.environ.items()
        if name not in {"PUBLIC_BASE_URL", "HOST", "PORT", "MAKEFLAGS", "MFLAGS", "MAKELEVEL"}
    }
    environment.update(env, TRACKER_LOG=str(log))
    subprocess.run(
        # -o install: the stand-in needs no virtualenv or npm packages made.
        ["make", "-s", "-f", str(PROJECT_ROOT / "Makefile"), "-o", "install", "run", *arguments],
        cwd=tmp_path,
        env=environment,
        check=True,
        capture_output=True,
        timeout=60,
    )
    lines = log.read_text().splitlines()
    return {command: base for base, command in (line.split(" ", 1) for line in lines)}


@pytest.mark.parametrize(
    ("arguments", "env", "expected"),
    [
        ((), {}, "http://127.0.0.1:5000"),
        (("PORT=5001",), {}, "http://127.0.0.1:5001"),
        (("HOST=192.168.1.20", "PORT=8080"), {}, "http://192.168.1.20:8080"),
        (("PORT=5001", "PUBLIC_BASE_URL="), {}, "http://127.0.0.1:5001"),
        # Set by hand, it wins.
        (
            ("PORT=5001",),
            {"PUBLIC_BASE_URL": "https://pledges.example.org"},
            "https://pledges.example.org",
        ),
        (("PORT=5001", "PUBLIC_BASE_URL=https://demo.example.org"), {}, "https://demo.example.org"),
    ],
)
def test_make_run_links_point_at_the_address_it_serves(tmp_path, arguments, env, expected):
    bases = make_run(tmp_path, *arguments, **env)
    # The scheduler renders the reminders, the demo today's first ones, the web app the rest.
    for command in ("demo", "jobs run"):
        assert bases[command] == expected, command
    web = next(command for command in bases if command.startswith("run "))
    assert bases[web] == expected
