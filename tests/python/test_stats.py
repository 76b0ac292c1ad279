"""Tests for ctd_rtp.stats against published reference outputs and independent re-derivations.

Reference numbers are typed in with their source. Where R's printed value is itself only an
approximation (fisher.test's uniroot), the test also solves the defining equation here at
full precision and holds the module to that.
"""

from __future__ import annotations

import itertools
import math
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import optimize, special
from scipy import stats as sps

from ctd_rtp import stats

# The demo study's comparison visits (dbt_project.yml var comparison_visits).
COMPARISONS = ("month_3", "month_6")

# R ?wilcox.test, Hollander & Wolfe (1973) p.29: depression scale, first (x) and second (y) visit.
DEPRESSION_X = [1.83, 0.50, 1.62, 2.48, 1.68, 1.88, 1.55, 3.06, 1.30]
DEPRESSION_Y = [0.878, 0.647, 0.598, 2.05, 1.06, 1.29, 1.06, 3.14, 1.29]
# R `sleep` data (Cushny & Peebles), extra hours of sleep for drug 1 and drug 2, same 10 patients.
SLEEP_1 = [0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0]
SLEEP_2 = [1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4]
# R ?friedman.test RoundingTimes, Hollander & Wolfe (1973) p.140: 22 players x 3 methods.
ROUNDING_TIMES = [
    5.40,
    5.50,
    5.55,
    5.85,
    5.70,
    5.75,
    5.20,
    5.60,
    5.50,
    5.55,
    5.50,
    5.40,
    5.90,
    5.85,
    5.70,
    5.45,
    5.55,
    5.60,
    5.40,
    5.40,
    5.35,
    5.45,
    5.50,
    5.35,
    5.25,
    5.15,
    5.00,
    5.85,
    5.80,
    5.70,
    5.25,
    5.20,
    5.10,
    5.65,
    5.55,
    5.45,
    5.60,
    5.35,
    5.45,
    5.05,
    5.00,
    4.95,
    5.50,
    5.50,
    5.40,
    5.45,
    5.55,
    5.50,
    5.55,
    5.55,
    5.35,
    5.45,
    5.50,
    5.55,
    5.50,
    5.45,
    5.25,
    5.65,
    5.60,
    5.40,
    5.70,
    5.65,
    5.55,
    6.30,
    6.30,
    6.25,
]


def changes(
    baseline: list[float], value: list[float], analyte: str = "platelet_count", visit: str = "month_6"
) -> pd.DataFrame:
    """lab_changes rows for one analyte at one visit, patients P01..Pnn."""
    return pd.DataFrame(
        {
            "patient_id": [f"P{i + 1:02d}" for i in range(len(baseline))],
            "analyte": analyte,
            "visit": visit,
            "baseline_value": baseline,
            "value": value,
        }
    )


def one_row(frame: pd.DataFrame, comparisons: tuple[str, ...] = ("month_6",)) -> pd.Series:
    result = stats.paired_tests(frame, comparisons=comparisons)
    assert len(result) == 1
    return result.iloc[0]


def signrank_null_counts(n: int) -> dict[int, int]:
    """Brute-force null of V: every sign pattern of ranks 1..n (independent of the module's recursion)."""
    counts: dict[int, int] = {}
    for signs in itertools.product((0, 1), repeat=n):
        v = sum(r for r, s in zip(range(1, n + 1), signs) if s)
        counts[v] = counts.get(v, 0) + 1
    return counts


# ---------------------------------------------------------------- paired tests: references


def test_wilcoxon_exact_matches_r_depression_example() -> None:
    # R: wilcox.test(x, y, paired = TRUE, alternative = "greater") -> V = 40, p-value = 0.01953
    # (= 10/512); the two-sided p is twice that, 0.0390625. d = value - baseline = x - y.
    row = one_row(changes(DEPRESSION_Y, DEPRESSION_X))
    assert row["wilcoxon_v"] == 40
    assert row["wilcoxon_statistic"] == 5  # min(W+, W-) = min(40, 45 - 40)
    assert row["wilcoxon_method"] == "exact"
    assert row["wilcoxon_p_value"] == pytest.approx(0.0390625, rel=1e-12)
    assert row["wilcoxon_p_value"] / 2 == pytest.approx(0.01953, rel=1e-3)
    assert row["effect_size_r"] == pytest.approx((40 - 5) / 45, rel=1e-12)


def test_wilcoxon_direction_follows_followup_minus_baseline() -> None:
    row = one_row(changes(DEPRESSION_X, DEPRESSION_Y))  # d = y - x: the signs flip
    assert row["wilcoxon_v"] == 5
    assert row["wilcoxon_statistic"] == 5
    assert row["wilcoxon_p_value"] == pytest.approx(0.0390625, rel=1e-12)
    assert row["effect_size_r"] == pytest.approx(-35 / 45, rel=1e-12)
    assert row["hodges_lehmann"] == pytest.approx(-0.46, abs=1e-12)


