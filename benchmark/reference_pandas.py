"""The core job in straightforward pandas: what a user would write instead of the warehouse.

    python -m benchmark.reference_pandas RAW_DIR OUT_DIR

The same job and the same outputs as benchmark/reference_sql.py (see there), written the way
an analyst would with pandas: read every file into a frame, merge, sort, group.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

from benchmark.references import visit_windows

REFERENCE = Path(__file__).resolve().parents[1] / "seeds" / "reference"


def _read(raw_dir: Path, table: str) -> pd.DataFrame:
    files = sorted(raw_dir.glob(f"{table}*.parquet")) or sorted(raw_dir.glob(f"{table}*.csv"))
    frames = [
        pd.read_parquet(f) if f.suffix == ".parquet" else pd.read_csv(f, dtype=str, keep_default_na=False)
        for f in files
    ]
    return pd.concat(frames, ignore_index=True).replace("", None)


def _windowed(frame: pd.DataFrame, windows: pd.DataFrame, keys: list[str], tiebreak: str) -> pd.DataFrame:
    """The row closest to each window's target day (ties: the later day, then the larger tiebreak)."""
    rows = []
    for w in windows.itertuples():
        inside = frame[(frame["study_day"] >= w.window_start_day) & (frame["study_day"] <= w.window_end_day)].copy()
        inside["visit"] = w.visit
        inside["distance"] = (inside["study_day"] - w.target_day).abs()
        rows.append(inside)
    ranked = pd.concat(rows, ignore_index=True)
    ranked = ranked.sort_values(
        [*keys, "visit", "distance", "study_day", tiebreak], ascending=[True] * (len(keys) + 1) + [True, False, False]
    )
    return ranked.drop_duplicates([*keys, "visit"], keep="first").drop(columns="distance")


