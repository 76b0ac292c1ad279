"""Faults around the build: a killed run, two runs at once, readers during a build."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from conftest import PROJECT_DIR, build, cli_env, run_cli
from ctd_rtp.warehouse import exclusive_run, table_fingerprint

pytestmark = pytest.mark.slow


def _fingerprints(db: Path) -> dict[str, str]:
    with duckdb.connect(str(db), read_only=True) as con:
        return {
            t: table_fingerprint(con, "marts", t)
            for t in ("rpt_response_rates", "fct_platelet_response", "fct_lab_changes")
        }


def _start_build(env: dict[str, str]) -> subprocess.Popen[str]:
    # --full-refresh: with no input changed, a plain build would not start dbt (nor copy the file)
    return subprocess.Popen(
        [sys.executable, "-m", "ctd_rtp.cli", "build", "--quiet", "--full-refresh"],
        cwd=PROJECT_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def _wait_for(path: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            raise AssertionError(f"{path} never appeared")
        time.sleep(0.05)


def test_a_second_run_is_told_the_warehouse_is_in_use(tmp_path: Path) -> None:
    env = cli_env(tmp_path)
    with exclusive_run(tmp_path / "warehouse.duckdb"):
        proc = run_cli(["build", "--quiet"], env, check=False)
    assert proc.returncode == 5, proc.stderr
    assert "the warehouse is in use" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_killed_build_leaves_previous_marts_readable_and_next_run_repairs(tmp_path: Path) -> None:
    built = build(tmp_path)
    before = _fingerprints(built.db_path)
    proc = _start_build(built.env)
    building = built.db_path.with_name(built.db_path.name + ".building")
    _wait_for(building)
    time.sleep(2.5)  # dbt is now mid-run, writing the private copy
    # while it runs, a read-only consumer can query the published marts
    with duckdb.connect(str(built.db_path), read_only=True) as con:
        assert (
            con.execute("select count(*) from marts.fct_platelet_response").fetchone()[0] == 39
        )  # 13 demo patients x 3 visits
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode != 0
    assert _fingerprints(built.db_path) == before  # the previous warehouse is untouched
    assert building.exists()
    # the next run repairs everything: nothing changed, so it discards the copy and keeps the file
    assert "dbt not run" in run_cli(["build", "--quiet"], built.env).stdout
    assert _fingerprints(built.db_path) == before
    assert not building.exists()


def test_pseudonymised_build_carries_no_study_id_and_joins_still_work(tmp_path: Path) -> None:
    from conftest import FIXTURES

    env = cli_env(tmp_path, FIXTURES / "own_cohort")
    env["CTD_RTP_PSEUDONYM_SALT"] = "test-salt"
    run_cli(["build", "--quiet"], env)
    run_cli(["stats"], env)
    run_cli(["report", "--out-dir", str(tmp_path / "reports")], env)
    db = tmp_path / "warehouse.duckdb"
    import hashlib

    expected = {"PS-" + hashlib.sha256(f"test-salt|{p}".encode()).hexdigest()[:16] for p in "ABCD"}
    with duckdb.connect(str(db), read_only=True) as con:
        ids = {}
        for schema, table in con.execute(
            "select table_schema, table_name from information_schema.columns "
            "where column_name = 'patient_id' and table_schema in ('marts', 'quarantine', 'analysis')"
        ).fetchall():
            rows = con.execute(f'select distinct patient_id from "{schema}"."{table}"').fetchall()
            ids[f"{schema}.{table}"] = {r[0] for r in rows}
        responses = con.execute(
            "select count(*) from marts.fct_platelet_response r join marts.dim_patients p using (patient_id)"
        ).fetchone()[0]
    assert ids["marts.dim_patients"] == expected  # an independent hash of the study ids
    for name, values in ids.items():
        assert values <= expected | {None}, f"{name} carries a non-pseudonymised id: {values - expected}"
    assert responses == 12  # 4 patients x 3 visits: the pseudonym is the same in every table
    html = (tmp_path / "reports" / "ctd_rtp_report_latest.html").read_text()
    assert ">A<" not in html and "PS-" in html
