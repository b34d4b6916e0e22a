# `make example` builds the bundled example app; `make test` runs the tests.
# Both create .venv (Python 3.10+) with flashbuild and its test tools on first use.
# `make bench` times builds of the fixture apps (BENCH_ARGS='--with-reference' adds the old tool).

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: example test test-offline clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

example: $(STAMP)
	$(BIN)/flash build fixtures/example-app

test: $(STAMP)
	$(BIN)/python -m pytest

test-offline: $(STAMP)
	$(BIN)/python -m pytest -m 'not network'

.PHONY: bench
bench: $(STAMP)
	$(BIN)/python -m tests.benchmark $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis fixtures/*/.flash