def test_hodges_lehmann_exact_ci_matches_brute_force_walsh_averages() -> None:
    d = np.array(DEPRESSION_X) - np.array(DEPRESSION_Y)
    walsh = sorted((d[i] + d[j]) / 2 for i in range(9) for j in range(i, 9))
    assert len(walsh) == 45
    # Hand check: the 23rd of 45 Walsh averages is (0.43 + 0.49) / 2 = 0.46.
    assert walsh[22] == pytest.approx(0.46, abs=1e-12)
    # Critical value by enumerating all 2^9 sign patterns: smallest q with P(V <= q) >= 0.025.
    counts = signrank_null_counts(9)
    cumulative = itertools.accumulate(counts.get(v, 0) for v in range(46))
    q = next(v for v, c in enumerate(cumulative) if c / 512 >= 0.025)
    assert q == 6  # matches the tabled two-sided 5% critical value T = 5 for n = 9 (reject if V <= 5)
    row = one_row(changes(DEPRESSION_Y, DEPRESSION_X))
    assert row["hodges_lehmann"] == pytest.approx(float(np.median(walsh)), abs=1e-12)
    assert row["hodges_lehmann_ci_low"] == pytest.approx(walsh[q - 1], abs=1e-12)
    assert row["hodges_lehmann_ci_high"] == pytest.approx(walsh[45 - q], abs=1e-12)
    assert row["hodges_lehmann_ci_low"] == pytest.approx(0.01, abs=1e-12)
    assert row["hodges_lehmann_ci_high"] == pytest.approx(0.786, abs=1e-12)


def test_paired_t_matches_r_sleep_example() -> None:
    # R ?t.test / sleep: t.test(extra[group 1], extra[group 2], paired = TRUE) ->
    # t = -4.0621, df = 9, p-value = 0.002833, 95% CI -2.4598858 -0.7001142, mean difference -1.58.
    row = one_row(changes(SLEEP_2, SLEEP_1))
    assert row["n_pairs"] == 10
    assert row["t_statistic"] == pytest.approx(-4.0621, rel=1e-4)
    assert row["t_df"] == 9
    assert row["t_p_value"] == pytest.approx(0.002833, rel=1e-3)
    assert row["mean_difference"] == pytest.approx(-1.58, rel=1e-12)
    assert row["mean_difference_ci_low"] == pytest.approx(-2.4598858, rel=1e-6)
    assert row["mean_difference_ci_high"] == pytest.approx(-0.7001142, rel=1e-6)
    # d_z = mean / sd of differences = t / sqrt(n).
    assert row["effect_size_dz"] == pytest.approx(-4.0621 / math.sqrt(10), rel=1e-4)


def test_sleep_normality_rule_picks_wilcoxon_normal_approximation() -> None:
    # R: shapiro.test(extra[group 1] - extra[group 2]) -> W = 0.82987, p-value = 0.03334.
    # R: wilcox.test(extra ~ group, data = sleep, paired = TRUE) -> V = 0, p-value = 0.009091,
    # with "cannot compute exact p-value with ties / with zeroes" (normal approx, correction).
    row = one_row(changes(SLEEP_2, SLEEP_1))
    assert row["shapiro_w"] == pytest.approx(0.82987, rel=1e-4)
    assert row["shapiro_p_value"] == pytest.approx(0.03334, rel=1e-3)
    assert row["wilcoxon_v"] == 0
    assert row["wilcoxon_p_value"] == pytest.approx(0.009091, rel=1e-3)
    assert row["wilcoxon_method"] == "normal approximation"
    assert row["test_used"] == "Wilcoxon signed-rank"
    assert row["p_value"] == row["wilcoxon_p_value"]
    assert "normal approximation" in row["note"] and "1 zero difference(s) dropped" in row["note"]
    assert "ties" in row["note"]
    assert row["effect_size_r"] == -1.0


def test_hodges_lehmann_normal_approximation_ci_on_sleep() -> None:
    # Ties/zero -> large-sample Walsh CI (Hollander & Wolfe): k = floor(n(n+1)/4 - z sqrt(n(n+1)(2n+1)/24))
    # = floor(27.5 - 1.959964 * 9.8107) = floor(8.27) = 8 for all n = 10 differences (zero kept).
    d = np.round(np.array(SLEEP_1) - np.array(SLEEP_2), 10)
    walsh = sorted((d[i] + d[j]) / 2 for i in range(10) for j in range(i, 10))
    row = one_row(changes(SLEEP_2, SLEEP_1))
    assert row["hodges_lehmann"] == pytest.approx(float(np.median(walsh)), abs=1e-12)
    assert row["hodges_lehmann_ci_low"] == pytest.approx(walsh[8 - 1], abs=1e-12)
    assert row["hodges_lehmann_ci_high"] == pytest.approx(walsh[55 - 8], abs=1e-12)


