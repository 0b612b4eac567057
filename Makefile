# biometric-exchange: every target sets itself up from a fresh clone.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
FACE_RECOGNITION := face_recognition==1.3.0

.PHONY: all venv demo test lint typecheck unit protos bench clean

all: test

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24" "setuptools>=77,<81" wheel
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	$(BIN)/python -m pip install --quiet --no-deps "$(FACE_RECOGNITION)"
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/bx demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest tests/unit

# Two workers (the machine's two cores), each running whole test modules, so that a
# module's fixtures are set up once and its tests keep their order.
PYTEST_PARALLEL := -n 2 --dist loadfile

test: lint typecheck
	$(BIN)/pytest $(PYTEST_PARALLEL)

bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[bench]"
	env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE $(BIN)/python benchmarks/match.py --json bench-match.json
	$(BIN)/python benchmarks/load.py --watchlist 100000 --calls 3000 --holder-blas-threads 1

protos: $(STAMP)
	$(BIN)/python -m biometric_exchange.protos

clean:
	rm -rf $(VENV) .demo .pytest_cache .mypy_cache .ruff_cache
