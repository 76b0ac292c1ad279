"""End to end: raw rows -> dbt build -> marts, on the demo cohort and on a user's own files."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from conftest import FIXTURES, PROJECT_DIR, Built, build, cli_env

pytestmark = pytest.mark.slow


def rates(db: Path) -> dict[str, dict]:
    with duckdb.connect(str(db), read_only=True) as con:
        frame = con.execute(
            "select visit, n_cr, n_pr, n_nr, n_ne, n_responders, n_evaluable, orr from marts.rpt_response_rates"
        ).df()
    return {r["visit"]: r for r in frame.to_dict("records")}


def test_demo_cohort_reproduces_the_published_response_rates(demo_warehouse: Built) -> None:
    r = rates(demo_warehouse.db_path)
    month_3 = r["month_3"]
    assert (month_3["n_cr"], month_3["n_pr"], month_3["n_responders"], month_3["n_evaluable"]) == (1, 7, 8, 13)
    assert r["month_3"]["orr"] == pytest.approx(8 / 13)
    assert (r["month_6"]["n_responders"], r["month_6"]["n_evaluable"]) == (10, 13)
    assert r["month_6"]["orr"] == pytest.approx(10 / 13)


def test_schemas_read_cleanly_and_marts_say_synthetic(demo_warehouse: Built) -> None:
    with duckdb.connect(str(demo_warehouse.db_path), read_only=True) as con:
        schemas = {s for (s,) in con.execute("select schema_name from information_schema.schemata").fetchall()}
        cohorts = {c for (c,) in con.execute("select distinct cohort from marts.dim_patients").fetchall()}
        n_quarantined = con.execute("select count(*) from quarantine.quarantined_rows").fetchone()[0]
        reason = con.execute("select rejection_reason from quarantine.quarantined_rows").fetchone()[0]
    assert {"raw", "staging", "intermediate", "marts", "analysis", "quarantine", "reference"} <= schemas
    assert not any(s.startswith("main_") for s in schemas)
    assert cohorts == {"SYNTHETIC demo cohort (no real patient data)"}
    assert (n_quarantined, reason) == (1, "empty value")  # the demo's one empty cytokine value


def test_unit_conversion_per_microlitre(demo_warehouse: Built) -> None:
    with duckdb.connect(str(demo_warehouse.db_path), read_only=True) as con:
        value = con.execute(
            "select value from intermediate.int_lab_results_checked where source_unit = '/uL' and analyte = 'PLT'"
        ).fetchone()[0]
        raw = con.execute("select cast(value as double) from raw.lab_results where unit = '/uL'").fetchone()[0]
    assert value == pytest.approx(raw / 1000)


def test_dbt_build_by_hand_passes_without_deprecations(tmp_path: Path) -> None:
    env = cli_env(tmp_path)
    env["DBT_PROFILES_DIR"] = str(PROJECT_DIR)
    dbt = str(Path(sys.executable).with_name("dbt"))
    proc = subprocess.run([dbt, "build"], cwd=PROJECT_DIR, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-4000:]
    assert "deprecat" not in proc.stdout.lower(), proc.stdout[-4000:]
    assert "ERROR=0" in proc.stdout and "WARN=0" in proc.stdout


def test_own_cohort_from_csv_gives_the_hand_worked_responses(own_cohort_warehouse: Built) -> None:
    with duckdb.connect(str(own_cohort_warehouse.db_path), read_only=True) as con:
        got = con.execute("select patient_id, visit, response from marts.fct_platelet_response").df()
        cohort = con.execute("select distinct cohort from marts.dim_patients").fetchone()[0]
        demo_tables = con.execute(
            "select count(*) from information_schema.tables where table_schema = 'raw'"
        ).fetchone()[0]
    responses = {(r.patient_id, r.visit): r.response for r in got.itertuples()}
    # worked out by hand: see the comment block in this test file (IWG defaults)
    expected = {
        ("A", "month_1"): "NE",
        ("A", "month_3"): "PR",
        ("A", "month_6"): "CR",
        ("B", "month_1"): "NE",
        ("B", "month_3"): "NR",
        ("B", "month_6"): "NR",
        ("C", "month_1"): "NE",
        ("C", "month_3"): "NR",
        ("C", "month_6"): "NE",
        ("D", "month_1"): "NE",
        ("D", "month_3"): "NE",
        ("D", "month_6"): "NE",
    }
    assert responses == expected
    r = rates(own_cohort_warehouse.db_path)
    assert (r["month_3"]["n_pr"], r["month_3"]["n_nr"], r["month_3"]["n_ne"], r["month_3"]["n_evaluable"]) == (
        1,
        2,
        1,
        3,
    )
    assert r["month_3"]["orr"] == pytest.approx(1 / 3)
    assert (r["month_6"]["n_cr"], r["month_6"]["n_evaluable"]) == (1, 2)
    assert r["month_1"]["n_evaluable"] == 0 and pd.isna(r["month_1"]["orr"])
    assert cohort.startswith("own data: ")
    assert demo_tables == 0  # the synthetic demo seeds are not loaded next to a user's data


def test_own_cohort_from_parquet_matches_csv(tmp_path: Path, own_cohort_warehouse: Built) -> None:
    raw = tmp_path / "raw"
    raw.mkdir()
    for csv in (FIXTURES / "own_cohort").glob("*.csv"):
        pd.read_csv(csv, dtype=str, keep_default_na=False).to_parquet(raw / f"{csv.stem}.parquet")
    built = build(tmp_path / "wh", raw_dir=raw)
    query = "select patient_id, visit, platelet_count, response from marts.fct_platelet_response order by 1, 2"
    with (
        duckdb.connect(str(built.db_path), read_only=True) as a,
        duckdb.connect(str(own_cohort_warehouse.db_path), read_only=True) as b,
    ):
        pd.testing.assert_frame_equal(a.execute(query).df(), b.execute(query).df())


def test_missing_raw_file_is_a_clear_error(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    shutil.copytree(FIXTURES / "own_cohort", raw)
    (raw / "adverse_events.csv").unlink()
    from conftest import run_cli

    proc = run_cli(["build", "--quiet"], cli_env(tmp_path, raw), check=False)
    assert proc.returncode == 3
    assert "adverse_events" in proc.stderr and "not found" in proc.stderr


def test_raw_rows_reconcile_with_the_counts_kept_at_load(tmp_path: Path, own_cohort_warehouse: Built) -> None:
    """assert_raw_rows_reconcile compares clean + quarantined rows with each CSV file's row count
    from its load (meta.raw_rows_<table>), not a second read: a count off by one, or missing, fails it."""
    db = tmp_path / "warehouse.duckdb"
    shutil.copy(own_cohort_warehouse.db_path, db)
    env = dict(
        own_cohort_warehouse.env,
        CTD_RTP_DB=str(db),
        DBT_PROFILES_DIR=str(PROJECT_DIR),
        DBT_TARGET_PATH=str(tmp_path / "target"),
        DBT_LOG_PATH=str(tmp_path / "logs"),
    )
    with duckdb.connect(str(db), read_only=True) as con:
        kept = con.execute("select n_rows from meta.raw_rows_visit_assessments").fetchall()
    delivered = len((FIXTURES / "own_cohort" / "visit_assessments.csv").read_text().strip().splitlines()) - 1
    assert kept == [(delivered,)]
    dbt = str(Path(sys.executable).with_name("dbt"))

    def reconcile() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [dbt, "test", "--select", "assert_raw_rows_reconcile"],
            cwd=PROJECT_DIR,
            env=env,
            capture_output=True,
            text=True,
        )

    assert reconcile().returncode == 0
    for change in (
        "update meta.raw_rows_visit_assessments set n_rows = n_rows + 1",
        "update meta.raw_rows_visit_assessments set n_rows = n_rows - 1; delete from meta.raw_rows_patients",
    ):
        with duckdb.connect(str(db)) as con:
            con.execute(change)
        proc = reconcile()
        assert proc.returncode == 1 and "FAIL 1 assert_raw_rows_reconcile" in proc.stdout, proc.stdout[-2000:]
