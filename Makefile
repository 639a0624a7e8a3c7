# Everything a new machine needs goes through these targets; .ci/run calls `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
DATA   ?= ./var

.PHONY: demo serve test test-lowest lint typecheck venv test-deps clean bench bench-csv bench-peer \
	bench-postgresql bench-instructions bench-cpu bench-commit bench-stalls

# Install, create ./var with the demo plant, print a key and curl lines, serve on :8080.
demo: $(BIN)/reliatic
	$(BIN)/reliatic --data-dir $(DATA) demo
	exec $(BIN)/reliatic --data-dir $(DATA) serve

serve: $(BIN)/reliatic
	exec $(BIN)/reliatic --data-dir $(DATA) serve

# The storage backends the suite runs on (issue 15): `make test BACKEND=postgresql` runs it on
# one backend alone; plain `make test` runs SQLite, then the PostgreSQL leg.
BACKEND ?=
# What the PostgreSQL leg of plain `make test` runs: `all` (the whole suite, SPEC §11), empty
# (no leg: `make test PG_LEG=`), or a list of test files. The pytest option is
# tests/pg_cluster.py's --backend; every tests/test_pg_*.py is PostgreSQL-only.
PG_LEG ?= all

# Install the project with its test dependencies, then lint, type-check and run every test;
# last, the same code against the lowest dependency versions pyproject.toml allows.
test: test-deps
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
ifneq ($(BACKEND),)
	$(BIN)/python -m pytest -q --backend=$(BACKEND)
else
	$(BIN)/python -m pytest -q --backend=sqlite
ifeq ($(strip $(PG_LEG)),)
	@echo "make test: the PostgreSQL leg is off (PG_LEG is empty): run make test BACKEND=postgresql"
else ifeq ($(strip $(PG_LEG)),all)
	$(BIN)/python -m pytest -q --backend=postgresql
else
	$(BIN)/python -m pytest -q --backend=postgresql $(PG_LEG)
endif
endif
	$(MAKE) test-lowest

# A venv of its own (.venv-lowest) with every dependency floor installed exactly: imports and
# a smoke subset of the tests, so a floor in pyproject.toml is true, not just declared.
test-lowest:
	PYTHON=$(PYTHON) scripts/lowest-deps.sh

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

# The browser tests drive Debian's chromium (browsers cannot be downloaded here): installed
# with apt-get when run as root; otherwise they skip loudly, or fail under
# REQUIRE_BROWSER_TESTS=1 (.ci/run), since CI never skips.
test-deps: $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@if [ -x /usr/bin/chromium ]; then :; \
	elif [ "$$(id -u)" = 0 ]; then \
	  apt-get install -y -qq chromium >/dev/null 2>&1 \
	  || (apt-get update -qq && apt-get install -y -qq chromium >/dev/null) \
	  || echo "test-deps: COULD NOT INSTALL chromium with apt-get: the browser tests will skip (fail under REQUIRE_BROWSER_TESTS=1)"; \
	else echo "test-deps: chromium is missing and this is not root: the browser tests will skip (fail under REQUIRE_BROWSER_TESTS=1)"; fi
# PostgreSQL 15 from Debian's packages for the PostgreSQL leg (tests/pg_cluster.py starts a
# throwaway cluster from its binaries; the cluster the package may create is not used).
	@if [ -x /usr/lib/postgresql/15/bin/initdb ]; then :; \
	elif [ "$$(id -u)" = 0 ]; then \
	  apt-get install -y -qq postgresql-15 >/dev/null 2>&1 \
	  || (apt-get update -qq && apt-get install -y -qq postgresql-15 >/dev/null) \
	  || echo "test-deps: COULD NOT INSTALL postgresql-15 with apt-get: the PostgreSQL tests will skip (fail under REQUIRE_POSTGRESQL=1)"; \
	else echo "test-deps: postgresql-15 is missing and this is not root: the PostgreSQL tests will skip (fail under REQUIRE_POSTGRESQL=1)"; fi

