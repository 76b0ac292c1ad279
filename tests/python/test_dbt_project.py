"""Project hygiene in the spirit of dbt-project-evaluator, read from dbt's own artifacts.

The evaluator's rules checked here: documentation (every model, source, macro and column),
primary-key tests (the project's own `unique_combination_of_columns` counts, as dbt_utils' does
for the evaluator), layering (staging reads no staging, marts read no raw data, public marts have
enforced contracts), exposures depend on public models (and the analysis sources) only, no
model fans out to more than FANOUT_THRESHOLD leaf models, and model names match their folder.
Every exception to these rules is in EXCEPTIONS below, with its reason.
"""

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

# dbt-project-evaluator's default (models_fanout_threshold): a node feeding more than this many
# leaf models (models no other model reads) should hand them one shared model instead.
FANOUT_THRESHOLD = 3
# The naming rule: the prefixes a model in each folder may have (evaluator: model_types).
PREFIXES = {"staging": ("stg_",), "intermediate": ("int_",), "marts": ("fct_", "dim_", "rpt_")}

# The one list of exceptions, rule -> {node name: reason}.
EXCEPTIONS: dict[str, dict[str, str]] = {
    "naming": {
        "quarantined_rows": "quarantine/ is its own public layer: rejected rows with reasons, named for what "
        "a data manager queries (docs/data-rejection.md), not a fact or dimension",
        "quarantined_fields": "quarantine/ layer, as quarantined_rows",
        "delivery_summary": "quarantine/ layer: the per-table counts the delivery gate reads (python/ctd_rtp/gate.py)",
    },
    "fanout": {},
    # "<model whose key tests stand for this one>: reason"
    "primary_key": {
        "stg_patients": "int_patients_checked: a row repeated exactly is one patient delivered twice; the structural "
        "uniqueness test (patients_file_patient_id_is_unique) runs where that copy is set aside",
        "stg_lab_results": "int_lab_results_checked: key tests on this view would parse every raw lab row again "
        "(about 6 s at 10M rows, every build); a duplicate or missing result_id is quarantined "
        "there with its reason, and its clean rows are tested unique and not null",
    },
}


@pytest.fixture(scope="module")
def artifacts(demo_warehouse: Built) -> tuple[dict, dict]:
    """`dbt docs generate` against the demo warehouse: manifest + catalog."""
    env = dict(demo_warehouse.env, DBT_PROFILES_DIR=str(PROJECT_DIR))
    dbt = str(Path(sys.executable).with_name("dbt"))
    proc = subprocess.run(
        [dbt, "docs", "generate", "--no-partial-parse"], cwd=PROJECT_DIR, env=env, capture_output=True, text=True
    )
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
        assert built, f"{uid} is not in the catalog"
        missing += [f"{uid}.{c}: no description" for c in sorted(built - documented)]
    assert not missing, "\n".join(missing)


def test_every_source_and_column_is_documented_and_matches_the_tables(artifacts: tuple[dict, dict]) -> None:
    """The raw contract and the analysis tables: described, typed, and (analysis, written by
    `ctd-rtp stats`; raw, the demo seeds) exactly the columns the demo build has."""
    manifest, catalog = artifacts
    sources = manifest["sources"]
    assert {s["source_name"] for s in sources.values()} == {"raw", "analysis"}
    problems = []
    for uid, source in sources.items():
        if not source["description"].strip() or not source["source_description"].strip():
            problems.append(f"{uid}: no description")
        for name, column in source["columns"].items():
            if not column.get("description", "").strip() or not column.get("data_type"):
                problems.append(f"{uid}.{name}: no description or data_type")
        built = [c.lower() for c in catalog["sources"].get(uid, {}).get("columns", {})]
        if sorted(built) != sorted(source["columns"]):
            problems.append(f"{uid}: documented {sorted(source['columns'])}, built {sorted(built)}")
    assert not problems, "\n".join(problems)


