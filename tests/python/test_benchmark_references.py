"""The benchmark's references of the core job (benchmark/reference_sql.py, reference_pandas.py)
compute the marts they stand for, and the check that says so (benchmark/references.py) fails
when a value, a row or a response differs. On a 300-patient synthetic cohort with messy rows
and a lab extract: tests/python/test_incremental.py (test_a_synthetic_cohort_with_a_random_extract)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from benchmark import reference_pandas, reference_sql
from benchmark.references import differences

from conftest import PROJECT_DIR, Built

pytestmark = pytest.mark.slow

DEMO_RAW = PROJECT_DIR / "seeds" / "demo"


def check_references(db: Path, raw: Path, out: Path) -> None:
    """Both references, run on `raw`, equal the marts of the warehouse built from it."""
    for name, module in (("sql", reference_sql), ("pandas", reference_pandas)):
        module.run(raw, out / name)
        counts, problems = differences(db, out / name)
        assert not problems, f"{name} reference != marts:\n" + "\n".join(problems)
        assert counts["fct_platelet_response"] > 0 and counts["fct_lab_changes"] > counts["fct_platelet_response"]


@pytest.fixture(scope="module")
def demo_references(demo_warehouse: Built, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("references")
    check_references(demo_warehouse.db_path, DEMO_RAW, out)
    return out


def test_both_references_equal_the_demo_marts(demo_references: Path) -> None:
    rates = pd.read_parquet(demo_references / "sql" / "response_rates.parquet").set_index("visit")
    # the published figures, computed by the reference from raw rows as the warehouse does
    assert (rates.loc["month_3", "n_cr"], rates.loc["month_3", "n_pr"], rates.loc["month_3", "n_evaluable"]) == (
        1,
        7,
        13,
    )
    assert rates.loc["month_6", "n_responders"] == 10


@pytest.mark.parametrize(
    ("file", "change", "expected"),
    [
        (
            "lab_changes",
            lambda f: f.assign(value=f["value"].where(f.index != 5, f["value"] + 0.001)),
            "fct_lab_changes [",
        ),
        ("lab_changes", lambda f: f.drop(index=7), "fct_lab_changes: 762 rows in the mart, 761 in the reference"),
        (
            "platelet_response",
            lambda f: f.assign(response=f["response"].replace({"PR": "CR"})),
            "response: mart 'PR' != reference 'CR'",
        ),
        ("response_rates", lambda f: f.assign(orr=f["orr"] * 1.001), "rpt_response_rates [visit="),
        ("platelet_response", lambda f: f.assign(baseline_platelet_count=None), "baseline_platelet_count: mart"),
    ],
)
def test_the_check_fails_on_a_difference(
    demo_warehouse: Built, demo_references: Path, tmp_path: Path, file: str, change, expected: str
) -> None:
    for name in ("platelet_response", "response_rates", "lab_changes"):
        frame = pd.read_parquet(demo_references / "pandas" / f"{name}.parquet")
        (change(frame) if name == file else frame).to_parquet(tmp_path / f"{name}.parquet", index=False)
    _, problems = differences(demo_warehouse.db_path, tmp_path)
    assert problems and any(expected in p for p in problems), problems
