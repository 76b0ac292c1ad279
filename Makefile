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

.PHONY: setup run build stats report test lint docs demo-data clean lock chromium benchmark setup-spark test-spark spark-report-parity

setup: $(STAMP)

# The virtualenv is rebuilt only when the lock file or the package metadata changes.
$(STAMP): requirements.lock pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found (the project needs Python 3.11)"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $(STAMP)

# Spark: a separate virtualenv (dbt-spark + pyspark), rebuilt when its lock file changes.
SPARK_VENV := .venv-spark
SPARK_BIN := $(SPARK_VENV)/bin
SPARK_STAMP := $(SPARK_VENV)/.installed
export CTD_RTP_SPARK_DIR ?= $(CURDIR)/spark
SPARK_PARITY := test-output/spark-parity

setup-spark: $(SPARK_STAMP)

$(SPARK_STAMP): requirements-spark.lock pyproject.toml
	@command -v java >/dev/null || { echo "error: java not found (Spark needs a JDK 17)"; exit 1; }
	test -x $(SPARK_BIN)/python || $(PYTHON) -m venv $(SPARK_VENV)
	$(SPARK_BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-spark.lock
	$(SPARK_BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $(SPARK_STAMP)

# The demo cohort on Spark (seeds, models, unit and data tests), then the same demo on DuckDB
# in a scratch file, then the marts of both compared row for row.
test-spark: setup setup-spark
	mkdir -p $(SPARK_PARITY) $(CTD_RTP_SPARK_DIR)
	env -u CTD_RTP_RAW_DIR DBT_TARGET_PATH=$(SPARK_PARITY)/target-spark DBT_LOG_PATH=$(SPARK_PARITY)/logs-spark \
	  $(SPARK_BIN)/dbt build --target spark
	rm -f $(SPARK_PARITY)/duckdb.duckdb
	env -u CTD_RTP_RAW_DIR CTD_RTP_DB=$(SPARK_PARITY)/duckdb.duckdb DBT_TARGET_PATH=$(SPARK_PARITY)/target-duckdb \
	  DBT_LOG_PATH=$(SPARK_PARITY)/logs-duckdb $(BIN)/dbt build --quiet
	$(SPARK_BIN)/python -m benchmark.compare_engines --duckdb $(SPARK_PARITY)/duckdb.duckdb --spark-dir $(CTD_RTP_SPARK_DIR)
	$(MAKE) --no-print-directory spark-report-parity
	rm -rf $(SPARK_PARITY)/own-parquet
	$(SPARK_BIN)/python -m benchmark.compare_engines to-parquet $(OWN_COHORT) $(SPARK_PARITY)/own-parquet
	$(call own_parity,csv,$(OWN_COHORT),,--all)
	$(call own_parity,parquet,$(CURDIR)/$(SPARK_PARITY)/own-parquet,--select staging,--staging)

# Statistics and HTML report from the demo marts of each engine (the Spark ones through
# CTD_RTP_ENGINE=spark, written to Spark's `analysis` schema), then the analysis tables (within
# 1e-9) and the report's result sections (identical text) compared. Needs the builds of test-spark.
spark-report-parity: setup setup-spark
	CTD_RTP_DB=$(SPARK_PARITY)/duckdb.duckdb DBT_TARGET_PATH=$(SPARK_PARITY)/target-duckdb $(BIN)/ctd-rtp stats
	rm -rf $(SPARK_PARITY)/report-duckdb $(SPARK_PARITY)/report-spark
	CTD_RTP_DB=$(SPARK_PARITY)/duckdb.duckdb DBT_TARGET_PATH=$(SPARK_PARITY)/target-duckdb \
	  $(BIN)/ctd-rtp report --out-dir $(SPARK_PARITY)/report-duckdb
	CTD_RTP_ENGINE=spark $(SPARK_BIN)/ctd-rtp stats
	CTD_RTP_ENGINE=spark DBT_TARGET_PATH=$(SPARK_PARITY)/target-spark \
	  $(SPARK_BIN)/ctd-rtp report --out-dir $(SPARK_PARITY)/report-spark
	$(SPARK_BIN)/python -m benchmark.compare_engines reports --duckdb $(SPARK_PARITY)/duckdb.duckdb \
	  --spark-dir $(CTD_RTP_SPARK_DIR) $(SPARK_PARITY)/report-duckdb/ctd_rtp_report_latest.html \
	  $(SPARK_PARITY)/report-spark/ctd_rtp_report_latest.html

# Own data (CTD_RTP_RAW_DIR): the hand-written 4-patient cohort. As CSV: Spark runs all models
# (`dbt run`; the reference seeds are those of the demo build above, the data tests ran there),
# DuckDB builds, and every mart and the quarantine are compared. As typed Parquet (converted by
# DuckDB): Spark runs the staging models only (the models after staging are the CSV run's) and
# the five staging tables are compared; about a minute instead of two.
OWN_COHORT := $(CURDIR)/tests/python/fixtures/own_cohort
define own_parity
	CTD_RTP_RAW_DIR=$(2) DBT_TARGET_PATH=$(SPARK_PARITY)/target-spark-own-$(1) DBT_LOG_PATH=$(SPARK_PARITY)/logs-spark-own-$(1) \
	  $(SPARK_BIN)/dbt run --quiet --target spark $(3)
	rm -f $(SPARK_PARITY)/own-$(1).duckdb
	CTD_RTP_RAW_DIR=$(2) CTD_RTP_DB=$(SPARK_PARITY)/own-$(1).duckdb DBT_TARGET_PATH=$(SPARK_PARITY)/target-duckdb-own-$(1) \
	  DBT_LOG_PATH=$(SPARK_PARITY)/logs-duckdb-own-$(1) $(BIN)/dbt build --quiet
	$(SPARK_BIN)/python -m benchmark.compare_engines $(4) --label "own cohort, $(1)" \
	  --duckdb $(SPARK_PARITY)/own-$(1).duckdb --spark-dir $(CTD_RTP_SPARK_DIR)
endef

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

# SQL: compiled against an empty scratch warehouse, so incremental models lint as their full-build SQL.
# Python: ruff (lint and format check) and mypy, configured in pyproject.toml.
lint: setup
	CTD_RTP_DB=$$(mktemp -u /tmp/ctd-rtp-lint-XXXXXX.duckdb) $(BIN)/sqlfluff lint models tests/singular analyses
	$(BIN)/ruff check python tests benchmark
	$(BIN)/ruff format --check python tests benchmark
	$(BIN)/mypy

test: setup chromium lint
	$(BIN)/python -m pytest -q -n 2 --dist loadfile

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
	rm -rf target logs warehouse.duckdb warehouse.duckdb.wal reports test-output spark
