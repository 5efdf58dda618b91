# ClientXCMS: `make help` lists the targets.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
MANAGE := $(PY) manage.py
ADDR   ?= 127.0.0.1:8000

.DEFAULT_GOAL := help
.PHONY: help install run test lint fmt check ci clean bench

help: ## List the targets
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  %-8s %s\n", $$1, $$2}'

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e ".[dev]"
	touch $@

install: $(VENV)/.installed ## Create .venv and install the project with its dev tools

# Embedded mode: SQLite in var/, tasks in-process. DATABASE_URL / REDIS_URL apply if set.
run: export DEBUG = true
run: install ## Run the panel with demo data at http://127.0.0.1:8000
	mkdir -p "$${VAR_DIR:-var}"
	$(MANAGE) migrate --noinput
	$(MANAGE) seed_demo
	$(MANAGE) runserver $(ADDR)

test: install ## Run the tests (PostgreSQL/Redis when DATABASE_URL/REDIS_URL are set); PYTEST_ARGS=...
	$(VENV)/bin/pytest $(PYTEST_ARGS)

lint: install ## Check style and formatting with ruff
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

fmt: install ## Format the code and apply ruff's safe fixes
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# Test settings need no SECRET_KEY; an in-memory database unless DATABASE_URL is set.
check: export DJANGO_SETTINGS_MODULE = clientxcms.settings_test
check: export DATABASE_URL ?= sqlite://:memory:
check: lint ## Lint, Django system checks, and no missing migrations
	$(MANAGE) check
	$(MANAGE) makemigrations --check --dry-run

ci: check test ## Everything CI runs: check, then test

# PostgreSQL only: the database is created if missing and seeded once (about 20 s).
bench: export DEBUG = true
bench: export DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/bench
bench: export REDIS_URL ?= redis://127.0.0.1:6379/0
bench: install ## Seed 100,000 services on PostgreSQL and print timings; BENCH_ARGS=...
	$(PY) bench/run.py $(BENCH_ARGS)

clean: ## Remove the virtualenv, local data, collected static files and caches
	rm -rf $(VENV) var staticfiles .pytest_cache .ruff_cache .hypothesis test-results *.egg-info
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
