"""Operations: plain-text logs off a terminal, read-only folders and odd warehouse paths are clear
usage errors (exit 2, the path named, no traceback), and `stats` without a warehouse leaves no
lock file behind."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from conftest import PROJECT_DIR, cli_env, run_cli
from ctd_rtp.dbt import LARGE_RAW_BYTES, MEMORY_LIMIT_DEFAULT, THREADS_DEFAULT, dbt_env, dbt_threads, out_of_memory_hint
from ctd_rtp.warehouse import Settings

EXIT_USAGE, EXIT_MISSING = 2, 6


def unwritable_folder() -> Path:
    """A folder this process cannot create, even as root (sysfs refuses new entries)."""
    folder = Path("/sys") / f"ctd-rtp-test-{uuid.uuid4().hex[:8]}"
    try:
        folder.mkdir()
    except OSError:
        return folder
    folder.rmdir()
    pytest.skip("/sys accepts new folders here: no unwritable folder to test with")


def test_dbt_gets_no_colour_codes_off_a_terminal(tmp_path: Path) -> None:
    settings = Settings(project_dir=tmp_path, db_path=tmp_path / "w.duckdb", raw_dir=None)
    # pytest captures standard output, so it is not a terminal here
    env = dbt_env(settings, base={})
    assert env["DBT_USE_COLORS"] == "false" and env["DBT_USE_COLORS_FILE"] == "false"
    assert "DBT_USE_COLORS" not in dbt_env(settings, base={}, colours=True)
    assert dbt_env(settings, base={"NO_COLOR": "1"}, colours=None)["DBT_USE_COLORS"] == "false"


@pytest.mark.parametrize("command", ["build", "run"])
def test_unwritable_warehouse_folder_is_a_usage_error(command: str, tmp_path: Path) -> None:
    folder = unwritable_folder()
    env = cli_env(tmp_path)
    env["CTD_RTP_DB"] = str(folder / "warehouse.duckdb")
    proc = run_cli([command, "--quiet"], env, check=False)
    assert proc.returncode == EXIT_USAGE, proc.stdout + proc.stderr
    assert f"the warehouse folder {folder} is not writable" in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout


def test_unwritable_report_folder_is_a_usage_error(tmp_path: Path) -> None:
    folder = unwritable_folder()
    proc = run_cli(["report", "--out-dir", str(folder / "reports")], cli_env(tmp_path), check=False)
    assert proc.returncode == EXIT_USAGE, proc.stdout + proc.stderr
    assert f"the report folder {folder / 'reports'} is not writable" in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout


def test_stats_without_a_warehouse_leaves_nothing_behind(tmp_path: Path) -> None:
    work = tmp_path / "empty"
    work.mkdir()
    proc = run_cli(["stats"], cli_env(work), check=False)
    assert proc.returncode == EXIT_MISSING, proc.stdout + proc.stderr
    assert f"no warehouse at {work / 'warehouse.duckdb'}" in proc.stderr
    assert sorted(os.listdir(work)) == [], "stats left files beside a warehouse that does not exist"


@pytest.mark.parametrize("name", ["o'neil.duckdb", 'say "hi".duckdb'])
def test_a_quote_in_the_warehouse_path_is_refused_up_front(name: str, tmp_path: Path) -> None:
    env = cli_env(tmp_path)
    env["CTD_RTP_DB"] = str(tmp_path / name)
    proc = run_cli(["build", "--quiet"], env, check=False)
    assert proc.returncode == EXIT_USAGE, proc.stdout + proc.stderr
    assert f"the warehouse path {tmp_path / name} contains a quote character" in proc.stderr
    assert "dbt build" not in proc.stdout  # refused before dbt runs
    assert not (tmp_path / f"{name}.run.lock").exists()


@pytest.mark.slow
def test_a_warehouse_path_with_spaces_builds_with_plain_output(tmp_path: Path) -> None:
    env = cli_env(tmp_path)
    env["CTD_RTP_DB"] = str(tmp_path / "my cohort" / "ward 3 warehouse.duckdb")
    proc = run_cli(["build"], env)  # not --quiet: dbt's own output goes to the (captured) stdout
    assert "\x1b[" not in proc.stdout + proc.stderr, "colour codes in output that is not a terminal"
    assert "Completed successfully" in proc.stdout
    assert (tmp_path / "my cohort" / "ward 3 warehouse.duckdb").exists()


@pytest.mark.parametrize(
    ("command", "variable", "value", "message"),
    [
        ("build", "CTD_RTP_DUCKDB_MEMORY_LIMIT", "plenty", "is not a memory size"),
        ("run", "CTD_RTP_DUCKDB_MEMORY_LIMIT", "plenty", "is not a memory size"),
        ("build", "CTD_RTP_DBT_THREADS", "0", "is not a number of dbt threads"),
        ("run", "CTD_RTP_DBT_THREADS", "two", "is not a number of dbt threads"),
    ],
)
def test_a_build_setting_out_of_shape_is_a_usage_error(
    command: str, variable: str, value: str, message: str, tmp_path: Path
) -> None:
    """CTD_RTP_DUCKDB_MEMORY_LIMIT (profiles.yml: DuckDB's memory_limit, default 3GB) that is no
    number and unit, CTD_RTP_DBT_THREADS (dbt's threads) that is not 1, 2, ...: exit 2 naming
    the variable, before dbt starts or anything is written."""
    env = {**cli_env(tmp_path), variable: value}
    proc = run_cli([command, "--quiet"], env, check=False)
    assert proc.returncode == EXIT_USAGE, proc.stdout[-2000:]
    assert f"{variable}={value!r} {message}" in proc.stderr
    assert "dbt build" not in proc.stdout and not any(tmp_path.iterdir())


@pytest.mark.slow
def test_the_duckdb_memory_limit_reaches_duckdb(tmp_path: Path) -> None:
    """A size DuckDB does not know (a unit it refuses) stops the build (exit 3) with DuckDB's
    reason: the variable reaches DuckDB through profiles.yml."""
    env = {**cli_env(tmp_path), "CTD_RTP_DUCKDB_MEMORY_LIMIT": "3 parsecs"}
    proc = run_cli(["build", "--quiet"], env, check=False)
    assert proc.returncode == 3, proc.stdout[-2000:]
    assert "memory" in (proc.stdout + proc.stderr).lower()
    assert not (tmp_path / "warehouse.duckdb").exists()  # nothing published


def test_the_hint_states_the_defaults_profiles_yml_uses() -> None:
    profile = (PROJECT_DIR / "profiles.yml").read_text(encoding="utf-8")
    assert f"env_var('CTD_RTP_DUCKDB_MEMORY_LIMIT', '{MEMORY_LIMIT_DEFAULT}')" in profile
    assert f"env_var('CTD_RTP_DBT_THREADS', '{THREADS_DEFAULT}')" in profile


def test_the_out_of_memory_hint_names_the_settings_in_force() -> None:
    oom = "  - model.ctd_rtp.m: error: Out of Memory Error: failed to pin block of size 256.0 KiB"
    assert out_of_memory_hint("  - test.ctd_rtp.t: fail: Got 2 results, configured to fail if != 0", {}) == ""
    hint = out_of_memory_hint(oom, {"CTD_RTP_DBT_THREADS": "2"})
    assert "CTD_RTP_DUCKDB_MEMORY_LIMIT=3GB (the default)" in hint
    assert "set CTD_RTP_DBT_THREADS=1" in hint and "instead of 2 sharing the cap" in hint
    hint = out_of_memory_hint(oom, {"CTD_RTP_DUCKDB_MEMORY_LIMIT": "10GB", "CTD_RTP_DBT_THREADS": "1"})
    assert "CTD_RTP_DUCKDB_MEMORY_LIMIT=10GB. Raise it" in hint
    assert "CTD_RTP_DBT_THREADS" not in hint  # one thread already: nothing to lower


def test_large_raw_files_get_one_dbt_thread_unless_the_variable_says(tmp_path: Path) -> None:
    """Raw files over LARGE_RAW_BYTES together: one dbt thread (docs/scale.md: the 1M build);
    CTD_RTP_DBT_THREADS wins either way; the demo and small folders get the default."""
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "patients.csv").write_text("patient_id\n")
    settings = Settings(project_dir=PROJECT_DIR, db_path=tmp_path / "w.duckdb", raw_dir=raw)
    assert dbt_threads(settings, {}) == (str(THREADS_DEFAULT), "the default")
    assert dbt_threads(Settings(project_dir=PROJECT_DIR, db_path=tmp_path / "w.duckdb", raw_dir=None), {})[0] == "2"
    with (raw / "lab_results.csv").open("wb") as f:  # sparse: its size, not its bytes on disk
        f.truncate(LARGE_RAW_BYTES)
    threads, why = dbt_threads(settings, {})
    assert threads == "1" and "over 1 GB" in why and "CTD_RTP_DBT_THREADS sets it" in why
    assert dbt_threads(settings, {"CTD_RTP_DBT_THREADS": " 2 "}) == ("2", "CTD_RTP_DBT_THREADS=2")
    assert dbt_env(settings, base={})["CTD_RTP_DBT_THREADS"] == "1"  # what dbt's profiles.yml reads
    assert dbt_env(settings, base={"CTD_RTP_DBT_THREADS": "3"})["CTD_RTP_DBT_THREADS"] == "3"


@pytest.mark.slow
@pytest.mark.parametrize("threads", [None, "1"])
def test_a_build_out_of_duckdb_memory_says_what_to_change(threads: str | None, tmp_path: Path) -> None:
    """A cap DuckDB cannot work in (2MB) stops the build (exit 3) with DuckDB's error and the
    settings to change, nothing published; CTD_RTP_DBT_THREADS reaches dbt (its concurrency)."""
    env = {**cli_env(tmp_path), "CTD_RTP_DUCKDB_MEMORY_LIMIT": "2MB"}
    if threads:
        env["CTD_RTP_DBT_THREADS"] = threads
    proc = run_cli(["build"], env, check=False)  # not --quiet: dbt's output names its concurrency
    assert proc.returncode == 3, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert f"Concurrency: {threads or 2} threads" in proc.stdout
    assert ("dbt threads: 1 (CTD_RTP_DBT_THREADS=1)" in proc.stdout) == (threads == "1")
    assert ("dbt threads:" in proc.stdout) == (threads is not None)  # the default goes unsaid
    assert "Out of Memory Error" in proc.stderr
    assert "DuckDB ran out of memory under its cap, CTD_RTP_DUCKDB_MEMORY_LIMIT=2MB. Raise it" in proc.stderr
    assert ("set CTD_RTP_DBT_THREADS=1" in proc.stderr) == (threads is None)
    assert proc.stderr.rstrip().endswith("see docs/scale.md.")
    assert not (tmp_path / "warehouse.duckdb").exists()
