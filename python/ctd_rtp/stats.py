"""Inferential statistics for a single-arm treatment-response study (pure functions, no I/O).

Every public function takes data frames and returns a new data frame; nothing is printed,
written or cached. The conventions deliberately follow R (the reference the study's
statisticians check against), and where they differ the difference is stated here:

* Paired differences are follow-up minus baseline. Descriptives use complete pairs only;
  quartiles use numpy's default linear interpolation (= R ``quantile`` type 7).
* Differences are rounded to 10 decimal places before any rank-based step, so that float
  noise (10.5 - 10.2 vs 11.4 - 11.1) cannot create spurious non-ties or non-zeros
  (R's ``wilcox.test(digits.rank=)`` exists for the same reason; its default does not round).
* Wilcoxon signed-rank follows ``wilcox.test(paired=TRUE)``: zero differences are dropped
  ("wilcox" method); the exact null distribution is used when fewer than 50 non-zero
  differences remain and there are no ties or zeros (R: ``n < 50``), otherwise the normal
  approximation with tie-corrected variance and continuity correction.
* Hodges-Lehmann is the median of the Walsh averages of all complete-pair differences.
  Its CI takes Walsh-average order statistics: exact signed-rank critical values
  (Bauer 1972, identical to R's exact branch) when the Wilcoxon test is exact, otherwise
  the large-sample critical value of Hollander & Wolfe, floor(n(n+1)/4 - z*sqrt(n(n+1)(2n+1)/24)).
  R's asymptotic branch instead inverts the test numerically, so with ties/zeros R's
  estimate and CI can differ slightly from these.
* Confidence intervals are 95% (``CONFIDENCE``) unless a function takes a level.
* Exact conditional odds-ratio CIs are computed to full precision by scipy; R's
  ``fisher.test`` solves the same equations with ``uniroot``'s loose default tolerance, so its
  printed bounds can differ in the 4th-5th significant digit (upper bounds by up to ~1%).
  Their cost grows with the table (about 0.2 s at 2,000 patients, 6 s at 20,000), so above
  ``EXACT_ODDS_RATIO_MAX_N`` evaluable patients in a 2x2 table, when every cell holds at least
  ``WALD_ODDS_RATIO_MIN_CELL`` patients, the CI is the Wald interval of the same conditional
  likelihood instead (within about 1% of the exact bounds at 100 per cell, closer with more;
  with small cells the two part, e.g. by 14% with cells of 8 and 20): exp(log(OR) +/- z / sqrt(I)),
  where OR is the conditional MLE and I = Var(a | margins, OR) is the Fisher information of
  log(OR) under Fisher's noncentral hypergeometric distribution (Breslow & Day 1980, 4.2).
  Each row's ``odds_ratio_method`` says which was used; the point estimate is the
  conditional MLE either way.
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from scipy.stats.contingency import odds_ratio as _conditional_odds_ratio

CONFIDENCE = 0.95
EXACT_WILCOXON_MAX_N = 49  # exact p while n_nonzero < 50, as in R's wilcox.test
RESPONDER_CODES = ("CR", "PR")
EVALUABLE_CODES = ("CR", "PR", "NR")
RESPONSE_CODES = ("CR", "PR", "NR", "NE")
_DIFF_DECIMALS = 10
_NAN = float("nan")

PAIRED_COLUMNS: tuple[str, ...] = (
    "analyte",
    "comparison",
    "visit",
    "n_pairs",
    "baseline_mean",
    "baseline_sd",
    "baseline_median",
    "baseline_q1",
    "baseline_q3",
    "followup_mean",
    "followup_sd",
    "followup_median",
    "followup_q1",
    "followup_q3",
    "mean_difference",
    "sd_difference",
    "mean_difference_ci_low",
    "mean_difference_ci_high",
    "t_statistic",
    "t_df",
    "t_p_value",
    "shapiro_w",
    "shapiro_p_value",
    "wilcoxon_statistic",
    "wilcoxon_v",
    "wilcoxon_p_value",
    "wilcoxon_method",
    "hodges_lehmann",
    "hodges_lehmann_ci_low",
    "hodges_lehmann_ci_high",
    "effect_size_dz",
    "effect_size_r",
    "normality_rule",
    "test_used",
    "p_value",
    "p_value_holm",
    "p_value_bh",
    "note",
)
FRIEDMAN_COLUMNS: tuple[str, ...] = (
    "measure",
    "visits",
    "n_patients",
    "n_visits",
    "statistic",
    "df",
    "p_value",
    "kendalls_w",
    "note",
)
SUBGROUP_COLUMNS: tuple[str, ...] = (
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
    "odds_ratio_method",
    "sample_odds_ratio",
    "p_value",
    "note",
)


def _require(frame: pd.DataFrame, columns: Iterable[str], name: str) -> None:
    """Fail loudly on a broken input contract; edge cases in the data are handled, not raised."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{name} is missing column(s): {', '.join(missing)}")


def _floats(series: pd.Series) -> np.ndarray:
    # Nullable (pd.NA) columns from DuckDB must become plain float NaN before numpy maths.
    return pd.to_numeric(series).to_numpy(dtype="float64", na_value=np.nan)


VISIT_UNIT_DAYS = {"day": 1.0, "week": 7.0, "month": 30.4375, "year": 365.25}


def _visit_key(visit: str) -> tuple[int, float, str]:
    """Chronological sort key for visit codes of any schedule: baseline, then <unit>_<n>
    (day_14, week_2, month_N, year_1) by their approximate day, then anything else by name."""
    if visit == "baseline":
        return (0, 0.0, visit)
    match = re.fullmatch(r"(day|week|month|year)_(\d+)", str(visit))
    return (1, VISIT_UNIT_DAYS[match.group(1)] * int(match.group(2)), visit) if match else (2, 0.0, str(visit))


def _adjust(p_values: Sequence[float] | np.ndarray, step: Callable[[np.ndarray, int], np.ndarray]) -> np.ndarray:
    """Shared scaffolding of p.adjust: NaNs kept and not counted; `step` maps the sorted
    p-values (and m) to adjusted values in the same order."""
    p = np.asarray(p_values, dtype="float64")
    out = np.full(p.shape, np.nan)
    ok = ~np.isnan(p)
    m = int(ok.sum())
    if m:
        order = np.argsort(p[ok], kind="stable")
        adjusted = np.empty(m)
        adjusted[order] = np.minimum(1.0, step(p[ok][order], m))
        out[ok] = adjusted
    return out


