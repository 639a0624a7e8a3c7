# Everything a new machine needs goes through these targets; .ci/run calls `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
DATA   ?= ./var

.PHONY: demo serve test lint typecheck venv test-deps clean

# Install, create ./var with the demo plant, print a key and curl lines, serve on :8080.
demo: $(BIN)/reliatic
	$(BIN)/reliatic --data-dir $(DATA) demo
	exec $(BIN)/reliatic --data-dir $(DATA) serve

serve: $(BIN)/reliatic
	exec $(BIN)/reliatic --data-dir $(DATA) serve

# Install the project with its test dependencies, then lint, type-check and run every test.
test: test-deps
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/python -m pytest -q

lint: test-deps
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

typecheck: test-deps
	$(BIN)/mypy

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(BIN)/reliatic: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e .
	touch $@

venv: $(BIN)/reliatic

test-deps: $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache
