"""`ctd-rtp build` runs dbt through ctd_rtp.dbt_invoke: dbt's own runner with --no-write-json,
and run_results.json (which `ctd-rtp` reads for failures and the report for its build record)
written from dbt's result. Exit codes as dbt's: 0, 1 when a node failed, 2 when dbt could not run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import PROJECT_DIR, cli_env
from ctd_rtp import dbt
from ctd_rtp.warehouse import Settings


def _invoke(workdir: Path, *dbt_args: str) -> subprocess.CompletedProcess[str]:
    env = {**cli_env(workdir), "DBT_PROFILES_DIR": str(PROJECT_DIR)}
    run_results = workdir / "target" / "run_results.json"
    command = [sys.executable, "-m", "ctd_rtp.dbt_invoke", str(run_results), *dbt_args]
    command += ["--target-path", str(workdir / "target")]
    return subprocess.run(command, cwd=PROJECT_DIR, env=env, capture_output=True, text=True)


def _results(workdir: Path) -> dict[str, str]:
    data = json.loads((workdir / "target" / "run_results.json").read_text())
    # less the on-run-start and on-run-end hooks
    return {r["unique_id"]: r["status"] for r in data["results"] if not r["unique_id"].startswith("operation.")}


def test_run_results_are_written_and_the_manifest_is_not(tmp_path: Path) -> None:
    ok = _invoke(tmp_path, "seed", "--select", "analytes")
    assert ok.returncode == 0, ok.stdout[-3000:] + ok.stderr[-2000:]
    assert _results(tmp_path) == {"seed.ctd_rtp.analytes": "success"}
    target = sorted(p.name for p in (tmp_path / "target").iterdir())
    assert "manifest.json" not in target and "graph.gpickle" not in target, target
    assert "partial_parse.msgpack" in target, target  # the kept parse is still written

    # a model whose input was never built: dbt says which node failed, exit 1 as dbt's own
    failed = _invoke(tmp_path, "run", "--select", "fct_lab_changes")
    assert failed.returncode == 1, failed.stdout[-3000:]
    assert _results(tmp_path) == {"model.ctd_rtp.fct_lab_changes": "error"}
    assert "fct_lab_changes" in failed.stdout


def test_a_command_line_dbt_refuses_exits_2_with_its_message(tmp_path: Path) -> None:
    proc = _invoke(tmp_path, "build", "--no-such-option")
    assert proc.returncode == 2
    assert "dbt could not run" in proc.stderr and "--no-such-option" in proc.stderr, proc.stderr
    assert not (tmp_path / "target" / "run_results.json").exists()

    usage = subprocess.run([sys.executable, "-m", "ctd_rtp.dbt_invoke"], capture_output=True, text=True)
    assert usage.returncode == 2 and "usage: python -m ctd_rtp.dbt_invoke" in usage.stderr


def test_ctd_rtp_runs_dbt_through_the_wrapper(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """run_dbt (what `ctd-rtp build` calls) starts this module, run_results.json in the target."""
    seen: list[tuple[str, ...]] = []

    def fake_run(command: tuple[str, ...], **_: object) -> subprocess.CompletedProcess[str]:
        seen.append(tuple(command))
        return subprocess.CompletedProcess(command, 0, "", "")

    monkeypatch.setattr(dbt.subprocess, "run", fake_run)
    settings = Settings(project_dir=PROJECT_DIR, db_path=tmp_path / "w.duckdb", raw_dir=None)
    dbt.run_dbt(settings, ["build"], quiet=True, target_path=tmp_path / "target")
    (command,) = seen
    assert command[:4] == (sys.executable, "-m", "ctd_rtp.dbt_invoke", str(tmp_path / "target" / "run_results.json"))
    assert command[4] == "build" and "--no-write-json" not in command  # the module adds it


def test_a_dbt_that_writes_no_results_is_not_reported_with_the_previous_runs_failures(tmp_path: Path) -> None:
    """run_results.json of an earlier run is removed before dbt starts: a dbt that stops before
    writing (here: a command line it refuses; or killed, out of memory) is reported with its own
    output, never with the earlier run's failed nodes."""
    target = tmp_path / "target"
    target.mkdir()
    stale = {"results": [{"unique_id": "model.ctd_rtp.from_an_earlier_run", "status": "error", "message": "old"}]}
    (target / "run_results.json").write_text(json.dumps(stale))
    settings = Settings(project_dir=PROJECT_DIR, db_path=tmp_path / "w.duckdb", raw_dir=None)
    with pytest.raises(dbt.DbtFailed) as failed:
        dbt.run_dbt(settings, ["build", "--no-such-option"], quiet=True, target_path=target)
    assert "from_an_earlier_run" not in str(failed.value) and failed.value.nodes == ()
    assert "--no-such-option" in str(failed.value), str(failed.value)
    assert not (target / "run_results.json").exists()
