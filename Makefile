# `make example` builds the bundled example app; `make test` runs the tests.
# Both create .venv (Python 3.10+) with flashbuild and its test tools on first use.
# `make bench` times builds of the fixture apps (BENCH_ARGS='--with-reference' adds the old tool).

PYTHON ?= python3
VENV ?= .venv
# Install from PyPI, whatever a machine-wide pip.conf says (set PIP_INDEX to use a mirror).
PIP_INDEX ?= https://pypi.org/simple
PIP := PIP_CONFIG_FILE=/dev/null $(VENV)/bin/python -m pip
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: example test test-offline clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --index-url $(PIP_INDEX) --upgrade pip
	$(PIP) install --quiet --index-url $(PIP_INDEX) -e '.[test]'
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
