"""Raw CSV files larger than DuckDB's largest blob (4 GB; a 1,000,000-patient lab export is 5.7 GiB)
are checked as lines instead of as one blob (macros/raw_table.sql, duckdb__read_raw_one_file step 1).
The var raw_file_blob_max_bytes (a test knob, not a study var) sends the small fixture files down
that path: they stage the same rows, a byte that is not UTF-8 stops the run naming the file and the
line, and the header is still checked against the contract. The staging view's read of a checked
file lets DuckDB estimate its rows from its size."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from conftest import FIXTURES, PROJECT_DIR, cli_env
from ctd_rtp.dbt import _dbt_executable

pytestmark = pytest.mark.slow
AS_LINES = "{raw_file_blob_max_bytes: 0}"


def _stage(workdir: Path, raw: Path, as_lines: bool) -> subprocess.CompletedProcess[str]:
    env = {**cli_env(workdir, raw), "DBT_PROFILES_DIR": str(PROJECT_DIR)}
    command = [
        _dbt_executable(),
        "build",
        "--select",
        "+stg_lab_results",
        "--resource-type",
        "seed",
        "--resource-type",
        "model",
    ]
    command += ["--vars", AS_LINES] if as_lines else []
    return subprocess.run(command, cwd=PROJECT_DIR, env=env, capture_output=True, text=True)


def _rows(db: Path) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute("select * from staging.stg_lab_results order by all").fetchall()


def _read_csv_estimates(db: Path, view: str) -> list[int]:
    """DuckDB's planned row count of each raw file the view reads (EXPLAIN, JSON)."""
    with duckdb.connect(str(db), read_only=True) as con:
        plan = json.loads(con.execute(f"explain (format json) select * from {view}").fetchall()[0][1])

    def walk(node: dict) -> Iterator[int]:
        if node.get("name") == "READ_CSV":
            yield int(node["extra_info"]["Estimated Cardinality"])
        for child in node.get("children", []):
            yield from walk(child)

    return [n for root in plan for n in walk(root)]


def test_a_file_read_as_lines_stages_the_same_rows(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    shutil.copytree(FIXTURES / "own_cohort", raw)
    for workdir, as_lines in ((tmp_path / "blob", False), (tmp_path / "lines", True)):
        workdir.mkdir()
        proc = _stage(workdir, raw, as_lines)
        assert proc.returncode == 0, proc.stdout[-3000:]
    log = (tmp_path / "lines" / "logs" / "dbt.log").read_text(encoding="utf-8")
    assert "select count(line) from read_csv('" in log and "try(decode(content))" not in log
    assert _rows(tmp_path / "lines" / "warehouse.duckdb") == _rows(tmp_path / "blob" / "warehouse.duckdb") != []
    # the staging view lets DuckDB estimate the file's rows from its size (raw_csv_read_sql, sized=true),
    # not its constant 42, which made it build hash joins on the lab rows' side (docs/scale.md)
    rows = len(_rows(tmp_path / "blob" / "warehouse.duckdb"))
    for estimate in _read_csv_estimates(tmp_path / "blob" / "warehouse.duckdb", "staging.stg_lab_results"):
        assert estimate != 42 and rows / 3 <= estimate <= rows * 3, (estimate, rows)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("latin-1 byte", "This file is not utf-8 encoded"),
        ("header without value", "lab_results.csv: missing column(s) value"),
    ],
)
def test_a_file_read_as_lines_is_still_checked(tmp_path: Path, change: str, message: str) -> None:
    raw = tmp_path / "raw"
    shutil.copytree(FIXTURES / "own_cohort", raw)
    lab = raw / "lab_results.csv"
    lines = lab.read_bytes().split(b"\n")
    if change == "latin-1 byte":
        lines[3] = lines[3] + b"\xe9"
    else:
        lines[0] = lines[0].replace(b"value", b"result")
    lab.write_bytes(b"\n".join(lines))
    proc = _stage(tmp_path, raw, as_lines=True)
    assert proc.returncode != 0
    assert message in proc.stdout, proc.stdout[-3000:]
    assert "lab_results.csv" in proc.stdout
