"""The HTML study report: formatting and context building on hand-made frames, and
`ctd-rtp report` end to end on the demo and the small own cohort (exit codes, atomic files)."""

from __future__ import annotations

import math
import re
import shutil
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from conftest import Built, run_cli
from ctd_rtp import report as R
from ctd_rtp.report.results import ResultsMismatch
from ctd_rtp.report.sections import follow_up_section
from ctd_rtp.validation import ValidationSummary
from ctd_rtp.warehouse import Settings

STEPS = ("read tables", "validate", "build context", "render", "write")
DATED = re.compile(r"^ctd_rtp_report_\d{8}T\d{6}Z\.html$")


def rate_cells(orr: str, ci: str) -> str:
    """A pattern for the ORR and CI cells of Table 2 as rendered (each a cell of the results table)."""
    return (
        f'<td class="num orr"><span data-result="response_by_visit[|][a-z0-9_]+[|]orr">{re.escape(orr)}</span></td>'
        f'<td class="num ci"><span data-result="response_by_visit[|][a-z0-9_]+[|]ci">{re.escape(ci)}</span></td>'
    )


def expected_rate_strings(db_path: Path) -> list[tuple[str, str]]:
    """ORR and CI exactly as the report must print them, from analysis.response_rate_ci."""
    with duckdb.connect(str(db_path), read_only=True) as con:
        rows = con.execute("select orr, ci_low, ci_high from analysis.response_rate_ci").fetchall()
    out = []
    for orr, low, high in rows:
        if orr is None or math.isnan(orr):
            out.append(("\u2014", "\u2014"))
        else:
            out.append((f"{orr * 100:.1f}%", f"{low * 100:.1f}\u2013{high * 100:.1f}%"))
    return out


def copy_db(built: Built, tmp_path: Path) -> tuple[Path, dict[str, str]]:
    db = tmp_path / "copy.duckdb"
    shutil.copy(built.db_path, db)
    return db, {**built.env, "CTD_RTP_DB": str(db)}


# --------------------------------------------------------------------------- formatting
@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0.0004, "<0.001"),
        (0.001, "0.00100"),
        (0.012345, "0.0123"),
        (0.2929, "0.293"),
        (1.0, "1.00"),
        (float("nan"), "\u2014"),
        (None, "\u2014"),
        (pd.NA, "\u2014"),
    ],
)
def test_p_values(value, text: str) -> None:
    assert R.pval(value) == text


def test_numbers() -> None:
    assert R.sig(17.338) == "17.3" and R.sig(999.7) == "1000" and R.sig(-0.0123) == "\u22120.0123"
    assert R.sig(float("inf")) == "\u221e"
    assert R.fixed(-0.04, 1) == "0.0"  # no negative zero
    assert R.fixed(-1.26, 1) == "\u22121.3"
    assert R.pct(8 / 13) == "61.5%" and R.ci_pct(0.315778, 0.861421) == "31.6\u201386.1%"
    assert R.ci_pct(float("nan"), float("nan")) == "\u2014"
    assert R.n_pct(2, 3) == "2 (66.7%)" and R.n_pct(0, 0) == "0"
    assert R.median_iqr([1, 2, 3, 4]) == "2.5 [1.8\u20133.2]"  # R type 7: 1.75 and 3.25
    assert R.median_range([]) == "\u2014"


# --------------------------------------------------------------------------- context on hand-made frames
def patients(**extra) -> pd.DataFrame:
    base = {
        "patient_id": ["A", "B", "C", "D"],
        "sex": ["F", "F", "M", "F"],
        "age_at_index": [30, 40, 50, 99],
        "ctd_diagnosis": ["SLE", "SLE", "pSS", "RA"],
        "ctd_duration_years": [1.0, 2.0, 4.0, 50.0],
        "thrombocytopenia_duration_years": [0.5, 1.5, 2.5, 9.0],
        "prior_therapy_lines": [1, 2, 6, 9],
        "baseline_platelet_count": [10.0, 20.0, 25.0, 900.0],
        "baseline_bleeding_grade": [0, 1, 2, 0],
        "baseline_prednisone_mg_day": [5.0, 10.0, 20.0, 0.0],
        "has_index_drug_start": [True, True, True, False],
    }
    return pd.DataFrame({**base, **extra})


