# Two entry points, both self-contained on a fresh machine with Python 3.10+:
#   make demo   set up .venv and run one sync against the bundled sandbox
#   make test   set up .venv and run the whole test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test lint

$(BIN)/nexasync: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

demo: $(BIN)/nexasync
	$(BIN)/nexasync sync --once

test: $(BIN)/nexasync
	$(BIN)/ruff check src tests
	$(BIN)/python -m pytest -q

lint: $(BIN)/nexasync
	$(BIN)/ruff check src tests