def test_depression_normality_rule_picks_t_test() -> None:
    row = one_row(changes(DEPRESSION_Y, DEPRESSION_X))
    assert row["shapiro_p_value"] >= 0.05
    assert row["test_used"] == "paired t-test"
    assert row["p_value"] == row["t_p_value"]
    # A stricter threshold the data cannot meet flips the rule to Wilcoxon.
    strict = stats.paired_tests(changes(DEPRESSION_Y, DEPRESSION_X), ("month_6",), alpha=0.99).iloc[0]
    assert strict["test_used"] == "Wilcoxon signed-rank"
    assert "0.99" in strict["normality_rule"]


def test_wilcoxon_agrees_with_scipy_on_exact_and_tied_data() -> None:
    rng = np.random.default_rng(7)
    base = rng.normal(100, 20, 14)
    follow = base + rng.normal(3, 5, 14)
    exact = one_row(changes(list(base), list(follow)))
    reference = sps.wilcoxon(np.round(follow - base, 10), method="exact")
    assert exact["wilcoxon_method"] == "exact"
    assert exact["wilcoxon_statistic"] == reference.statistic
    assert exact["wilcoxon_p_value"] == pytest.approx(reference.pvalue, rel=1e-10)
    d = np.round(rng.normal(3, 5, 14))  # whole numbers: ties and zeros
    assert (d == 0).any() or len(set(np.abs(d))) < 14
    tied = one_row(changes([100.0] * 14, list(100 + d)))
    reference = sps.wilcoxon(d, zero_method="wilcox", correction=True, method="asymptotic")
    assert tied["wilcoxon_method"] == "normal approximation"
    assert tied["wilcoxon_statistic"] == reference.statistic
    assert tied["wilcoxon_p_value"] == pytest.approx(reference.pvalue, rel=1e-10)


def test_descriptives_use_complete_pairs_and_type7_quantiles() -> None:
    frame = changes([1.0, 2.0, 3.0, 4.0, 100.0], [2.0, 4.0, 6.0, 9.0, None])
    row = one_row(frame)
    assert row["n_pairs"] == 4
    # Baseline of the 4 complete pairs: 1,2,3,4 -> R quantile type 7: q1 1.75, median 2.5, q3 3.25.
    assert (row["baseline_q1"], row["baseline_median"], row["baseline_q3"]) == (1.75, 2.5, 3.25)
    assert row["baseline_mean"] == 2.5
    assert row["baseline_sd"] == pytest.approx(math.sqrt(5 / 3), rel=1e-12)
    assert row["followup_mean"] == 5.25
    assert "1 patient(s) without a complete pair dropped" in row["note"]


# ---------------------------------------------------------------- paired tests: edge cases


@pytest.fixture(autouse=True)
def _warnings_are_errors():
    # The module promises to swallow scipy's degenerate-input warnings; any leak fails a test.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


def test_fewer_than_three_pairs_is_not_tested() -> None:
    row = one_row(changes([10.0, 20.0], [30.0, 50.0]))
    assert row["n_pairs"] == 2
    assert row["test_used"] == "not tested"
    assert np.isnan(row["p_value"]) and np.isnan(row["t_statistic"]) and np.isnan(row["wilcoxon_p_value"])
    assert row["note"].startswith("fewer than 3 complete pairs")
    assert row["mean_difference"] == 25.0


def test_all_zero_differences_are_not_tested_and_p_is_not_one() -> None:
    row = one_row(changes([5.0, 6.0, 7.0, 8.0], [5.0, 6.0, 7.0, 8.0]))
    assert row["note"].startswith("all differences are zero")
    assert row["test_used"] == "not tested"
    assert np.isnan(row["p_value"]) and np.isnan(row["t_statistic"]) and np.isnan(row["wilcoxon_p_value"])
    assert np.isnan(row["p_value_holm"]) and np.isnan(row["p_value_bh"])


def test_constant_nonzero_differences_use_wilcoxon() -> None:
    # Float noise (10.5 - 10.2 != 11.4 - 11.1 in binary) must not hide the constant difference.
    row = one_row(changes([10.2, 11.1, 12.0, 13.3], [10.5, 11.4, 12.3, 13.6]))
    assert "differences are constant (sd 0)" in row["note"]
    assert np.isnan(row["t_statistic"]) and np.isnan(row["shapiro_p_value"])
    assert row["test_used"] == "Wilcoxon signed-rank"
    # All four |d| tied -> normal approx: z = (10 - 5 - 0.5) / sqrt(7.5 - 60/48) = 4.5 / 2.5.
    assert row["wilcoxon_p_value"] == pytest.approx(2 * sps.norm.sf(1.8), rel=1e-12)
    assert row["wilcoxon_v"] == 10
    assert row["hodges_lehmann"] == pytest.approx(0.3, abs=1e-9)


