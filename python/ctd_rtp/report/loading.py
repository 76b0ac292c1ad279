"""Reading the warehouse for the report, and the provenance around it (the report's input I/O)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Sequence
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from ..analysis import marts_fingerprint
from ..validation import REFERENCE_TABLES, VALIDATED_TABLES, ValidationSummary
from ..warehouse import Reader, Settings, SparkReader, WarehouseMissing, reader_for
from .context import LAB_VALUES, RunInfo

PACKAGES = ("dbt-core", "dbt-duckdb", "duckdb", "pandas", "scipy", "great_expectations", "jinja2")
SPARK_PACKAGES = ("dbt-core", "dbt-spark", "pyspark", "pandas", "scipy", "great_expectations", "jinja2")
# Long tables are read with only the columns the report uses (they grow with patients x analytes),
# with text as categoricals (DuckDB reads them through Arrow): ids, analytes and visits repeat, and
# GX hashes and checks them faster so.
QUERIES = {  # table -> (columns, filter); the same SQL on DuckDB and Spark
    "marts.fct_lab_changes": (("patient_id", "analyte", "visit", "baseline_value", "value"), None),
    # the response analyte's counts (the filter names it: see read_tables)
    LAB_VALUES: (
        ("patient_id", "analyte", "study_day", "value"),
        "analyte = {response_analyte} and study_day is not null",
    ),
}
# Rows in key order (sorted by the engine, ascending, nulls last), whatever order the tables are
# stored in (Spark keeps no insertion order; figures and tables list rows in frame order).
# Reference and analysis tables keep their table order: the seed's order is the display order,
# and `stats` writes its rows in reading order. marts.fct_lab_changes (60 rows a patient) is read
# unsorted: sorting it took 1.5 of the 2 s of reading it at 100,000 patients, and the report
# only validates it (in any order) and draws the paired panels, whose few rows build_figures
# sorts by patient.
ROW_ORDER = {
    "marts.dim_patients": ("patient_id",),
    "marts.fct_visits": ("patient_id", "visit_order"),
    "marts.fct_platelet_response": ("patient_id", "visit_order"),
    "marts.fct_patient_response_summary": ("patient_id",),
    "marts.rpt_response_rates": ("visit_order",),
    "marts.fct_adverse_events": ("ae_id",),
    "marts.fct_drug_exposure": ("exposure_id",),
    "marts.fct_trough_levels": ("patient_id", "study_day", "result_id"),
    "marts.fct_platelet_count_response": ("patient_id", "study_day", "result_id"),
    "marts.fct_time_to_event": ("patient_id", "paramcd"),
    "marts.fct_patient_follow_up": ("patient_id",),
    "marts.fct_concomitant_drugs": ("exposure_id",),
    "marts.rpt_patient_flow": ("step_order", "step", "visit", "reason"),
    "marts.rpt_missing_data": ("analyte", "visit_order"),
    "marts.rpt_adverse_events_by_term": ("term_order",),
    "quarantine.quarantined_fields": ("source_table", "row_key", "field_name", "occurrence"),
    "quarantine.quarantined_rows": ("source_table", "row_key", "rejection_reason", "occurrence"),
    LAB_VALUES: ("patient_id", "analyte", "study_day", "value"),
}


def read_tables(current: Reader, names: Sequence[str]) -> dict[str, pd.DataFrame]:
    """Tables keyed "schema.table", as the report reads them (columns, filters and row order of
    QUERIES and ROW_ORDER), from one snapshot of a reader."""
    frames: dict[str, pd.DataFrame] = {}
    for name in names:
        schema, table = name.split(".")
        columns, where = QUERIES.get(name, (None, None))
        if where and "{response_analyte}" in where:  # the study in force, read before (REFERENCE_TABLES)
            analyte = str(frames["marts.dim_study"]["response_analyte"].iloc[0]).replace("'", "''")
            where = where.format(response_analyte=f"'{analyte}'")
        try:
            frames[name] = current.read_mart(
                table, schema, columns=columns, where=where, categorical=name in QUERIES, order_by=ROW_ORDER.get(name)
            )
        except (WarehouseMissing, duckdb.CatalogException) as exc:
            step = "stats" if schema == "analysis" else "build"
            raise WarehouseMissing(f"table {name} does not exist: run `ctd-rtp {step}` first") from exc
    return frames


def load_warehouse(settings: Settings, reader: Reader | None = None) -> tuple[dict[str, pd.DataFrame], str]:
    """Every table the report needs and the current marts fingerprint, through a Reader (default:
    the engine settings.engine names; DuckDB reads everything through one read-only connection)."""
    with (reader or reader_for(settings)).snapshot() as current:
        frames = read_tables(current, (*VALIDATED_TABLES, *REFERENCE_TABLES, LAB_VALUES))
        fingerprint = marts_fingerprint(current)
        record = read_build_record(current)  # the same snapshot as the tables
    if record is not None:
        frames[BUILD_RECORD] = record
    return frames, fingerprint


def _git_revision(project_dir: Path) -> str:
    try:
        proc = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=project_dir,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return proc.stdout.strip() if proc.returncode == 0 and proc.stdout.strip() else "unknown"


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


#: The record of the dbt run that built the warehouse, kept in it (macros/build_record.sql): the
#: report's build time and dbt test counts (DuckDB; Spark builds in place and keeps none).
BUILD_RECORD = "meta.dbt_run_results"


def read_build_record(current: Reader) -> pd.DataFrame | None:
    """The warehouse's record of the dbt run that built it (None: a Spark warehouse, or one
    built before the record was kept)."""
    if isinstance(current, SparkReader):
        return None
    schema, table = BUILD_RECORD.split(".")
    try:
        return current.read_mart(table, schema)
    except (WarehouseMissing, duckdb.CatalogException):
        return None


def _run_results_file(settings: Settings) -> dict[str, Any] | None:
    path = (settings.dbt_target_path or settings.project_dir / "target") / "run_results.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def record_as_run_results(record: pd.DataFrame) -> dict[str, Any] | None:
    """The build record in the shape of dbt's run_results.json, as far as the report reads it."""
    if record.empty:
        return None
    first = record.iloc[0]
    try:
        dbt_vars = json.loads(str(first["vars_json"]))
    except ValueError:
        dbt_vars = {"(unreadable)": str(first["vars_json"])}
    return {
        "metadata": {"generated_at": str(first["generated_at"]), "invocation_id": str(first["invocation_id"])},
        "args": {"which": str(first["command"]), "vars": dbt_vars},
        "results": [
            {"unique_id": r.unique_id, "status": r.status, "failures": None if pd.isna(r.failures) else int(r.failures)}
            for r in record.itertuples(index=False)
        ],
    }


