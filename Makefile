# Scope Doctor: `make run` serves the site, `make test` runs the whole suite.
# Both create .venv on first use and skip work that is already done.

SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test lint format lock install browser clean bench bench-smoke wrk fuzz

$(PY):
	@./.ci/find-python > /dev/null || exit 1
	@echo "Creating $(VENV) with $$(./.ci/find-python)"
	@"$$(./.ci/find-python)" -m venv $(VENV)

$(STAMP): $(PY) requirements/lock.txt pyproject.toml
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements/lock.txt
	@touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	@DEBUG=$${DEBUG:-1} $(PY) manage.py migrate --no-input -v 0
	@DEBUG=$${DEBUG:-1} $(PY) manage.py load_reference
	@echo "Scope Doctor is at http://$(HOST):$(PORT)/  (Ctrl+C stops it)"
	@DEBUG=$${DEBUG:-1} $(PY) manage.py runserver --skip-checks $(HOST):$(PORT)

test: $(STAMP)
	@./.ci/browser-status
	DEBUG=1 $(PY) -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	DEBUG=1 $(PY) manage.py makemigrations --check --dry-run

format: $(STAMP)
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

# Ten thousand hostile requests against every public URL (tests/fuzz.py).
fuzz: $(STAMP)
	DEBUG=1 $(PY) .ci/fuzz.py

# The benchmark: gunicorn in production mode driven by wrk, on PostgreSQL and
# SQLite (see README, "Performance"). bench-smoke runs one second per target.
bench: $(STAMP) wrk
	$(PY) .ci/bench.py $(BENCH_ARGS)

bench-smoke: $(STAMP) wrk
	$(PY) .ci/bench.py --smoke --out bench-results/smoke

wrk:
	@command -v wrk > /dev/null || ./.ci/install-debian wrk

# 64 clients for a minute against gunicorn and PostgreSQL, staff editing at the
# same time; fails unless no errors and every acknowledged write is stored.
.PHONY: soak
soak: $(STAMP)
	$(PY) .ci/soak.py $(SOAK_ARGS)

# Re-resolve every pin from pyproject.toml into requirements/lock.txt.
lock:
	rm -rf .lock-venv
	"$$(./.ci/find-python)" -m venv .lock-venv
	.lock-venv/bin/python -m pip install --quiet --upgrade pip
	.lock-venv/bin/python -m pip install --quiet . --group dev
	.lock-venv/bin/python -m pip freeze --exclude scope-doctor > requirements/lock.txt
	rm -rf .lock-venv build *.egg-info

# Debian's chromium for the browser tests (needs root and apt).
browser:
	./.ci/install-browser

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache staticfiles
