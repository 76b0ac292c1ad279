"""Spark vs DuckDB parity: the same demo cohort built by both engines gives the same marts.

    python -m benchmark.compare_engines --duckdb PATH --spark-dir DIR [--all | --staging] [--label TEXT]
    python -m benchmark.compare_engines to-parquet CSV_DIR PARQUET_DIR
    python -m benchmark.compare_engines reports --duckdb PATH --spark-dir DIR DUCKDB_HTML SPARK_HTML

Reads the marts below (with --all: every mart and the quarantine) from the DuckDB file and from the
Spark catalog (SparkReader), sorts both by the mart's key and compares row for row: numbers within 1e-9 (absolute or relative),
dates, strings and booleans exactly, nulls in the same places. Exit status 1 on a difference.
Run by `make test-spark`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import re
import sys
from decimal import Decimal
from pathlib import Path
from typing import SupportsFloat, cast

import numpy as np
import pandas as pd

from ctd_rtp.warehouse import DuckDBReader, Reader, SparkReader

# mart -> its key (the sort order for the comparison)
MARTS = {
    "rpt_response_rates": ["visit"],
    "fct_platelet_response": ["patient_id", "visit"],
    "fct_lab_changes": ["patient_id", "analyte", "visit"],
    "fct_time_to_event": ["patient_id", "paramcd"],
    "fct_patient_follow_up": ["patient_id"],
    "rpt_adverse_events_by_term": ["row_type", "term"],
}
# --all: every mart and the quarantine (used for the small own-data cohort)
ALL_TABLES = {
    **MARTS,
    "dim_patients": ["patient_id"],
    "fct_visits": ["patient_id", "visit"],
    "fct_patient_response_summary": ["patient_id"],
    "fct_adverse_events": ["ae_id"],
    "fct_drug_exposure": ["exposure_id"],
    "fct_lab_results": ["result_id"],
    "fct_platelet_count_response": ["result_id"],
    "fct_concomitant_drugs": ["exposure_id"],
    "rpt_patient_flow": ["step", "visit", "reason"],
    "rpt_missing_data": ["analyte", "visit"],
    "dim_study": ["study_short_name"],
    "dim_visit_schedule": ["visit"],
    "fct_patient_subgroups": ["patient_id", "subgroup"],
    "quarantine.quarantined_rows": ["source_table", "row_key", "rejection_reason", "occurrence"],
    "quarantine.delivery_summary": ["source_table"],
}
# --staging: the staging models (the raw files as typed by staging), for a raw-file format check
STAGING_TABLES = {
    "staging.stg_patients": ["patient_id"],
    "staging.stg_drug_exposures": ["exposure_id"],
    "staging.stg_lab_results": ["result_id"],
    "staging.stg_visit_assessments": ["patient_id", "assessed_on"],
    "staging.stg_adverse_events": ["ae_id"],
}
TOLERANCE = 1e-9


VOLATILE_COLUMNS = ("load_batch",)


def _normal(value: object) -> object:
    """One spelling per value: missing -> None, numbers -> float, dates -> date."""
    if value is None or value is pd.NaT or value is pd.NA:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float, Decimal)) or hasattr(value, "dtype"):
        try:
            # numpy and pandas scalars (with a dtype) are not typed as numbers; a failing float() is caught
            number = float(cast(SupportsFloat, value))
        except (TypeError, ValueError):
            return value
        return None if math.isnan(number) else number
    if isinstance(value, pd.Timestamp):
        return value.date()
    if isinstance(value, dt.datetime):
        return value.date()
    return value


def _same(a: object, b: object) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b or a == b
    if isinstance(a, float) and isinstance(b, float):
        if math.isinf(a) or math.isinf(b):
            return a == b
        return abs(a - b) <= TOLERANCE * max(1.0, abs(a), abs(b))
    return a == b


def compare_frames(name: str, key: list[str], left: pd.DataFrame, right: pd.DataFrame) -> list[str]:
    """Differences between two versions of a mart (empty list = equal)."""
    problems: list[str] = []
    # when a row was loaded differs between any two builds by design
    left, right = (frame.drop(columns=[c for c in VOLATILE_COLUMNS if c in frame.columns]) for frame in (left, right))
    if sorted(left.columns) != sorted(right.columns):
        return [
            f"{name}: columns differ: only DuckDB {sorted(set(left.columns) - set(right.columns))}, "
            f"only Spark {sorted(set(right.columns) - set(left.columns))}"
        ]
    if len(left) != len(right):
        return [f"{name}: {len(left)} rows in DuckDB, {len(right)} in Spark"]
    columns = list(left.columns)
    if _equal_by_columns(key, left[columns], right[columns]):
        return []
    rows_l = sorted(
        ([_normal(v) for v in row] for row in left[columns].itertuples(index=False)),
        key=lambda r: tuple(str(r[columns.index(k)]) for k in key),
    )
    rows_r = sorted(
        ([_normal(v) for v in row] for row in right[columns].itertuples(index=False)),
        key=lambda r: tuple(str(r[columns.index(k)]) for k in key),
    )
    for row_l, row_r in zip(rows_l, rows_r):
        for column, a, b in zip(columns, row_l, row_r):
            if not _same(a, b):
                where = ", ".join(f"{k}={row_l[columns.index(k)]}" for k in key)
                problems.append(f"{name} [{where}] {column}: DuckDB {a!r} != Spark {b!r}")
                if len(problems) >= 20:
                    return problems
    return problems


def _equal_by_columns(key: list[str], left: pd.DataFrame, right: pd.DataFrame) -> bool:
    """True only when the row-by-row comparison below would find no difference, decided a column
    at a time with numpy (seconds instead of minutes on millions of rows). False means "not
    shown equal here": the row-by-row comparison then decides and words the differences.
    Compared so: text keys, unique on both sides (rows paired by key); numbers as floats within
    TOLERANCE (infinities exactly, NaN/NULL only with NaN/NULL); text exactly; dates by day;
    booleans exactly. A column of any other kind (a mix of types, Decimal, objects) returns False."""
    if not key or not all(_text(left[k]) and _text(right[k]) for k in key):
        return False
    left = left.sort_values(key, ignore_index=True)
    right = right.sort_values(key, ignore_index=True)
    for k in key:
        if not (left[k].astype(object).to_numpy() == right[k].astype(object).to_numpy()).all():
            return False
    if left.duplicated(key).any():
        return False
    for column in left.columns:
        if column not in key:
            same = _same_values(left[column], right[column])
            if same is None or not bool(np.all(same)):
                return False
    return True


def _same_values(a: pd.Series, b: pd.Series) -> np.ndarray | None:
    """Row-wise `_same` of two aligned columns of one kind (see `_equal_by_columns`); None for any other kind."""
    if _numeric(a) and _numeric(b):
        x, y = a.to_numpy(dtype=float, na_value=np.nan), b.to_numpy(dtype=float, na_value=np.nan)
        with np.errstate(invalid="ignore"):
            close = np.abs(x - y) <= TOLERANCE * np.maximum(1.0, np.maximum(np.abs(x), np.abs(y)))
        return (np.isnan(x) & np.isnan(y)) | np.where(np.isfinite(x) & np.isfinite(y), close, x == y)
    both_null = (a.isna() & b.isna()).to_numpy()
    if _text(a) and _text(b):
        return both_null | (a.astype(object).to_numpy() == b.astype(object).to_numpy())
    if pd.api.types.is_datetime64_any_dtype(a) and pd.api.types.is_datetime64_any_dtype(b):
        return both_null | (a.dt.normalize() == b.dt.normalize()).to_numpy()
    if pd.api.types.is_bool_dtype(a) and pd.api.types.is_bool_dtype(b):
        return both_null | (a == b).fillna(False).to_numpy(dtype=bool)
    return None


def _numeric(column: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)


def _text(column: pd.Series) -> bool:
    """Only str values and nulls (any text dtype, or an object column holding only those)."""
    if pd.api.types.is_string_dtype(column.dtype) and not pd.api.types.is_object_dtype(column.dtype):
        return True
    return pd.api.types.is_object_dtype(column.dtype) and pd.api.types.infer_dtype(column, skipna=True) in (
        "string",
        "empty",
    )


def compare(duck: Reader, spark: Reader, tables: dict[str, list[str]] = MARTS) -> tuple[dict[str, int], list[str]]:
    """Each table (`mart` or `schema.table`) from both readers, compared row for row."""
    counts, problems = {}, []
    for name, key in tables.items():
        schema, _, table = name.rpartition(".")
        left, right = duck.read_mart(table, schema or "marts"), spark.read_mart(table, schema or "marts")
        counts[name] = len(left)
        problems += compare_frames(name, key, left, right)
    return counts, problems


# The statistics (schema analysis) without their provenance stamps, and the report sections whose
# text must be identical (provenance, data quality and methods name the engine, the run and the file).
ANALYSIS = {
    "response_rate_ci": ["visit"],
    "paired_tests": ["analyte", "comparison", "visit"],
    "friedman_tests": ["measure", "visits"],
    "subgroup_response": ["visit", "group_a", "group_b"],
    "time_to_event_km": ["paramcd"],
    "time_to_event_km_timepoints": ["paramcd", "day"],
    "time_to_event_km_curve": ["paramcd", "day"],
    "time_in_response": ["population"],
    "steroid_sparing": ["visit"],
    "report_results": ["table_id", "row_id", "column_id"],
}
STAMPS = ("data_fingerprint", "run_id", "computed_at")
REPORT_SECTIONS = (
    "participants",
    "baseline",
    "response",
    "immunology",
    "cytokines",
    "other-labs",
    "safety",
    "exposure",
    "listing",
)


def report_sections(html: str) -> dict[str, str]:
    """The HTML of each <section id=...> of a report."""
    return {m.group(1): m.group(0) for m in re.finditer(r'<section id="([^"]+)">.*?</section>', html, re.S)}


def compare_reports(duck: Reader, spark: Reader, duck_html: str, spark_html: str) -> tuple[dict[str, int], list[str]]:
    """Statistics computed from each engine's marts (within 1e-9) and the report sections built
    from them (identical text: response rates, CIs, p-values, tables and figures)."""
    counts, problems = {}, []
    for name, key in ANALYSIS.items():
        left, right = (r.read_mart(name, "analysis").drop(columns=list(STAMPS)) for r in (duck, spark))
        counts[f"analysis.{name}"] = len(left)
        problems += compare_frames(f"analysis.{name}", key, left, right)
    ours, theirs = report_sections(duck_html), report_sections(spark_html)
    for section in REPORT_SECTIONS:
        if section not in ours or section not in theirs:
            problems.append(
                f"report section {section!r} missing (DuckDB: {section in ours}, Spark: {section in theirs})"
            )
        elif ours[section] != theirs[section]:
            diff = next(i for i, (a, b) in enumerate(zip(ours[section] + "\0", theirs[section] + "\1")) if a != b)
            problems.append(
                f"report section {section!r} differs at character {diff}: DuckDB "
                f"{ours[section][max(0, diff - 60) : diff + 60]!r} != Spark {theirs[section][max(0, diff - 60) : diff + 60]!r}"
            )
        else:
            counts[f"section {section}"] = len(ours[section])
    return counts, problems


def csv_folder_to_parquet(source: Path, target: Path) -> list[Path]:
    """Each <table>.csv of a raw folder as <table>.parquet with the column types DuckDB detects
    (dates, numbers, booleans, text), as a user's own typed Parquet files would be."""
    import duckdb

    target.mkdir(parents=True, exist_ok=True)
    written = []
    with duckdb.connect() as con:
        for csv in sorted(Path(source).glob("*.csv")):
            out = target / f"{csv.stem}.parquet"
            con.execute(
                f"copy (select * from read_csv(?, header = true)) to '{_sql_text(out)}' (format parquet)", [str(csv)]
            )
            written.append(out)
    return written


