# Vermittlerpool: `make run` serves the app with demo data, `make test` runs the suite.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
FLASK := $(VENV)/bin/flask --app run.py
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: install translations run test test-browser lint bench bench-ledger extract-messages

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

# Refresh translations/messages.pot and the German catalogue from the code.
extract-messages: install
	$(VENV)/bin/pybabel extract -F babel.cfg -k _l -k lazy_gettext -k N_ -o translations/messages.pot .
	$(VENV)/bin/pybabel update -i translations/messages.pot -d translations --no-fuzzy-matching