def collect_run_info(
    settings: Settings,
    now: datetime,
    fingerprint: str,
    validation: ValidationSummary | None,
    reader: Reader | None = None,
    build_record: pd.DataFrame | None = None,
) -> RunInfo:
    """Provenance. On DuckDB the dbt run is the warehouse's own record of the run that built it
    (``build_record``, read by load_warehouse with the tables): target/run_results.json is the
    last dbt run, which may be a build that was refused and never published. On Spark, which
    builds in place, it is run_results.json."""
    spark = isinstance(reader, SparkReader)
    if spark:
        run_results, source = _run_results_file(settings), "dbt run_results.json"
        missing = "no run_results.json found"
    else:
        run_results = None if build_record is None else record_as_run_results(build_record)
        source = f"{BUILD_RECORD}, the warehouse's record of its build"
        missing = (
            f"the warehouse holds no record of its dbt build, {BUILD_RECORD}: it was built before the record"
            " was kept, or by a dbt that did not run the project's on-run-end hook; build it again"
        )
    # DuckDB: the file; Spark: the folder of the marts' Parquet tables
    built = Path(reader.spark_dir) / "warehouse" / "marts.db" if isinstance(reader, SparkReader) else settings.db_path
    location = reader.location if reader is not None else str(settings.db_path)
    mtime = (
        datetime.fromtimestamp(built.stat().st_mtime, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        if built.exists()
        else "unknown"
    )
    generated = (run_results or {}).get("metadata", {}).get("generated_at")
    build = f"{generated} ({source}); file modified {mtime}" if generated else f"{mtime} (file modified)"
    versions = {n: _version(n) for n in (SPARK_PACKAGES if spark else PACKAGES)}
    return RunInfo(
        generated_at=now,
        data_fingerprint=fingerprint,
        build_time=build,
        git_revision=_git_revision(settings.project_dir),
        versions=versions,
        run_results=run_results,
        run_results_source=source,
        run_results_missing=missing,
        validation=validation,
        db_path=location,
    )
