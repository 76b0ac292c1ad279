"""The benchmark's references of the core job and the check that they compute the marts.

    python -m benchmark.references --warehouse DB REFERENCE_OUT_DIR [...]

A reference (benchmark/reference_sql.py, benchmark/reference_pandas.py) writes three Parquet
files. Each is compared with its mart, sorted by key, row for row: numbers within 1e-9
(benchmark.compare_engines.compare_frames), strings and nulls exactly, the same rows.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import duckdb
import pandas as pd

from benchmark.compare_engines import compare_frames
from ctd_rtp.warehouse import frame

PROJECT_DIR = Path(__file__).resolve().parents[1]
WINDOW_COLUMNS = ["visit", "visit_order", "target_day", "window_start_day", "window_end_day"]


def visit_windows(project_dir: Path = PROJECT_DIR) -> pd.DataFrame:
    """The default study's visit schedule (dbt_project.yml, var visit_schedule), as the references read it."""
    import yaml

    project = yaml.safe_load((project_dir / "dbt_project.yml").read_text(encoding="utf-8"))
    return pd.DataFrame(project["vars"]["visit_schedule"])[WINDOW_COLUMNS]


# reference file -> (mart, key, the mart's columns the reference computes)
OUTPUTS = {
    "platelet_response": (
        "fct_platelet_response",
        ["patient_id", "visit"],
        ["patient_id", "visit", "study_day", "platelet_count", "baseline_platelet_count", "response"],
    ),
    "response_rates": (
        "rpt_response_rates",
        ["visit"],
        ["visit", "n_evaluable", "n_cr", "n_pr", "n_nr", "n_ne", "n_responders", "orr"],
    ),
    "lab_changes": (
        "fct_lab_changes",
        ["patient_id", "analyte", "visit"],
        ["patient_id", "analyte", "visit", "study_day", "baseline_value", "value", "change", "pct_change"],
    ),
}


def differences(warehouse: Path, reference_dir: Path) -> tuple[dict[str, int], list[str]]:
    """(rows per mart, differences) between the marts of `warehouse` and a reference's files."""
    counts: dict[str, int] = {}
    problems: list[str] = []
    with duckdb.connect(str(warehouse), read_only=True) as con:
        for name, (mart, key, columns) in OUTPUTS.items():
            mart_frame = frame(con, f"select {', '.join(columns)} from marts.{mart}")
            path = reference_dir / f"{name}.parquet"
            if not path.exists():
                problems.append(f"{name}: the reference wrote no {path}")
                continue
            ours = pd.read_parquet(path)
            missing = [c for c in columns if c not in ours.columns]
            if missing:
                problems.append(f"{name}: the reference lacks columns {missing}")
                continue
            counts[mart] = len(mart_frame)
            found = compare_frames(mart, key, mart_frame, ours[columns])
            # compare_frames speaks of DuckDB and Spark: here the mart and the reference
            problems += [
                p.replace("in DuckDB", "in the mart")
                .replace("in Spark", "in the reference")
                .replace("DuckDB ", "mart ")
                .replace("Spark ", "reference ")
                for p in found
            ]
    return counts, problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warehouse", required=True, type=Path)
    parser.add_argument("reference_dirs", nargs="+", type=Path)
    args = parser.parse_args(argv)
    status = 0
    for folder in args.reference_dirs:
        counts, problems = differences(args.warehouse, folder)
        if problems:
            status = 1
            print(f"{folder}: differs from the marts:", *(f"  {p}" for p in problems), sep="\n", file=sys.stderr)
        else:
            print(f"{folder}: equals the marts ({', '.join(f'{m} {n} rows' for m, n in counts.items())})")
    return status


if __name__ == "__main__":
    sys.exit(main())
