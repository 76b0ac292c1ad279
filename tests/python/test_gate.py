"""The delivery gate's rules on counts alone (python/ctd_rtp/gate.py); no build.

The end-to-end cases (a refused delivery keeps the previous warehouse, --accept-delivery, the
threshold var) are in the fault suite (faults.py, "delivery gate").
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import duckdb
import pytest

from ctd_rtp.gate import Delivery, TableDelivery, accepted_line, refusal_message, refusals, share_refusals

MARTS = {
    "dim_patients": 4,
    "fct_platelet_response": 12,
    "rpt_response_rates": 3,
    "fct_lab_results": 17,
    "fct_adverse_events": 2,
}
CLEAN = (
    TableDelivery("patients", 4, 4, 0),
    TableDelivery("drug_exposures", 4, 4, 0),
    TableDelivery("lab_results", 1704, 1703, 1, "1 x empty value"),  # the demo: 1 of 1704 (0.06%)
    TableDelivery("visit_assessments", 8, 8, 0),
    TableDelivery("adverse_events", 2, 2, 0),
)


def delivery(tables=CLEAN, marts=MARTS, max_share=0.05, with_index=4) -> Delivery:
    return Delivery(tuple(tables), max_share, dict(marts), with_index)


def replaced(name: str, table: TableDelivery) -> tuple[TableDelivery, ...]:
    return tuple(table if t.table == name else t for t in CLEAN)


def test_a_sound_delivery_passes_first_load_and_rebuild() -> None:
    assert refusals(delivery(), None) == []
    assert refusals(delivery(), MARTS) == []


def test_share_is_refused_only_above_the_threshold() -> None:
    # 1 of 20 = 5.0% exactly: allowed ("must not exceed"); 2 of 21 = 9.5%: refused
    assert share_refusals([TableDelivery("lab_results", 20, 19, 1)], 0.05) == []
    (found,) = share_refusals([TableDelivery("lab_results", 21, 19, 2, "2 x value not numeric")], 0.05)
    assert found.subject == "lab_results"
    assert found.message == (
        "lab_results: 2 of 21 rows quarantined (9.5%), more than max_quarantined_share 5.0%; "
        "top reasons: 2 x value not numeric"
    )
    # the fault suite's threshold case, by hand: 4 of 21 = 19.0% passes 20%, 5 of 22 = 22.7% does not
    assert share_refusals([TableDelivery("lab_results", 21, 17, 4)], 0.2) == []
    assert len(share_refusals([TableDelivery("lab_results", 22, 17, 5)], 0.2)) == 1


def test_an_empty_table_has_share_zero() -> None:
    assert TableDelivery("adverse_events", 0, 0, 0).share == 0.0
    assert share_refusals([TableDelivery("adverse_events", 0, 0, 0)], 0.05) == []


def test_all_patients_quarantined_names_the_cause() -> None:
    tables = replaced("patients", TableDelivery("patients", 4, 0, 4, "4 x birth_year not an integer"))
    marts = {**MARTS, "dim_patients": 0, "fct_platelet_response": 0, "rpt_response_rates": 0}
    found = refusals(delivery(tables, marts), None)
    assert [r.rule for r in found] == ["quarantined share", "core mart empty"]
    assert found[1].message == (
        "marts.dim_patients, marts.fct_platelet_response, marts.rpt_response_rates would be "
        "empty: all patients quarantined: 4 of 4 rows quarantined (100.0%); "
        "top reasons: 4 x birth_year not an integer"
    )


def test_no_index_dose_is_refused_on_a_first_load_too() -> None:
    # nobody has a day 0: no response, no windowed lab result, although every lab row is clean
    marts = {
        **MARTS,
        "fct_platelet_response": 0,
        "rpt_response_rates": 0,
        "fct_lab_results": 0,
        "fct_adverse_events": 0,
    }
    (found,) = refusals(delivery(marts=marts, with_index=0), None)
    assert found.message == (
        "marts.fct_platelet_response, marts.rpt_response_rates, marts.fct_lab_results would be "
        "empty: no patient has an index dose: 0 of 4 patients have a clean exposure to the index drug "
        "(drug_exposures: 4 rows, 4 clean)"
    )
    # with a published warehouse the same refusal names what they had, and every mart it empties, once
    (again,) = refusals(delivery(marts=marts, with_index=0), MARTS)
    assert again.message.startswith(
        "marts.fct_platelet_response (had 12 rows when last published), "
        "marts.rpt_response_rates (had 3 rows when last published), marts.fct_lab_results "
        "(had 17 rows when last published), marts.fct_adverse_events (had 2 rows when last "
        "published) would be empty: no patient has an index dose"
    )


def test_a_mart_that_had_rows_must_not_become_empty() -> None:
    marts = {**MARTS, "fct_adverse_events": 0}
    assert refusals(delivery(marts=marts), None) == []  # first load: an empty safety table is allowed
    (found,) = refusals(delivery(marts=marts), MARTS)
    assert (found.rule, found.message) == (
        "mart emptied",
        "marts.fct_adverse_events had 2 rows in the published warehouse and would have 0",
    )
    assert refusals(delivery(), {**MARTS, "fct_adverse_events": 0}) == []  # empty before, empty now


def test_no_clean_lab_result_is_a_core_refusal() -> None:
    tables = replaced("lab_results", TableDelivery("lab_results", 17, 0, 17, "17 x collected_on missing or not a date"))
    found = refusals(delivery(tables, {**MARTS, "fct_lab_results": 0}), MARTS)
    assert [r.rule for r in found] == ["quarantined share", "core mart empty"]
    assert found[1].message == (
        "marts.fct_lab_results (had 17 rows when last published) would be empty: "
        "no clean lab result (all 17 rows of lab_results quarantined)"
    )


def test_messages_list_every_refusal_once_and_the_way_out() -> None:
    tables = replaced("lab_results", TableDelivery("lab_results", 17, 0, 17, "17 x collected_on missing or not a date"))
    found = refusals(delivery(tables, {**MARTS, "fct_lab_results": 0}), MARTS)
    text = refusal_message(found, 0.05)
    assert text.startswith("delivery refused, nothing published")
    assert text.count("\n  - ") == 2
    assert '--accept-delivery (or raise the threshold, e.g. --vars "{max_quarantined_share: 0.2}")' in text
    line = accepted_line(found)
    assert "\n" not in line and line.startswith("warning: delivery accepted with --accept-delivery")


# --- the commands of docs/data-rejection.md section 7, run as written ------------------------


def _doc_blocks() -> list[str]:
    import re

    from conftest import PROJECT_DIR

    doc = (PROJECT_DIR / "docs" / "data-rejection.md").read_text()
    section = doc.split("## 7. The delivery gate")[1]
    return re.findall(r"```sh\n(.*?)```", section, flags=re.S)


@pytest.mark.slow
def test_the_documented_gate_commands(tmp_path: Path) -> None:
    """A delivery with 3 bad of 20 lab rows (15%): refused by default, the documented ways out work."""
    import shutil
    import subprocess

    from conftest import FIXTURES, PROJECT_DIR, cli_env, run_cli

    raw = tmp_path / "raw"
    shutil.copytree(FIXTURES / "own_cohort", raw)
    with (raw / "lab_results.csv").open("a") as fh:
        fh.writelines(f"L_BAD{i},B,2023-02-14,PLT,abc,10^9/L\n" for i in range(3))
    env = cli_env(tmp_path, raw)
    refused = run_cli(["build", "--quiet"], env, check=False)
    assert refused.returncode == 3, refused.stderr
    assert (
        "lab_results: 3 of 20 rows quarantined (15.0%), more than max_quarantined_share 5.0%; "
        "top reasons: 3 x value not numeric"
    ) in refused.stderr
    assert not (tmp_path / "warehouse.duckdb").exists()  # a first load refused: nothing published

    builds, by_hand = _doc_blocks()
    db = tmp_path / "warehouse.duckdb"
    script = builds.replace("/path/to/folder", str(raw)).replace("'warehouse.duckdb'", f"'{db}'")
    out = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script], cwd=PROJECT_DIR, env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert "delivery gate: passed (max_quarantined_share 20.0%; highest share 15.0%)" in out.stdout
    assert (
        "warning: delivery accepted with --accept-delivery although the gate would refuse it: "
        "lab_results: 3 of 20 rows quarantined (15.0%)"
    ) in out.stdout
    assert out.stdout.count("warning: delivery accepted") == 1
    assert "3 x value not numeric" in out.stdout  # the delivery_summary row of lab_results

    # by hand: plain `dbt build` fails on the gate's test; the documented --vars makes it a warning
    hand_env = dict(env, CTD_RTP_DB=str(tmp_path / "hand.duckdb"))
    plain = subprocess.run(
        ["bash", "-c", "DBT_PROFILES_DIR=. .venv/bin/dbt build"],
        cwd=PROJECT_DIR,
        env=hand_env,
        capture_output=True,
        text=True,
    )
    assert plain.returncode == 1
    assert "FAIL 1 assert_delivery_quarantine_within_threshold" in plain.stdout
    # a dbt run by hand records itself in the warehouse it wrote, its failure too (the report reads it)
    recorded = _recorded_tests(tmp_path / "hand.duckdb")
    assert recorded == ("build", _file_tests(tmp_path / "target")) and recorded[1]["fail"] == 1, recorded
    accepted = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", by_hand], cwd=PROJECT_DIR, env=hand_env, capture_output=True, text=True
    )
    assert accepted.returncode == 0, accepted.stdout[-3000:]
    assert "WARN 1 assert_delivery_quarantine_within_threshold" in accepted.stdout
    recorded = _recorded_tests(tmp_path / "hand.duckdb")
    assert recorded == ("build", _file_tests(tmp_path / "target")) and recorded[1]["warn"] == 1, recorded
    assert "fail" not in recorded[1]  # the record of the earlier, failed run was replaced


def _recorded_tests(db: Path) -> tuple[str, dict[str, int]]:
    """The command and test statuses of meta.dbt_run_results, the warehouse's record of its build."""
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute(
            "select any_value(command), status, count(*) from meta.dbt_run_results "
            "where unique_id like 'test.%' group by status order by status"
        ).fetchall()
    return (rows[0][0] if rows else ""), {status: n for _, status, n in rows}


def _file_tests(target: Path) -> dict[str, int]:
    """The test statuses of the run_results.json dbt wrote for the same run."""
    results = json.loads((target / "run_results.json").read_text())["results"]
    return dict(Counter(r["status"] for r in results if r["unique_id"].startswith("test.")))
