# Two commands: `make run` (set up, build, statistics, report) and `make test` (set up, all tests).
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export DBT_SEND_ANONYMOUS_USAGE_STATS := false
export DO_NOT_TRACK := 1
export GX_ANALYTICS_ENABLED := false
export DBT_PROFILES_DIR := $(CURDIR)
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: setup run build stats report test lint docs demo-data clean lock chromium benchmark

setup: $(STAMP)

# The virtualenv is rebuilt only when the lock file or the package metadata changes.
$(STAMP): requirements.lock pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found (the project needs Python 3.11)"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $(STAMP)

run: setup
	$(BIN)/ctd-rtp run

build: setup
	$(BIN)/ctd-rtp build

stats: setup
	$(BIN)/ctd-rtp stats

report: setup
	$(BIN)/ctd-rtp report

docs: setup
	$(BIN)/dbt docs generate

demo-data: setup
	$(BIN)/ctd-rtp synth --out seeds/demo

lint: setup
	$(BIN)/sqlfluff lint models tests/singular analyses

test: setup chromium lint
	$(BIN)/python -m pytest -q

benchmark: setup
	$(BIN)/ctd-rtp benchmark --sizes $(or $(SIZES),1000,10000,100000)

lock:
	$(PYTHON) -m venv /tmp/ctd-rtp-lock && /tmp/ctd-rtp-lock/bin/pip install -q -r requirements.in && /tmp/ctd-rtp-lock/bin/pip freeze > requirements.lock

# Browser tests drive Debian's chromium; install it when missing (never `playwright install`).
chromium:
	@command -v chromium >/dev/null || { echo "installing Debian's chromium for the browser tests"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	  || { echo "error: could not install chromium (needed by tests/python/test_report_browser.py)"; exit 1; }; }

clean:
	rm -rf target logs warehouse.duckdb warehouse.duckdb.wal reports test-output
