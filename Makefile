# Refund desk — the two commands a new user needs: `make demo` and `make test`.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

export DATABASE_URL_TEST ?= postgres://postgres@127.0.0.1:5432/refund_desk
export REDIS_URL_TEST ?= redis://127.0.0.1:6379/15

# The test commands honour DATABASE_URL and REDIS_URL when set (their own database and Redis db per checkout).
TEST_SERVICES = DATABASE_URL=$${DATABASE_URL:-$(DATABASE_URL_TEST)} REDIS_URL=$${REDIS_URL:-$(REDIS_URL_TEST)}

.PHONY: install demo test test-fast checks lint format browser-deps prometheus-deps pgbouncer-deps migrate benchmark clean

$(STAMP): requirements.txt requirements-dev.txt
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "Python 3.11 is required ($(PYTHON) not found)"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

install: $(STAMP)

# Debian's chromium for the Playwright browser tests (Playwright's own download cannot work offline).
browser-deps:
	@if [ ! -x /usr/bin/chromium ]; then \
		echo "installing Debian chromium for browser tests"; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
		|| { echo "could not install chromium: browser tests will fail"; exit 1; }; \
	fi

# Debian's prometheus for promtool, which checks and unit-tests deploy/prometheus (tests/deploy).
prometheus-deps:
	@if [ ! -x /usr/bin/promtool ]; then \
		echo "installing Debian prometheus (promtool) for the alert rule tests"; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq prometheus >/dev/null) \
		|| { echo "could not install prometheus: the alert rule tests will fail"; exit 1; }; \
	fi

# Debian's pgbouncer for the transaction-pooling tests (tests/support/pgbouncer.py, tests/e2e/infra).
pgbouncer-deps:
	@if [ ! -x /usr/sbin/pgbouncer ]; then \
		echo "installing Debian pgbouncer for the connection pooling tests"; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq pgbouncer >/dev/null) \
		|| { echo "could not install pgbouncer: the connection pooling tests will fail"; exit 1; }; \
	fi

# Embedded default: SQLite + Celery on kombu's filesystem transport + the provider simulator.
demo: install
	@bash scripts/demo.sh

# Everything: unit, service and API tests on two xdist workers (as test-fast), then the end-to-end
# tiers (tests/e2e: journeys, chaos, browser) serially: each starts whole stacks of processes.
# With PYTEST_ARGS set, one plain pytest run with those arguments (e.g. PYTEST_ARGS="-k journeys").
test: checks browser-deps prometheus-deps pgbouncer-deps
ifeq ($(strip $(PYTEST_ARGS)),)
	$(TEST_SERVICES) $(PY) -m pytest -n 2 -m "not e2e"
	$(TEST_SERVICES) $(PY) -m pytest -m e2e
else
	$(TEST_SERVICES) $(PY) -m pytest $(PYTEST_ARGS)
endif

# Unit, service and API tests (all but tests/e2e), for the edit-test loop: about 70 s on 2 cores.
# Two xdist workers, each a session of its own: its own test database (pytest-django's
# _gw0/_gw1 suffix), Celery queues and cache-key prefix (config/settings/test.py).
test-fast: checks
	$(TEST_SERVICES) $(PY) -m pytest -n 2 -m "not e2e" $(PYTEST_ARGS)

checks: install
	@$(TEST_SERVICES) $(PY) scripts/check_services.py
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	$(PY) scripts/compile_messages.py

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

BENCH_STAMP := $(VENV)/.installed-bench

$(BENCH_STAMP): $(STAMP) requirements-bench.txt
	$(PY) -m pip install --quiet -r requirements-bench.txt
	touch $(BENCH_STAMP)

# All six benchmarks against PostgreSQL and Redis (about 45 minutes on 2 cores); figures land in benchmarks/results/,
# the dashboards' screenshots in docs/screenshots/ (dashboards.py needs /usr/bin/prometheus).
benchmark: $(BENCH_STAMP)
	$(PY) benchmarks/api_load.py
	$(PY) benchmarks/e2e_latency.py
	$(PY) benchmarks/status_page.py
	$(PY) benchmarks/reconcile.py
	$(PY) benchmarks/faults.py
	$(PY) benchmarks/dashboards.py

clean:
	rm -rf var .pytest_cache .ruff_cache