def test_analyte_missing_at_a_visit_gives_zero_pair_row() -> None:
    frame = pd.concat(
        [
            changes([1.0, 2.0, 3.0], [2.0, 3.0, 5.0], visit="month_3"),
            changes([1.0, 2.0, 3.0], [4.0, 5.0, 7.0], visit="month_6"),
        ]
    )
    frame = pd.concat([frame, changes([1.0, 2.0, 3.0], [3.0, 5.0, 4.0], analyte="cd4", visit="month_6")])
    result = stats.paired_tests(frame, COMPARISONS)
    missing = result[(result["analyte"] == "cd4") & (result["visit"] == "month_3")].iloc[0]
    assert missing["n_pairs"] == 0
    assert missing["note"].startswith("no complete pairs")
    assert missing["test_used"] == "not tested"


def test_patient_missing_a_visit_is_dropped_and_month_1_ignored() -> None:
    frame = pd.concat(
        [
            changes([10.0, 20.0, 30.0, 40.0], [15.0, 28.0, 33.0, 49.0], visit="month_6"),
            changes([10.0, 20.0, 30.0, 40.0], [11.0, 21.0, 31.0, 42.0], visit="month_1"),
            changes([10.0, 20.0, 30.0], [12.0, 25.0, 29.0], visit="month_3"),  # P04 missed month 3
        ]
    )
    result = stats.paired_tests(frame, COMPARISONS)
    assert list(result["comparison"]) == ["baseline_vs_month_3", "baseline_vs_month_6"]
    assert list(result["n_pairs"]) == [3, 4]
    assert "1 patient(s) without a complete pair dropped" in result.iloc[0]["note"]
    with_month_1 = stats.paired_tests(frame, comparisons=("month_1", "month_3", "month_6"))
    assert list(with_month_1["visit"]) == ["month_1", "month_3", "month_6"]


def test_output_columns_and_sorting() -> None:
    frame = pd.concat(
        [
            changes(DEPRESSION_Y, DEPRESSION_X, analyte=a, visit=v)
            for a in ("tregs", "cd4", "platelet_count")
            for v in ("month_6", "month_3")
        ]
    )
    result = stats.paired_tests(frame, COMPARISONS)
    assert tuple(result.columns) == stats.PAIRED_COLUMNS
    assert list(zip(result["comparison"], result["analyte"])) == [
        (c, a) for c in ("baseline_vs_month_3", "baseline_vs_month_6") for a in ("cd4", "platelet_count", "tregs")
    ]


def test_adjustment_is_within_comparison_only() -> None:
    frame = pd.concat(
        [
            changes(SLEEP_2, SLEEP_1, analyte="a", visit="month_3"),
            changes(DEPRESSION_Y, DEPRESSION_X, analyte="b", visit="month_3"),
            changes([1.0, 2.0], [3.0, 4.0], analyte="c", visit="month_3"),  # untested: not counted
            changes(DEPRESSION_Y, DEPRESSION_X, analyte="a", visit="month_6"),
        ]
    )
    result = stats.paired_tests(frame, COMPARISONS).set_index(["comparison", "analyte"])
    m3 = result.loc["baseline_vs_month_3"]
    p_a, p_b = m3.loc["a", "p_value"], m3.loc["b", "p_value"]
    low, high = sorted([p_a, p_b])
    holm = {low: 2 * low, high: max(2 * low, high)}  # m = 2, step-down by hand
    bh = {low: min(2 * low, high), high: high}
    assert m3.loc["a", "p_value_holm"] == pytest.approx(holm[p_a], rel=1e-12)
    assert m3.loc["b", "p_value_holm"] == pytest.approx(holm[p_b], rel=1e-12)
    assert m3.loc["a", "p_value_bh"] == pytest.approx(bh[p_a], rel=1e-12)
    assert m3.loc["b", "p_value_bh"] == pytest.approx(bh[p_b], rel=1e-12)
    assert np.isnan(m3.loc["c", "p_value_holm"])
    # month_6 has a single tested analyte: adjustment leaves its p unchanged.
    m6 = result.loc[("baseline_vs_month_6", "a")]
    assert m6["p_value_holm"] == m6["p_value"] == m6["p_value_bh"]


# ---------------------------------------------------------------- p-value adjustment


def test_holm_and_bh_hand_calculation() -> None:
    # Holm: sorted p times (m - i + 1) = .05 .08 .09 .08 .05, then running max -> .05 .08 .09 .09 .09.
    # BH: p * m / i = .05 for every i.
    p = [0.01, 0.02, 0.03, 0.04, 0.05]
    np.testing.assert_allclose(stats.holm_adjust(p), [0.05, 0.08, 0.09, 0.09, 0.09], rtol=1e-12)
    np.testing.assert_allclose(stats.bh_adjust(p), [0.05] * 5, rtol=1e-12)