def _sql_text(path: Path) -> str:
    return str(path).replace("'", "''")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["reports"]:
        parser = argparse.ArgumentParser(
            prog="python -m benchmark.compare_engines reports",
            description="statistics and report of the DuckDB and the Spark build",
        )
        parser.add_argument("--duckdb", required=True, type=Path)
        parser.add_argument("--spark-dir", required=True, type=Path)
        parser.add_argument("duckdb_html", type=Path)
        parser.add_argument("spark_html", type=Path)
        args = parser.parse_args(argv[1:])
        counts, problems = compare_reports(
            DuckDBReader(args.duckdb),
            SparkReader(args.spark_dir),
            args.duckdb_html.read_text(encoding="utf-8"),
            args.spark_html.read_text(encoding="utf-8"),
        )
        if problems:
            print("statistics or report differ between Spark and DuckDB:", file=sys.stderr)
            for problem in problems:
                print("  " + problem, file=sys.stderr)
            return 1
        rates = DuckDBReader(args.duckdb).read_mart("response_rate_ci", "analysis")
        orr = ", ".join(f"{r.visit} {r.n_responders}/{r.n_evaluable}" for r in rates.itertuples())
        print(
            f"statistics and report match DuckDB: {len(ANALYSIS)} analysis tables "
            f"({sum(n for k, n in counts.items() if k.startswith('analysis.'))} rows), ORR {orr}; "
            f"report sections {', '.join(REPORT_SECTIONS)} identical"
        )
        return 0
    if argv[:1] == ["to-parquet"]:
        if len(argv) != 3:
            print("usage: python -m benchmark.compare_engines to-parquet CSV_DIR PARQUET_DIR", file=sys.stderr)
            return 2
        written = csv_folder_to_parquet(Path(argv[1]), Path(argv[2]))
        print(f"{len(written)} Parquet files in {argv[2]}")
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duckdb", required=True, type=Path, help="DuckDB warehouse built from the same input")
    parser.add_argument("--spark-dir", required=True, type=Path, help="CTD_RTP_SPARK_DIR of the Spark build")
    parser.add_argument(
        "--all", action="store_true", help="every mart and the quarantine, not only the three main marts"
    )
    parser.add_argument("--label", default="", help="what was built (printed with the result)")
    parser.add_argument("--staging", action="store_true", help="the five staging tables instead of the marts")
    args = parser.parse_args(argv)
    tables = STAGING_TABLES if args.staging else ALL_TABLES if args.all else MARTS
    counts, problems = compare(DuckDBReader(args.duckdb), SparkReader(args.spark_dir), tables)
    label = f" ({args.label})" if args.label else ""
    if problems:
        print(f"tables differ between Spark and DuckDB{label}:", file=sys.stderr)
        for problem in problems:
            print("  " + problem, file=sys.stderr)
        return 1
    print(
        f"{'staging tables' if args.staging else 'marts'} match DuckDB{label}: "
        + ", ".join(f"{name} {n} rows" for name, n in counts.items())
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
