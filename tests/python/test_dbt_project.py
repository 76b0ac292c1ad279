"""Project hygiene in the spirit of dbt-project-evaluator, read from dbt's own artifacts."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import PROJECT_DIR, Built

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
