# Two commands for a fresh machine: `make dev` and `make test`; `make check` is the inner loop.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Test processes in parallel (the suite mostly waits on subprocesses); 0 runs it in one.
TEST_WORKERS ?= 3

.PHONY: dev check test lint bench image web-terminal clean

dev: $(STAMP)  ## run the server on the embedded default (SQLite in the app-data dir)
	$(BIN)/python server.py

# The unit and service tiers, on the fakes: no test that starts servers, bridges or
# tools as subprocesses, nor a browser (the markers are set in tests/conftest.py).
check: $(STAMP)  ## the fast tiers, for every change
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist worksteal -m "not process and not browser" $(PYTEST_ARGS)

test: $(STAMP)  ## install what the tests need and run the whole suite
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist worksteal $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy trace_sync trace_app

bench: $(STAMP)
	$(BIN)/python bench/store.py
	$(BIN)/python bench/fanout.py
	$(BIN)/python bench/cluster_fanout.py
	$(BIN)/python bench/cluster_soak.py
	$(BIN)/python bench/reconnect_storm.py
	$(BIN)/python bench/terminal.py
	$(BIN)/python bench/cli_startup.py
	$(BIN)/python bench/web_load.py

# The docker host's image, built from the Debian archive (no registry needed; skipped
# when its inputs are unchanged). BASE=python:3.11-slim builds on the official image.
image: $(STAMP)  ## the bridge image (deploy/bridge/build.py) and the cluster's services (deploy/cluster/build.py)
	nice -n 5 $(BIN)/python -m deploy.bridge.build $(if $(BASE),--base $(BASE))
	nice -n 5 $(BIN)/python -m deploy.cluster.build

# The web app's terminal (xterm.js and a Yjs replica), built from trace_app/web_terminal
# into trace_app/assets/terminal.js, which is committed: serving the app needs no Node.
web-terminal:  ## rebuild the web terminal's script after changing its source or packages
	cd trace_app/web_terminal && npm ci --no-audit --no-fund && npm run build

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Trace needs Python 3.11 or newer: set PYTHON=python3.11")'
	@echo "Setting up $(VENV) (first time: about a minute; pip shows each package)"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --progress-bar on -e '.[test]'
	touch $(STAMP)

clean:
	rm -rf $(VENV) .cache .pytest_cache .mypy_cache .ruff_cache