def test_every_macro_is_documented(artifacts: tuple[dict, dict]) -> None:
    manifest, _ = artifacts
    ours = {uid: m for uid, m in manifest["macros"].items() if m["package_name"] == "ctd_rtp"}
    assert "macro.ctd_rtp.platelet_response_detail" in ours
    missing = sorted(uid for uid, m in ours.items() if not m["description"].strip())
    assert not missing, f"macros without a description (macros/_macros.yml): {missing}"
    # the IWG rule macro documents its arguments too
    rule = ours["macro.ctd_rtp.platelet_response_detail"]
    assert [a["name"] for a in rule["arguments"]][:4] == [
        "platelet_count",
        "baseline_count",
        "bleeding_grade",
        "bleeding_evidence",
    ]


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
        return {"unique", "not_null"} <= tested.get(uid, set()) or "unique_combination_of_columns" in tested.get(
            uid, set()
        )

    without = []
    for uid, node in models(manifest).items():
        # a staging view whose key is tested downstream (EXCEPTIONS["primary_key"])
        elsewhere = EXCEPTIONS["primary_key"].get(node["name"], "").split(":", 1)[0]
        if not (
            has_key_test(uid)
            or (elsewhere and has_key_test(f"model.ctd_rtp.{elsewhere}") and node["path"].startswith("staging"))
        ):
            without.append(uid)
    assert not without, f"models without a primary-key test: {without}"


def test_layering_rules(artifacts: tuple[dict, dict]) -> None:
    manifest, _ = artifacts
    nodes = manifest["nodes"]
    problems = []
    for uid, node in models(manifest).items():
        parents = node["depends_on"]["nodes"]
        if node["name"].startswith("stg_"):
            problems += [
                f"{uid} reads staging {p}" for p in parents if nodes.get(p, {}).get("name", "").startswith("stg_")
            ]
        if node["path"].startswith("marts"):
            problems += [
                f"{uid} reads raw {p}" for p in parents if p.startswith("seed.") and nodes[p]["path"].startswith("demo")
            ]
            problems += [
                f"{uid} reads staging {p}" for p in parents if nodes.get(p, {}).get("name", "").startswith("stg_")
            ]
            if not node["config"]["contract"]["enforced"]:
                problems.append(f"{uid}: public mart without an enforced contract")
    assert not problems, "\n".join(problems)


def test_exposures_depend_on_public_models_and_analysis_sources(artifacts: tuple[dict, dict]) -> None:
    manifest, _ = artifacts
    problems = []
    for uid, exposure in manifest["exposures"].items():
        for parent in exposure["depends_on"]["nodes"]:
            if parent.startswith("source."):
                if manifest["sources"][parent]["source_name"] != "analysis":
                    problems.append(f"{uid} reads source {parent}")
            elif manifest["nodes"][parent].get("access") != "public":
                problems.append(f"{uid} reads {parent}, access {manifest['nodes'][parent].get('access')}")
            elif not manifest["nodes"][parent]["path"].startswith(("marts", "quarantine")):
                problems.append(f"{uid} reads {parent}, neither a mart nor the quarantine")
    assert not problems, "\n".join(problems)


def test_no_model_fans_out(artifacts: tuple[dict, dict]) -> None:
    manifest, _ = artifacts
    children: dict[str, set[str]] = {}
    for uid, node in models(manifest).items():
        for parent in node["depends_on"]["nodes"]:
            children.setdefault(parent, set()).add(uid)
    fanning = {}
    for parent, kids in children.items():
        leaves = sorted(k.rsplit(".", 1)[1] for k in kids if not children.get(k))
        name = parent.rsplit(".", 1)[1]
        if len(leaves) > FANOUT_THRESHOLD and name not in EXCEPTIONS["fanout"]:
            fanning[name] = leaves
    assert not fanning, f"more than {FANOUT_THRESHOLD} leaf models: {fanning}"