def test_adjustment_unsorted_with_nan() -> None:
    # Non-NaN p: .04 .01 .03 (m = 3). Holm: .01*3=.03, .03*2=.06, .04*1=.04 -> max .06.
    # BH: .01*3=.03, .03*3/2=.045, .04*3/3=.04; running min from the top -> .03 .04 .04.
    p = [0.04, np.nan, 0.01, 0.03]
    np.testing.assert_allclose(stats.holm_adjust(p), [0.06, np.nan, 0.03, 0.06], rtol=1e-12)
    np.testing.assert_allclose(stats.bh_adjust(p), [0.04, np.nan, 0.03, 0.04], rtol=1e-12)
    np.testing.assert_allclose(stats.holm_adjust([0.5, 0.6]), [1.0, 1.0])  # capped at 1


def test_bh_agrees_with_scipy_false_discovery_control() -> None:
    p = np.random.default_rng(3).uniform(0, 0.2, 25) ** 2
    np.testing.assert_allclose(stats.bh_adjust(p), sps.false_discovery_control(p), rtol=1e-12)


# ---------------------------------------------------------------- Friedman


def rounding_long() -> pd.DataFrame:
    matrix = np.array(ROUNDING_TIMES).reshape(22, 3)
    visits = ("round_out", "narrow_angle", "wide_angle")
    return pd.DataFrame(
        [{"patient_id": f"R{i:02d}", "visit": v, "time": matrix[i, j]} for i in range(22) for j, v in enumerate(visits)]
    )


def test_friedman_matches_r_rounding_times() -> None:
    # R ?friedman.test: Friedman chi-squared = 11.143, df = 2, p-value = 0.003805.
    visits = ("round_out", "narrow_angle", "wide_angle")
    row = stats.friedman_test(rounding_long(), visits=visits, measure="time").iloc[0]
    assert tuple(row.index) == stats.FRIEDMAN_COLUMNS
    assert row["statistic"] == pytest.approx(11.143, rel=1e-4)
    assert row["df"] == 2
    assert row["p_value"] == pytest.approx(0.003805, rel=1e-3)
    assert (row["n_patients"], row["n_visits"]) == (22, 3)
    assert row["kendalls_w"] == pytest.approx(11.143 / (22 * 2), rel=1e-4)
    assert row["visits"] == "round_out,narrow_angle,wide_angle"
    matrix = np.array(ROUNDING_TIMES).reshape(22, 3)
    assert row["statistic"] == pytest.approx(sps.friedmanchisquare(*matrix.T).statistic, rel=1e-12)


def test_friedman_complete_cases_and_too_few_patients() -> None:
    long = rounding_long()
    long = long[~((long["patient_id"] == "R00") & (long["visit"] == "wide_angle"))]
    row = stats.friedman_test(long, ("round_out", "narrow_angle", "wide_angle"), "time").iloc[0]
    assert row["n_patients"] == 21
    assert "1 patient(s) without a value at every visit excluded" in row["note"]
    tiny = long[long["patient_id"].isin(["R00", "R01"])]
    row = stats.friedman_test(tiny, ("round_out", "narrow_angle", "wide_angle"), "time").iloc[0]
    assert row["n_patients"] == 1 and np.isnan(row["statistic"]) and np.isnan(row["p_value"])
    assert row["note"].startswith("fewer than 2 complete patients")


# ---------------------------------------------------------------- response rates


def test_clopper_pearson_matches_r_binom_test_and_beta_quantiles() -> None:
    rates = pd.DataFrame(
        {
            "visit": ["mendel", "month_3", "month_6"],
            "n_cr": [0, 1, 3],
            "n_pr": [0, 7, 7],
            "n_responders": [682, 8, 10],
            "n_evaluable": [925, 13, 13],
            "extra": [1, 2, 3],
        }
    )
    result = stats.response_rate_ci(rates)
    assert list(result.columns) == [
        "visit",
        "n_cr",
        "n_pr",
        "n_responders",
        "n_evaluable",
        "orr",
        "ci_low",
        "ci_high",
        "ci_method",
        "note",
    ]
    mendel, m3, m6 = (result.iloc[i] for i in range(3))
    # R ?binom.test: binom.test(682, 682 + 243, p = 3/4) -> 95% CI 0.7076683 0.7654066.
    assert (mendel["ci_low"], mendel["ci_high"]) == (
        pytest.approx(0.7076683, rel=1e-6),
        pytest.approx(0.7654066, rel=1e-6),
    )
    # 8/13 (month-3 ORR): R binom.test(8, 13) CI 0.3157776 0.8614207.
    assert (m3["ci_low"], m3["ci_high"]) == (pytest.approx(0.3157776, rel=1e-6), pytest.approx(0.8614207, rel=1e-6))
    assert m6["orr"] == pytest.approx(10 / 13)
    # Second, independent route: Clopper-Pearson bounds are beta quantiles.
    for row in (mendel, m3, m6):
        x, n = row["n_responders"], row["n_evaluable"]
        assert row["ci_low"] == pytest.approx(sps.beta.ppf(0.025, x, n - x + 1), rel=1e-8)
        assert row["ci_high"] == pytest.approx(sps.beta.ppf(0.975, x + 1, n - x), rel=1e-8)
    assert set(result["ci_method"]) == {"Clopper-Pearson exact"}


