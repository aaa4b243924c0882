# The two commands of the README: `make demo` and `make test`. Everything else is what they use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup demo test lint bench run sandbox ui clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# Ctrl-C or SIGTERM stop every child within seconds; --stop-with-parent: killing make (even SIGKILL) does too.
# Other ports: make demo DEMO_ARGS="--ui-port 3001 --amazon-port 8101 --sqs-port 9325 --x3-port 8125"
demo: setup
	$(BIN)/sage-amazon demo --stop-with-parent $(DEMO_ARGS)

# Four workers, one test file each at a time (module fixtures such as a sandbox stack start once): most tests
# wait on servers, so this fits 2 cores (measured: 9 min 41 s for 822 tests on a quiet 2-core machine, 2026-11-30).
test: setup lint
	$(BIN)/python -m pytest -q -n 4 --dist loadfile

lint: setup
	$(BIN)/ruff check .

bench: setup
	$(BIN)/python bench/run.py

run: setup
	$(BIN)/sage-amazon run

sandbox: setup
	$(BIN)/sage-amazon sandbox up

ui: setup
	DAGSTER_HOME=$${DAGSTER_HOME:-$$PWD/data/dagster_home} $(BIN)/dagster dev -w workspace.yaml -h 127.0.0.1 -p 3000

clean:
	rm -rf $(VENV) data .pytest_cache .ruff_cache

# The whole suite (as `make test` runs it) under each of issue 10's machine clocks, one clock after the other
# (tests/dates/run.sh; libfaketime 0.9.12, built from Debian's source by tests/dates/libfaketime.sh).
# DATE_TESTS=... picks folders or files;
# DATES_CLOCKS="2027-01-01T00:05:00Z@America/Los_Angeles ..." other clocks.
.PHONY: test-dates
APT := $(if $(filter 0,$(shell id -u)),,sudo) apt-get
test-dates: setup
	command -v cc >/dev/null && command -v curl >/dev/null || ($(APT) update -qq && $(APT) install -y -qq gcc libc6-dev make curl)
	tests/dates/run.sh $(DATE_TESTS)

# The fault matrix (issue 20.7, tests/faults/): Amazon 5xx and cut connections, X3 busy and lost replies, two runs
# at once and settlements imported again, each on a fresh data dir compared with a clean run's Sage. Slow (one
# sandbox stack per case), so not part of `make test`; CI runs it (.ci/run).
.PHONY: test-faults
test-faults: setup
	SAGE_AMAZON_FAULT_MATRIX=1 $(BIN)/python -m pytest -q -p no:cacheprovider tests/faults

# Issue 12's "books close" run as it is judged (tests/e2e/test_books_close.py): both flows on the sandbox seller under
# `revenue: sage_invoices` + `documents: credit_notes`, on X3 and Sage 500 at once, Sage's staff shipping and
# invoicing in between, then revenue per month, every settled order's receivable and clearing checked to the cent in
# Sage's own tables. Slow (two sandbox stacks, four runs: 1 min 44 s to 2 min 50 s measured on a 2-core machine),
# so not part of `make test`.
.PHONY: test-books
test-books: setup
	SAGE_AMAZON_BOOKS_TEST=1 $(BIN)/python -m pytest -q -p no:cacheprovider tests/e2e/test_books_close.py

# The many-seller proof (issue 19, tests/scale/, docs/multi-seller.md): three sandbox sellers on two Celery workers
# (RabbitMQ on 127.0.0.1:5672), the Dagster webserver and daemon on a PostgreSQL instance (127.0.0.1:5432, its own
# database), one worker killed mid-run, each seller's Sage compared with a clean single-seller run's. Slow (four
# sandbox stacks, eight Dagster processes), so not part of `make test`.
.PHONY: test-scale
test-scale: setup
	SAGE_AMAZON_SCALE_TEST=1 $(BIN)/python -m pytest -q -p no:cacheprovider tests/scale

# The cockpit in a real browser (issue 16, tests/ui/): a small instance built with the X3 sandbox, the Dagster UI on
# a free port, Playwright driving Debian's Chromium; screenshots in data/ui-screenshots (UI_SCREENSHOTS_DIR=...).
# Slow (minutes: seven settlements run, then the UI), so not part of `make test`; installs what it needs first.
.PHONY: test-ui
test-ui: setup
	command -v chromium >/dev/null || ($(APT) update -qq && $(APT) install -y -qq chromium)
	$(BIN)/python -c "import playwright" 2>/dev/null || $(BIN)/python -m pip install --quiet playwright==1.65.2
	SAGE_AMAZON_UI_TESTS=1 $(BIN)/python -m pytest -q -p no:cacheprovider tests/ui
