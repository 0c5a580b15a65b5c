"""docker-compose.yml and the Dockerfile say what the README promises (Docker cannot run here)."""

from __future__ import annotations

import re

import yaml

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


def test_exactly_one_scheduler_runs_the_jobs():
    services = compose()["services"]
    assert services["scheduler"]["command"] == ["tracker", "jobs", "run"]
    assert "deploy" not in services["scheduler"]  # no replicas
    others = [name for name, s in services.items() if name != "scheduler"]
    for name in others:
        assert "jobs" not in " ".join(map(str, services[name].get("command", []))), name


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
