"""A `ctd-rtp run` with no input changed does nothing when its report is provably current
(python/ctd_rtp/run_state.py), and does its statistics and report whenever that cannot be shown."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from conftest import FIXTURES, PROJECT_DIR, cli_env, run_cli
from ctd_rtp import incremental, run_state

OPTIONS = {"min_cell_count": 0, "listing_max_patients": None, "docx": False}


def _warehouse(run_id: str = "r1", build: str = "c1") -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    incremental.write_state(con, {"code": build, "checks": "t", "raw_dir": "x"})
    con.execute("create schema analysis")
    con.execute(f"create table analysis.report_results as select 'cell' as table_id, '{run_id}' as run_id")
    return con


def _report(out: Path, con: duckdb.DuckDBPyConnection, options: dict[str, object] = OPTIONS) -> None:
    out.mkdir(exist_ok=True)
    (out / "ctd_rtp_report_latest.html").write_text("<html>report</html>", encoding="utf-8")
    run_state.record(out, con, options)


def test_a_recorded_report_is_current_until_anything_it_was_made_from_changes(tmp_path: Path) -> None:
    out = tmp_path / "reports"
    con = _warehouse()
    assert run_state.why_not_current(out, con, OPTIONS) == "no record of the run that wrote the report"
    _report(out, con)
    assert run_state.why_not_current(out, con, OPTIONS) is None
    # the options of this run
    assert run_state.why_not_current(out, con, {**OPTIONS, "min_cell_count": 5}) == (
        "the options changed since the report was written"
    )
    assert "docx" in json.loads((out / run_state.RECORD_NAME).read_text())["options"]
    # statistics run again since (a new run id), or another build
    assert run_state.why_not_current(out, _warehouse(run_id="r2"), OPTIONS) == (
        "the statistics (ctd-rtp stats ran since) changed since the report was written"
    )
    assert run_state.why_not_current(out, _warehouse(build="c2"), OPTIONS) == (
        "the build changed since the report was written"
    )
    # the report file edited, or gone
    latest = out / "ctd_rtp_report_latest.html"
    latest.write_text("<html>edited</html>", encoding="utf-8")
    assert (
        run_state.why_not_current(out, con, OPTIONS)
        == "ctd_rtp_report_latest.html changed or is gone since it was written"
    )
    latest.unlink()
    assert (
        run_state.why_not_current(out, con, OPTIONS)
        == "ctd_rtp_report_latest.html changed or is gone since it was written"
    )
    # asked for a Word file the recorded run did not write
    _report(out, con)
    assert (
        run_state.why_not_current(out, con, {**OPTIONS, "docx": True})
        == "the options changed since the report was written"
    )
    # an unreadable record
    (out / run_state.RECORD_NAME).write_text("{not json", encoding="utf-8")
    assert run_state.why_not_current(out, con, OPTIONS) == f"{run_state.RECORD_NAME} is unreadable"


def test_the_package_code_is_in_the_record(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "reports"
    con = _warehouse()
    _report(out, con)
    monkeypatch.setattr(run_state, "code_fingerprint", lambda: "another version of the code")
    assert run_state.why_not_current(out, con, OPTIONS) == "the package's code changed since the report was written"


def test_no_record_without_statistics_of_one_run(tmp_path: Path) -> None:
    out = tmp_path / "reports"
    con = _warehouse()
    con.execute("insert into analysis.report_results values ('cell', 'r9')")  # two runs' rows
    _report(out, con)
    assert not (out / run_state.RECORD_NAME).exists()
    assert run_state.why_not_current(out, con, OPTIONS) == "no record of the run that wrote the report"


@pytest.mark.slow
def test_make_run_twice_rewrites_nothing_the_second_time(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    shutil.copytree(FIXTURES / "own_cohort", raw)
    env = cli_env(tmp_path, raw)
    out = Path(env["CTD_RTP_DB"]).parent / "reports"
    run_cli(["run", "--quiet"], env)
    reports = sorted(out.iterdir())
    latest = out / "ctd_rtp_report_latest.html"
    written = latest.stat().st_mtime_ns
    again = run_cli(["run", "--quiet"], env)
    assert "dbt not run" in again.stdout and "nothing to do: the statistics and the report" in again.stdout
    assert "statistics -> schema analysis" not in again.stdout and "report written" not in again.stdout
    assert sorted(out.iterdir()) == reports and latest.stat().st_mtime_ns == written
    # ... and loads none of the statistics' and report's libraries (SciPy alone took about 0.5 s
    # of such a run's 1.2 s): the same run in a process that then names what it loaded
    probe = (
        "import sys; from ctd_rtp import cli; code = cli.main(['run', '--quiet']); "
        "print('loaded:', [m for m in ('scipy', 'great_expectations', 'matplotlib', 'jinja2') if m in sys.modules]); "
        "sys.exit(code)"
    )
    lean = subprocess.run([sys.executable, "-c", probe], env=env, cwd=PROJECT_DIR, capture_output=True, text=True)
    assert lean.returncode == 0 and "nothing to do" in lean.stdout, lean.stdout + lean.stderr
    assert "loaded: []" in lean.stdout, lean.stdout
    # a report edited by hand is not "current": the run writes it again
    latest.write_text("edited", encoding="utf-8")
    third = run_cli(["run", "--quiet"], env)
    assert "statistics and report: rerun (ctd_rtp_report_latest.html changed or is gone" in third.stdout
    assert "report written" in third.stdout and "edited" not in latest.read_text(encoding="utf-8")