def test_response_rate_zero_evaluable() -> None:
    result = stats.response_rate_ci(pd.DataFrame({"visit": ["month_1"], "n_responders": [0], "n_evaluable": [0]}))
    row = result.iloc[0]
    assert np.isnan(row["orr"]) and np.isnan(row["ci_low"]) and np.isnan(row["ci_high"])
    assert row["note"] == "no evaluable patients"
    assert "n_cr" not in result.columns


# ---------------------------------------------------------------- subgroup Fisher tests


def tea_frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    """TeaTasting as patients: group 'milk' 3 responders / 1 NR, group 'tea' 1 / 3, plus NE rows."""
    outcomes = [("milk", "PR")] * 2 + [("milk", "CR"), ("milk", "NR"), ("tea", "PR")] + [("tea", "NR")] * 3
    outcomes += [("milk", "NE"), ("tea", "NE")]
    ids = [f"P{i:02d}" for i in range(len(outcomes))]
    responses = pd.DataFrame({"patient_id": ids, "visit": "month_3", "response": [r for _, r in outcomes]})
    patients = pd.DataFrame({"patient_id": ids, "ctd_group": [g for g, _ in outcomes]})
    return responses, patients


def test_fisher_matches_r_tea_tasting() -> None:
    # R ?fisher.test (Agresti 1990 p.61): TeaTasting = matrix(c(3, 1, 1, 3), 2).
    # Two-sided p-value = 0.4857 (= 34/70); alternative = "greater" p = 0.2429 (= 17/70).
    # Conditional MLE odds ratio 6.408309, 95% CI 0.2117329 621.9337505 as R prints them.
    responses, patients = tea_frames()
    row = stats.subgroup_response(responses, patients).iloc[0]
    assert (row["group_a"], row["group_b"]) == ("milk", "tea")
    assert (row["a_responders"], row["a_evaluable"], row["b_responders"], row["b_evaluable"]) == (3, 4, 1, 4)
    assert row["p_value"] == pytest.approx(34 / 70, rel=1e-10)
    assert row["p_value"] == pytest.approx(0.4857, abs=5e-5)
    assert row["sample_odds_ratio"] == 9.0  # 3*3 / (1*1)
    # Independent full-precision solution of the defining equations over the noncentral
    # hypergeometric support x = 0..4 with weights choose(4, x) choose(4, 4 - x).
    weights = [math.comb(4, x) * math.comb(4, 4 - x) for x in range(5)]

    def prob(psi: float, xs: range) -> float:
        return sum(weights[x] * psi**x for x in xs) / sum(w * psi**x for x, w in enumerate(weights))

    def mean(psi: float) -> float:
        return sum(x * weights[x] * psi**x for x in range(5)) / sum(w * psi**x for x, w in enumerate(weights))

    mle = optimize.brentq(lambda s: mean(s) - 3, 1, 100, xtol=1e-13, rtol=1e-14)
    low = optimize.brentq(lambda s: prob(s, range(3, 5)) - 0.025, 1e-6, 1, xtol=1e-15, rtol=1e-14)
    high = optimize.brentq(lambda s: prob(s, range(0, 4)) - 0.025, 1, 1e5, xtol=1e-12, rtol=1e-14)
    assert row["odds_ratio"] == pytest.approx(mle, rel=1e-8)
    assert row["odds_ratio_ci_low"] == pytest.approx(low, rel=1e-8)
    assert row["odds_ratio_ci_high"] == pytest.approx(high, rel=1e-8)
    # R's printed values come from uniroot(tol ~ 1.2e-4 on the 0..1 or 1/psi scale): close for
    # the MLE and lower bound, ~0.7% low for the upper bound (626.24 at full precision).
    assert row["odds_ratio"] == pytest.approx(6.408309, rel=1e-5)
    assert row["odds_ratio_ci_low"] == pytest.approx(0.2117329, rel=3e-5)
    assert row["odds_ratio_ci_high"] == pytest.approx(621.9337505, rel=1e-2)
    assert row["odds_ratio_method"] == stats.ODDS_RATIO_EXACT
    assert row["note"] == ""