def run(raw_dir: Path, out_dir: Path) -> None:
    raw_dir, out_dir = Path(raw_dir), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    windows = visit_windows()
    analytes = pd.read_csv(REFERENCE / "analytes.csv")
    test_map = pd.read_csv(REFERENCE / "lab_test_map.csv", dtype={"source_code": str, "source_unit": str})
    test_map = test_map.assign(code=test_map["source_code"].str.upper(), unit=test_map["source_unit"])
    test_map = test_map[["code", "unit", "analyte", "factor"]].drop_duplicates()

    patients = _read(raw_dir, "patients")
    exposures = _read(raw_dir, "drug_exposures")
    sirolimus = exposures[(exposures["drug"] == "sirolimus") & exposures["patient_id"].isin(patients["patient_id"])]
    day0 = (
        pd.to_datetime(sirolimus["started_on"])
        .groupby(sirolimus["patient_id"])
        .min()
        .rename("index_date")
        .reset_index()
    )

    labs = _read(raw_dir, "lab_results")
    labs["code"] = labs["test_code"].str.strip().str.upper()
    labs["unit"] = labs["unit"].str.strip()
    labs["collected_on"] = pd.to_datetime(labs["collected_on"], errors="coerce")
    text = labs["value"].str.strip()
    labs["source_value"] = pd.to_numeric(text.str.lstrip("<>"), errors="coerce")
    labs["is_censored"] = text.str.startswith("<").fillna(False)
    labs = labs.merge(test_map, on=["code", "unit"]).merge(analytes, on="analyte").merge(day0, on="patient_id")
    labs["value"] = labs["source_value"] * labs["factor"]
    labs = labs[
        labs["source_value"].notna()
        & labs["collected_on"].notna()
        & labs["value"].between(labs["plausible_low"], labs["plausible_high"])
        & ~((labs["factor"] == 0.001) & (labs["source_value"] < 1000))
    ]
    labs = labs.assign(study_day=(labs["collected_on"] - labs["index_date"]).dt.days)
    labs = labs[["result_id", "patient_id", "analyte", "value", "is_censored", "collected_on", "study_day"]]
    visit_values = _windowed(labs, windows, ["patient_id", "analyte"], "result_id")

    assessments = _read(raw_dir, "visit_assessments").merge(day0, on="patient_id")
    assessments["assessed_on"] = pd.to_datetime(assessments["assessed_on"])
    assessments["grade"] = pd.to_numeric(assessments["who_bleeding_grade"], errors="coerce")
    assessments["study_day"] = (assessments["assessed_on"] - assessments["index_date"]).dt.days
    visit_assessments = _windowed(
        assessments[["patient_id", "assessed_on", "grade", "study_day"]], windows, ["patient_id"], "assessed_on"
    )

    follow_up = windows[windows["visit"] != "baseline"]
    grid = day0.merge(follow_up[["visit", "target_day"]], how="cross")
    platelets = visit_values[(visit_values["analyte"] == "PLT") & (visit_values["study_day"] >= 1)]
    baseline_plt = visit_values[(visit_values["analyte"] == "PLT") & (visit_values["visit"] == "baseline")]
    joined = (
        grid.merge(platelets[["patient_id", "visit", "value", "collected_on"]], on=["patient_id", "visit"], how="left")
        .merge(
            baseline_plt[["patient_id", "value"]].rename(columns={"value": "baseline_platelet_count"}),
            on="patient_id",
            how="left",
        )
        .merge(
            visit_assessments[["patient_id", "visit", "grade", "assessed_on"]], on=["patient_id", "visit"], how="left"
        )
        .rename(columns={"value": "platelet_count"})
    )
    visit_date = (
        joined["collected_on"]
        .fillna(joined["assessed_on"])
        .fillna(joined["index_date"] + pd.to_timedelta(joined["target_day"], unit="D"))
    )
    joined["study_day"] = (visit_date - joined["index_date"]).dt.days
    count, base = joined["platelet_count"], joined["baseline_platelet_count"]
    joined["response"] = np.select(
        [count.isna() | base.isna(), joined["grade"] >= 2, count >= 100, (count >= 30) & (count >= 2 * base)],
        ["NE", "NR", "CR", "PR"],
        default="NR",
    )
    response = joined[["patient_id", "visit", "study_day", "platelet_count", "baseline_platelet_count", "response"]]
    response.to_parquet(out_dir / "platelet_response.parquet", index=False)

    counts = pd.crosstab(response["visit"], response["response"]).reindex(
        columns=["CR", "PR", "NR", "NE"], fill_value=0
    )
    rates = pd.DataFrame(
        {
            "visit": counts.index,
            "n_evaluable": counts["CR"] + counts["PR"] + counts["NR"],
            "n_cr": counts["CR"],
            "n_pr": counts["PR"],
            "n_nr": counts["NR"],
            "n_ne": counts["NE"],
            "n_responders": counts["CR"] + counts["PR"],
        }
    ).reset_index(drop=True)
    rates["orr"] = rates["n_responders"] / rates["n_evaluable"].where(rates["n_evaluable"] > 0)
    rates.to_parquet(out_dir / "response_rates.parquet", index=False)

    baseline = visit_values[visit_values["visit"] == "baseline"][["patient_id", "analyte", "value"]]
    changes = visit_values[visit_values["visit"] != "baseline"].merge(
        baseline.rename(columns={"value": "baseline_value"}), on=["patient_id", "analyte"], how="left"
    )
    changes["change"] = changes["value"] - changes["baseline_value"]
    changes["pct_change"] = (100.0 * changes["change"] / changes["baseline_value"].abs()).where(
        changes["baseline_value"] != 0
    )
    changes[
        ["patient_id", "analyte", "visit", "study_day", "baseline_value", "value", "change", "pct_change"]
    ].to_parquet(out_dir / "lab_changes.parquet", index=False)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: python -m benchmark.reference_pandas RAW_DIR OUT_DIR")
    run(Path(sys.argv[1]), Path(sys.argv[2]))
