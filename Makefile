# Two commands on a fresh machine: `make demo` and `make test`.
# Both create .venv when missing and (re)install only when pyproject.toml changed.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
CIWB   := $(VENV)/bin/ciwb
STAMP  := $(VENV)/.ciwb-installed
DEMO_DB ?= data/demo.duckdb
REPORTS ?= reports

.PHONY: demo test lint bench lab setup clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

demo: $(STAMP)
	$(CIWB) demo --db $(DEMO_DB)
	$(CIWB) db info --db $(DEMO_DB)
	$(CIWB) report all --db $(DEMO_DB) --out $(REPORTS)
	@echo "open $(abspath $(REPORTS))/index.html"

test: $(STAMP)
	$(PY) -m ruff check ciwb tests benchmarks
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(PY) -m ruff check ciwb tests benchmarks
	$(PY) -m ruff format --check ciwb tests benchmarks

bench: $(STAMP)
	@for b in benchmarks/*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

lab: $(STAMP)
	$(CIWB) lab --db $(DEMO_DB)

clean:
	rm -rf $(VENV) .pytest_cache $(REPORTS)
