# The two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
RUNTIME_STAMP := $(VENV)/.runtime-installed
DEV_STAMP := $(VENV)/.dev-installed

.PHONY: run test test-postgres check lint imports format typecheck pytest clean

$(PY):
	$(PYTHON) -m venv $(VENV)

$(RUNTIME_STAMP): requirements.txt | $(PY)
	$(PY) -m pip install --disable-pip-version-check -q -r requirements.txt
	touch $@

# The agent sidebar's browser dependency (the ZAF SDK), pinned by sidebar/package-lock.json.
SIDEBAR_NPM := sidebar/node_modules/.package-lock.json
$(SIDEBAR_NPM): sidebar/package.json sidebar/package-lock.json
	npm ci --prefix sidebar --no-audit --no-fund --loglevel=error
	touch $@

$(DEV_STAMP): requirements.txt requirements-dev.txt $(RUNTIME_STAMP)
	$(PY) -m pip install --disable-pip-version-check -q -r requirements-dev.txt
	touch $@

## run: the service on the embedded Zendesk sandbox (seeded demo account), with its worker and scheduler
run: $(RUNTIME_STAMP) $(SIDEBAR_NPM)
	$(PY) -m demo

## test: lint, type-check and the whole test suite
test: check pytest

check: lint typecheck imports

lint: $(DEV_STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

typecheck: $(DEV_STAMP)
	$(PY) -m mypy .

## imports: the layout's import contracts (pyproject.toml [tool.importlinter])
imports: $(DEV_STAMP)
	PYTHONPATH=. $(VENV)/bin/lint-imports

pytest: $(DEV_STAMP) $(SIDEBAR_NPM)
	$(PY) -m pytest --cov --cov-report=term:skip-covered $(PYTEST_ARGS)

## test-postgres: the same suite against a PostgreSQL server that .ci/postgres.sh installs and starts
test-postgres: $(DEV_STAMP) $(SIDEBAR_NPM)
	@eval "$$(.ci/postgres.sh)" && trap '.ci/postgres.sh stop' EXIT && \
	  $(PY) -m pytest $(PYTEST_ARGS)

format: $(DEV_STAMP)
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .coverage
