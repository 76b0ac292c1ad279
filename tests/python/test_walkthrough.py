"""docs/walkthrough-treg-p-value.md quotes numbers and rows of the demo build at every layer; each
one is checked here against a fresh build (a change of the rule, the cohort or the statistics that
moves them makes the page wrong, and this test says so)."""

from __future__ import annotations

import re

import duckdb
import pytest

from conftest import PROJECT_DIR, Built

pytestmark = pytest.mark.slow

PAGE = PROJECT_DIR / "docs" / "walkthrough-treg-p-value.md"


def test_the_walkthrough_numbers_are_those_of_the_demo_build(demo_warehouse: Built) -> None:
    text = PAGE.read_text(encoding="utf-8")
    with duckdb.connect(str(demo_warehouse.db_path), read_only=True) as con:
        (n, mean_diff, shapiro_p, test_used, t_p, w_p, p, holm) = con.execute(
            "select n_pairs, mean_difference, shapiro_p_value, test_used, t_p_value, wilcoxon_p_value, p_value, "
            "p_value_holm from analysis.paired_tests where analyte = 'TREG_PCT' and comparison = 'baseline_vs_month_6'"
        ).fetchone()
        assert (
            f"-- {n} | {mean_diff:.4f} | {shapiro_p:.3f} | {test_used} | {t_p:.6f} | {w_p:.5f} | {p:.6f} | "
            f"{holm:.5f}" in text
        )
        assert f"Holm {holm:.5f}" in text and f"{n} pairs" in text
        assert f"gives p = {shapiro_p:.3f} >= 0.05" in text
        means = con.execute(
            "select avg(baseline_value), stddev_samp(baseline_value), avg(value), stddev_samp(value) "
            "from marts.fct_lab_changes where analyte = 'TREG_PCT' and visit = 'month_6'"
        ).fetchone()
        assert "baseline {:.2f} ± {:.2f}, month 6 {:.2f} ± {:.2f}".format(*means) in text
        p01 = con.execute(
            "select study_day, baseline_value, value, change from marts.fct_lab_changes "
            "where analyte = 'TREG_PCT' and visit = 'month_6' and patient_id = 'P01'"
        ).fetchone()
        assert "-- P01 | month_6 | {} | {:g} | {:g} | {:g}".format(*p01) in text
        windowed = con.execute(
            "select result_id, collected_on, study_day, visit, value, is_visit_value "
            "from intermediate.int_lab_results_windowed where analyte = 'TREG_PCT' and patient_id = 'P01' "
            "order by study_day"
        ).fetchall()
        for rid, on, day, visit, value, flag in windowed:
            assert re.search(rf"-- {rid} \| {on} \| +{day} \| {visit} +\| {value:g} +\| {str(flag).lower()}", text), rid
        raw = con.execute(
            "select result_id, patient_id, collected_on, test_code, value, unit from raw.lab_results "
            "where result_id in (" + ", ".join(f"'{r[0]}'" for r in windowed) + ") order by result_id"
        ).fetchall()
        assert len(raw) == 3
        for row in raw:
            assert "-- " + " | ".join(row) in text, row
        (reason,) = con.execute(
            "select count(*) from intermediate.int_lab_results_checked where result_id in ("
            + ", ".join(f"'{r[0]}'" for r in windowed)
            + ") and rejection_reason is null"
        ).fetchone()
        assert reason == 3