def test_table1_uses_the_analysis_set() -> None:
    rows = {r["label"]: r["value"] for r in R.baseline_table(patients(), "sirolimus")}
    assert rows["Patients, n"] == "3"  # D never started sirolimus
    assert rows["Age at first sirolimus dose, years, median [IQR]"] == "40 [35\u201345]"
    assert rows["Female"] == "2 (66.7%)" and rows["Male"] == "1 (33.3%)"
    assert rows["SLE"] == "2 (66.7%)" and rows["pSS"] == "1 (33.3%)" and "RA" not in rows
    assert rows["Disease duration, years, median [IQR]"] == "2.0 [1.5\u20133.0]"
    assert rows["Prior therapy lines, median [IQR]"] == "2 [1.5\u20134]"
    assert rows["Baseline platelets, \u00d710\u2079/L, range"] == "10\u201325"
    assert rows["WHO bleeding grade \u2265 1 at baseline, n (%)"] == "2 (66.7%)"


def test_response_section_summaries() -> None:
    rates = pd.DataFrame(
        {
            "visit": ["month_3", "month_1"],
            "visit_order": [3, 1],
            "n_cr": [1, 0],
            "n_pr": [1, 0],
            "n_nr": [1, 0],
            "n_ne": [0, 3],
            "n_evaluable": [3, 0],
            "n_responders": [2, 0],
            "orr_all_patients": [2 / 3, 0.0],
            "orr": [2 / 3, None],
            "orr_denominator": ["evaluable"] * 2,
            "response_rule": ["CR: platelets >= 100"] * 2,
        }
    )
    ci = pd.DataFrame(
        {
            "visit": ["month_1", "month_3"],
            "orr": [float("nan"), 2 / 3],
            "ci_low": [float("nan"), 0.0943],
            "ci_high": [float("nan"), 0.9916],
        }
    )
    summary = pd.DataFrame(
        {
            "patient_id": list("ABC"),
            "best_response": ["CR", "PR", "NR"],
            "is_responder_by_primary_endpoint": [True, True, False],
            "days_to_first_response": [20, 80, None],
            "lost_response": [False, True, False],
        }
    )
    empty_sub = pd.DataFrame(
        columns=[
            "visit",
            "group_a",
            "group_b",
            "a_responders",
            "a_evaluable",
            "b_responders",
            "b_evaluable",
            "odds_ratio",
            "odds_ratio_ci_low",
            "odds_ratio_ci_high",
            "p_value",
            "note",
        ]
    )
    fried = pd.DataFrame(
        {
            "measure": ["platelet_count"],
            "visits": ["baseline,month_3"],
            "n_patients": [3],
            "statistic": [4.5],
            "df": [1],
            "p_value": [0.0339],
            "kendalls_w": [0.75],
            "note": [""],
        }
    )
    out = R.response_section(rates, ci, summary, empty_sub, fried, R._Visits(month_1="Month 1", month_3="Month 3"))
    assert [(r["visit"], r["orr"], r["ci"]) for r in out["rows"]] == [
        ("Month 1", "\u2014", "\u2014"),
        ("Month 3", "66.7%", "9.4\u201399.2%"),
    ]  # NaN ORR shown as a dash
    assert out["time_to_response"] == "50 (20\u201380) days (n = 2)"
    assert out["lost"] == "1 of 2 responders"
    assert out["best"][0] == {"response": "CR", "value": "1 (33.3%)"}
    assert out["friedman"][0]["visits"] == "Baseline, Month 3" and out["friedman"][0]["sig"]


def test_lab_tables_use_analyte_decimals_panels_and_highlight_p() -> None:
    analytes = pd.DataFrame(
        {
            "analyte": ["TREG_PCT", "IL6", "PLT"],
            "analyte_name": ["Tregs", "IL-6", "Platelets"],
            "panel": ["regulatory T cells", "cytokines", "blood count"],
            "unit": ["%", "pg/mL", "10^9/L"],
            "decimals": [2, 1, 0],
        }
    )
    row = dict(
        comparison="baseline_vs_month_6",
        visit="month_6",
        n_pairs=5,
        baseline_mean=3.333,
        baseline_sd=0.5,
        baseline_median=3.4,
        baseline_q1=3.1,
        baseline_q3=3.55,
        followup_mean=4.7,
        followup_sd=1.2,
        followup_median=4.63,
        followup_q1=3.86,
        followup_q3=5.38,
        mean_difference=1.3684,
        mean_difference_ci_low=0.864,
        mean_difference_ci_high=1.873,
        hodges_lehmann=1.395,
        hodges_lehmann_ci_low=0.875,
        hodges_lehmann_ci_high=1.76,
        test_used="paired t-test",
        wilcoxon_method="exact",
        p_value=0.00007,
        p_value_holm=0.0501,
        p_value_bh=0.049,
        note="",
    )
    paired = pd.DataFrame(
        [
            {**row, "analyte": "TREG_PCT"},
            {**row, "analyte": "IL6", "test_used": "Wilcoxon signed-rank", "note": "1 zero difference(s) dropped"},
            {**row, "analyte": "PLT", "note": float("nan"), "wilcoxon_method": None},
        ]
    )
    panels = (
        {"section": "immunology", "panels": ["lymphocyte subsets", "regulatory T cells"]},
        {"section": "cytokines", "panels": ["cytokines"]},
    )  # the demo study's report_panels
    out = R.lab_tables(paired, analytes, R._Visits(month_6="Month 6"), panels)
    treg = out["immunology"]["groups"][0]["comparisons"][0]
    assert treg["base"] == ("3.33\u00a0\u00b1\u00a00.50", "3.40 [3.10\u20133.55]")
    assert treg["change"] == "1.37 (0.86 to 1.87)"
    assert (treg["p_value"], treg["p_value_sig"], treg["p_value_holm"], treg["p_value_holm_sig"]) == (
        "<0.001",
        True,
        "0.0501",
        False,
    )
    il6 = out["cytokines"]["groups"][0]["comparisons"][0]
    assert il6["test"] == "Wilcoxon signed-rank (exact)" and il6["mark"] == "a"
    assert out["cytokines"]["notes"] == [("a", "1 zero difference(s) dropped")]
    plt = out["other-labs"]["groups"][0]["comparisons"][0]
    assert (plt["change"], plt["mark"], plt["test"]) == ("1 (1 to 2)", "", "paired t-test")  # NaN note: no mark


def ae_mart(*rows: tuple) -> pd.DataFrame:
    """marts.rpt_adverse_events_by_term rows: (row_type, term, term_order, any, grade 1, 2, 3, >= 3,
    serious, related, events, recorded) with 8 patient-months of exposure."""
    cols = (
        "row_type term term_order n_patients_any_grade n_patients_grade_1 n_patients_grade_2 n_patients_grade_3 "
        "n_patients_grade_3_plus n_patients_serious n_patients_related n_events n_events_recorded"
    ).split()
    out = pd.DataFrame(rows, columns=cols)
    return out.assign(
        exposure_patient_months=8.0, patients_per_100_patient_months=100 * out["n_patients_any_grade"] / 8.0
    )


def test_safety_in_journal_format_prints_the_mart_in_its_order() -> None:
    # stored out of order: the mart's term_order decides (any row, then most patients first)
    mart = ae_mart(
        ("preferred term", "Cough", 2, 2, 1, 1, 0, 0, 0, 0, 2, 2),
        ("any adverse event", "Any adverse event", 0, 3, 1, 1, 1, 1, 1, 2, 5, 6),
        ("preferred term", "Rash", 1, 2, 1, 0, 1, 1, 1, 2, 3, 3),
    )
    out = R.safety_section(mart, 4)
    assert out["columns"] == ["Any grade", "Grade 1", "Grade 2", "Grade 3", "Grade \u2265 3", "Serious", "Related"]
    rows = {r["term"]: (r["cells"], r["events"], r["rate"]) for r in out["rows"]}
    assert [r["term"] for r in out["rows"]] == ["Any adverse event", "Rash", "Cough"]
    assert [r["total"] for r in out["rows"]] == [True, False, False]
    assert rows["Rash"] == (
        ["2 (50.0%)", "1 (25.0%)", "0 (0.0%)", "1 (25.0%)", "1 (25.0%)", "1 (25.0%)", "2 (50.0%)"],
        "3",
        "25.0",  # 100 x 2 / 8
    )
    assert rows["Any adverse event"][0][:5] == ["3 (75.0%)", "1 (25.0%)", "1 (25.0%)", "1 (25.0%)", "1 (25.0%)"]
    assert rows["Any adverse event"][2] == "37.5" and out["patient_months"] == "8.0"
    assert (out["recorded"], out["not_emergent"]) == ("6", "1")  # one event before day 0, not in the table


