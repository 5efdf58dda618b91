# ClientXCMS: `make help` lists the targets.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
MANAGE := $(PY) manage.py
ADDR   ?= 127.0.0.1:8000

.DEFAULT_GOAL := help
.PHONY: help install run test lint fmt typecheck check ci clean bench messages

help: ## List the targets
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

# Translations: locale/<lang>/LC_MESSAGES/django.po is kept in git, its compiled .mo is built
# here (GNU gettext's msgfmt, as Django's compilemessages runs it). `make messages` gathers
# new strings into the .po files after a change; tests/test_translations.py fails while one
# is untranslated.
CATALOGUES := $(patsubst %.po,%.mo,$(wildcard locale/*/LC_MESSAGES/django.po))
locale/%/LC_MESSAGES/django.mo: locale/%/LC_MESSAGES/django.po
	msgfmt --check-format -o $@ $<

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e ".[dev]"
	touch $@

install: $(VENV)/.installed $(CATALOGUES) ## Create .venv, install the project with its dev tools, compile the translations

messages: $(VENV)/.installed ## Gather the translatable strings into locale/*/LC_MESSAGES/django.po
	$(VENV)/bin/django-admin makemessages --all --no-wrap --no-obsolete --ignore=tests --ignore=bench --ignore=staticfiles --ignore=var

# Embedded mode: SQLite in var/, tasks in-process. DATABASE_URL / REDIS_URL apply if set.
# The fake Pterodactyl panel of the tests (tests/fakes/pterodactyl) runs beside it on
# 127.0.0.1:$(PTERODACTYL_PORT), and the fake Proxmox VE (tests/fakes/proxmox, its API token's
# fixed secret in demo/catalogue.py) on 127.0.0.1:$(PROXMOX_PORT), with their demo state (in
# memory: fresh at every start; its tasks take 1 s, so a VPS is made in a few seconds); both
# are stopped with the panel: the trap kills them however the recipe ends (Ctrl-C included). There
# is no Celery beat either: `manage.py automation --every 60` ticks in its place (log in
# var/automation.log), so services expire and invoices are made as in production.
PTERODACTYL_PORT ?= 8091
PROXMOX_PORT ?= 8092
run: export DEBUG = true
run: export DEMO_PTERODACTYL_URL = http://127.0.0.1:$(PTERODACTYL_PORT)
run: export DEMO_PROXMOX_URL = http://127.0.0.1:$(PROXMOX_PORT)
run: install ## Run the panel with demo data at http://127.0.0.1:8000 (and fake Pterodactyl and Proxmox VE)
	mkdir -p "$${VAR_DIR:-var}"
	$(PY) -m tests.fakes.pterodactyl --port $(PTERODACTYL_PORT) --demo & fake=$$!; \
	$(PY) -m tests.fakes.proxmox --port $(PROXMOX_PORT) --demo --task-seconds 1 & pve=$$!; \
	trap 'kill $$fake $$pve $$tick 2>/dev/null' EXIT; trap 'exit 130' INT TERM HUP; \
	$(MANAGE) migrate --noinput && \
	$(MANAGE) seed_demo --pterodactyl-wait 10 --proxmox-wait 10 && \
	{ $(MANAGE) automation --every 60 > "$${VAR_DIR:-var}/automation.log" 2>&1 & tick=$$!; } && \
	$(MANAGE) runserver $(ADDR)

# One pytest worker per core (pytest-xdist); the slowest tests are handed out first come,
# first served, so one long test does not leave a core idle at the end.
TEST_WORKERS ?= auto

test: install ## Run the tests (PostgreSQL/Redis when DATABASE_URL/REDIS_URL are set); PYTEST_ARGS=...
	$(VENV)/bin/pytest -n $(TEST_WORKERS) --dist worksteal $(PYTEST_ARGS)

lint: install ## Check style and formatting with ruff
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

fmt: install ## Format the code and apply ruff's safe fixes
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# Settings and exclusions in pyproject.toml ([tool.mypy]); the cache in .mypy_cache makes reruns fast.
typecheck: install ## Check types with mypy and the django-stubs plugin
	$(VENV)/bin/mypy .

# `check --deploy` runs on the production settings as docker compose sets them, with dummy
# keys (never used to sign or encrypt anything).
DEPLOY_ENV := env DJANGO_SETTINGS_MODULE=clientxcms.settings DEBUG=false \
	SECRET_KEY=check-deploy-only-not-a-real-key-0123456789-abcdefghijklmnopqrstuvwxyz \
	FIELD_ENCRYPTION_KEY=Y2hlY2stZGVwbG95LW9ubHktbm90LWEtcmVhbC1rZXk= \
	ALLOWED_HOSTS=panel.example.com SECURE_SSL_REDIRECT=true SECURE_HSTS_SECONDS=31536000 \
	SECURE_PROXY_SSL_HEADER=true

# Test settings need no SECRET_KEY; an in-memory database unless DATABASE_URL is set.
check: export DJANGO_SETTINGS_MODULE = clientxcms.settings_test
check: export DATABASE_URL ?= sqlite://:memory:
check: lint typecheck ## Lint, type check, Django system checks (--deploy too), no missing migrations
	$(MANAGE) check
	$(MANAGE) makemigrations --check --dry-run
	$(DEPLOY_ENV) $(MANAGE) check --deploy --fail-level WARNING

ci: check test ## Everything CI runs: check, then test

# PostgreSQL only: the database is created if missing and seeded once (about 20 s; a million
# services, `BENCH_ARGS="--services 1000000 --customers 50000"`, about 5 minutes). Production
# settings (DEBUG off: cached templates, no query log) whatever the environment says: set by
# bench/common.py for the bench and every process it starts.
bench: export DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/bench
bench: export REDIS_URL ?= redis://127.0.0.1:6379/0
bench: install ## Seed 100,000 services on PostgreSQL and print timings; BENCH_ARGS=...
	$(PY) bench/run.py $(BENCH_ARGS)

clean: ## Remove the virtualenv, local data, collected static files and caches
	rm -rf $(VENV) var staticfiles .pytest_cache .ruff_cache .mypy_cache .hypothesis test-results *.egg-info
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
