"""Time to event, share of time in response and steroid sparing.

Kaplan-Meier is checked against the Freireich 6-MP remission data (Gehan 1965) at the
precision it is printed; time in response and steroid sparing against hand calculations; and
a hand-worked cohort built through the CLI gives the ADTTE rows worked out below.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from conftest import FIXTURES, cli_env, run_cli
from ctd_rtp import stats

# Remission times in weeks of 21 children with acute leukaemia on 6-mercaptopurine and 21 on
# placebo (Freireich et al., Blood 1963; Gehan, Biometrika 1965;52:203), "+" = censored.
# The same data are MASS::gehan in R and the "remission" example of Kleinbaum & Klein,
# Survival Analysis: A Self-Learning Text (3rd ed., 2012), chapter 2.
SIX_MP = "6 6 6 6+ 7 9+ 10 10+ 11+ 13 16 17+ 19+ 20+ 22 23 25+ 32+ 32+ 34+ 35+"
PLACEBO = "1 1 2 2 3 4 4 5 5 8 8 8 8 11 11 12 12 15 17 22 23"


def _remission() -> pd.DataFrame:
    rows = [
        {"paramcd": group, "param": group, "days": float(t.rstrip("+")), "cnsr": int(t.endswith("+"))}
        for group, times in (("6MP", SIX_MP), ("PLACEBO", PLACEBO))
        for t in times.split()
    ]
    return pd.DataFrame(rows)


def test_kaplan_meier_reproduces_the_published_6mp_estimates() -> None:
    # Kleinbaum & Klein (table of the 6-MP group) and R `summary(survfit(Surv(time, cens) ~ treat,
    # data = MASS::gehan))`, printed to 3 decimals: time, n at risk, S(t), and R's default
    # (conf.type = "log") 95% CI.
    published = [
        (6, 21, 0.857, 0.720, 1.000),
        (7, 17, 0.807, 0.653, 0.996),
        (10, 15, 0.753, 0.586, 0.968),
        (13, 12, 0.690, 0.510, 0.935),
        (16, 11, 0.627, 0.439, 0.896),
        (22, 7, 0.538, 0.337, 0.858),
        (23, 6, 0.448, 0.249, 0.807),
    ]
    summary, points = stats.kaplan_meier(_remission(), timepoints=[t for t, *_ in published])
    got = points[points["paramcd"] == "6MP"].set_index("day")
    for day, at_risk, s, low, high in published:
        assert got.at[day, "n_at_risk"] == at_risk
        assert round(got.at[day, "survival"], 3) == s
        assert (round(got.at[day, "survival_ci_low"], 3), round(got.at[day, "survival_ci_high"], 3)) == (low, high)
        assert got.at[day, "cumulative_incidence"] == pytest.approx(1 - got.at[day, "survival"])


def test_kaplan_meier_medians_match_the_textbook_values() -> None:
    # Medians: 23 weeks on 6-MP, 8 on placebo (Kleinbaum & Klein; Gehan 1965). R's print.survfit:
    #   treat=6-MP     n 21 events  9 median 23 0.95LCL 16 0.95UCL NA
    #   treat=control  n 21 events 21 median  8 0.95LCL  4 0.95UCL 12
    summary = stats.kaplan_meier(_remission())[0].set_index("paramcd")
    six, placebo = summary.loc["6MP"], summary.loc["PLACEBO"]
    assert (six["n"], six["n_events"], six["n_censored"]) == (21, 9, 12)
    assert (six["median_days"], six["median_ci_low"]) == (23, 16)
    assert np.isnan(six["median_ci_high"]) and not six["ci_high_reached"] and six["median_reached"]
    assert (placebo["n_events"], placebo["median_days"], placebo["median_ci_low"], placebo["median_ci_high"]) == (
        21,
        8,
        4,
        12,
    )
    assert six["total_days"] == 359  # sum of the 6-MP times, by hand


def test_median_not_reached_is_nan_with_a_reason_to_say_so() -> None:
    # 1 event of 5 (S = 0.8 after day 10): no median, no CI bound
    tte = pd.DataFrame({"paramcd": "DOR", "days": [10, 20, 30, 40, 50], "cnsr": [0, 1, 1, 1, 1]})
    row = stats.kaplan_meier(tte)[0].iloc[0]
    assert not row["median_reached"] and np.isnan(row["median_days"]) and np.isnan(row["median_ci_low"])
    none = stats.kaplan_meier(pd.DataFrame({"paramcd": "TTCR", "days": [30, 60], "cnsr": [1, 1]}))[0].iloc[0]
    assert none["note"] == "no events" and none["n_censored"] == 2


def test_time_in_response_pools_days_and_reports_per_patient_shares() -> None:
    follow_up = pd.DataFrame(
        {"patient_id": ["a", "b", "c"], "days_observed": [180, 90, 30], "days_in_response": [90, 60, 0]}
    )
    tte = pd.DataFrame({"patient_id": ["a", "b", "c"], "paramcd": "TTRESP", "cnsr": [0, 0, 1]})
    got = stats.time_in_response(follow_up, tte).set_index("population")
    # all: 150 of 300 days = 0.5; shares 0.5, 0.667, 0 -> median 0.5, Q1 0.25, Q3 0.5833 (type 7)
    assert got.at["all patients", "total_days_observed"] == 300
    assert got.at["all patients", "share_of_time_in_response"] == pytest.approx(0.5)
    assert got.at["all patients", "median_share"] == pytest.approx(0.5)
    assert (got.at["all patients", "share_q1"], got.at["all patients", "share_q3"]) == pytest.approx((0.25, 7 / 12))
    # responders a and b: 150 of 270
    assert got.at["responders", "n_patients"] == 2
    assert got.at["responders", "share_of_time_in_response"] == pytest.approx(150 / 270)


def test_steroid_sparing_by_hand() -> None:
    rows = []
    for patient, base, month_3 in (("a", 10, 5), ("b", 20, 10), ("c", 5, 5), ("d", 15, None)):
        for visit, order, dose in (("baseline", 0, base), ("month_3", 3, month_3)):
            rows.append(
                {
                    "patient_id": patient,
                    "visit": visit,
                    "visit_order": order,
                    "prednisone_equivalent_mg_day": dose,
                    "is_steroid_tapered": None if dose is None else dose <= 5,
                    "steroid_taper_mg_day": 5.0,
                }
            )
    got = stats.steroid_sparing(pd.DataFrame(rows)).iloc[0]
    # pairs a, b, c: changes -5, -10, 0 -> median -5, Q1 -7.5, Q3 -2.5 (R type 7)
    assert (got["n_pairs"], got["baseline_median"], got["visit_median"]) == (3, 10, 5)
    assert (got["median_change"], got["change_q1"], got["change_q3"]) == (-5, -7.5, -2.5)
    # Wilcoxon: zero dropped, |d| ranks 1, 2 all negative: V = 0; normal approximation with
    # continuity correction: z = (0 - 1.5 + 0.5) / sqrt(2*3*5/24) = -0.8944, p = 0.3711
    assert got["wilcoxon_v"] == 0 and got["wilcoxon_method"] == "normal approximation"
    assert got["wilcoxon_p_value"] == pytest.approx(0.3711, abs=5e-5)
    # above 5 mg/day at baseline: a, b; tapered to <= 5: a -> 1/2, Clopper-Pearson 0.0126-0.9874
    assert (got["n_above_taper_at_baseline"], got["n_tapered"], got["n_off_steroids"]) == (2, 1, 0)
    assert (got["tapered_ci_low"], got["tapered_ci_high"]) == pytest.approx((0.01258, 0.98742), abs=5e-6)


# The hand-worked cohort: fixtures/own_cohort plus three patients, built with
# data_cutoff_date 2023-09-01 (every other date stays as in the fixture).
#   E: day 0 2023-01-01 (ongoing), baseline 15; PR 60 on day 30, NR 20 on day 90 confirmed by
#      NR 18 on day 100, NR 25 on day 180: responds on day 30, loses response on day 90.
#      Eltrombopag from 2023-05-01 is another ITP drug.
#   F: day 0 2023-04-01 (ongoing), baseline 12; NR on days 30 and 90, PR 80 on day 180
#      (2023-09-28), after the cut-off: censored at the last count before it (day 90).
#   G: day 0 2023-02-01 (ongoing), baseline 10; NR 15 on day 30; IVIG (rescue) 2023-04-20 to
#      2023-04-24 (day 78); 150 on day 90 is 8 days after it: NR, explained by rescue;
#      PR 60 on day 180. Observation ends at the rescue start: censored on day 78.
#   A (fixture): sirolimus ended 2023-07-01 (day 181), before the cut-off: PR on day 90, CR on
#      day 180; DOR censored at the last count on or before the end of treatment (90 days).
EXTRA = {
    "patients.csv": [
        "E,F,1970,SLE,2010-01-01,2020-01-01,2",
        "F,F,1982,pSS,2011-01-01,2021-01-01,3",
        "G,M,1979,SLE,2012-01-01,2022-01-01,2",
    ],
    "drug_exposures.csv": [
        "X5,E,sirolimus,2023-01-01,,1",
        "X6,F,sirolimus,2023-04-01,,1",
        "X7,G,sirolimus,2023-02-01,,1",
        "X8,G,IVIG,2023-04-20,2023-04-24,24000",
        "X9,E,eltrombopag,2023-05-01,,50",
    ],
    "lab_results.csv": [
        "E1,E,2022-12-30,PLT,15,10^9/L",
        "E2,E,2023-01-31,PLT,60,10^9/L",
        "E3,E,2023-04-01,PLT,20,10^9/L",
        "E4,E,2023-04-11,PLT,18,10^9/L",
        "E5,E,2023-06-30,PLT,25,10^9/L",
        "F1,F,2023-03-31,PLT,12,10^9/L",
        "F2,F,2023-05-01,PLT,20,10^9/L",
        "F3,F,2023-06-30,PLT,22,10^9/L",
        "F4,F,2023-09-28,PLT,80,10^9/L",
        "G1,G,2023-01-30,PLT,10,10^9/L",
        "G2,G,2023-03-03,PLT,15,10^9/L",
        "G3,G,2023-05-02,PLT,150,10^9/L",
        "G4,G,2023-07-31,PLT,60,10^9/L",
    ],
    "visit_assessments.csv": [
        "E,2023-01-01,0,10,false",
        "E,2023-01-31,0,10,false",
        "E,2023-04-01,0,5,false",
        "E,2023-06-30,0,5,false",
        "F,2023-04-01,0,5,false",
        "F,2023-05-01,0,5,false",
        "F,2023-06-30,0,5,false",
        "F,2023-09-28,0,5,false",
        "G,2023-02-01,0,0,false",
        "G,2023-03-03,0,0,false",
        "G,2023-05-02,0,0,false",
        "G,2023-07-31,0,0,false",
    ],
}
EXPECTED_ADTTE = {  # (patient, paramcd): (start, analysis date, days, cnsr, description)
    ("E", "TTRESP"): ("2023-01-01", "2023-01-31", 30, 0, "first CR or PR platelet count"),
    ("E", "TTCR"): ("2023-01-01", "2023-06-30", 180, 1, "last platelet assessment on or before the data cut-off"),
    ("E", "DOR"): ("2023-01-31", "2023-04-01", 60, 0, "confirmed loss of response (first NR count)"),
    ("F", "TTRESP"): ("2023-04-01", "2023-06-30", 90, 1, "last platelet assessment on or before the data cut-off"),
    ("F", "TTCR"): ("2023-04-01", "2023-06-30", 90, 1, "last platelet assessment on or before the data cut-off"),
    ("G", "TTRESP"): ("2023-02-01", "2023-04-20", 78, 1, "start of rescue therapy"),
    ("G", "TTCR"): ("2023-02-01", "2023-04-20", 78, 1, "start of rescue therapy"),
    ("A", "TTRESP"): ("2023-01-01", "2023-04-01", 90, 0, "first CR or PR platelet count"),
    ("A", "TTCR"): ("2023-01-01", "2023-06-30", 180, 0, "first CR platelet count"),
    ("A", "DOR"): ("2023-04-01", "2023-06-30", 90, 1, "last platelet assessment on or before the end of treatment"),
}


@pytest.fixture(scope="module")
def hand_worked(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("tte")
    raw = work / "raw"
    shutil.copytree(FIXTURES / "own_cohort", raw)
    for name, lines in EXTRA.items():
        with (raw / name).open("a", encoding="utf-8") as handle:
            handle.write("\n".join(lines) + "\n")
    env = cli_env(work, raw)
    run_cli(["build", "--quiet", "--vars", "{data_cutoff_date: 2023-09-01}"], env)
    run_cli(["stats"], env)
    return work / "warehouse.duckdb"


def _rows(db: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql).fetchall()


@pytest.mark.slow
def test_hand_worked_cohort_gives_the_expected_adtte_rows(hand_worked: Path) -> None:
    got = {
        (p, code): (str(start), str(adt), days, cnsr, event or censoring)
        for p, code, start, adt, days, cnsr, event, censoring in _rows(
            hand_worked,
            "select patient_id, paramcd, start_date, analysis_date, days, cnsr, event_description, "
            "censoring_description from marts.fct_time_to_event where patient_id in ('A', 'E', 'F', 'G')",
        )
    }
    assert got == EXPECTED_ADTTE
    # TTRESP with an event has the summary's days to first response
    assert _rows(
        hand_worked,
        "select count(*) from marts.fct_time_to_event t join marts.fct_patient_response_summary s "
        "using (patient_id) where t.paramcd = 'TTRESP' and t.cnsr = 0 "
        "and t.days != s.days_to_first_response",
    ) == [(0,)]


@pytest.mark.slow
def test_hand_worked_cohort_rescue_and_follow_up(hand_worked: Path) -> None:
    counts = dict(
        _rows(
            hand_worked,
            "select result_id, response || ': ' || response_reason "
            "from marts.fct_platelet_count_response where patient_id = 'G'",
        )
    )
    assert counts == {
        "G2": "NR: count below the response rule",
        "G3": "NR: response explained by rescue therapy (within 28 days)",
        "G4": "PR: meets the PR rule",
    }
    follow = {
        r[0]: r[1:]
        for r in _rows(
            hand_worked,
            """
        select patient_id, observation_end_reason, days_observed, days_in_response, other_itp_drugs, had_rescue_therapy
        from marts.fct_patient_follow_up where patient_id in ('E', 'F', 'G')""",
        )
    }
    # E: PR on day 30 holds until the NR count on day 90: 60 of 180 days
    assert follow == {
        "E": ("data cut-off", 180, 60, "eltrombopag", False),
        "F": ("data cut-off", 90, 0, None, False),
        "G": ("start of rescue therapy", 30, 0, None, True),
    }
    [(cutoff, source)] = _rows(
        hand_worked, "select data_cutoff_date, data_cutoff_source from intermediate.int_data_cutoff"
    )
    assert (str(cutoff), source) == ("2023-09-01", "var data_cutoff_date")
    km = {r[0]: r[1:] for r in _rows(hand_worked, "select paramcd, n, n_events from analysis.time_to_event_km")}
    [(n_patients,)] = _rows(hand_worked, "select count(*) from marts.fct_patient_follow_up")
    assert km["TTRESP"][0] == n_patients and km["DOR"][0] == km["TTRESP"][1]


def test_the_build_record_keeps_a_date_var_as_dbt_writes_it(hand_worked: Path) -> None:
    """--vars {data_cutoff_date: 2023-09-01} is a YAML date: the build's record of itself
    (macros/build_record.sql, read by the report) holds it as ISO text, as run_results.json does."""
    [(command, vars_json)] = _rows(hand_worked, "select distinct command, vars_json from meta.dbt_run_results")
    assert (command, json.loads(vars_json)) == ("build", {"data_cutoff_date": "2023-09-01"})
