"""The raw input contract has one home, the dbt source `raw` (models/staging/_raw__sources.yml):
the Python that restates it (ctd-rtp check, the cohort generator) and the README agree with it,
and dbt's lineage starts at it (every staging model depends on its source table)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import yaml

from conftest import PROJECT_DIR
from ctd_rtp import check, cohort

SOURCES = PROJECT_DIR / "models" / "staging" / "_raw__sources.yml"


def contract() -> dict[str, list[str]]:
    (source,) = yaml.safe_load(SOURCES.read_text(encoding="utf-8"))["sources"]
    assert source["name"] == "raw"
    return {t["name"]: [c["name"] for c in t["columns"]] for t in source["tables"]}


def test_every_source_column_has_a_type_and_a_description() -> None:
    (source,) = yaml.safe_load(SOURCES.read_text(encoding="utf-8"))["sources"]
    assert source["description"].strip()
    for table in source["tables"]:
        assert table["description"].strip(), table["name"]
        for column in table["columns"]:
            assert column.get("data_type") and column.get("description", "").strip(), (table["name"], column)
            assert re.search(r"(Text\.|parses it as (date|integer|double|boolean)\.)$", column["description"]), column


def test_python_restatements_agree_with_the_sources() -> None:
    expected = contract()
    assert list(expected) == list(check.TABLES)
    assert {t: list(c) for t, c in check.CONTRACT.items()} == expected
    assert {t: list(c) for t, c in cohort.RAW_COLUMNS.items()} == expected


def test_readme_table_lists_the_contract_columns() -> None:
    readme = (PROJECT_DIR / "README.md").read_text(encoding="utf-8")
    for table, columns in contract().items():
        (row,) = [line for line in readme.splitlines() if line.startswith(f"| `{table}` |")]
        named = re.findall(r"\b([a-z][a-z_]+)\b(?: \([^)]*\))?", row.split("|")[2])
        assert [n for n in named if n in columns] == columns, row


def test_the_contract_is_not_restated_in_sql() -> None:
    text = (PROJECT_DIR / "macros" / "raw_table.sql").read_text(encoding="utf-8")
    assert "'prior_therapy_lines'" not in text and "graph.sources" in text


def test_staging_lineage_starts_at_the_sources(tmp_path: Path) -> None:
    env = dict(
        os.environ,
        DBT_PROFILES_DIR=str(PROJECT_DIR),
        DBT_TARGET_PATH=str(tmp_path / "target"),
        DBT_LOG_PATH=str(tmp_path / "logs"),
        CTD_RTP_DB=str(tmp_path / "w.duckdb"),
    )
    env.pop("CTD_RTP_RAW_DIR", None)
    dbt = str(Path(sys.executable).with_name("dbt"))
    proc = subprocess.run(
        [dbt, "parse", "--no-partial-parse", "--quiet"], cwd=PROJECT_DIR, env=env, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout[-3000:]
    manifest = json.loads((tmp_path / "target" / "manifest.json").read_text())
    for table, columns in contract().items():
        source = manifest["sources"][f"source.ctd_rtp.raw.{table}"]
        assert list(source["columns"]) == columns
        staging = manifest["nodes"][f"model.ctd_rtp.stg_{table}"]
        assert f"source.ctd_rtp.raw.{table}" in staging["depends_on"]["nodes"], table
