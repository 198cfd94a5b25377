# Vermittlerpool: `make run` serves the app with demo data, `make test` runs the suite.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
FLASK := $(VENV)/bin/flask --app run.py
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: install translations run serve test test-browser lint bench bench-ledger bench-load extract-messages

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed

translations: install
	$(VENV)/bin/pybabel compile -d translations

run: translations
	$(FLASK) pool init
	$(FLASK) pool demo-data
	@echo "Serving on http://$(HOST):$(PORT)/login/"
	$(FLASK) run --host $(HOST) --port $(PORT)

# The production stack locally: PostgreSQL (a cluster under instance/pg unless
# DATABASE_URL is set), redis-server for the shared login limit, `pool init`,
# the demo pool when empty, the scheduler, gunicorn with several workers on
# POOL_BIND (127.0.0.1:8000). Ctrl-C stops all. See docs/deployment.md.
serve: translations
	VENV=$(VENV) bash deploy/serve.sh

test: translations
	$(PY) -m pytest -q || [ $$? -eq 5 ]

# The screens in Debian's chromium (/usr/bin/chromium, or POOL_CHROMIUM) through
# Playwright; opt-in, `make test` skips them. Screenshots: artifacts/screenshots/.
test-browser: translations
	POOL_BROWSER_TESTS=1 $(PY) -m pytest -q tests/browser

lint: install
	$(VENV)/bin/ruff check --select F,E9,B,I app tests bench config.py run.py

bench: translations
	$(PY) bench/bench_crm_pages.py
	$(PY) bench/bench_orgchart.py
	$(PY) bench/bench_contract_search.py

# The ledger at full size (each takes minutes): batch booking, settlement run.
bench-ledger: translations
	$(PY) bench/bench_booking.py
	$(PY) bench/bench_settlement.py

$(VENV)/.bench-installed: $(VENV)/.installed requirements-bench.txt
	$(VENV)/bin/pip install -q -r requirements-bench.txt
	touch $@

# 200 brokers at month end against gunicorn and PostgreSQL (DATABASE_URL, with
# the large demo pool settled: see bench/bench_load.py; BENCH_LOAD_ARGS=--prepare).
bench-load: translations $(VENV)/.bench-installed
	$(PY) bench/bench_load.py $(BENCH_LOAD_ARGS)

# Refresh translations/messages.pot and the German catalogue from the code.
extract-messages: install
	$(VENV)/bin/pybabel extract -F babel.cfg -k _l -k lazy_gettext -k N_ -o translations/messages.pot .
	$(VENV)/bin/pybabel update -i translations/messages.pot -d translations --no-fuzzy-matching