def test_subgroup_absent_group_and_ordering() -> None:
    responses, patients = tea_frames()
    extra = pd.DataFrame(
        {
            "patient_id": ["P00", "P01", "P04"],
            "visit": ["month_12", "month_12", "month_1"],
            "response": ["PR", "NR", "PR"],
        }
    )
    result = stats.subgroup_response(pd.concat([extra, responses]), patients)
    assert tuple(result.columns) == stats.SUBGROUP_COLUMNS
    assert list(result["visit"]) == ["month_1", "month_3", "month_12"]  # chronological, not lexical
    m12 = result.iloc[2]
    assert np.isnan(m12["odds_ratio"]) and np.isnan(m12["p_value"])
    assert m12["note"] == "no evaluable patients in group tea"
    assert result.iloc[0]["note"] == "no evaluable patients in group milk"  # only P04 (tea) at month 1
    single = stats.subgroup_response(responses, patients.assign(ctd_group="SLE")).iloc[0]
    assert single["note"].startswith("only one ctd_group level present")
    assert np.isnan(single["odds_ratio"])


def test_subgroup_undefined_odds_ratio_when_everyone_responds() -> None:
    responses = pd.DataFrame(
        {"patient_id": ["A", "B", "C", "D"], "visit": "month_6", "response": ["CR", "PR", "PR", "CR"]}
    )
    patients = pd.DataFrame({"patient_id": ["A", "B", "C", "D"], "ctd_group": ["SLE", "SLE", "other CTD", "other CTD"]})
    row = stats.subgroup_response(responses, patients).iloc[0]
    assert (row["group_a"], row["group_b"]) == ("SLE", "other CTD")  # code-point order
    assert row["p_value"] == 1.0
    assert np.isnan(row["odds_ratio"])
    assert "odds ratio undefined" in row["note"]


