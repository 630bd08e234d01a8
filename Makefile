# Two commands on a fresh machine: `make demo` and `make test`.
# Both create .venv from uv.lock when missing and resync only when pyproject.toml or uv.lock
# changed. The only things a machine needs are python3 (with its venv module) and PyPI.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
CIWB   := $(VENV)/bin/ciwb
STAMP  := $(VENV)/.ciwb-installed
DEMO_DB ?= data/demo.duckdb
REPORTS ?= reports

# uv lives in its own small venv: `uv sync` makes .venv match uv.lock exactly, so a uv
# installed inside .venv would be removed by the sync it runs. Bump UV_VERSION to move.
UV_VERSION := 0.13.9
UV_VENV    := .uv
UV         := $(UV_VENV)/bin/uv
UV_STAMP   := $(UV_VENV)/.uv-$(UV_VERSION)
# The lock is resolved against PyPI only (uv ignores pip.conf); never download a Python:
# the interpreter is $(PYTHON), and .venv stays where the targets below look for it.
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)

.PHONY: demo test lint bench lab setup lock lock-upgrade clean

setup: $(STAMP)

$(UV_STAMP):
	@test -x $(UV_VENV)/bin/python || $(PYTHON) -m venv $(UV_VENV)
	$(UV_VENV)/bin/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	@touch $(UV_STAMP)

# --locked: install exactly uv.lock, and stop if pyproject.toml changed without `make lock`
# (or `uv lock`) after it; ciwb itself goes in editable. --compile-bytecode: every report
# kernel and analysis process imports pandas, polars and plotly; without .pyc files (uv writes
# none, and PYTHONDONTWRITEBYTECODE stops Python writing its own) each compiles them again.
$(STAMP): pyproject.toml uv.lock $(UV_STAMP)
	$(UV) sync --locked --extra dev --compile-bytecode --python $(PYTHON)
	@touch $(STAMP)

# `make lock`: re-lock after editing pyproject.toml's dependencies, moving nothing else.
# `make lock-upgrade`: the newest versions inside pyproject.toml's ranges; then `make test`.
lock: $(UV_STAMP)
	$(UV) lock --python $(PYTHON)

lock-upgrade: $(UV_STAMP)
	$(UV) lock --upgrade --python $(PYTHON)

demo: $(STAMP)
	$(CIWB) demo --db $(DEMO_DB)
	$(CIWB) db info --db $(DEMO_DB)
	$(CIWB) report all --db $(DEMO_DB) --out $(REPORTS)
	@echo "open $(abspath $(REPORTS))/index.html"

# The suite runs on every core (pytest-xdist); tests/conftest.py groups onto one worker the
# tests that share Docker or build a costly fixture. `make test PYTEST_ARGS=` runs it serially;
# `make test PYTEST_ARGS="-n auto --dist loadgroup -x"` adds options.
PYTEST_ARGS ?= -n auto --dist loadgroup

test: $(STAMP)
	$(PY) -m ruff check ciwb tests benchmarks
	$(VENV)/bin/lint-imports
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(PY) -m ruff check ciwb tests benchmarks
	$(PY) -m ruff format --check ciwb tests benchmarks
	$(VENV)/bin/lint-imports

bench: $(STAMP)
	@for b in benchmarks/*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

lab: $(STAMP)
	$(CIWB) lab --db $(DEMO_DB)

clean:
	rm -rf $(VENV) $(UV_VENV) .pytest_cache .import_linter_cache $(REPORTS)
