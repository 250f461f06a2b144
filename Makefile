# The two commands that matter: `make run` and `make test`. Both do all the set-up first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY_STAMP := $(VENV)/.installed

.PHONY: setup run test check fmt bench clean

$(PY_STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(PY_STAMP)

NODE_STAMP := node_modules/.installed

# anvil, solc and the official Uniswap / Aave artifacts, all from the npm registry (pinned by the lock).
$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $(NODE_STAMP)

setup: $(PY_STAMP) $(NODE_STAMP)

run: setup
	$(BIN)/arbdesk run

test: setup
	$(BIN)/python -m pytest -q -p no:cacheprovider

check: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

fmt: setup
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: setup
	$(BIN)/pip install -q -e '.[bench]'
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
