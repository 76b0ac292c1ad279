"""Spark vs DuckDB parity: the same demo cohort built by both engines gives the same marts.

    python -m ctd_rtp.compare_engines --duckdb PATH --spark-dir DIR

Reads the marts below from the DuckDB file and from the Spark catalog (SparkReader), sorts
both by the mart's key and compares row for row: numbers within 1e-9 (absolute or relative),
dates, strings and booleans exactly, nulls in the same places. Exit status 1 on a difference.
Run by `make test-spark`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import sys
from decimal import Decimal
from pathlib import Path

import pandas as pd

from .warehouse import DuckDBReader, Reader, SparkReader

# mart -> its key (the sort order for the comparison)
MARTS = {
    "rpt_response_rates": ["visit"],
    "fct_platelet_response": ["patient_id", "visit"],
    "fct_lab_changes": ["patient_id", "analyte", "visit"],
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
            number = float(value)
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
        return abs(a - b) <= TOLERANCE * max(1.0, abs(a), abs(b))
    return a == b


def compare_frames(name: str, key: list[str], left: pd.DataFrame, right: pd.DataFrame) -> list[str]:
    """Differences between two versions of a mart (empty list = equal)."""
    problems: list[str] = []
    # when a row was loaded differs between any two builds by design
    left, right = (frame.drop(columns=[c for c in VOLATILE_COLUMNS if c in frame.columns]) for frame in (left, right))
    if sorted(left.columns) != sorted(right.columns):
        return [f"{name}: columns differ: only DuckDB {sorted(set(left.columns) - set(right.columns))}, "
                f"only Spark {sorted(set(right.columns) - set(left.columns))}"]
    if len(left) != len(right):
        return [f"{name}: {len(left)} rows in DuckDB, {len(right)} in Spark"]
    columns = list(left.columns)
    rows_l = sorted(([_normal(v) for v in row] for row in left[columns].itertuples(index=False)),
                    key=lambda r: tuple(str(r[columns.index(k)]) for k in key))
    rows_r = sorted(([_normal(v) for v in row] for row in right[columns].itertuples(index=False)),
                    key=lambda r: tuple(str(r[columns.index(k)]) for k in key))
    for row_l, row_r in zip(rows_l, rows_r):
        for column, a, b in zip(columns, row_l, row_r):
            if not _same(a, b):
                where = ", ".join(f"{k}={row_l[columns.index(k)]}" for k in key)
                problems.append(f"{name} [{where}] {column}: DuckDB {a!r} != Spark {b!r}")
                if len(problems) >= 20:
                    return problems
    return problems


def compare(duck: Reader, spark: Reader) -> tuple[dict[str, int], list[str]]:
    counts, problems = {}, []
    for name, key in MARTS.items():
        left, right = duck.read_mart(name), spark.read_mart(name)
        counts[name] = len(left)
        problems += compare_frames(name, key, left, right)
    return counts, problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duckdb", required=True, type=Path, help="DuckDB warehouse built from the same input")
    parser.add_argument("--spark-dir", required=True, type=Path, help="CTD_RTP_SPARK_DIR of the Spark build")
    args = parser.parse_args(argv)
    counts, problems = compare(DuckDBReader(args.duckdb), SparkReader(args.spark_dir))
    if problems:
        print("marts differ between Spark and DuckDB:", file=sys.stderr)
        for problem in problems:
            print("  " + problem, file=sys.stderr)
        return 1
    print("marts match DuckDB: " + ", ".join(f"{name} {n} rows" for name, n in counts.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
