# `make example` builds the bundled example app; `make test` runs the checks of `make lint`
# (ruff, mypy, import-linter, tools/check_layout.py), then the tests.
# Both create .venv (Python 3.10+) with flashbuild and its test tools on first use.
# `make test-unit` runs only tests/unit (seconds: no uv, no CLI, no pipeline builds);
# `make test-offline` skips the tests that need PyPI.
# `make bench` times builds of the fixture apps (BENCH_ARGS='--with-reference' adds the old tool)
# and the scan of a synthetic 2,000-file project against CPython's parser;
# `make bench BENCH=remote` runs the remote cache's simulation instead (8 runners, one
# bucket on a local S3 server; BENCH_ARGS='--runners 4 --json figures.json').

PYTHON ?= python3
VENV ?= .venv
# Install from PyPI, whatever a machine-wide pip.conf says (set PIP_INDEX to use a mirror).
PIP_INDEX ?= https://pypi.org/simple
PIP := PIP_CONFIG_FILE=/dev/null $(VENV)/bin/python -m pip
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: example lint test test-offline test-unit clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --index-url $(PIP_INDEX) --upgrade pip
	$(PIP) install --quiet --index-url $(PIP_INDEX) -e '.[test]'
	touch $(STAMP)

example: $(STAMP)
	$(BIN)/flash build fixtures/example-app

lint: $(STAMP)
	$(BIN)/ruff check flashbuild tests tools
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache
	$(BIN)/python tools/check_layout.py

test: lint
	$(BIN)/python -m pytest

test-offline: $(STAMP)
	$(BIN)/python -m pytest -m 'not network'

test-unit: $(STAMP)
	$(BIN)/python -m pytest tests/unit

.PHONY: bench
bench: $(STAMP)
ifeq ($(BENCH),remote)
	$(BIN)/python tools/bench_remote.py $(BENCH_ARGS)
else
	$(BIN)/python tools/benchmark.py $(BENCH_ARGS)
	$(BIN)/python tools/scan_benchmark.py
endif

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis .mypy_cache .ruff_cache .import_linter_cache \
		fixtures/*/.flash fixtures/*/*/.flash
