"""The benchmark's dbt floor (benchmark/dbt_floor.py): the build's own dbt command selecting no
node runs nothing, leaves the published warehouse and its build record as they were, and leaves
no private copy behind."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb

from conftest import PROJECT_DIR, Built, cli_env


def _record(db: Path) -> list[tuple[object, ...]]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(
            "select invocation_id, unique_id, status from meta.dbt_run_results order by unique_id"
        ).fetchall()


def test_the_dbt_floor_runs_no_node_and_touches_no_warehouse(demo_warehouse: Built, tmp_path: Path) -> None:
    env = cli_env(tmp_path)
    db = Path(env["CTD_RTP_DB"])
    shutil.copy2(demo_warehouse.db_path, db)
    before = _record(db)
    assert before  # the demo build left its record
    proc = subprocess.run(
        [sys.executable, "-m", "benchmark.dbt_floor"], cwd=PROJECT_DIR, env=env, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    run_results = json.loads((Path(env["DBT_TARGET_PATH"]) / "run_results.json").read_text())
    assert run_results["results"] == []  # dbt started, parsed and found nothing to run
    assert _record(db) == before  # no hook ran: the build record stands
    assert not list(tmp_path.glob("*.building*"))
