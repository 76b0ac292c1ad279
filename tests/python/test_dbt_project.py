"""Project hygiene in the spirit of dbt-project-evaluator, read from dbt's own artifacts."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import FIXTURES, PROJECT_DIR, Built

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def artifacts(demo_warehouse: Built) -> tuple[dict, dict]:
    """`dbt docs generate` against the demo warehouse: manifest + catalog."""
    env = dict(demo_warehouse.env, DBT_PROFILES_DIR=str(PROJECT_DIR))
    dbt = str(Path(sys.executable).with_name("dbt"))
    proc = subprocess.run([dbt, "docs", "generate", "--no-partial-parse"], cwd=PROJECT_DIR, env=env,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:]
    target = demo_warehouse.workdir / "target"
    return json.loads((target / "manifest.json").read_text()), json.loads((target / "catalog.json").read_text())


def models(manifest: dict) -> dict[str, dict]:
    return {k: v for k, v in manifest["nodes"].items() if v["resource_type"] == "model"}


def test_every_model_and_every_built_column_is_documented(artifacts: tuple[dict, dict]) -> None:
    manifest, catalog = artifacts
    missing = []
    for uid, node in models(manifest).items():
        if not node["description"].strip():
            missing.append(f"{uid}: no description")
        documented = {c for c, meta in node["columns"].items() if meta.get("description", "").strip()}
        built = {c.lower() for c in catalog["nodes"].get(uid, {}).get("columns", {})}
        if node["config"]["materialized"] in ("table", "incremental") or node["path"].startswith("staging"):
            missing += [f"{uid}.{c}: no description" for c in sorted(built - documented)]
    assert not missing, "\n".join(missing)


def test_every_model_has_a_primary_key_test(artifacts: tuple[dict, dict]) -> None:
    manifest, _ = artifacts
    tested: dict[str, set[str]] = {}
    for node in manifest["nodes"].values():
        if node["resource_type"] != "test" or "test_metadata" not in node:
            continue
        name = node["test_metadata"]["name"]
        for dep in node["depends_on"]["nodes"]:
            tested.setdefault(dep, set()).add(name)
    def has_key_test(uid: str) -> bool:
        return {"unique", "not_null"} <= tested.get(uid, set()) or "unique_combination_of_columns" in tested.get(uid, set())

    without = []
    for uid, node in models(manifest).items():
        # a staging view may name the model downstream where its key is tested (stg_lab_results)
        elsewhere = node["config"].get("meta", {}).get("primary_key_tested_in")
        if not (has_key_test(uid) or (elsewhere and has_key_test(f"model.ctd_rtp.{elsewhere}")
                                      and node["path"].startswith("staging"))):
            without.append(uid)
    assert not without, f"models without a primary-key test: {without}"


def test_layering_rules(artifacts: tuple[dict, dict]) -> None:
    manifest, _ = artifacts
    nodes = manifest["nodes"]
    problems = []
    for uid, node in models(manifest).items():
        parents = node["depends_on"]["nodes"]
        if node["name"].startswith("stg_"):
            problems += [f"{uid} reads staging {p}" for p in parents if nodes.get(p, {}).get("name", "").startswith("stg_")]
        if node["path"].startswith("marts"):
            problems += [f"{uid} reads raw {p}" for p in parents
                         if p.startswith("seed.") and nodes[p]["path"].startswith("demo")]
            problems += [f"{uid} reads staging {p}" for p in parents if nodes.get(p, {}).get("name", "").startswith("stg_")]
            if not node["config"]["contract"]["enforced"]:
                problems.append(f"{uid}: public mart without an enforced contract")
    assert not problems, "\n".join(problems)


def test_report_exposure_depends_on_marts_only(artifacts: tuple[dict, dict]) -> None:
    manifest, _ = artifacts
    exposure = manifest["exposures"]["exposure.ctd_rtp.ctd_rtp_study_report"]
    parents = exposure["depends_on"]["nodes"]
    assert parents
    for parent in parents:
        path = manifest["nodes"][parent]["path"]
        assert path.startswith(("marts", "quarantine")), parent


def test_dbt_unit_tests_pass_here_and_not_in_the_production_build(demo_warehouse: Built, tmp_path: Path) -> None:
    """`ctd-rtp build` leaves dbt's unit tests out (they check the SQL, not the delivery); `make
    test` runs every one of them here, on a copy of the demo warehouse (their inputs' columns)."""
    built = json.loads((demo_warehouse.workdir / "target" / "run_results.json").read_text())["results"]
    assert built and not [r for r in built if r["unique_id"].startswith("unit_test.")]
    db = tmp_path / "warehouse.duckdb"
    shutil.copy(demo_warehouse.db_path, db)
    env = dict(demo_warehouse.env, CTD_RTP_DB=str(db), DBT_PROFILES_DIR=str(PROJECT_DIR),
               DBT_TARGET_PATH=str(tmp_path / "target"), DBT_LOG_PATH=str(tmp_path / "logs"))
    dbt = str(Path(sys.executable).with_name("dbt"))
    proc = subprocess.run([dbt, "test", "--select", "test_type:unit"], cwd=PROJECT_DIR, env=env,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-4000:]
    manifest = json.loads((tmp_path / "target" / "manifest.json").read_text())
    declared = {uid for uid in manifest["unit_tests"]}
    results = [r for r in json.loads((tmp_path / "target" / "run_results.json").read_text())["results"]
               if not r["unique_id"].startswith("operation.")]  # the on-run-start hook
    assert len(declared) >= 10
    assert {r["unique_id"] for r in results} == declared
    assert {r["status"] for r in results} == {"pass"}


def test_a_kept_partial_parse_follows_the_raw_folder(tmp_path: Path) -> None:
    """dbt's partial parse (kept across runs) is redone when CTD_RTP_RAW_DIR changes: the demo
    seeds are enabled by it in dbt_project.yml."""
    env = {k: v for k, v in os.environ.items() if k != "CTD_RTP_RAW_DIR"}
    env.update(DBT_PROFILES_DIR=str(PROJECT_DIR), CTD_RTP_DB=str(tmp_path / "w.duckdb"),
               DBT_TARGET_PATH=str(tmp_path / "target"), DBT_LOG_PATH=str(tmp_path / "logs"),
               DBT_SEND_ANONYMOUS_USAGE_STATS="false")
    dbt = str(Path(sys.executable).with_name("dbt"))

    def demo_seeds(raw_dir: Path | None) -> list[str]:
        run_env = dict(env, CTD_RTP_RAW_DIR=str(raw_dir)) if raw_dir else env
        proc = subprocess.run([dbt, "ls", "--partial-parse", "--resource-type", "seed", "--output", "name"],
                              cwd=PROJECT_DIR, env=run_env, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stdout[-3000:]
        return sorted(line for line in proc.stdout.split() if line in {"patients", "lab_results"})

    assert demo_seeds(None) == ["lab_results", "patients"]
    assert (tmp_path / "target" / "partial_parse.msgpack").exists()
    assert demo_seeds(FIXTURES / "own_cohort") == []
    assert demo_seeds(None) == ["lab_results", "patients"]
