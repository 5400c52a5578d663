# Two commands for a fresh machine: `make dev` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Test processes in parallel (the suite mostly waits on subprocesses); 0 runs it in one.
TEST_WORKERS ?= 3

.PHONY: dev test lint bench clean

dev: $(STAMP)  ## run the server on the embedded default (SQLite in the app-data dir)
	$(BIN)/python server.py

test: $(STAMP)  ## install what the tests need and run the whole suite
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist worksteal $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy trace_sync

bench: $(STAMP)
	$(BIN)/python bench/store.py
	$(BIN)/python bench/fanout.py
	$(BIN)/python bench/terminal.py

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Trace needs Python 3.11 or newer: set PYTHON=python3.11")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

clean:
	rm -rf $(VENV) .cache .pytest_cache .mypy_cache .ruff_cache