def test_model_names_match_their_folder(artifacts: tuple[dict, dict]) -> None:
    manifest, _ = artifacts
    wrong = []
    for node in models(manifest).values():
        folder = node["path"].split("/")[0]
        allowed = PREFIXES.get(folder, ())
        if not node["name"].startswith(allowed) and node["name"] not in EXCEPTIONS["naming"]:
            wrong.append(f"{node['path']}: expected a name starting {' or '.join(allowed) or '(no folder rule)'}")
    assert not wrong, "\n".join(wrong)
    stale = [
        n
        for rule in EXCEPTIONS.values()
        for n in rule
        if not any(node["name"] == n for node in models(manifest).values())
    ]
    assert not stale, f"exceptions for models that no longer exist: {stale}"


def test_dbt_unit_tests_pass_here_and_not_in_the_production_build(demo_warehouse: Built, tmp_path: Path) -> None:
    """`ctd-rtp build` leaves dbt's unit tests out (they check the SQL, not the delivery); `make
    test` runs every one of them here, on a copy of the demo warehouse (their inputs' columns)."""
    built = json.loads((demo_warehouse.workdir / "target" / "run_results.json").read_text())["results"]
    assert built and not [r for r in built if r["unique_id"].startswith("unit_test.")]
    db = tmp_path / "warehouse.duckdb"
    shutil.copy(demo_warehouse.db_path, db)
    env = dict(
        demo_warehouse.env,
        CTD_RTP_DB=str(db),
        DBT_PROFILES_DIR=str(PROJECT_DIR),
        DBT_TARGET_PATH=str(tmp_path / "target"),
        DBT_LOG_PATH=str(tmp_path / "logs"),
    )
    dbt = str(Path(sys.executable).with_name("dbt"))
    proc = subprocess.run(
        [dbt, "test", "--select", "test_type:unit"], cwd=PROJECT_DIR, env=env, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout[-4000:]
    manifest = json.loads((tmp_path / "target" / "manifest.json").read_text())
    declared = {uid for uid in manifest["unit_tests"]}
    results = [
        r
        for r in json.loads((tmp_path / "target" / "run_results.json").read_text())["results"]
        if not r["unique_id"].startswith("operation.")
    ]  # the on-run-start and on-run-end hooks
    assert len(declared) >= 10
    assert {r["unique_id"] for r in results} == declared
    assert {r["status"] for r in results} == {"pass"}


def test_a_kept_partial_parse_follows_the_raw_folder(tmp_path: Path) -> None:
    """dbt's partial parse (kept across runs) is redone when CTD_RTP_RAW_DIR changes: the demo
    seeds are enabled by it in dbt_project.yml."""
    env = {k: v for k, v in os.environ.items() if k != "CTD_RTP_RAW_DIR"}
    env.update(
        DBT_PROFILES_DIR=str(PROJECT_DIR),
        CTD_RTP_DB=str(tmp_path / "w.duckdb"),
        DBT_TARGET_PATH=str(tmp_path / "target"),
        DBT_LOG_PATH=str(tmp_path / "logs"),
        DBT_SEND_ANONYMOUS_USAGE_STATS="false",
    )
    dbt = str(Path(sys.executable).with_name("dbt"))

    def demo_seeds(raw_dir: Path | None) -> list[str]:
        run_env = dict(env, CTD_RTP_RAW_DIR=str(raw_dir)) if raw_dir else env
        proc = subprocess.run(
            [dbt, "ls", "--partial-parse", "--resource-type", "seed", "--output", "name"],
            cwd=PROJECT_DIR,
            env=run_env,
            capture_output=True,
            text=True,
        )
        assert proc.returncode == 0, proc.stdout[-3000:]
        return sorted(line for line in proc.stdout.split() if line in {"patients", "lab_results"})

    assert demo_seeds(None) == ["lab_results", "patients"]
    assert (tmp_path / "target" / "partial_parse.msgpack").exists()
    assert demo_seeds(FIXTURES / "own_cohort") == []
    assert demo_seeds(None) == ["lab_results", "patients"]