def holm_adjust(p_values: Sequence[float] | np.ndarray) -> np.ndarray:
    """Holm step-down adjusted p-values (R ``p.adjust(method="holm")``); NaNs kept, not counted."""
    # Step-down: an adjusted p may never be smaller than one ranked before it.
    return _adjust(p_values, lambda p, m: np.maximum.accumulate((m - np.arange(m)) * p))


def bh_adjust(p_values: Sequence[float] | np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (R ``p.adjust(method="BH")``); NaNs kept, not counted."""
    # Step-up: running minimum from the largest p downwards keeps the result monotone.
    return _adjust(p_values, lambda p, m: np.minimum.accumulate((m / np.arange(1, m + 1) * p)[::-1])[::-1])


def _signrank_cdf(n: int) -> np.ndarray:
    """P(V <= v), v = 0..n(n+1)/2, of the untied signed-rank null (subset sums of 1..n)."""
    counts = np.zeros(n * (n + 1) // 2 + 1)
    counts[0] = 1.0
    for k in range(1, n + 1):
        # Right-hand side is evaluated first, so each rank enters a subset at most once.
        counts[k:] = counts[k:] + counts[:-k]
    return np.cumsum(counts) / 2.0**n  # counts <= 2**49 are exact in float64


def _wilcoxon(d: np.ndarray) -> tuple[dict[str, Any], list[str]]:
    """Two-sided Wilcoxon signed-rank test on differences, reproducing R's wilcox.test."""
    nonzero = d[d != 0]
    n = nonzero.size
    n_zero = d.size - n
    if n == 0:
        return {}, []
    ranks = stats.rankdata(np.abs(nonzero))
    w_plus = float(ranks[nonzero > 0].sum())
    w_minus = float(ranks[nonzero < 0].sum())
    _, tie_sizes = np.unique(np.abs(nonzero), return_counts=True)
    ties = bool((tie_sizes > 1).any())
    notes: list[str] = []
    if n <= EXACT_WILCOXON_MAX_N and not ties and n_zero == 0:
        method = "exact"
        cdf = _signrank_cdf(n)
        total = n * (n + 1) // 2
        v = int(round(w_plus))
        # The null is symmetric, so P(V >= v) = P(V <= total - v): no 1 - cdf cancellation.
        tail = cdf[total - v] if w_plus > n * (n + 1) / 4 else cdf[v]
        p = min(1.0, 2.0 * float(tail))
    else:
        method = "normal approximation"
        z = w_plus - n * (n + 1) / 4
        sigma = math.sqrt(n * (n + 1) * (2 * n + 1) / 24 - float((tie_sizes**3 - tie_sizes).sum()) / 48)
        z = (z - math.copysign(0.5, z) * (z != 0)) / sigma
        p = min(1.0, 2.0 * float(stats.norm.sf(abs(z))))
        reasons = [
            r
            for r, hit in (
                ("ties among |differences|", ties),
                (f"{n_zero} zero difference(s) dropped (wilcox method)", n_zero > 0),
                (f"{n} non-zero differences (exact only below 50)", n > EXACT_WILCOXON_MAX_N),
            )
            if hit
        ]
        notes.append("Wilcoxon: normal approximation with continuity correction (" + "; ".join(reasons) + ")")
    result = {
        "wilcoxon_statistic": min(w_plus, w_minus),
        "wilcoxon_v": w_plus,
        "wilcoxon_p_value": p,
        "wilcoxon_method": method,
        "effect_size_r": (w_plus - w_minus) / (w_plus + w_minus),
    }
    return result, notes


# Above this many differences the n(n+1)/2 Walsh averages are not materialised one per pair
# (memory grows with n^2). Order statistics are then selected exactly on the distinct
# differences (np.unique): the Walsh average of distinct values v_a <= v_b stands for
# c_a * c_b pairs (c_a * (c_a + 1) / 2 when a == b). Lab differences are coarse (a few thousand
# distinct values among 100k patients), so when at most WALSH_MATERIALISE_MAX_PAIRS
# distinct-value pairs exist they are materialised with these weights and the k-th is read
# off directly; otherwise `_walsh_select` first narrows the candidates to that many.
WALSH_MATERIALISE_MAX_N = 2000
WALSH_MATERIALISE_MAX_PAIRS = 100_000


def _walsh_bounds(v: np.ndarray, s: float, strict: bool) -> np.ndarray:
    """Per distinct value v_a: how many v_b have v_a + v_b <= s (< s if strict), v strictly
    increasing, with the sum rounded exactly as a materialised Walsh average is.

    searchsorted on s - v_a is the fast first guess; float rounding can make `v_b <= s - v_a`
    and `fl(v_a + v_b) <= s` disagree at the boundary, so each boundary is then moved one
    distinct value at a time until the rounded sums agree (fl(v_a + x) is monotone in x,
    so this terminates; it is at most a step or two for data on a decimal grid)."""
    over = (lambda x: x >= s) if strict else (lambda x: x > s)
    bound = np.searchsorted(v, s - v, side="left" if strict else "right")
    last = v.size - 1
    while True:
        back = (bound > 0) & over(v + v[np.maximum(bound - 1, 0)])
        ahead = (bound <= last) & ~over(v + v[np.minimum(bound, last)])
        if not (back.any() or ahead.any()):
            return bound
        bound = bound - back + ahead


def _walsh_weight_below(c: np.ndarray, cum: np.ndarray, bound: np.ndarray) -> int:
    """Number of Walsh averages (pairs i <= j of the original differences) whose distinct-value
    pair (a, b), a <= b, has b < bound[a]. cum[x] = c[0] + ... + c[x-1]."""
    a = np.arange(c.size)
    rows = bound > a
    ca = c[rows]
    return int((ca * (cum[bound[rows]] - cum[a[rows] + 1]) + ca * (ca + 1) // 2).sum())


def _walsh_select(v: np.ndarray, c: np.ndarray, k: int, budget: int) -> float:
    """Exact k-th smallest (1-based) Walsh average given distinct sorted values v with counts c.

    Candidates are, per row a, the distinct-value pairs (a, b) with lo[a] <= b < hi[a]; row
    sums v_a + v_b increase with b. While more than `budget` candidate pairs remain, the pivot
    is the size-weighted median of the row medians (Johnson & Mizoguchi 1978), itself a real
    Walsh average: at least a quarter of the candidates lie on each side of it, so every step
    removes at least a quarter of them (or finds the answer), and the loop ends after at most
    log(n^2 / budget) / log(4/3) steps. The remaining candidates are then materialised with
    their weights. No step depends on the spacing of the values.
    """
    u = v.size
    cum = np.concatenate(([0], np.cumsum(c)))
    a = np.arange(u)
    lo, hi = a.copy(), np.full(u, u)
    while True:
        size = np.maximum(hi - lo, 0)
        n_candidates = int(size.sum())
        if n_candidates <= budget:
            break
        rows = np.nonzero(size)[0]
        medians = v[rows] + v[(lo[rows] + hi[rows] - 1) // 2]
        order = np.argsort(medians, kind="stable")
        weights = np.cumsum(size[rows][order])
        pivot = float(medians[order][np.searchsorted(weights, weights[-1] / 2.0, side="left")])
        below_lt = _walsh_bounds(v, pivot, strict=True)
        if _walsh_weight_below(c, cum, below_lt) >= k:  # answer < pivot
            hi = np.minimum(hi, below_lt)
            continue
        below_le = _walsh_bounds(v, pivot, strict=False)
        if _walsh_weight_below(c, cum, below_le) >= k:  # answer == pivot
            return pivot / 2.0
        lo = np.maximum(lo, below_le)  # answer > pivot
    # Every pair left of the candidates is smaller than all of them (and the answer).
    rank = k - _walsh_weight_below(c, cum, lo)
    rows = np.nonzero(size)[0]
    row = np.repeat(rows, size[rows])
    starts = np.cumsum(size[rows]) - size[rows]
    col = np.arange(row.size) - np.repeat(starts, size[rows]) + lo[row]
    values = (v[row] + v[col]) / 2.0
    weight = np.where(row == col, c[row] * (c[row] + 1) // 2, c[row] * c[col])
    order = np.argsort(values, kind="stable")
    position = np.searchsorted(np.cumsum(weight[order]), rank, side="left")
    return float(values[order[position]])


def _walsh_order_stats(d: np.ndarray, ks: Sequence[int], budget: int = WALSH_MATERIALISE_MAX_PAIRS) -> list[float]:
    """Exact k-th smallest (1-based) Walsh averages (d_i + d_j)/2, i <= j, for each k in ks."""
    v, c = np.unique(d, return_counts=True)
    c = c.astype(np.int64)
    return [_walsh_select(v, c, int(k), budget) for k in ks]


def _walsh_kth(d: np.ndarray, k: int, budget: int = WALSH_MATERIALISE_MAX_PAIRS) -> float:
    """Exact k-th smallest (1-based) Walsh average of d."""
    return _walsh_order_stats(d, [k], budget)[0]


def _hodges_lehmann(d: np.ndarray, exact: bool) -> tuple[float, float, float]:
    """Median of Walsh averages with a Walsh-order-statistic CI (see module docstring)."""
    n = d.size
    total = n * (n + 1) // 2
    alpha = 1.0 - CONFIDENCE
    if exact:
        # R's qsignrank(alpha/2, n), including its 10*eps fuzz and the "qu == 0 -> 1" rule.
        qu = int(np.searchsorted(_signrank_cdf(n), alpha / 2 - 10 * np.finfo(float).eps, side="left"))
    else:
        z = stats.norm.isf(alpha / 2)
        qu = math.floor(n * (n + 1) / 4 - z * math.sqrt(n * (n + 1) * (2 * n + 1) / 24))
    qu = max(qu, 1)
    if n <= WALSH_MATERIALISE_MAX_N:
        i, j = np.triu_indices(n)
        walsh = np.sort((d[i] + d[j]) / 2.0)
        return float(np.median(walsh)), float(walsh[qu - 1]), float(walsh[total - qu])
    middle = [(total + 1) // 2] if total % 2 else [total // 2, total // 2 + 1]
    *halves, low, high = _walsh_order_stats(d, [*middle, qu, total - qu + 1])
    return sum(halves) / len(halves), low, high


def _describe(x: np.ndarray, prefix: str) -> dict[str, float]:
    if x.size == 0:
        return {f"{prefix}_{s}": _NAN for s in ("mean", "sd", "median", "q1", "q3")}
    q1, median, q3 = np.quantile(x, [0.25, 0.5, 0.75])
    return {
        f"{prefix}_mean": float(x.mean()),
        f"{prefix}_sd": float(x.std(ddof=1)) if x.size > 1 else _NAN,
        f"{prefix}_median": float(median),
        f"{prefix}_q1": float(q1),
        f"{prefix}_q3": float(q3),
    }


def _paired_row(
    analyte: str, visit: str, base: np.ndarray, follow: np.ndarray, n_dropped: int, alpha: float
) -> dict[str, Any]:
    """One analyte x visit comparison; every edge case yields a row with a note."""
    n = base.size
    row: dict[str, Any] = dict.fromkeys(PAIRED_COLUMNS, _NAN)
    row.update(
        analyte=analyte,
        comparison=f"baseline_vs_{visit}",
        visit=visit,
        n_pairs=n,
        wilcoxon_method=None,
        test_used="not tested",
        normality_rule=(f"Shapiro-Wilk p >= {alpha:g} on differences -> paired t-test, else Wilcoxon signed-rank"),
    )
    row.update(_describe(base, "baseline") | _describe(follow, "followup"))
    notes: list[str] = []
    dropped_note = [f"{n_dropped} patient(s) without a complete pair dropped"] if n_dropped else []
    if n == 0:
        row["note"] = "; ".join(["no complete pairs"] + dropped_note)
        return row
    d = np.round(follow - base, _DIFF_DECIMALS)
    row["mean_difference"] = float(d.mean())
    sd = float(d.std(ddof=1)) if n > 1 else _NAN
    row["sd_difference"] = sd
    if n < 3:
        row["note"] = "; ".join(["fewer than 3 complete pairs"] + dropped_note)
        return row
    if not d.any():
        row["note"] = "; ".join(["all differences are zero"] + dropped_note)
        return row
    constant = bool(np.ptp(d) == 0)  # exact after rounding; sd can be 1e-17 instead of 0
    if constant:
        notes.append("differences are constant (sd 0): paired t-test and Shapiro-Wilk undefined")
    else:
        se = sd / math.sqrt(n)
        t_stat = row["mean_difference"] / se
        half = stats.t.isf((1 - CONFIDENCE) / 2, n - 1) * se
        shapiro = stats.shapiro(d)
        row.update(
            t_statistic=t_stat,
            t_df=n - 1,
            t_p_value=float(2 * stats.t.sf(abs(t_stat), n - 1)),
            mean_difference_ci_low=row["mean_difference"] - half,
            mean_difference_ci_high=row["mean_difference"] + half,
            effect_size_dz=row["mean_difference"] / sd,
            shapiro_w=float(shapiro.statistic),
            shapiro_p_value=float(shapiro.pvalue),
        )
    wilcoxon, wilcoxon_notes = _wilcoxon(d)
    row.update(wilcoxon)
    notes += wilcoxon_notes
    hl, hl_low, hl_high = _hodges_lehmann(d, exact=row["wilcoxon_method"] == "exact")
    row.update(hodges_lehmann=hl, hodges_lehmann_ci_low=hl_low, hodges_lehmann_ci_high=hl_high)
    if not constant and row["shapiro_p_value"] >= alpha:
        row.update(test_used="paired t-test", p_value=row["t_p_value"])
    else:
        row.update(test_used="Wilcoxon signed-rank", p_value=row["wilcoxon_p_value"])
    row["note"] = "; ".join(notes + dropped_note)
    return row


def paired_tests(lab_changes: pd.DataFrame, comparisons: Sequence[str], alpha: float = 0.05) -> pd.DataFrame:
    """Baseline vs follow-up tests per analyte and comparison visit, with Holm/BH adjustment.

    ``lab_changes`` has one row per patient x analyte x post-baseline visit with columns
    patient_id, analyte, visit, baseline_value, value. Visits not in ``comparisons`` (the
    study's var comparison_visits) are ignored. ``alpha`` is the Shapiro-Wilk threshold of the
    normality rule that picks ``test_used``; CIs are always ``CONFIDENCE`` (95%). Holm and BH
    adjust across analytes within each comparison, over rows that have a p_value.
    Returns ``PAIRED_COLUMNS``, sorted by comparison (chronologically) then analyte.
    """
    _require(lab_changes, ("patient_id", "analyte", "visit", "baseline_value", "value"), "lab_changes")
    if not 0 < alpha < 1:
        raise ValueError("alpha must be in (0, 1)")
    # Integer codes instead of the (long, string) columns: grouping and slicing 6M rows of
    # strings per analyte x visit would dominate the run time. NaN keys get their own code.
    patient = pd.factorize(lab_changes["patient_id"], use_na_sentinel=False)[0].astype(np.int64)
    analyte, analytes = pd.factorize(lab_changes["analyte"], sort=True)  # NaN analyte: -1, skipped
    visits = list(dict.fromkeys(comparisons))
    visit, visit_values = pd.factorize(lab_changes["visit"], use_na_sentinel=False)
    visit = visit.astype(np.int64)
    n_p, n_a, n_v = int(patient.max(initial=-1)) + 1, len(analytes) + 1, int(visit.max(initial=-1)) + 1
    key = (patient * n_a + analyte + 1) * n_v + visit
    # Counting the keys is much faster than hashing them while the key space stays small.
    small = n_p * n_a * n_v <= 64_000_000
    if (np.bincount(key).max(initial=0) > 1) if small else pd.Series(key).duplicated().any():
        raise ValueError("lab_changes has duplicate patient_id x analyte x visit rows")
    base, follow = _floats(lab_changes["baseline_value"]), _floats(lab_changes["value"])
    known = analyte >= 0
    # Patients per analyte (any visit, non-missing id), as groupby("analyte")["patient_id"].nunique().
    has_id = known & lab_changes["patient_id"].notna().to_numpy()
    seen = np.zeros((len(analytes), n_p), dtype=bool)
    seen[analyte[has_id], patient[has_id]] = True
    n_patients = seen.sum(axis=1)
    # Complete pairs at the comparison visits, grouped by a stable sort (row order kept).
    position = {v: i for i, v in enumerate(visits)}
    comparison = np.array([position.get(v, -1) for v in visit_values], dtype=np.int64)[visit]
    complete = np.nonzero(known & (comparison >= 0) & ~np.isnan(base) & ~np.isnan(follow))[0]
    n_groups = len(analytes) * len(visits)
    group = analyte[complete] * len(visits) + comparison[complete]
    if n_groups < 2**15:  # numpy's stable sort of 16-bit integers is a radix sort
        group = group.astype(np.int16)
    complete = complete[np.argsort(group, kind="stable")]
    bounds = np.concatenate(([0], np.cumsum(np.bincount(group, minlength=n_groups))))
    rows: list[dict[str, Any]] = []
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        # Degenerate inputs are reported through `note`; scipy's warnings would only be noise.
        warnings.simplefilter("ignore")
        for a, name in enumerate(analytes):
            for v, visit_name in enumerate(visits):
                index = complete[bounds[a * len(visits) + v] : bounds[a * len(visits) + v + 1]]
                rows.append(
                    _paired_row(
                        str(name), visit_name, base[index], follow[index], int(n_patients[a]) - index.size, alpha
                    )
                )
    result = pd.DataFrame(rows, columns=list(PAIRED_COLUMNS))
    for _, index in result.groupby("comparison").groups.items():
        p = result.loc[index, "p_value"].to_numpy(dtype="float64")
        result.loc[index, "p_value_holm"] = holm_adjust(p)
        result.loc[index, "p_value_bh"] = bh_adjust(p)
    order = sorted(range(len(result)), key=lambda r: (_visit_key(result.at[r, "visit"]), result.at[r, "analyte"]))
    return result.iloc[order].reset_index(drop=True)


def friedman_test(values: pd.DataFrame, visits: Sequence[str], measure: str = "platelet_count") -> pd.DataFrame:
    """Friedman rank test of ``measure`` across ``visits`` (R ``friedman.test``, tie-corrected).

    Only patients with a value at every listed visit are used. Kendall's W is
    statistic / (n (k - 1)). Returns one row with ``FRIEDMAN_COLUMNS``.
    """
    _require(values, ("patient_id", "visit", measure), "values")
    visits = tuple(visits)
    if len(visits) < 2 or len(set(visits)) != len(visits):
        raise ValueError("visits must list at least two distinct visits")
    subset = values[values["visit"].isin(visits)]
    if subset.duplicated(["patient_id", "visit"]).any():
        raise ValueError("values has duplicate patient_id x visit rows")
    wide = (
        subset.assign(**{measure: _floats(subset[measure])})
        .pivot(index="patient_id", columns="visit", values=measure)
        .reindex(columns=list(visits))
        .dropna()
    )
    n, k = wide.shape
    excluded = values["patient_id"].nunique() - n
    row: dict[str, Any] = dict(
        measure=measure,
        visits=",".join(visits),
        n_patients=n,
        n_visits=k,
        statistic=_NAN,
        df=k - 1,
        p_value=_NAN,
        kendalls_w=_NAN,
    )
    notes = [f"{excluded} patient(s) without a value at every visit excluded"] if excluded else []
    matrix = wide.to_numpy(dtype="float64")
    ranks = stats.rankdata(matrix, axis=1) if n else matrix
    # Tie sizes within each patient: runs of equal values in each sorted row (column 0 always
    # starts a run, so runs never cross rows), counted in one pass over the whole matrix.
    ordered = np.sort(matrix, axis=1)
    starts = np.ones(ordered.shape, dtype=bool)
    starts[:, 1:] = ordered[:, 1:] != ordered[:, :-1]
    sizes = np.bincount(np.cumsum(starts.ravel()) - 1).astype(np.int64)
    tie_term = float((sizes**3 - sizes).sum())
    denominator = n * k * (k + 1) - tie_term / (k - 1)
    if n < 2:
        notes.insert(0, "fewer than 2 complete patients")
    elif denominator <= 0:
        notes.insert(0, "all values tied within every patient")
    else:
        statistic = 12 * float(((ranks.sum(axis=0) - n * (k + 1) / 2) ** 2).sum()) / denominator
        row.update(
            statistic=statistic, p_value=float(stats.chi2.sf(statistic, k - 1)), kendalls_w=statistic / (n * (k - 1))
        )
    row["note"] = "; ".join(notes)
    return pd.DataFrame([row], columns=list(FRIEDMAN_COLUMNS))


def response_rate_ci(rates: pd.DataFrame, confidence: float = 0.95) -> pd.DataFrame:
    """Objective response rate per visit with an exact Clopper-Pearson CI (R ``binom.test``).

    Keeps n_cr / n_pr when present (after ``visit``) and the input row order.
    """
    _require(rates, ("visit", "n_responders", "n_evaluable"), "rates")
    kept = [c for c in ("n_cr", "n_pr") if c in rates.columns]
    rows: list[dict[str, Any]] = []
    for record in rates.to_dict("records"):
        x, n = int(record["n_responders"]), int(record["n_evaluable"])
        if n < 0 or not 0 <= x <= n:
            raise ValueError(f"visit {record['visit']}: need 0 <= n_responders <= n_evaluable")
        row = {
            "visit": record["visit"],
            **{c: record[c] for c in kept},
            "n_responders": x,
            "n_evaluable": n,
            "orr": _NAN,
            "ci_low": _NAN,
            "ci_high": _NAN,
            "ci_method": "Clopper-Pearson exact",
            "note": "",
        }
        if n == 0:
            row["note"] = "no evaluable patients"
        else:
            ci = stats.binomtest(x, n).proportion_ci(confidence_level=confidence, method="exact")
            row.update(orr=x / n, ci_low=float(ci.low), ci_high=float(ci.high))
        rows.append(row)
    columns = ["visit", *kept, "n_responders", "n_evaluable", "orr", "ci_low", "ci_high", "ci_method", "note"]
    return pd.DataFrame(rows, columns=columns)


# Up to this many evaluable patients in a 2x2 table, or with a cell under WALD_ODDS_RATIO_MIN_CELL,
# the odds-ratio CI is exact (conditional, as R fisher.test); otherwise the conditional-likelihood
# Wald CI (see the module docstring).
EXACT_ODDS_RATIO_MAX_N = 2000
WALD_ODDS_RATIO_MIN_CELL = 100
ODDS_RATIO_EXACT = "conditional MLE, exact conditional CI"
ODDS_RATIO_WALD = "conditional MLE, conditional-likelihood Wald CI"
ODDS_RATIO_METHODS = (ODDS_RATIO_EXACT, ODDS_RATIO_WALD)


def _odds_ratio(table: np.ndarray) -> tuple[float, float, float, str]:
    """Conditional MLE odds ratio of a 2x2 table with its 95% CI and the CI method's name.
    The table must have both column margins non-zero (else the odds ratio is undefined)."""
    conditional = _conditional_odds_ratio(table, kind="conditional")
    estimate = float(conditional.statistic)
    if table.sum() <= EXACT_ODDS_RATIO_MAX_N or table.min() < WALD_ODDS_RATIO_MIN_CELL:
        # Small cells: the Wald interval is poor (and degenerate with a zero cell, where the
        # MLE is 0 or infinity); the exact one is cheap there, its support being small.
        ci = conditional.confidence_interval(confidence_level=CONFIDENCE)
        return estimate, float(ci.low), float(ci.high), ODDS_RATIO_EXACT
    # Hypergeometric parameters as scipy's odds_ratio uses them: total, row-0 sum, column-0 sum.
    information = float(
        stats.nchypergeom_fisher.var(int(table.sum()), int(table[0].sum()), int(table[:, 0].sum()), estimate)
    )
    half = stats.norm.isf((1 - CONFIDENCE) / 2) / math.sqrt(information)
    return estimate, estimate * math.exp(-half), estimate * math.exp(half), ODDS_RATIO_WALD


def _responders_by_group(at_visit: pd.DataFrame, groups: list[str], group_column: str) -> dict[str, tuple[int, int]]:
    """group -> (responders, evaluable patients) among one visit's evaluable responses."""
    counts = {}
    for g in groups:
        member = at_visit[at_visit[group_column].astype(str) == g]
        counts[g] = (int(member["response"].isin(RESPONDER_CODES).sum()), len(member))
    return counts


def _group_counts(counts: dict[str, tuple[int, int]], group: str | None) -> tuple[int, int]:
    """(responders, evaluable) of a group; (0, 0) for a level that is absent (None: fewer than two levels)."""
    return (0, 0) if group is None else counts.get(group, (0, 0))


def _subgroup_comparison(a_r: int, a_n: int, b_r: int, b_n: int) -> tuple[dict[str, Any], list[str], list[str]]:
    """Fisher's test and the odds ratio of group a vs group b at one visit (both groups evaluable).

    Returns the row's fields, the notes that go before the visit's other notes and those after.
    """
    table = np.array([[a_r, a_n - a_r], [b_r, b_n - b_r]])
    fisher = stats.fisher_exact(table, alternative="two-sided")
    fields: dict[str, Any] = dict(sample_odds_ratio=float(fisher.statistic), p_value=float(fisher.pvalue))
    if a_r + b_r in (0, a_n + b_n):
        # A zero column margin leaves the odds ratio unidentifiable; scipy's (0, inf) CI says nothing.
        return fields, ["all or none of the evaluable patients responded: odds ratio undefined"], []
    estimate, low, high, method = _odds_ratio(table)
    fields.update(odds_ratio=estimate, odds_ratio_ci_low=low, odds_ratio_ci_high=high, odds_ratio_method=method)
    return fields, [], ["a zero cell: odds ratio is 0 or infinite"] if (table == 0).any() else []


def subgroup_response(responses: pd.DataFrame, patients: pd.DataFrame, group_column: str = "ctd_group") -> pd.DataFrame:
    """Responders (CR/PR) vs non-responders (NR) by a two-level group, per visit (Fisher).

    NE is excluded. group_a / group_b are the levels in sorted (code-point) order, so the
    odds ratio is odds(response | group_a) / odds(response | group_b). ``odds_ratio`` is the
    conditional MLE with its exact 95% CI (as R ``fisher.test``) up to ``EXACT_ODDS_RATIO_MAX_N``
    evaluable patients or with a cell under ``WALD_ODDS_RATIO_MIN_CELL``, else with the
    conditional-likelihood Wald CI;
    ``odds_ratio_method`` names which. ``sample_odds_ratio`` is the cross-product ratio scipy's
    ``fisher_exact`` returns. Visits in chronological order.
    """
    _require(responses, ("patient_id", "visit", "response"), "responses")
    _require(patients, ("patient_id", group_column), "patients")
    unknown = set(responses["response"].astype(object)) - set(RESPONSE_CODES)
    if unknown:
        raise ValueError(f"unknown response code(s): {sorted(map(str, unknown))}")
    if responses.duplicated(["patient_id", "visit"]).any() or patients["patient_id"].duplicated().any():
        raise ValueError("duplicate patient_id x visit responses or duplicate patients")
    groups = sorted(str(g) for g in patients[group_column].dropna().unique())
    if len(groups) > 2:
        raise ValueError(f"{group_column} must have at most two levels, found {groups}")
    merged = responses.merge(patients[["patient_id", group_column]], on="patient_id", how="left")
    group_a, group_b = (groups + [None, None])[:2]
    rows: list[dict[str, Any]] = []
    for visit in sorted(merged["visit"].unique(), key=_visit_key):
        at_visit = merged[(merged["visit"] == visit) & merged["response"].isin(EVALUABLE_CODES)]
        notes: list[str] = []
        ungrouped = int(at_visit[group_column].isna().sum())
        if ungrouped:
            notes.append(f"{ungrouped} evaluable patient(s) without {group_column} excluded")
        counts = _responders_by_group(at_visit, groups, group_column)
        a_r, a_n = _group_counts(counts, group_a)
        b_r, b_n = _group_counts(counts, group_b)
        row: dict[str, Any] = dict(
            visit=visit,
            group_a=group_a,
            group_b=group_b,
            a_responders=a_r,
            a_evaluable=a_n,
            b_responders=b_r,
            b_evaluable=b_n,
            odds_ratio=_NAN,
            odds_ratio_ci_low=_NAN,
            odds_ratio_ci_high=_NAN,
            odds_ratio_method=None,
            sample_odds_ratio=_NAN,
            p_value=_NAN,
        )
        absent = [g for g in groups if counts[g][1] == 0]
        if len(groups) < 2:
            notes.insert(0, f"only one {group_column} level present ({', '.join(groups) or 'none'})")
        elif absent:
            notes.insert(0, f"no evaluable patients in group {', '.join(absent)}")
        else:
            fields, lead_notes, tail_notes = _subgroup_comparison(a_r, a_n, b_r, b_n)
            row.update(fields)
            notes = lead_notes + notes + tail_notes
        row["note"] = "; ".join(notes)
        rows.append(row)
    return pd.DataFrame(rows, columns=list(SUBGROUP_COLUMNS))


# --------------------------------------------------------------------------- time to event
# Kaplan-Meier by statsmodels (SurvfuncRight: product-limit estimate, Greenwood standard errors).
# Confidence intervals follow R's survfit default (conf.type = "log"): pointwise
# exp(log S +/- z * se(S) / S), capped at 1; the median's CI is Brookmeyer & Crowley's, inverted
# on the same log scale (statsmodels quantile_ci(method="log") = R's print.survfit bounds).
# lifelines 0.30 would do the same, but it requires pandas < 3.
KM_TIMEPOINTS: tuple[int, ...] = (30, 90, 180)
KM_CI_METHOD = "log (Greenwood), median CI Brookmeyer-Crowley on the log scale (R survfit default)"
KM_COLUMNS: tuple[str, ...] = (
    "paramcd",
    "param",
    "n",
    "n_events",
    "n_censored",
    "total_days",
    "median_days",
    "median_ci_low",
    "median_ci_high",
    "median_reached",
    "ci_high_reached",
    "ci_method",
    "note",
)
KM_TIMEPOINT_COLUMNS: tuple[str, ...] = (
    "paramcd",
    "day",
    "n_at_risk",
    "n_events_by_day",
    "survival",
    "survival_ci_low",
    "survival_ci_high",
    "cumulative_incidence",
    "cumulative_incidence_ci_low",
    "cumulative_incidence_ci_high",
)
TIME_IN_RESPONSE_COLUMNS: tuple[str, ...] = (
    "population",
    "n_patients",
    "total_days_observed",
    "total_days_in_response",
    "share_of_time_in_response",
    "median_share",
    "share_q1",
    "share_q3",
    "note",
)


def _km_fit(days: np.ndarray, events: np.ndarray) -> Any:
    from statsmodels.duration.survfunc import SurvfuncRight

    return SurvfuncRight(days, events)


def _survival_at(fit: Any, day: float, z: float) -> tuple[float, float, float]:
    """S(day) with its pointwise log-scale CI (R survfit conf.type="log")."""
    times = np.asarray(fit.surv_times, dtype=float)
    k = int(np.searchsorted(times, day, side="right")) - 1
    if k < 0:
        return 1.0, 1.0, 1.0
    s, se = float(fit.surv_prob[k]), float(fit.surv_prob_se[k])
    if s <= 0 or not np.isfinite(se):
        return s, _NAN, _NAN
    half = z * se / s
    return s, math.exp(math.log(s) - half), min(1.0, math.exp(math.log(s) + half))


def kaplan_meier(
    tte: pd.DataFrame, timepoints: Sequence[int] = KM_TIMEPOINTS, confidence: float = CONFIDENCE
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Kaplan-Meier per time-to-event parameter of an ADTTE frame (paramcd, days, cnsr; param
    optional): events, censored, median with its CI, and the estimate at fixed days.

    The median is the smallest time with S(t) < 0.5 (statsmodels, as SAS; R takes the midpoint of
    an interval where S is exactly 0.5, which only ties can produce); NaN when it is not reached;
    a CI bound that the data do not reach is NaN with ``ci_high_reached`` false (R prints NA).
    For times to response the event probability by a day is ``cumulative_incidence`` = 1 - S.
    """
    _require(tte, ("paramcd", "days", "cnsr"), "tte")
    z = float(stats.norm.isf((1 - confidence) / 2))
    summary: list[dict[str, Any]] = []
    points: list[dict[str, Any]] = []
    for paramcd, group in tte.groupby("paramcd", sort=False):
        days = _floats(group["days"])
        events = (pd.to_numeric(group["cnsr"], errors="coerce").to_numpy(dtype=float) == 0).astype(float)
        keep = np.isfinite(days)
        days, events = days[keep], events[keep]
        param = str(group["param"].iloc[0]) if "param" in group and len(group) else str(paramcd)
        row: dict[str, Any] = {
            "paramcd": paramcd,
            "param": param,
            "n": int(days.size),
            "n_events": int(events.sum()),
            "n_censored": int(days.size - events.sum()),
            "total_days": float(days.sum()),
            "median_days": _NAN,
            "median_ci_low": _NAN,
            "median_ci_high": _NAN,
            "median_reached": False,
            "ci_high_reached": False,
            "ci_method": KM_CI_METHOD,
            "note": "",
        }
        if days.size == 0 or events.sum() == 0:
            row["note"] = "no patients" if days.size == 0 else "no events"
            summary.append(row)
            for day in timepoints:
                points.append(
                    {
                        "paramcd": paramcd,
                        "day": int(day),
                        "n_at_risk": int((days >= day).sum()),
                        "n_events_by_day": 0,
                        "survival": 1.0 if days.size else _NAN,
                        "survival_ci_low": _NAN,
                        "survival_ci_high": _NAN,
                        "cumulative_incidence": 0.0 if days.size else _NAN,
                        "cumulative_incidence_ci_low": _NAN,
                        "cumulative_incidence_ci_high": _NAN,
                    }
                )
            continue
        fit = _km_fit(days, events)
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore", RuntimeWarning)
            median = float(fit.quantile(0.5))
            low, high = (float(b) for b in fit.quantile_ci(0.5, alpha=1 - confidence, method="log"))
        reached = bool(np.isfinite(median))
        row.update(
            median_days=median if reached else _NAN,
            median_reached=reached,
            median_ci_low=low if np.isfinite(low) else _NAN,
            median_ci_high=high if np.isfinite(high) else _NAN,
            ci_high_reached=bool(np.isfinite(high)),
        )
        summary.append(row)
        for day in timepoints:
            s, s_low, s_high = _survival_at(fit, day, z)
            points.append(
                {
                    "paramcd": paramcd,
                    "day": int(day),
                    "n_at_risk": int((days >= day).sum()),
                    "n_events_by_day": int(events[days <= day].sum()),
                    "survival": s,
                    "survival_ci_low": s_low,
                    "survival_ci_high": s_high,
                    "cumulative_incidence": 1 - s,
                    "cumulative_incidence_ci_low": 1 - s_high if np.isfinite(s_high) else _NAN,
                    "cumulative_incidence_ci_high": 1 - s_low if np.isfinite(s_low) else _NAN,
                }
            )
    return (pd.DataFrame(summary, columns=list(KM_COLUMNS)), pd.DataFrame(points, columns=list(KM_TIMEPOINT_COLUMNS)))


KM_CURVE_COLUMNS = (
    "paramcd",
    "day",
    "n_at_risk",
    "n_events",
    "n_censored",
    "survival",
    "survival_ci_low",
    "survival_ci_high",
)


def kaplan_meier_curve(tte: pd.DataFrame, confidence: float = CONFIDENCE) -> pd.DataFrame:
    """The Kaplan-Meier step function per parameter, from the same fit as :func:`kaplan_meier`:
    one row at day 0 and one per distinct event or censoring day, with patients at risk, events
    and censorings on that day, and S(day) with its pointwise log-scale CI (for the figures)."""
    _require(tte, ("paramcd", "days", "cnsr"), "tte")
    z = float(stats.norm.isf((1 - confidence) / 2))
    rows: list[dict[str, Any]] = []
    for paramcd, group in tte.groupby("paramcd", sort=False):
        days = _floats(group["days"])
        events = (pd.to_numeric(group["cnsr"], errors="coerce").to_numpy(dtype=float) == 0).astype(float)
        keep = np.isfinite(days)
        days, events = days[keep], events[keep]
        if days.size == 0:
            continue
        fit = _km_fit(days, events) if events.sum() else None
        for day in [0.0, *sorted(set(days.tolist()) - {0.0})]:
            s, low, high = _survival_at(fit, day, z) if fit is not None else (1.0, 1.0, 1.0)
            at = days == day
            rows.append(
                {
                    "paramcd": paramcd,
                    "day": float(day),
                    "n_at_risk": int((days >= day).sum()),
                    "n_events": int(events[at].sum()),
                    "n_censored": int((at & (events == 0)).sum()),
                    "survival": s,
                    "survival_ci_low": low,
                    "survival_ci_high": high,
                }
            )
    return pd.DataFrame(rows, columns=list(KM_CURVE_COLUMNS))


def time_in_response(follow_up: pd.DataFrame, tte: pd.DataFrame) -> pd.DataFrame:
    """Share of observed time in response (IWG 2009), pooled (total days in response / total days
    observed) and as the median of the per-patient shares, for all patients and for responders
    (patients whose first response is an event of TTRESP in the ADTTE frame)."""
    _require(follow_up, ("patient_id", "days_observed", "days_in_response"), "follow_up")
    _require(tte, ("patient_id", "paramcd", "cnsr"), "tte")
    responders = set(tte.loc[(tte["paramcd"] == "TTRESP") & (pd.to_numeric(tte["cnsr"]) == 0), "patient_id"])
    rows = []
    for population, frame in (
        ("all patients", follow_up),
        ("responders", follow_up[follow_up["patient_id"].isin(responders)]),
    ):
        observed, in_response = _floats(frame["days_observed"]), _floats(frame["days_in_response"])
        ok = np.isfinite(observed) & np.isfinite(in_response)
        observed, in_response = observed[ok], in_response[ok]
        shares = in_response[observed > 0] / observed[observed > 0]
        row = {
            "population": population,
            "n_patients": int(observed.size),
            "total_days_observed": float(observed.sum()),
            "total_days_in_response": float(in_response.sum()),
            "share_of_time_in_response": _NAN,
            "median_share": _NAN,
            "share_q1": _NAN,
            "share_q3": _NAN,
            "note": "",
        }
        if observed.sum() > 0:
            q1, median, q3 = np.percentile(shares, [25, 50, 75])
            row.update(
                share_of_time_in_response=float(in_response.sum() / observed.sum()),
                median_share=float(median),
                share_q1=float(q1),
                share_q3=float(q3),
            )
        else:
            row["note"] = "no observed time"
        rows.append(row)
    return pd.DataFrame(rows, columns=list(TIME_IN_RESPONSE_COLUMNS))


# --------------------------------------------------------------------------- steroid sparing
STEROID_COLUMNS: tuple[str, ...] = (
    "visit",
    "n_pairs",
    "baseline_median",
    "visit_median",
    "median_change",
    "change_q1",
    "change_q3",
    "wilcoxon_v",
    "wilcoxon_p_value",
    "wilcoxon_method",
    "taper_mg_day",
    "n_above_taper_at_baseline",
    "n_tapered",
    "tapered_share",
    "tapered_ci_low",
    "tapered_ci_high",
    "n_off_steroids",
    "off_share",
    "off_ci_low",
    "off_ci_high",
    "note",
)


def _clopper_pearson(x: int, n: int, confidence: float) -> tuple[float, float, float]:
    if n == 0:
        return _NAN, _NAN, _NAN
    ci = stats.binomtest(x, n).proportion_ci(confidence_level=confidence, method="exact")
    return x / n, float(ci.low), float(ci.high)


def steroid_sparing(visits: pd.DataFrame, confidence: float = CONFIDENCE) -> pd.DataFrame:
    """Prednisone-equivalent dose per post-baseline visit against baseline (fct_visits: patient_id,
    visit, visit_order, prednisone_equivalent_mg_day, is_steroid_tapered, steroid_taper_mg_day).

    On complete pairs: median dose at baseline and at the visit, median change (visit - baseline)
    with its IQR, and the paired Wilcoxon signed-rank test (as ``paired_tests``). Tapering: of the
    pairs above the taper dose at baseline, those at or below it at the visit (tapered, incl. off)
    and those at 0 (off steroids), each with a Clopper-Pearson CI.
    """
    _require(
        visits,
        (
            "patient_id",
            "visit",
            "visit_order",
            "prednisone_equivalent_mg_day",
            "is_steroid_tapered",
            "steroid_taper_mg_day",
        ),
        "visits",
    )
    frame = visits.assign(dose=pd.to_numeric(visits["prednisone_equivalent_mg_day"], errors="coerce"))
    order = frame.groupby("visit")["visit_order"].min().sort_values()
    if order.empty:
        return pd.DataFrame(columns=list(STEROID_COLUMNS))
    baseline_visit = str(order.index[0])
    base = frame[frame["visit"] == baseline_visit].set_index("patient_id")
    taper = pd.to_numeric(frame["steroid_taper_mg_day"], errors="coerce").dropna()
    taper_mg = float(taper.iloc[0]) if len(taper) else _NAN
    rows = []
    for visit in order.index[1:]:
        follow = frame[frame["visit"] == visit].set_index("patient_id")
        pairs = base[["dose", "is_steroid_tapered"]].merge(
            follow[["dose", "is_steroid_tapered"]],
            how="inner",
            left_index=True,
            right_index=True,
            suffixes=("_base", "_visit"),
        )
        pairs = pairs[pairs["dose_base"].notna() & pairs["dose_visit"].notna()]
        b, f = pairs["dose_base"].to_numpy(dtype=float), pairs["dose_visit"].to_numpy(dtype=float)
        d = np.round(f - b, _DIFF_DECIMALS)
        row: dict[str, Any] = {c: _NAN for c in STEROID_COLUMNS}
        row.update(visit=str(visit), n_pairs=int(d.size), wilcoxon_method="", taper_mg_day=taper_mg, note="")
        if d.size:
            q1, median, q3 = np.percentile(d, [25, 50, 75])
            row.update(
                baseline_median=float(np.median(b)),
                visit_median=float(np.median(f)),
                median_change=float(median),
                change_q1=float(q1),
                change_q3=float(q3),
            )
            test, notes = _wilcoxon(d)
            if test:
                row.update(
                    wilcoxon_v=test["wilcoxon_v"],
                    wilcoxon_p_value=test["wilcoxon_p_value"],
                    wilcoxon_method=test["wilcoxon_method"],
                )
            row["note"] = "; ".join(notes) if test else "all differences zero"
        above = pairs[~pairs["is_steroid_tapered_base"].eq(True)]
        n_above = int(len(above))
        n_tapered = int(above["is_steroid_tapered_visit"].eq(True).sum())
        n_off = int((above["dose_visit"] == 0).sum())
        share, low, high = _clopper_pearson(n_tapered, n_above, confidence)
        off, off_low, off_high = _clopper_pearson(n_off, n_above, confidence)
        row.update(
            n_above_taper_at_baseline=n_above,
            n_tapered=n_tapered,
            tapered_share=share,
            tapered_ci_low=low,
            tapered_ci_high=high,
            n_off_steroids=n_off,
            off_share=off,
            off_ci_low=off_low,
            off_ci_high=off_high,
        )
        if not d.size:
            row["note"] = "no complete pairs"
        rows.append(row)
    return pd.DataFrame(rows, columns=list(STEROID_COLUMNS))