def test_hodges_lehmann_selection_matches_brute_force_walsh_averages(monkeypatch: pytest.MonkeyPatch) -> None:
    """The O(n log n) selection used for large n gives exactly the brute-force order statistics."""
    from ctd_rtp import stats as S

    rng = np.random.default_rng(42)
    for n, ties in ((301, False), (400, True)):
        d = rng.normal(0.5, 2.0, n)
        if ties:
            d = np.round(d, 1)  # many tied differences and Walsh averages
        i, j = np.triu_indices(n)
        walsh = np.sort((d[i] + d[j]) / 2.0)
        expected = S._hodges_lehmann(d, exact=False)  # materialised path (n <= threshold)
        assert expected[0] == pytest.approx(float(np.median(walsh)), abs=0)
        monkeypatch.setattr(S, "WALSH_MATERIALISE_MAX_N", 10)
        got = S._hodges_lehmann(d, exact=False)
        monkeypatch.undo()
        # equal up to float rounding of equal-valued averages from different pairs; a wrong
        # order statistic would be off by >= 0.05 here (differences are on a 0.1 grid or continuous)
        assert got == pytest.approx(expected, abs=1e-9)
        for k in (1, 7, walsh.size // 2, walsh.size):
            assert S._walsh_kth(np.sort(d), k, budget=50) == pytest.approx(walsh[k - 1], abs=1e-9)


def _brute_walsh(d: np.ndarray) -> np.ndarray:
    i, j = np.triu_indices(d.size)
    return np.sort((d[i] + d[j]) / 2.0)


@pytest.mark.parametrize("budget", [50, 5_000, None])
def test_walsh_order_statistics_equal_brute_force_on_heavily_tied_large_input(budget: int | None) -> None:
    """n = 5000 lab-like differences on a 0.1 grid (huge tie runs, where bisection on the value
    used to crawl): every order statistic equals the materialised one exactly."""
    from ctd_rtp import stats as S

    d = np.round(np.random.default_rng(7).normal(0.4, 3.0, 5000), 1)
    walsh = _brute_walsh(d)
    ks = [1, 2, 17, walsh.size // 4, walsh.size // 2, walsh.size // 2 + 1, walsh.size - 1, walsh.size]
    got = S._walsh_order_stats(d, ks, budget or S.WALSH_MATERIALISE_MAX_PAIRS)
    assert got == [float(walsh[k - 1]) for k in ks]


@pytest.mark.parametrize("budget", [50, 5_000, None])
def test_walsh_order_statistics_equal_brute_force_with_many_distinct_values(budget: int | None) -> None:
    """All differences distinct (so the selection, not the weighted materialisation, does the
    work), plus a grid of values whose sums round (0.1 + 0.2 != 0.3): still exactly brute force."""
    from ctd_rtp import stats as S

    rng = np.random.default_rng(11)
    for d in (
        rng.normal(0.2, 2.0, 2500),
        np.round(rng.choice([0.1, 0.2, 0.3, 0.7, -0.3], 2500) + np.round(rng.normal(0, 1e-3, 2500), 6), 10),
    ):
        walsh = _brute_walsh(d)
        ks = [1, 5, walsh.size // 3, walsh.size // 2, walsh.size // 2 + 1, walsh.size - 4, walsh.size]
        got = S._walsh_order_stats(d, ks, budget or S.WALSH_MATERIALISE_MAX_PAIRS)
        assert got == [float(walsh[k - 1]) for k in ks]


def test_hodges_lehmann_large_tied_input_equals_materialised_path(monkeypatch: pytest.MonkeyPatch) -> None:
    from ctd_rtp import stats as S

    d = np.round(np.random.default_rng(3).normal(-0.2, 1.5, 2400), 1)
    monkeypatch.setattr(S, "WALSH_MATERIALISE_MAX_N", 10**6)
    expected = S._hodges_lehmann(d, exact=False)  # all n(n+1)/2 averages materialised
    monkeypatch.setattr(S, "WALSH_MATERIALISE_MAX_N", 10)
    assert S._hodges_lehmann(d, exact=False) == expected


def _response_frames(counts: dict[str, tuple[int, int]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """group -> (responders, non-responders) as month_3 responses and patients."""
    outcomes = [(g, code) for g, (r, nr) in counts.items() for code in ["PR"] * r + ["NR"] * nr]
    ids = [f"P{i:05d}" for i in range(len(outcomes))]
    return (
        pd.DataFrame({"patient_id": ids, "visit": "month_3", "response": [c for _, c in outcomes]}),
        pd.DataFrame({"patient_id": ids, "ctd_group": [g for g, _ in outcomes]}),
    )


def test_large_table_odds_ratio_uses_conditional_wald_ci() -> None:
    """Above EXACT_ODDS_RATIO_MAX_N the CI is exp(log MLE +/- z / sqrt(Var(a))), Var(a) under
    Fisher's noncentral hypergeometric at the conditional MLE; it is close to the exact CI."""
    a, b, c, d = 700, 800, 600, 900  # 3000 evaluable patients
    assert a + b + c + d > stats.EXACT_ODDS_RATIO_MAX_N
    row = stats.subgroup_response(*_response_frames({"SLE": (a, b), "other CTD": (c, d)})).iloc[0]
    assert row["odds_ratio_method"] == stats.ODDS_RATIO_WALD
    # Independent check: the conditional distribution of the (1,1) cell over its support.
    x = np.arange(max(0, (a + c) - (c + d)), min(a + b, a + c) + 1)
    log_w = (
        special.gammaln(a + b + 1)
        - special.gammaln(x + 1)
        - special.gammaln(a + b - x + 1)
        + special.gammaln(c + d + 1)
        - special.gammaln(a + c - x + 1)
        - special.gammaln(c + d - a - c + x + 1)
    )

    def moments(psi: float) -> tuple[float, float]:
        w = np.exp(log_w + x * math.log(psi) - (log_w + x * math.log(psi)).max())
        mean = float((x * w).sum() / w.sum())
        return mean, float(((x - mean) ** 2 * w).sum() / w.sum())

    mle = optimize.brentq(lambda psi: moments(psi)[0] - a, 0.5, 5, xtol=1e-14)
    half = 1.959963984540054 / math.sqrt(moments(mle)[1])
    assert row["odds_ratio"] == pytest.approx(mle, rel=1e-7)
    assert row["odds_ratio_ci_low"] == pytest.approx(mle * math.exp(-half), rel=1e-6)
    assert row["odds_ratio_ci_high"] == pytest.approx(mle * math.exp(half), rel=1e-6)
    exact = stats._conditional_odds_ratio(np.array([[a, b], [c, d]]), kind="conditional").confidence_interval()
    assert row["odds_ratio_ci_low"] == pytest.approx(exact.low, rel=5e-3)
    assert row["odds_ratio_ci_high"] == pytest.approx(exact.high, rel=5e-3)


def test_large_table_with_a_zero_cell_keeps_the_exact_ci() -> None:
    row = stats.subgroup_response(*_response_frames({"SLE": (0, 1500), "other CTD": (40, 1460)})).iloc[0]
    assert row["odds_ratio_method"] == stats.ODDS_RATIO_EXACT
    assert row["odds_ratio"] == 0 and row["odds_ratio_ci_low"] == 0
    assert "zero cell" in row["note"]


def test_large_table_with_a_small_cell_keeps_the_exact_ci() -> None:
    """20 vs 8 responders among 2,001 patients: the Wald upper bound would be 14% low."""
    counts = {"SLE": (20, 980), "other CTD": (8, 993)}  # 2,001 patients, two cells under 100
    row = stats.subgroup_response(*_response_frames(counts)).iloc[0]
    assert row["odds_ratio_method"] == stats.ODDS_RATIO_EXACT
    exact = stats._conditional_odds_ratio(np.array([[20, 980], [8, 993]]), kind="conditional").confidence_interval()
    assert (row["odds_ratio_ci_low"], row["odds_ratio_ci_high"]) == (exact.low, exact.high)
