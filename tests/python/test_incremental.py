"""Incremental lab models: a run after a new lab extract gives the marts a full refresh gives.

The hand-written cohort gets an extract that exercises every path: a value that becomes a visit
value (and changes a response), a reused result_id that quarantines an old clean row of the same
pair, one that quarantines an old row of another pair (that pair loses its only value), a new
analyte with baseline and follow-up, an unknown patient, and a line repeated exactly from the
first file (B1, B's baseline: the loaded copy stays clean, the new one is an exact duplicate). A synthetic cohort with a random 2%
extract checks the same at scale. The pure decision (`incremental.plan`) is tested on its own.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import duckdb
import pytest

from conftest import FIXTURES, PROJECT_DIR, cli_env, run_cli
from ctd_rtp import cohort, incremental
from ctd_rtp.dbt import _dbt_executable

EXTRACT = """result_id,patient_id,collected_on,test_code,value,unit
C6,C,2023-05-30,PLT,80,10^9/L
B3,B,2023-08-01,PLT,40,10^9/L
C4,D,2023-06-29,PLT,55,10^9/L
D5,D,2023-04-01,TREG_PCT,2.2,%
D6,D,2023-09-28,TREG_PCT,3.0,%
Z1,Z,2023-05-01,PLT,50,10^9/L
B1,B,2023-02-01,PLT,10,10^9/L
"""
COMPARED_SCHEMAS = ("marts", "intermediate", "quarantine")


def differences(a: Path, b: Path) -> dict[str, tuple[int, int, int]]:
    """table -> (rows in b, rows only in a, rows only in b), over every table of the compared schemas,
    ignoring load_batch (when a row was processed differs by design) and float noise below 1e-9
    (sums of doubles depend on row order)."""
    con = duckdb.connect()
    con.execute(f"attach '{a}' as a (read_only)")
    con.execute(f"attach '{b}' as b (read_only)")
    tables = con.execute(
        "select schema_name, table_name from duckdb_tables() where database_name = 'b' "
        f"and schema_name in {COMPARED_SCHEMAS} order by 1, 2"
    ).fetchall()
    found_in_a = con.execute(
        f"select count(*) from duckdb_tables() where database_name = 'a' and schema_name in {COMPARED_SCHEMAS}"
    ).fetchone()[0]
    assert found_in_a == len(tables) > 10
    out = {}
    for schema, table in tables:
        columns = con.execute(
            "select column_name, data_type from duckdb_columns() where database_name = 'b' "
            "and schema_name = ? and table_name = ? and column_name != 'load_batch' order by column_index",
            [schema, table],
        ).fetchall()
        select = ", ".join(f'round("{c}", 9)' if t == "DOUBLE" else f'"{c}"' for c, t in columns)
        count = con.execute(f"select count(*) from b.{schema}.{table}").fetchone()[0]
        only_a, only_b = (
            con.execute(
                f"select count(*) from (select {select} from {x}.{schema}.{table} "
                f"except all select {select} from {y}.{schema}.{table})"
            ).fetchone()[0]
            for x, y in (("a", "b"), ("b", "a"))
        )
        out[f"{schema}.{table}"] = (count, only_a, only_b)
    con.close()
    return out


def assert_same(a: Path, b: Path) -> None:
    diffs = differences(a, b)
    unequal = {t: d for t, d in diffs.items() if d[1] or d[2]}
    assert not unequal, f"incremental != full refresh (rows, only incremental, only full): {unequal}"


def query(db: Path, sql: str, params: list | None = None) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


@pytest.fixture(scope="module")
def appended(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """The hand-written cohort built in full, then again after a new extract (incremental)."""
    work = tmp_path_factory.mktemp("incremental")
    raw = work / "raw"
    shutil.copytree(FIXTURES / "own_cohort", raw)
    env = cli_env(work / "inc", raw)
    (work / "inc").mkdir()
    first = run_cli(["build"], env)
    db = Path(env["CTD_RTP_DB"])
    before = {
        "batches": query(db, "select distinct load_batch from marts.fct_lab_results"),
        "c_month_3": query(
            db, "select platelet_count from marts.fct_visits where patient_id = 'C' and visit = 'month_3'"
        ),
    }
    (raw / "lab_results_2023-08.csv").write_text(EXTRACT)
    # the extract quarantines 6 of the 24 lab rows on purpose (25%): past the delivery gate's 5%.
    # --accept-delivery changes no input fingerprint, so the run stays incremental
    second = run_cli(["build", "--accept-delivery"], env)
    full_env = cli_env(work / "full", raw)
    (work / "full").mkdir()
    full = run_cli(["build", "--accept-delivery"], full_env)
    return {
        "raw": raw,
        "env": env,
        "db": db,
        "full_db": Path(full_env["CTD_RTP_DB"]),
        "before": before,
        "logs": (first.stdout, second.stdout, full.stdout),
    }


@pytest.mark.slow  # builds (the `appended` fixture or its own)
def test_first_build_is_full_and_the_extract_run_is_incremental(appended: dict) -> None:
    first, second, full = appended["logs"]
    assert "full refresh: no previous build to add to" in first
    assert "incremental: 1 new lab extract file(s): lab_results_2023-08.csv" in second
    assert "--full-refresh" not in second
    assert "full refresh: no previous build to add to" in full


@pytest.mark.slow  # builds (the `appended` fixture or its own)
def test_incremental_marts_equal_a_full_refresh(appended: dict) -> None:
    assert_same(appended["db"], appended["full_db"])


@pytest.mark.slow  # builds (the `appended` fixture or its own)
def test_the_extract_changed_what_it_should(appended: dict) -> None:
    db = appended["db"]
    # C6 is closer to day 90 than C2: it becomes C's month-3 count
    assert appended["before"]["c_month_3"] == [(35.0,)]
    assert query(db, "select platelet_count from marts.fct_visits where patient_id = 'C' and visit = 'month_3'") == [
        (80.0,)
    ]
    # a reused result_id quarantines both rows, old and new, whichever pair the old one was in
    dup = query(
        db,
        "select row_key, count(*) from quarantine.quarantined_rows "
        "where rejection_reason like 'duplicate key%' group by 1 order by 1",
    )
    assert dup == [("B3", 2), ("C4", 2)]
    assert query(db, "select count(*) from marts.fct_lab_results where result_id in ('B3', 'C4')") == [(0,)]
    assert query(db, "select count(*) from marts.fct_lab_results where patient_id = 'C' and analyte = 'IL6'") == [(0,)]
    assert query(
        db, "select baseline_value, value from marts.fct_lab_changes where patient_id = 'D' and analyte = 'TREG_PCT'"
    ) == [(2.2, 3.0)]
    assert query(db, "select rejection_reason from quarantine.quarantined_rows where row_key = 'Z1'") == [
        ("unknown patient",)
    ]
    # a line repeated exactly by the extract: the copy already loaded stays clean, B keeps its baseline
    assert query(
        db,
        "select source_file, rejection_reason from intermediate.int_lab_results_checked "
        "where result_id = 'B1' order by 1",
    ) == [("lab_results.csv", None), ("lab_results_2023-08.csv", "exact duplicate")]
    assert query(
        db,
        "select baseline_platelet_count from marts.fct_platelet_response where patient_id = 'B' and visit = 'month_3'",
    ) == [(10.0,)]


@pytest.mark.slow  # builds (the `appended` fixture or its own)
def test_untouched_pairs_were_not_reprocessed(appended: dict) -> None:
    db = appended["db"]
    (first_batch,) = appended["before"]["batches"]
    # A's results share no pair with the extract: they keep the first build's stamp
    assert query(db, "select distinct load_batch from marts.fct_lab_results where patient_id = 'A'") == [first_batch]
    new_batch = query(db, "select max(load_batch) from intermediate.int_lab_results_checked")[0]
    assert new_batch > first_batch
    assert query(
        db, "select count(*) from intermediate.int_lab_results_checked where load_batch = ?", list(new_batch)
    ) == [(7 + 3,)]  # the 7 new rows and the 3 old rows sharing their result_ids


@pytest.mark.slow  # builds (the `appended` fixture or its own)
def test_a_removed_extract_stops_a_hand_run_and_the_cli_rebuilds_in_full(appended: dict, tmp_path: Path) -> None:
    raw = appended["raw"]  # the same folder (a moved folder is rebuilt in full for that reason alone)
    extract = raw / "lab_results_2023-08.csv"
    shutil.move(extract, tmp_path / extract.name)
    db = tmp_path / "warehouse.duckdb"
    shutil.copy(appended["db"], db)
    env = cli_env(tmp_path, raw)
    env["DBT_PROFILES_DIR"] = str(PROJECT_DIR)
    try:
        hand = subprocess.run(
            [_dbt_executable(), "build", "--select", "int_lab_results_checked"],
            cwd=PROJECT_DIR,
            env=env,
            capture_output=True,
            text=True,
        )
        rebuilt = run_cli(["build"], env)
    finally:
        shutil.move(tmp_path / extract.name, extract)
    assert hand.returncode != 0
    assert "lab_results_2023-08.csv were loaded before but are no longer there" in hand.stdout
    assert "full refresh: lab_results_2023-08.csv is gone" in rebuilt.stdout
    assert query(db, "select platelet_count from marts.fct_visits where patient_id = 'C' and visit = 'month_3'") == [
        (35.0,)
    ]


def last_dbt_log(logs: Path) -> str:
    """The debug log of the last dbt invocation in a log folder (dbt appends each run to dbt.log)."""
    text = (logs / "dbt.log").read_text(encoding="utf-8")
    return text[text.rindex("\n============================== ") :]


@pytest.mark.slow  # builds (the `appended` fixture or its own)
def test_the_extract_run_checks_the_lines_of_the_new_file_only(appended: dict) -> None:
    """The line checks read a raw file whole (the UTF-8 probe, the field-count scan): the
    incremental run reads only the new extract; the files checked by the first build, unchanged,
    are taken from meta.raw_checked_<table>."""
    log = last_dbt_log(Path(appended["env"]["DBT_LOG_PATH"]))
    probes = [line for line in log.splitlines() if "try(decode(content))" in line]
    assert any("lab_results_2023-08.csv" in line for line in probes), probes
    assert not any("lab_results.csv" in line or "patients.csv" in line for line in probes), probes
    checked = query(appended["db"], "select file_path from meta.raw_checked_lab_results order by 1")
    assert [Path(p).name for (p,) in checked] == ["lab_results.csv", "lab_results_2023-08.csv"]


@pytest.mark.slow  # builds (the `appended` fixture or its own)
@pytest.mark.parametrize("change", ["a line appended", "same size, one delimiter changed"])
def test_a_raw_file_changed_since_its_check_is_checked_again(appended: dict, tmp_path: Path, change: str) -> None:
    """dbt run by hand (no --full-refresh, which checks every file): a file whose size or
    modification time differs from its record is read and checked again, and its bad line stops
    the run with the line's message."""
    extract = appended["raw"] / "lab_results_2023-08.csv"
    kept, stat = extract.read_bytes(), extract.stat()
    db = tmp_path / "warehouse.duckdb"
    shutil.copy(appended["db"], db)
    env = {**cli_env(tmp_path, appended["raw"]), "DBT_PROFILES_DIR": str(PROJECT_DIR)}
    hand = [_dbt_executable(), "build", "--select", "stg_lab_results"]
    unchanged = subprocess.run(hand, cwd=PROJECT_DIR, env=env, capture_output=True, text=True)
    assert unchanged.returncode == 0, unchanged.stdout[-3000:]
    if change == "a line appended":
        bad, message = (
            kept + b"X9,D,2023-10-01\n",
            "lab_results_2023-08.csv line 9: 3 fields, expected 6 as in the header",
        )
    else:
        bad = kept.replace(b"Z1,Z,2023-05-01,PLT,50,", b"Z1,Z,2023-05-01,PLT,50;")
        message = "lab_results_2023-08.csv line 7: 5 fields, expected 6 as in the header"
        assert len(bad) == len(kept) and bad != kept
    try:
        extract.write_bytes(bad)
        os.utime(extract, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
        changed = subprocess.run(hand, cwd=PROJECT_DIR, env=env, capture_output=True, text=True)
    finally:  # the same bytes and times: the fixture's fingerprint is unchanged
        extract.write_bytes(kept)
        os.utime(extract, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert changed.returncode != 0
    assert message in changed.stdout, changed.stdout[-3000:]
    probes = [line for line in last_dbt_log(tmp_path / "logs").splitlines() if "try(decode(content))" in line]
    assert [line for line in probes if "lab_results.csv" in line] == []  # the unchanged file was not read


@pytest.mark.slow  # builds (the `appended` fixture or its own)
def test_a_synthetic_cohort_with_a_random_extract(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    cohort.write_cohort(raw, 300, seed=7, fmt="parquet")
    inc_env = cli_env(tmp_path / "inc", raw)
    (tmp_path / "inc").mkdir()
    run_cli(["build", "--quiet"], inc_env)
    extract = cohort.write_lab_extract(raw, 0.02, seed=3)
    assert extract.name == "lab_results_extract3.parquet"
    out = run_cli(["build", "--quiet"], inc_env).stdout
    assert "incremental: 1 new lab extract file(s)" in out
    full_env = cli_env(tmp_path / "full", raw)
    (tmp_path / "full").mkdir()
    run_cli(["build", "--quiet"], full_env)
    assert_same(Path(inc_env["CTD_RTP_DB"]), Path(full_env["CTD_RTP_DB"]))
    # the benchmark's references of the core job compute the same marts (messy rows, an extract)
    from test_benchmark_references import check_references

    check_references(Path(full_env["CTD_RTP_DB"]), raw, tmp_path / "references")
    new_rows = query(
        Path(inc_env["CTD_RTP_DB"]),
        "select count(*) from intermediate.int_lab_results_checked where source_file = ?",
        [extract.name],
    )
    assert new_rows[0][0] > 300


def test_the_lab_extract_is_deterministic_and_append_only(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    cohort.write_cohort(raw, 20, seed=1, fmt="csv")
    first = cohort.write_lab_extract(raw, 0.1, seed=5)
    text = first.read_text()
    with pytest.raises(FileExistsError):
        cohort.write_lab_extract(raw, 0.1, seed=5)
    first.unlink()
    assert cohort.write_lab_extract(raw, 0.1, seed=5).read_text() == text
    assert text.splitlines()[0] == "result_id,patient_id,collected_on,test_code,value,unit"
    assert all(line.startswith("X5-") for line in text.splitlines()[1:])


def test_a_build_with_no_input_changed_runs_no_dbt_until_an_input_changes(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    shutil.copytree(FIXTURES / "own_cohort", raw)
    env = cli_env(tmp_path, raw)
    db = Path(env["CTD_RTP_DB"])
    first = run_cli(["build", "--quiet"], env)
    assert "full refresh: no previous build to add to" in first.stdout
    built = db.stat().st_mtime_ns
    (tmp_path / "target" / "run_results.json").unlink()
    again = run_cli(["build", "--quiet"], env)
    assert "incremental: no input changed since the last build; dbt not run" in again.stdout
    assert "dbt build" not in again.stdout
    assert not (tmp_path / "target" / "run_results.json").exists()  # dbt did not start
    assert db.stat().st_mtime_ns == built  # not even copied and published again
    # any input changed: dbt runs again (a changed raw file: in full)
    patients = raw / "patients.csv"
    patients.write_text(patients.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    changed = run_cli(["build", "--quiet"], env)
    assert "full refresh: patients.csv changed" in changed.stdout
    assert (tmp_path / "target" / "run_results.json").exists()
    assert db.stat().st_mtime_ns != built
    # vars, code, data tests, profile, tool: test_fingerprint_follows_code_vars_salt_and_files,
    # test_every_project_input_is_in_the_fingerprint and test_plan


# --- the decision itself --------------------------------------------------------------------

BASE = {
    "code": "c1",
    "checks": "t1",
    "raw_dir": "/data",
    "file:patients.csv": "10:1",
    "file:lab_results.csv": "99:1",
    "delivery": "passed",
}


@pytest.mark.parametrize(
    ("previous", "current", "full", "reason"),
    [
        (None, BASE, True, "no previous build to add to"),
        (BASE, BASE, False, "no input changed since the last build; dbt not run"),
        (BASE, {**BASE, "checks": "t2"}, False, "the data tests, profile or tool changed (no new data)"),
        (
            {**BASE, "delivery": "accepted"},
            BASE,
            False,
            "no input changed, but the last delivery did not pass the gate (it was accepted)",
        ),
        (
            {k: v for k, v in BASE.items() if k != "checks"},
            BASE,
            False,
            "the data tests, profile or tool changed (no new data)",
        ),
        (
            BASE,
            {**BASE, "file:lab_results_2024-01.parquet": "5:2"},
            False,
            "1 new lab extract file(s): lab_results_2024-01.parquet",
        ),
        (BASE, {**BASE, "code": "c2"}, True, "the SQL, seeds, vars or salt changed"),
        (BASE, {**BASE, "raw_dir": "/other"}, True, "the raw folder changed"),
        (BASE, {**BASE, "file:patients.csv": "11:2"}, True, "patients.csv changed"),
        (BASE, {**BASE, "file:lab_results.csv": "100:2"}, True, "lab_results.csv changed"),
        (BASE, {k: v for k, v in BASE.items() if k != "file:lab_results.csv"}, True, "lab_results.csv is gone"),
        (BASE, {**BASE, "file:adverse_events_2.csv": "1:1"}, True, "adverse_events_2.csv is new"),
        (BASE, {**BASE, "file:lab_resultsX.csv": "1:1"}, True, "lab_resultsX.csv is new"),
    ],
)
def test_plan(previous, current, full, reason) -> None:
    decided = incremental.plan(previous, current)
    assert (decided.full_refresh, decided.reason) == (full, reason)
    assert decided.skip == (reason == "no input changed since the last build; dbt not run")


def test_every_project_input_is_in_the_fingerprint(tmp_path: Path) -> None:
    """Models, macros, seeds, dbt_project.yml, study.yml -> `code` (a full refresh); data tests,
    analyses, the profile and the package -> `checks` (dbt runs again)."""
    project = tmp_path / "project"
    files = {
        "dbt_project.yml": "code",
        "study.yml": "code",
        "models/m.sql": "code",
        "macros/x.sql": "code",
        "seeds/reference/s.csv": "code",
        "tests/singular/t.sql": "checks",
        "tests/generic/g.sql": "checks",
        "analyses/a.sql": "checks",
        "profiles.yml": "checks",
        "python/ctd_rtp/cli.py": "checks",
    }
    for name in files:
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        (project / name).write_text("one")
    before = incremental.current_inputs(project, None, None, {})
    for name, key in files.items():
        (project / name).write_text("two")
        now = incremental.current_inputs(project, None, None, {})
        assert [k for k in before if before[k] != now[k]] == [key], name
        before = now
    (project / "tests" / "python").mkdir()
    (project / "tests" / "python" / "test_x.py").write_text("pytest only")
    assert incremental.current_inputs(project, None, None, {}) == before


def test_fingerprint_follows_code_vars_salt_and_files(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "patients.csv").write_text("x")
    (raw / "notes.txt").write_text("ignored")
    one = incremental.current_inputs(PROJECT_DIR, raw, None, {})
    assert set(one) == {"code", "checks", "raw_dir", "file:patients.csv"}
    assert incremental.current_inputs(PROJECT_DIR, raw, None, {}) == one
    assert incremental.current_inputs(PROJECT_DIR, raw, "{pr_rule: or}", {})["code"] != one["code"]
    assert incremental.current_inputs(PROJECT_DIR, raw, None, {"CTD_RTP_PSEUDONYM_SALT": "s"})["code"] != one["code"]
    (raw / "patients.csv").write_text("xy")
    assert incremental.current_inputs(PROJECT_DIR, raw, None, {})["file:patients.csv"] != one["file:patients.csv"]
