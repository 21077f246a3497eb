# Each target installs what it needs into .venv, then runs. `make help` lists them.
PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin

.PHONY: help demo test test-slow lint bench docs

help: ## List the targets
	@grep -E '^[a-z]+:.*## ' Makefile | sed 's/:.*## /\t/'

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

demo: $(BIN)/python ## Install, simulate a retailer, load it, run the pipeline and show the results
	$(BIN)/python -m pip install -q -e .
	@# The world and its warehouse go to a fresh temporary folder: nothing is left in the repository.
	cd "$$(mktemp -d -t omnimetrics-demo-XXXXXX)" && $(CURDIR)/$(BIN)/omnimetrics demo

test: $(BIN)/python ## Install what the tests need and run the suite (not the slow ones: about 10 min)
	$(BIN)/python -m pip install -q -e '.[dev,spark]'
	$(BIN)/python -m pytest -m "not slow and not spark"

test-slow: $(BIN)/python ## The slow suites CI runs too: DuckDB/PySpark parity, larger worlds, the README
	$(BIN)/python -m pip install -q -e '.[dev,spark,pymc]'
	$(BIN)/python -m pytest -m "slow or spark"

lint: $(BIN)/python ## ruff lint and format check
	$(BIN)/python -m pip install -q -e '.[dev]'
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

bench: $(BIN)/python ## Every benchmark: throughput, latency, seconds and peak memory (about an hour)
	$(BIN)/python -m pip install -q -e '.[dev]'
	$(BIN)/python benchmarks/ingest.py
	$(BIN)/python benchmarks/identity.py
	$(BIN)/python benchmarks/journeys.py
	$(BIN)/python benchmarks/attribution.py
	$(BIN)/python benchmarks/kpis.py --folder benchmarks/.worlds/kpis
	$(BIN)/python benchmarks/dashboard.py --folder benchmarks/.worlds/kpis
	$(BIN)/python benchmarks/collector.py

docs: $(BIN)/python ## Regenerate docs/data-model.md and docs/metrics.md from the code
	$(BIN)/python -m omnimetrics.schema > docs/data-model.md
	$(BIN)/python -m omnimetrics.metrics.kpis > docs/metrics.md