def test_safety_with_no_event_or_no_exposure_total_says_so() -> None:
    mart = ae_mart(("any adverse event", "Any adverse event", 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)).assign(
        exposure_patient_months=None, patients_per_100_patient_months=None
    )
    out = R.safety_section(mart, 3)
    assert [r["term"] for r in out["rows"]] == ["Any adverse event"] and out["recorded"] == "0"
    assert out["rows"][0]["cells"][0] == "0 (0.0%)" and out["rows"][0]["rate"] == "\u2014"
    assert out["patient_months"] == "\u2014"  # an exposure with no end and no cut-off: absent, not partial


def test_follow_up_reads_the_months_of_the_mart() -> None:
    follow = pd.DataFrame({"follow_up_days": [0, 0, 0], "follow_up_months": [6.0, 12.0, 3.0]})
    visits = pd.DataFrame(columns=["visit", "visit_order"])
    out = follow_up_section(follow, visits, R._Visits())
    assert (out["median"], out["total"], out["n"]) == ("6.0 [4.5\u20139.0]", "21.0", "3")  # months as stored
    gap = follow_up_section(follow.assign(follow_up_months=[6.0, None, 3.0]), visits, R._Visits())
    assert (gap["total"], gap["n"]) == ("\u2014", "2")  # a total over a column with a null is absent


def test_exposure_counts_titrations() -> None:
    exposure = pd.DataFrame(
        {
            "patient_id": ["A", "A", "B", "C"],
            "drug": ["sirolimus", "sirolimus", "sirolimus", "HCQ"],
            "start_study_day": [0, 35, 0, -100],
            "daily_dose_mg": [1.0, 2.0, 1.0, 400.0],
            "n_troughs": [1, 5, 6, None],
            "n_troughs_in_target": [0, 5, 6, None],
        }
    )
    visits = pd.DataFrame(
        {
            "patient_id": ["A", "B"],
            "visit": ["month_1", "month_1"],
            "visit_order": [1, 1],
            "index_drug_daily_dose_mg": [1.0, 1.0],
            "index_drug_trough": [3.0, 6.0],
            "is_index_drug_trough_in_target": [False, True],
        }
    )
    # 12 levels on treatment (11 in target) and one drawn after dosing ended: the card counts 12
    troughs = pd.DataFrame(
        {
            "patient_id": ["A"] * 6 + ["B"] * 7,
            "trough": [3.0] + [6.0] * 12,
            "is_on_treatment": [True] * 12 + [False],
            "is_in_target": [False] + [True] * 12,
        }
    )
    out = R.exposure_section(exposure, visits, troughs, (4.0, 15.0), R._Visits(), "sirolimus", "ng/mL")
    assert out["start"] == ["1 mg/day: 2 patient(s)"] and out["changed"] == "1 of 2"
    assert out["changes"] == ["1 \u2192 2 mg/day (1\u00d7)"]
    assert out["troughs"] == "11 (91.7%) of 12 trough levels"
    assert out["per_visit"][0]["in_target"] == "1 (50.0%)" and out["per_visit"][0]["visit"] == "Month 1"
    assert out["concomitant"][0]["drug"] == "hcq"


def test_context_and_render_escape_data(demo_warehouse: Built) -> None:
    frames, fingerprint = R.load_warehouse(Settings.from_env(demo_warehouse.env))
    hostile = '<script>alert("x")</script>'
    frames["marts.fct_adverse_events"] = frames["marts.fct_adverse_events"].assign(term=hostile)
    terms = frames["marts.rpt_adverse_events_by_term"]
    frames["marts.rpt_adverse_events_by_term"] = terms.assign(
        term=terms["term"].where(terms["term_order"] != 1, hostile)
    )
    with pytest.raises(ResultsMismatch, match="adverse_events"):  # the stored results name the real terms
        R.build_context(frames, R.RunInfo(generated_at=datetime(2024, 1, 2, tzinfo=UTC)))
    del frames["analysis.report_results"]  # without the results table, the cells are printed as computed
    info = R.RunInfo(
        generated_at=datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC),
        data_fingerprint=fingerprint,
        validation=ValidationSummary(1, 2, 2),
    )
    context = R.build_context(frames, info)
    assert [r["orr"] for r in context["response"]["rows"]] == [
        o for o, _ in expected_rate_strings(demo_warehouse.db_path)
    ]
    html = R.render(context)
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html and "<script" not in html
    assert "2024-01-02 03:04:05 UTC" in html and "dbt test results: not available" in html


# --------------------------------------------------------------------------- the command
def test_report_command_writes_dated_and_latest(demo_warehouse: Built, tmp_path: Path) -> None:
    out_dir = tmp_path / "reports"
    proc = run_cli(["report", "--out-dir", str(out_dir)], demo_warehouse.env)
    for step in STEPS:
        lines = [line for line in proc.stdout.splitlines() if f"report: {step}" in line]
        assert len(lines) == 1 and re.search(r"\(\d+\.\d\ds\)$", lines[0]), (step, proc.stdout)
    assert "Calculating Metrics" not in proc.stdout + proc.stderr  # GX progress bars silenced
    files = sorted(p.name for p in out_dir.iterdir())
    assert len(files) == 2 and "ctd_rtp_report_latest.html" in files and any(DATED.match(f) for f in files)
    dated = next(out_dir / f for f in files if DATED.match(f))
    html = (out_dir / "ctd_rtp_report_latest.html").read_text(encoding="utf-8")
    assert dated.read_text(encoding="utf-8") == html

    for orr, ci in expected_rate_strings(demo_warehouse.db_path):
        assert re.search(rate_cells(orr, ci), html), (orr, ci)
    for heading in R.SECTIONS.values():
        assert f"<h2>{heading.format(drug='Sirolimus')}" in html
    for heading in ("Lymphocyte subsets and regulatory T cells", "Cytokines"):  # the demo's report_panels
        assert f"<h2>{heading}" in html
    assert "Synthetic demonstration data \u2014 no real patients" in html
    assert "Adverse events graded by CTCAE (version 5.0)" in html  # var ctcae_version (marts.dim_study)
    assert "http://" not in html and "https://" not in html  # self-contained: no URL of any kind
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    assert "<script" not in html and "<link" not in html and "url(" not in html
    assert html.count("<figure") == html.count("<svg") + 1 == 9 and html.count('<figure id="patient-flow"') == 1
    for step in ("validate", "render"):
        assert step in proc.stdout
    # the build record and dbt test counts: the warehouse's record of the build that made it
    with duckdb.connect(str(demo_warehouse.db_path), read_only=True) as con:
        finished, tests = con.execute(
            "select any_value(generated_at), count(*) filter (where unique_id like 'test.%') from meta.dbt_run_results"
        ).fetchone()
    assert tests > 100
    assert f"The dbt <code>build</code> of these tables, finished {finished} (meta.dbt_run_results" in html
    assert f"{tests} tests run ({tests} pass)" in html and f"<dd>{finished} (meta.dbt_run_results" in html


def test_a_warehouse_without_its_build_record_says_so(demo_warehouse: Built, tmp_path: Path) -> None:
    """A warehouse built before meta.dbt_run_results was kept: no dbt test counts, and why, rather
    than the counts of whatever dbt ran last (target/run_results.json)."""
    db, env = copy_db(demo_warehouse, tmp_path)
    with duckdb.connect(str(db)) as con:
        con.execute("drop table meta.dbt_run_results")
    run_cli(["report", "--out-dir", str(tmp_path / "reports")], env)
    html = (tmp_path / "reports" / "ctd_rtp_report_latest.html").read_text(encoding="utf-8")
    assert (
        "dbt test results: not available (the warehouse holds no record of its dbt build, meta.dbt_run_results:" in html
    )
    assert "tests run (" not in html


def test_validation_failure_exits_4_and_keeps_the_last_report(demo_warehouse: Built, tmp_path: Path) -> None:
    db, env = copy_db(demo_warehouse, tmp_path)
    out_dir = tmp_path / "reports"
    run_cli(["report", "--out-dir", str(out_dir)], env)
    latest = out_dir / "ctd_rtp_report_latest.html"
    before, listing = latest.read_bytes(), sorted(out_dir.iterdir())
    with duckdb.connect(str(db)) as con:
        con.execute("update analysis.response_rate_ci set orr = 1.5 where visit = 'month_3'")
    proc = run_cli(["report", "--out-dir", str(out_dir)], env, check=False)
    assert proc.returncode == 4, proc.stdout + proc.stderr
    assert "analysis.response_rate_ci: expect_column_values_to_be_between(column='orr'" in proc.stderr
    assert "[1.5]" in proc.stderr and "report: validate FAILED" in proc.stdout
    assert latest.read_bytes() == before and sorted(out_dir.iterdir()) == listing  # no new or temp files


def test_stale_statistics_exit_4(demo_warehouse: Built, tmp_path: Path) -> None:
    db, env = copy_db(demo_warehouse, tmp_path)
    with duckdb.connect(str(db)) as con:  # a mart changed after `ctd-rtp stats` ran
        con.execute("update marts.dim_patients set baseline_prednisone_mg_day = baseline_prednisone_mg_day + 1")
    proc = run_cli(["report", "--out-dir", str(tmp_path / "reports")], env, check=False)
    assert proc.returncode == 4
    assert "statistics are stale: run `ctd-rtp stats`" in proc.stderr
    assert not (tmp_path / "reports").exists()


def test_missing_statistics_exit_6(demo_warehouse: Built, tmp_path: Path) -> None:
    db, env = copy_db(demo_warehouse, tmp_path)
    with duckdb.connect(str(db)) as con:
        con.execute("drop table analysis.friedman_tests")
    proc = run_cli(["report", "--out-dir", str(tmp_path / "reports")], env, check=False)
    assert proc.returncode == 6 and "analysis.friedman_tests" in proc.stderr and "ctd-rtp stats" in proc.stderr


def test_degenerate_own_cohort_renders(own_cohort_warehouse: Built, tmp_path: Path) -> None:
    """4 patients, nobody evaluable at month 1 (ORR NaN), tests with too few pairs: dashes, no crash."""
    db, env = copy_db(own_cohort_warehouse, tmp_path)
    run_cli(["stats"], env)
    proc = run_cli(["report", "--out-dir", str(tmp_path / "reports")], env)
    html = (tmp_path / "reports" / "ctd_rtp_report_latest.html").read_text(encoding="utf-8")
    assert '<th scope="row">Month 1</th>' in html
    assert re.search(
        '<td class="num orr"><span data-result="response_by_visit[|]month_1[|]orr">\u2014</span></td>', html
    )
    for orr, ci in expected_rate_strings(db):
        assert re.search(rate_cells(orr, ci), html), (orr, ci)
    assert "Synthetic demonstration data" not in html  # own data: no synthetic banner
    assert "report: write" in proc.stdout


def test_methods_name_the_odds_ratio_ci_method_per_visit() -> None:
    from ctd_rtp import stats

    subgroups = pd.DataFrame(
        {
            "visit": ["month_1", "month_3", "month_6"],
            "odds_ratio_method": [stats.ODDS_RATIO_EXACT, stats.ODDS_RATIO_WALD, None],
        }
    )
    visits = R._Visits(month_1="Month 1", month_3="Month 3")
    texts = R._odds_ratio_methods(subgroups, visits)
    assert texts == [
        f"{R.ODDS_RATIO_CI_TEXT[stats.ODDS_RATIO_EXACT]} (Month 1)",
        f"{R.ODDS_RATIO_CI_TEXT[stats.ODDS_RATIO_WALD]} (Month 3)",
    ]
    assert f"above {stats.EXACT_ODDS_RATIO_MAX_N:,} evaluable patients" in texts[1]
    assert R._odds_ratio_methods(subgroups.drop(columns="odds_ratio_method"), visits) == []


def test_outcomes_section_reads_the_km_and_follow_up_tables() -> None:
    nan = float("nan")
    km = pd.DataFrame(
        {
            "paramcd": ["TTRESP", "TTCR", "DOR"],
            "n": [21, 21, 9],
            "n_events": [9, 0, 1],
            "n_censored": [12, 21, 8],
            "total_days": [359.0, 400.0, 200.0],
            "median_days": [23.0, nan, nan],
            "median_ci_low": [16.0, nan, 40.0],
            "median_ci_high": [nan, nan, nan],
            "note": ["", "no events", ""],
        }
    )
    points = pd.DataFrame(
        {
            "paramcd": ["TTRESP", "DOR"],
            "day": [30, 30],
            "n_events_by_day": [9, 0],
            "survival": [0.448, 1.0],
            "survival_ci_low": [0.249, 1.0],
            "survival_ci_high": [0.807, 1.0],
            "cumulative_incidence": [0.552, 0.0],
            "cumulative_incidence_ci_low": [0.193, 0.0],
            "cumulative_incidence_ci_high": [0.751, 0.0],
        }
    )
    share = pd.DataFrame(
        {
            "population": ["all patients", "responders"],
            "n_patients": [3, 2],
            "total_days_observed": [300.0, 270.0],
            "total_days_in_response": [150.0, 150.0],
            "share_of_time_in_response": [0.5, 150 / 270],
        }
    )
    steroids = pd.DataFrame(
        {
            "visit": ["month_3"],
            "n_pairs": [3],
            "baseline_median": [10.0],
            "visit_median": [5.0],
            "median_change": [-5.0],
            "change_q1": [-7.5],
            "change_q3": [-2.5],
            "wilcoxon_p_value": [0.3711],
            "wilcoxon_method": ["normal approximation"],
            "taper_mg_day": [5.0],
            "n_above_taper_at_baseline": [2],
            "n_tapered": [1],
            "tapered_share": [0.5],
            "tapered_ci_low": [0.0126],
            "tapered_ci_high": [0.9874],
            "n_off_steroids": [0],
            "off_share": [0.0],
        }
    )
    follow = pd.DataFrame(
        {
            "patient_id": ["a", "b"],
            "had_rescue_therapy": [True, False],
            "has_other_itp_treatment": [False, True],
            "other_itp_drugs": [None, "eltrombopag, rituximab"],
            "is_corticosteroid_dependent": [False, False],
            "observation_end_reason": ["start of rescue therapy", "data cut-off"],
            "data_cutoff_date": ["2024-06-30"] * 2,
            "data_cutoff_source": ["latest date in the delivery"] * 2,
        }
    )
    out = R.outcomes_section(km, points, share, steroids, follow, R._Visits({"month_3": "Month 3"}))
    assert out["median_time_to_response"] == "23 (16\u2013not reached) days"
    assert out["median_duration"] == "not reached (95% CI lower bound 40 days)"
    assert out["share_all"] == "50.0% of 300 observed days (n = 3)"
    rows = {r["parameter"]: r for r in out["km"]}
    assert rows["Time to first response (CR or PR)"]["estimates"] == ["55.2% (19.3\u201375.1%)"]
    assert rows["Time to complete response"]["median"] == "no events"
    assert rows["Duration of response (responders)"]["estimates"] == ["100.0%"]  # S = 1: no interval
    assert out["steroids"][0]["tapered"] == "1/2 (50.0%; 1.3\u201398.7%)"
    assert out["other_itp"] == ["eltrombopag", "rituximab"] and out["n_rescue"] == "1 (50.0%)"
    assert out["cutoff"] == "2024-06-30 (latest date in the delivery)"