# Build a 100k-asset dataset, load the real server and two baselines from the other core,
# then ours, the same-work peer (bench/peer.py) and the aiohttp hello interleaved (issue 16),
# print the table and write bench/results/latest.md (issue 7; about 8 minutes). wrk comes
# from Debian's packages; without it the load comes from bench/loadgen.py.
BENCH_EXTRAS ?= bench
bench: $(BIN)/python
	command -v wrk >/dev/null || apt-get install -y -qq wrk >/dev/null \
	  || (apt-get update -qq && apt-get install -y -qq wrk >/dev/null) \
	  || echo "wrk could not be installed: load from bench/loadgen.py instead"
	$(BIN)/python -m pip install --quiet -e '.[$(BENCH_EXTRAS)]'
	$(BIN)/python bench/run.py $(BENCH_ARGS)

# Only the same-work peer rows (issue 16; about 3 minutes): bench/results/peer.md.
bench-peer: bench
bench-peer: BENCH_ARGS = --only peer

# The same dataset and workloads on the PostgreSQL backend, and POST through one node against
# two (issue 15): a throwaway PostgreSQL 15 cluster with fsync on, from Debian's postgresql-15
# (`make test-deps` installs it as root); bench/results/latest-postgresql.md.
bench-postgresql: bench
bench-postgresql: BENCH_ARGS = --backend postgresql
# tests/pg_cluster.py (the cluster it starts) imports pytest.
bench-postgresql: BENCH_EXTRAS = bench,test

# Instructions per request (valgrind), ours against the same-work peer and the aiohttp hello:
# the figure a noisy machine cannot move, for steering between two variants of the code
# (about 8 minutes). DATA_DIR=... reuses a data dir kept by `bench/run.py --keep`.
bench-instructions: $(BIN)/python
	command -v valgrind >/dev/null || apt-get install -y -qq valgrind >/dev/null \
	  || (apt-get update -qq && apt-get install -y -qq valgrind >/dev/null)
	$(BIN)/python -m pip install --quiet -e '.[$(BENCH_EXTRAS)]'
	$(BIN)/python bench/instructions.py $(if $(DATA_DIR),--data $(DATA_DIR)) $(INSTRUCTIONS_ARGS)

# Server CPU and page faults per request, per thread, mix against its parts (~3 min): cpu.md.
bench-cpu: $(BIN)/python
	command -v wrk >/dev/null || apt-get install -y -qq wrk >/dev/null \
	  || (apt-get update -qq && apt-get install -y -qq wrk >/dev/null) \
	  || echo "wrk could not be installed: load from bench/loadgen.py instead"
	$(BIN)/python -m pip install --quiet -e '.[$(BENCH_EXTRAS)]'
	$(BIN)/python bench/cpu_per_request.py $(if $(DATA_DIR),--data $(DATA_DIR)) $(CPU_ARGS)

# The slowest requests under a long load, and when in it they came (~4 min): write-stalls.md.
bench-stalls: $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[$(BENCH_EXTRAS)]'
	$(BIN)/python bench/write_stalls.py $(if $(DATA_DIR),--data $(DATA_DIR)) $(STALLS_ARGS)

# CPU per asset written, the search index merged in the write or by housekeeping (migration
# 0010; about 2 minutes). DATA_DIR=... reuses a data dir kept by `bench/run.py --keep`.
bench-commit: $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[$(BENCH_EXTRAS)]'
	$(BIN)/python bench/commit_cost.py $(if $(DATA_DIR),--data $(DATA_DIR)) $(COMMIT_ARGS)

# CSV import and export of 10k and 100k assets, rows per second (issue 14; about 2 minutes).
bench-csv: $(BIN)/reliatic
	$(BIN)/python bench/csv_import.py

clean:
	rm -rf $(VENV) .venv-lowest build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache
