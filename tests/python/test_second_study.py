"""A second, different single-arm study runs end to end with configuration only.

fixtures/study_eltrombopag: eltrombopag (one patient's drug written "Revolade", an alias) in
primary ITP, 6 SYNTHETIC patients, a weekly schedule (week 2, 4, 12, 24), the primary endpoint at
week 12, "response = platelets >= 50 x10^9/L" (CR >= 100, no fold-over-baseline rule), a
subgroup by prior therapy lines >= 3, no trough monitoring, a data cut-off 2024-08-31. It is
built, analysed and reported through `ctd-rtp run` with CTD_RTP_STUDY naming its study.yml; no
SQL or Python file knows it. Every expected value below is worked out by hand.

Platelet counts (x10^9/L) at baseline (day -3), weeks 2, 4, 12 and 24 (days 14, 28, 84, 168),
one count per window; WHO bleeding grade 0 everywhere except E06 at week 12 (grade 2 -> NR):

    E01  20  40  60 120 110   ->  NR PR CR CR   first response week 4 (day 28)
    E02  15  55  80  90  70   ->  PR PR PR PR   first response week 2 (day 14)
    E03  25  30  35  45  30   ->  NR NR NR NR
    E04  10  20 150 130  60   ->  NR CR CR PR   first response week 4 (day 28)
    E05  30  45  48  40  35   ->  NR NR NR NR
    E06  18  25  52  75  90   ->  NR PR NR PR   first response week 4; NR at week 12 (bleeding)
"""

from __future__ import annotations

import math
import re
from html import unescape

import duckdb
import pytest

from conftest import FIXTURES, cli_env, run_cli

pytestmark = pytest.mark.slow

STUDY = FIXTURES / "study_eltrombopag"


@pytest.fixture(scope="module")
def second_study(tmp_path_factory: pytest.TempPathFactory):
    workdir = tmp_path_factory.mktemp("second-study")
    env = cli_env(workdir, raw_dir=STUDY / "data")
    env["CTD_RTP_STUDY"] = str(STUDY / "study.yml")
    proc = run_cli(["run", "--quiet", "--out-dir", str(workdir / "reports")], env)
    html = (workdir / "reports" / "ctd_rtp_report_latest.html").read_text(encoding="utf-8")
    con = duckdb.connect(str(workdir / "warehouse.duckdb"), read_only=True)
    yield con, html, proc.stdout + proc.stderr
    con.close()


def rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[tuple]:
    return con.execute(sql).fetchall()


def test_the_study_in_force_is_the_file(second_study) -> None:
    con, _, log = second_study
    assert f"study definition: {STUDY / 'study.yml'}" in log
    study = con.execute("select * from marts.dim_study").df().iloc[0]
    assert (study["study_short_name"], study["index_drug"], study["primary_endpoint_visit"]) == (
        "ELT-ITP",
        "eltrombopag",
        "week_12",
    )
    assert study["comparison_visits"] == "week_12" and not study["is_published_rule"]
    assert str(study["data_cutoff_date"])[:10] == "2024-08-31" and study["data_cutoff_source"] == "var data_cutoff_date"
    assert study["trough_analyte"] is None or str(study["trough_analyte"]) in ("None", "nan")
    assert "PR: platelets >= 50 x10^9/L;" in study["response_rule"] and "baseline;" not in study["response_rule"]
    assert [r[0] for r in rows(con, "select visit from marts.dim_visit_schedule order by visit_order")] == [
        "baseline",
        "week_2",
        "week_4",
        "week_12",
        "week_24",
    ]
    # the alias is the index drug: E03 ("Revolade") has a day 0
    assert rows(con, "select count(*) from marts.dim_patients where has_index_drug_start") == [(6,)]


def test_response_rates_by_hand(second_study) -> None:
    con, _, _ = second_study
    got = rows(
        con, "select visit, n_cr, n_pr, n_nr, n_ne, n_evaluable from marts.rpt_response_rates order by visit_order"
    )
    assert got == [
        ("week_2", 0, 1, 5, 0, 6),
        ("week_4", 1, 3, 2, 0, 6),
        ("week_12", 2, 1, 3, 0, 6),
        ("week_24", 1, 3, 2, 0, 6),
    ]
    # the primary endpoint: 3 of 6 = 50%, exact (Clopper-Pearson) 95% CI 11.8-88.2%
    ((orr, low, high),) = rows(
        con, "select orr, ci_low, ci_high from analysis.response_rate_ci where visit = 'week_12'"
    )
    assert orr == 0.5 and round(low, 4) == 0.1181 and round(high, 4) == 0.8819


def test_time_to_first_response_and_endpoint_by_hand(second_study) -> None:
    con, _, _ = second_study
    got = rows(
        con,
        """select patient_id, best_response, primary_endpoint_response, first_response_visit,
                              days_to_first_response, is_responder_by_primary_endpoint
                       from marts.fct_patient_response_summary order by patient_id""",
    )
    assert got == [
        ("E01", "CR", "CR", "week_4", 28, True),
        ("E02", "PR", "PR", "week_2", 14, True),
        ("E03", "NR", "NR", None, None, False),
        ("E04", "CR", "CR", "week_4", 28, True),
        ("E05", "NR", "NR", None, None, False),
        ("E06", "PR", "NR", "week_4", 28, True),
    ]
    # Kaplan-Meier time to first response: events at 14, 28, 28, 28; E03 and E05 censored later
    # (day 168): S(14) = 5/6, S(28) = 5/6 * 2/5 = 1/3 < 0.5, so the median is day 28
    ((median,),) = rows(con, "select median_days from analysis.time_to_event_km where paramcd = 'TTRESP'")
    assert median == 28


def test_one_paired_test_by_hand(second_study) -> None:
    """Platelets, baseline vs week 12 (var comparison_visits): differences 100, 75, 20, 120, 10, 57."""
    con, _, _ = second_study
    got = con.execute("select * from analysis.paired_tests").df()
    assert list(got["analyte"]) == ["PLT"] and list(got["visit"]) == ["week_12"]
    r = got.iloc[0]
    d = [100, 75, 20, 120, 10, 57]
    mean = sum(d) / 6
    sd = math.sqrt(sum((x - mean) ** 2 for x in d) / 5)
    assert r["n_pairs"] == 6 and r["mean_difference"] == pytest.approx(mean)
    assert r["t_statistic"] == pytest.approx(mean / (sd / math.sqrt(6)))  # 3.587 on 5 df
    # Wilcoxon signed-rank, exact: all six differences positive and distinct, V = 1+...+6 = 21,
    # two-sided p = 2 / 2^6
    assert r["wilcoxon_v"] == 21 and r["wilcoxon_p_value"] == pytest.approx(2 / 64) and r["wilcoxon_method"] == "exact"


def test_subgroup_from_the_study_definition(second_study) -> None:
    con, _, _ = second_study
    got = rows(
        con,
        """select subgroup, group_a, a_responders, a_evaluable, group_b, b_responders, b_evaluable
                       from analysis.subgroup_response where visit = 'week_12'""",
    )
    # < 3 lines: E01 CR, E02 PR, E05 NR; >= 3 lines: E03 NR, E04 CR, E06 NR
    assert got == [("prior_lines", "< 3 lines", 2, 3, ">= 3 lines", 1, 3)]


def test_cut_off_closes_ongoing_exposures(second_study) -> None:
    con, _, _ = second_study
    got = dict(
        (r[0], r[1:])
        for r in rows(
            con,
            """select patient_id, exposure_end_basis, exposure_days, cumulative_dose_mg
                                                  from marts.fct_drug_exposure where drug = 'eltrombopag'""",
        )
    )
    # E01: 2024-01-08 to the cut-off 2024-08-31 = 24 + 29 + 31 + 30 + 31 + 30 + 31 + 31 = 237 days x 50 mg
    assert got["E01"] == ("ongoing: closed at the data cut-off", 237, 11850.0)
    # E02 ended 2024-07-15: 2024-01-15 to 2024-07-15 = 17 + 29 + 31 + 30 + 31 + 30 + 15 = 183 days
    assert got["E02"] == ("ended", 183, 9150.0)
    assert all(days is not None for _, days, _ in got.values())
    follow = dict(rows(con, "select patient_id, follow_up_days from marts.fct_patient_follow_up"))
    # follow-up = days from day 0 to the last contact (at most the cut-off): E01 is on treatment at
    # the cut-off (236 days after 2024-01-08); E02's last contact is the end of its exposure,
    # 2024-07-15 (after its day-168 visit on 2024-07-01): 182 days after 2024-01-15
    assert follow["E01"] == 236 and follow["E02"] == 182


def test_the_report_names_its_own_study(second_study) -> None:
    _, html, _ = second_study
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", re.sub(r"<svg.*?</svg>", "", html, flags=re.S)))
    assert "Eltrombopag in persistent primary immune thrombocytopenia (synthetic test study) (ELT-ITP)" in text
    assert "treated with eltrombopag" in text and "Week 12" in text and "Week 24" in text
    assert "PR: platelets &gt;= 50 x10^9/L;" in html
    assert "Responders (CR or PR) by Week 12" in text
    assert "graded by CTCAE (version not recorded (var ctcae_version))" in text  # ctcae_version: ""
    assert "Week 12 2 1 3 0 6 3/6 50.0% 11.8–88.2%" in text
    assert "prior therapy lines >= 3 vs < 3" in text.replace("&gt;", ">").replace("&lt;", "<")
    for other in ("sirolimus", "Sirolimus", "Month 6", "month 6", "connective tissue"):
        assert other not in text, other


def test_tables_are_numbered_in_page_order(second_study) -> None:
    """No lab section (report_panels: []) and no quarantined row: the tables the page shows run
    Table 1, 2, 3, ... in page order without a gap or a repeat (the listing is Table S1), and each
    result table's caption is its table_title in analysis.report_results."""
    con, html, _ = second_study
    captions = [
        unescape(re.sub(r"<[^>]+>", "", re.sub(r'<span class="tag">.*?</span>', "", c)))
        for c in re.findall(r"<caption>(.*?)</caption>", html, flags=re.S)
    ]
    numbers = [m.group(1) for c in captions if (m := re.match(r"Table (S?\d+)\. ", c))]
    assert len(numbers) == len(captions)  # every caption is numbered
    main = [n for n in numbers if not n.startswith("S")]
    assert main == [str(k) for k in range(1, len(main) + 1)] and numbers.count("S1") == 1
    # two lab tables fewer than the demo: Blood counts ... is the tenth table, safety the eleventh
    by_title = {c.split(". ", 1)[1]: c.split(". ", 1)[0] for c in captions}
    assert by_title["Blood counts, lipids and other laboratory values"] == "Table 10"
    assert by_title["Treatment-emergent adverse events by preferred term: patients with at least one event"] == (
        "Table 11"
    )
    titles = {t for (t,) in rows(con, "select distinct table_title from analysis.report_results")}
    numbered = {t for t in titles if t.startswith("Table ")}
    assert numbered and numbered <= set(captions)  # the results table titles are the page's captions
    # the Word file numbers them the same way (it prints the stored titles)
    assert "Table 1. Baseline characteristics of the analysis set" in numbered


def test_follow_up_and_exposure_months_come_from_the_marts(second_study) -> None:
    """Patient-months are derived in SQL (macro days_to_months): E01's 236 follow-up days and
    237 exposure days (test_cut_off_closes_ongoing_exposures) in months of 365.25 / 12 days."""
    con, _, _ = second_study
    [(follow,)] = rows(con, "select follow_up_months from marts.fct_patient_follow_up where patient_id = 'E01'")
    [(exposed,)] = rows(
        con, "select exposure_months from marts.fct_drug_exposure where patient_id = 'E01' and drug = 'eltrombopag'"
    )
    assert follow == pytest.approx(236 / 30.4375, abs=1e-12) and exposed == pytest.approx(237 / 30.4375, abs=1e-12)
    [(months, rate, n_any)] = rows(
        con,
        "select exposure_patient_months, patients_per_100_patient_months, n_patients_any_grade "
        "from marts.rpt_adverse_events_by_term where row_type = 'any adverse event'",
    )
    [(days,)] = rows(con, "select sum(exposure_days) from marts.fct_drug_exposure where drug = 'eltrombopag'")
    assert months == pytest.approx(days / 30.4375, abs=1e-9)
    assert rate == pytest.approx(100 * n_any / months, abs=1e-9)
    # the fixture's two events, both after day 0: E01 headache grade 1, E04 ALT increased grade 3, both related
    got = rows(
        con,
        "select term, n_patients_any_grade, n_patients_grade_1, n_patients_grade_3, n_patients_grade_3_plus, "
        "n_patients_related from marts.rpt_adverse_events_by_term order by term_order",
    )
    assert got == [
        ("Any adverse event", 2, 1, 1, 1, 2),
        ("Alanine aminotransferase increased", 1, 0, 1, 1, 1),  # ties on patients: grade >= 3 first
        ("Headache", 1, 1, 0, 0, 1),
    ]


@pytest.mark.parametrize(
    "content, message",
    [
        (
            "primary_endpoint_visit_typo: week_12\n",
            "unknown var(s) primary_endpoint_visit_typo (did you mean primary_endpoint_visit?)",
        ),
        ("comparison_visits: week_12\n", "var comparison_visits must be a list"),
        ("- not a mapping\n", "must be a mapping"),
    ],
)
def test_a_bad_study_file_is_refused_up_front(tmp_path, content: str, message: str) -> None:
    study = tmp_path / "study.yml"
    study.write_text(content, encoding="utf-8")
    env = cli_env(tmp_path)
    env["CTD_RTP_STUDY"] = str(study)
    proc = run_cli(["build"], env, check=False)
    assert proc.returncode == 2, proc.stderr
    assert f"CTD_RTP_STUDY={study}" in proc.stderr and message in proc.stderr
    assert not (tmp_path / "warehouse.duckdb").exists()


def test_check_reads_the_study_too(tmp_path) -> None:
    """`ctd-rtp check` applies the study's accepted diagnoses (var diagnoses): ITP is unknown to
    the demo study (every patient, and so every row, would be quarantined) and known to this one."""
    env = cli_env(tmp_path)
    demo = run_cli(["check", str(STUDY / "data"), "--map-stub", str(tmp_path / "stub.csv")], env, check=False)
    assert demo.returncode == 3 and "patients: 100.0% of rows would be quarantined" in demo.stdout
    env["CTD_RTP_STUDY"] = str(STUDY / "study.yml")
    own = run_cli(["check", str(STUDY / "data"), "--map-stub", str(tmp_path / "stub.csv")], env, check=False)
    assert own.returncode == 0 and "verdict: OK" in own.stdout, own.stdout + own.stderr
