# biometric-exchange: every target sets itself up from a fresh clone.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Every extra: make demo and make test exercise faces, simulations,
# evaluation, the benchmark, the console and blind identify. A node alone needs none
# of them (a node under a blind agreement needs `blind`).
EXTRAS := dev,faces,sim,eval,bench,console,blind,postgres
CONSTRAINTS := constraints.txt
# face_recognition declares "dlib"; shims/dlib stands for it with dlib-bin.
FACES := ./shims/dlib face_recognition==1.3.0
INSTALLER := "pip>=24" "setuptools>=77,<81" wheel

.PHONY: all venv demo test lint typecheck unit pip-check lean-check browser-check postgres-check screenshots constraints protos bench clean

all: test

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml $(CONSTRAINTS) shims/dlib/pyproject.toml src/biometric_exchange/matching/_int8scores.c | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade -c $(CONSTRAINTS) $(INSTALLER)
	$(BIN)/python -m pip install --quiet -c $(CONSTRAINTS) $(FACES) -e ".[$(EXTRAS)]"
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/bx demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy

pip-check: $(STAMP)
	$(BIN)/python -m pip check

unit: $(STAMP)
	$(BIN)/pytest tests/unit

# Two workers (the machine's two cores), each running whole test modules, so that a
# module's fixtures are set up once and its tests keep their order.
PYTEST_PARALLEL := -n 2 --dist loadfile

# The whole integration suite runs a second time with every node's state on
# PostgreSQL (a throwaway cluster started by the tests); tests that read SQLite's
# own files are marked sqlite_files and left out there.
PG_TESTS := tests/integration

test: browser-check postgres-check lint typecheck pip-check lean-check
	$(BIN)/pytest $(PYTEST_PARALLEL)
	BX_TEST_STORE=postgresql $(BIN)/pytest $(PYTEST_PARALLEL) $(PG_TESTS)

# The console's browser tests drive Debian's Chromium (never a browser of Playwright's).
CHROMIUM ?= /usr/bin/chromium
browser-check:
	@test -x $(CHROMIUM) || { echo "make test: the console's browser tests need Chromium at $(CHROMIUM);" \
	  "install Debian's package: sudo apt-get install -y chromium (.ci/run does this)"; exit 1; }

# The PostgreSQL store's tests start a throwaway cluster from the server's binaries.
postgres-check:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || test -x "$$(pg_config --bindir 2>/dev/null)/initdb" || \
	  { echo "make test: the PostgreSQL store's tests need the server binaries (initdb, pg_ctl);" \
	  "install Debian's package: sudo apt-get install -y postgresql (.ci/run does this)"; exit 1; }

# The README's console screenshots, from the demo data, by the browser tests.
screenshots: $(STAMP) browser-check
	BX_SCREENSHOTS_DIR=docs/images $(BIN)/pytest -q tests/integration/test_console_browser.py

# A fresh venv with `pip install .` and no extra: the heavy stacks stay out,
# pip check passes, bx starts and a node serves (about 20 s with a warm pip
# cache).
lean-check:
	PYTHON=$(PYTHON) scripts/lean_check.sh

# Re-pin constraints.txt from a fresh install of every extra at the newest
# versions pyproject.toml allows (the project and the dlib stand-in left out).
constraints:
	set -e; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	$(PYTHON) -m venv "$$tmp/venv"; \
	"$$tmp/venv/bin/python" -m pip install --quiet --upgrade $(INSTALLER); \
	"$$tmp/venv/bin/python" -m pip install --quiet $(FACES) ".[$(EXTRAS)]"; \
	"$$tmp/venv/bin/python" -m pip check; \
	{ echo "# Exact versions of the full install (make venv); regenerate with make constraints."; \
	  "$$tmp/venv/bin/python" -m pip freeze --all --exclude pip \
	    --exclude biometric-exchange --exclude dlib; } > "$$tmp/constraints.txt"; \
	mv "$$tmp/constraints.txt" $(CONSTRAINTS)

bench: $(STAMP)
	env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE $(BIN)/python benchmarks/match.py --json bench-match.json
	$(BIN)/python benchmarks/load.py --watchlist 100000 --calls 3000 --holder-blas-threads 1

protos: $(STAMP)
	$(BIN)/python -m biometric_exchange.protos

clean:
	rm -rf $(VENV) .demo .pytest_cache .mypy_cache .ruff_cache shims/dlib/build shims/dlib/*.egg-info
