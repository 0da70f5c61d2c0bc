# The README's commands. `make demo` runs the main job on the embedded default;
# `make test` installs everything, starts Redis and PostgreSQL when needed, and runs
# ruff, mypy and the whole test suite.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test lint services bench screenshots train clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e .
	touch $@

$(VENV)/.test-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e ".[test]"
	touch $(VENV)/.installed $@

demo: $(VENV)/.installed
	$(BIN)/outreach demo

services:
	bash scripts/services.sh

lint: $(VENV)/.test-installed
	$(BIN)/ruff check worker tests bench
	$(BIN)/ruff format --check worker tests bench
	$(BIN)/mypy

# Two pytest processes (pytest-xdist): each test has its own database schema, Redis namespace,
# IMAP user and ports, so they run side by side; TEST_WORKERS=0 runs them in one process.
TEST_WORKERS ?= 2

test: $(VENV)/.test-installed services lint
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS)

# Retrain the reply model on tests/corpus (seeded, reproducible); writes
# worker/understanding/reply_model.npz. Add a team's labelled replies with
# `outreach replies train --corpus DIR`.
train: $(VENV)/.test-installed
	$(BIN)/outreach replies train

bench: $(VENV)/.test-installed services
	$(BIN)/pip install -q -e '.[bench]'
	$(BIN)/python bench/throughput.py

screenshots: $(VENV)/.test-installed services
	$(BIN)/python scripts/screenshots.py

clean:
	rm -rf $(VENV) demo outbox outreach.db*
