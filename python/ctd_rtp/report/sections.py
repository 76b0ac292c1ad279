"""The report's sections, pure: data frames in, rows and texts for the template out."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any

import numpy as np
import pandas as pd

from .. import stats
from ..validation import ValidationSummary
from .formatting import (
    DASH,
    EN,
    _floats,
    _significant,
    _text,
    _true,
    _val,
    ci_pct,
    fixed,
    median_iqr,
    median_range,
    n_pct,
    one,
    pct,
    pval,
    short,
    sig,
    unit_text,
    value_range,
)
from .results import Cell, Results

# The lab sections (immunology, cytokines) and their titles come from the study (var report_panels).
RESPONSES = stats.RESPONSE_CODES  # one list of response codes (ctd_rtp.stats)


def baseline_table(
    patients: pd.DataFrame, drug: str = "index drug", res: Results | None = None
) -> list[dict[str, Any]]:
    """Table 1 rows (label, value, indent) for the analysis set (patients with a day 0)."""
    res = res or Results()
    p = patients[_true(patients["has_index_drug_start"])] if "has_index_drug_start" in patients else patients
    n, rows = len(p), []
    src = "marts.dim_patients"

    def add(
        row_id: str,
        label: str,
        value: str,
        number: Any = None,
        statistic: str = "",
        indent: bool = False,
        group: str = "",
        counts: Sequence[Any] = (),
    ) -> None:
        cell = (
            res.cell("baseline", row_id, "value", value, number, statistic, src, group, label, counts)
            if value
            else value
        )
        rows.append({"label": label, "value": cell, "indent": indent})

    def summary(row_id: str, label: str, values: Any, fmt: Any = short) -> None:
        arr = _floats(values)
        add(
            row_id,
            label,
            median_iqr(arr, fmt),
            float(np.median(arr)) if arr.size else None,
            "median [IQR]",
            counts=(arr.size,),
        )

    def counts(label: str, column: str, names: Mapping[str, str] | None = None) -> None:
        add(column, label, "")
        for level, k in p[column].fillna("missing").astype(str).value_counts().items():
            add(f"{column}={level}", (names or {}).get(level, level), n_pct(k, n), k, "n (%)", True, label, (n,))

    plt = "Baseline platelets, \u00d710\u2079/L"
    add("n", "Patients, n", str(n), n, "n")
    summary("age_at_index", f"Age at first {drug} dose, years, median [IQR]", p["age_at_index"])
    counts("Sex, n (%)", "sex", {"F": "Female", "M": "Male"})
    counts("Diagnosis, n (%)", "ctd_diagnosis")
    summary("ctd_duration_years", "Disease duration, years, median [IQR]", p["ctd_duration_years"], one)
    summary(
        "thrombocytopenia_duration_years",
        "Thrombocytopenia duration, years, median [IQR]",
        p["thrombocytopenia_duration_years"],
        one,
    )
    summary("prior_therapy_lines", "Prior therapy lines, median [IQR]", p["prior_therapy_lines"])
    summary("baseline_platelet_count", f"{plt}, median [IQR]", p["baseline_platelet_count"])
    arr = _floats(p["baseline_platelet_count"])
    add(
        "baseline_platelet_count_range",
        f"{plt}, range",
        value_range(arr),
        arr.min() if arr.size else None,
        "minimum (range)",
        counts=(arr.size,),
    )
    if "baseline_bleeding_grade" in p:
        k = int((p["baseline_bleeding_grade"].fillna(0) >= 1).sum())
        add("baseline_bleeding", "WHO bleeding grade \u2265 1 at baseline, n (%)", n_pct(k, n), k, "n (%)", counts=(n,))
    summary(
        "baseline_prednisone_mg_day",
        "Prednisone-equivalent dose at baseline, mg/day, median [IQR]",
        p["baseline_prednisone_mg_day"],
        one,
    )
    return rows


def bleeding_evidence_counts(visit_responses: pd.DataFrame) -> dict[str, int]:
    """Visits (patient x post-baseline visit, fct_platelet_response) with a platelet count whose
    bleeding was decided without a usable grade: no assessment at all (the missing-assessment
    rule applied) and an unusable one (the would-be CR/PR became NE, or the count was NR anyway)."""
    counted = visit_responses[visit_responses["platelet_count"].notna()]
    evidence = counted["bleeding_evidence"].astype(str)
    return {
        "not_recorded": int((evidence == "not recorded").sum()),
        "unusable": int((evidence == "unusable").sum()),
        "unusable_ne": int(((evidence == "unusable") & (counted["response"] == "NE")).sum()),
    }


def response_section(
    rates: pd.DataFrame,
    ci: pd.DataFrame,
    summary: pd.DataFrame,
    subgroups: pd.DataFrame,
    friedman: pd.DataFrame,
    visits: Mapping[str, str],
    visit_responses: pd.DataFrame | None = None,
    res: Results | None = None,
) -> dict[str, Any]:
    res = res or Results()
    merged = rates.sort_values("visit_order").merge(
        ci[["visit", "orr", "ci_low", "ci_high"]], on="visit", how="left", suffixes=("_mart", "")
    )
    src, src_ci = "marts.rpt_response_rates", "marts.rpt_response_rates,analysis.response_rate_ci"
    rows = []
    for r in merged.itertuples(index=False):
        c = partial(res.cell, "response_by_visit", r.visit, row_label=visits[r.visit])
        rows.append(
            {
                "visit": visits[r.visit],
                "cr": c("cr", short(r.n_cr), r.n_cr, "n", src),
                "pr": c("pr", short(r.n_pr), r.n_pr, "n", src),
                "nr": c("nr", short(r.n_nr), r.n_nr, "n", src),
                "ne": c("ne", short(r.n_ne), r.n_ne, "n", src),
                "evaluable": c("evaluable", short(r.n_evaluable), r.n_evaluable, "n", src),
                "responders": c(
                    "responders",
                    f"{short(r.n_responders)}/{short(r.n_evaluable)}",
                    r.n_responders,
                    "n/N",
                    src,
                    counts=(r.n_evaluable,),
                ),
                "orr": c("orr", pct(r.orr), r.orr, "proportion", src_ci, counts=(r.n_responders, r.n_evaluable)),
                "ci": c(
                    "ci",
                    ci_pct(r.ci_low, r.ci_high),
                    r.ci_low,
                    "95% CI (lower bound)",
                    src_ci,
                    counts=(r.n_responders, r.n_evaluable),
                ),
                "orr_all": c(
                    "orr_all",
                    pct(r.orr_all_patients),
                    r.orr_all_patients,
                    "proportion",
                    src,
                    counts=(r.n_responders, getattr(r, "n_patients", None)),
                ),
            }
        )
    n = len(summary)
    s_src = "marts.fct_patient_response_summary"
    best = summary["best_response"].fillna("NE").astype(str).value_counts()
    responders = summary[_true(summary["is_responder_by_primary_endpoint"])]
    days = _floats(responders["days_to_first_response"])
    sub_rows = []
    for r in subgroups.itertuples(index=False):
        c = partial(res.cell, "subgroups", r.visit, row_label=visits[r.visit], source="analysis.subgroup_response")
        table_2x2 = (r.a_responders, r.a_evaluable, r.b_responders, r.b_evaluable)  # the odds ratio's and p's counts
        sub_rows.append(
            {
                "subgroup": _text(getattr(r, "subgroup_label", "")),
                "visit": visits[r.visit],
                "a": c(
                    "a",
                    f"{r.group_a}: {short(r.a_responders)}/{short(r.a_evaluable)}" if _text(r.group_a) else DASH,
                    r.a_responders,
                    "n/N",
                    counts=(r.a_evaluable,),
                ),
                "b": c(
                    "b",
                    f"{r.group_b}: {short(r.b_responders)}/{short(r.b_evaluable)}" if _text(r.group_b) else DASH,
                    r.b_responders,
                    "n/N",
                    counts=(r.b_evaluable,),
                ),
                "or": c(
                    "odds_ratio",
                    DASH
                    if _val(r.odds_ratio) is None
                    else f"{sig(r.odds_ratio)} ({sig(r.odds_ratio_ci_low)} to {sig(r.odds_ratio_ci_high)})",
                    r.odds_ratio,
                    "odds ratio (95% CI)",
                    counts=table_2x2,
                ),
                "p": c("p", pval(r.p_value), r.p_value, "p (Fisher)", counts=table_2x2),
                "sig": _significant(r.p_value) and not any(res.is_small(x) for x in table_2x2),
                "note": c("note", _text(r.note), statistic="note"),
            }
        )
    fried_rows = []
    for r in friedman.itertuples(index=False):
        c = partial(res.cell, "friedman", r.measure, source="analysis.friedman_tests")
        fried_rows.append(
            {
                "measure": "Platelet count" if r.measure == "platelet_count" else visits[r.measure],
                "visits": ", ".join(visits[v] for v in str(r.visits).split(",")),
                "n": c("n", short(r.n_patients), r.n_patients, "n"),
                "statistic": c("statistic", sig(r.statistic), r.statistic, "chi-squared", counts=(r.n_patients,)),
                "df": c("df", short(r.df), r.df, "df"),
                "p": c("p", pval(r.p_value), r.p_value, "p", counts=(r.n_patients,)),
                "sig": _significant(r.p_value) and not res.is_small(r.n_patients),
                "w": c("w", sig(r.kendalls_w), r.kendalls_w, "Kendall's W", counts=(r.n_patients,)),
                "note": c("note", _text(r.note), statistic="note"),
            }
        )
    b = partial(res.cell, "best_response", source=s_src)
    k = partial(res.cell, "response_summary", source=s_src)
    n_lost = int(_true(summary["lost_response"]).sum())
    return {
        "rows": rows,
        "rules": sorted(set(rates["response_rule"].dropna().astype(str))),
        "denominators": sorted(set(rates["orr_denominator"].dropna().astype(str))),
        "best": [
            {
                "response": code,
                "value": b("patients", code, n_pct(best.get(code, 0), n), best.get(code, 0), "n (%)", counts=(n,)),
            }
            for code in RESPONSES
        ],
        "n_patients": res.cell("best_response", "all", "n", short(n), n, "n", s_src),
        "responders_by_endpoint": k(
            "responders", "value", n_pct(len(responders), n), len(responders), "n (%)", counts=(n,)
        ),
        "time_to_response": k(
            "time_to_first_response",
            "value",
            f"{median_range(days)} days (n = {days.size})" if days.size else "no responders",
            float(np.median(days)) if days.size else None,
            "median (range), days",
            counts=(days.size,),
        ),
        "lost": k(
            "lost_response",
            "value",
            f"{n_lost} of {len(responders)} responders",
            n_lost,
            "n of responders",
            counts=(len(responders),),
        ),
        "regained": int(_true(summary["regained_response"]).sum()) if "regained_response" in summary else 0,
        "bleeding": (  # restated in the methods: small counts as <N like the tables'
            {key: res.count_text(m) for key, m in bleeding_evidence_counts(visit_responses).items()}
            if visit_responses is not None
            else None
        ),
        "subgroups": sub_rows,
        "friedman": fried_rows,
    }


def _date_text(value: Any) -> str:
    """2024-08-31 for a date or a midnight timestamp; the text itself otherwise."""
    try:
        return str(pd.Timestamp(value).date()) if value is not None and not pd.isna(value) else DASH
    except (TypeError, ValueError):
        return str(value)


def km_median(r: Any) -> str:
    """ "23 (16–not reached) days", or "not reached (95% CI lower bound 16 days)": the KM median
    of one analysis.time_to_event_km row, as R's print.survfit shows it (NA = not reached)."""
    if not _text(getattr(r, "paramcd", "")) or int(r.n_events or 0) == 0:
        return "no events"
    high = short(r.median_ci_high) if _val(r.median_ci_high) is not None else "not reached"
    if _val(r.median_days) is None:
        if _val(r.median_ci_low) is not None:
            return f"not reached (95% CI lower bound {short(r.median_ci_low)} days)"
        return "not reached (95% CI lower bound not reached either)"
    return f"{short(r.median_days)} ({short(r.median_ci_low)}{EN}{high}) days"


def _km_counts(r: Any) -> tuple[Any, ...]:
    """The counts a Kaplan-Meier median is computed from: patients and events."""
    return () if r is None else (r.n, r.n_events)


KM_PARAMETERS = {
    "TTRESP": ("Time to first response (CR or PR)", "responded by day"),
    "TTCR": ("Time to complete response", "in CR by day"),
    "DOR": ("Duration of response (responders)", "still in response at day"),
}


def outcomes_section(
    km: pd.DataFrame,
    km_points: pd.DataFrame,
    time_share: pd.DataFrame,
    steroids: pd.DataFrame,
    follow_up: pd.DataFrame,
    visits: Mapping[str, str],
    res: Results | None = None,
) -> dict[str, Any]:
    """Outcomes over time, every number read from the analysis tables and marts (no recomputation)."""
    res = res or Results()
    by_param = {str(r.paramcd): r for r in km.itertuples(index=False)}
    days = sorted({int(d) for d in km_points["day"]}) if len(km_points) else []
    points = {(str(r.paramcd), int(r.day)): r for r in km_points.itertuples(index=False)}
    rows = []
    for code, (label, reading) in KM_PARAMETERS.items():
        r = by_param.get(code)
        if r is None:
            continue
        c = partial(res.cell, "time_to_event", code, row_label=label, source="analysis.time_to_event_km")
        estimates = []
        for day in days:
            p = points.get((code, day))
            if p is None:
                estimates.append(c(f"day_{day}", DASH, source="analysis.time_to_event_km_timepoints"))
            else:  # DOR: still in response, S(t); times to response: responded by then, 1 - S(t)
                value, low, high = (
                    (p.survival, p.survival_ci_low, p.survival_ci_high)
                    if code == "DOR"
                    else (p.cumulative_incidence, p.cumulative_incidence_ci_low, p.cumulative_incidence_ci_high)
                )
                # no event yet: S = 1 with a zero-width interval, which says nothing
                interval = (
                    "" if int(p.n_events_by_day) == 0 and code != "DOR" or low == high else f" ({ci_pct(low, high)})"
                )
                estimates.append(
                    c(
                        f"day_{day}",
                        f"{pct(value)}{interval}",
                        value,
                        "S(t)" if code == "DOR" else "1 - S(t)",
                        source="analysis.time_to_event_km_timepoints",
                        counts=(r.n, p.n_events_by_day, getattr(p, "n_at_risk", None)),
                    )
                )
        rows.append(
            {
                "parameter": label,
                "reading": reading,
                "n": c("n", short(r.n), r.n, "n"),
                "events": c("events", short(r.n_events), r.n_events, "n"),
                "censored": c("censored", short(r.n_censored), r.n_censored, "n"),
                "total_days": c("total_days", short(r.total_days), r.total_days, "sum of days", counts=(r.n,)),
                "median": c(
                    "median",
                    km_median(r),
                    r.median_days,
                    "Kaplan-Meier median (95% CI), days",
                    counts=(r.n, r.n_events),
                ),
                "estimates": estimates,
                "note": _text(r.note),
            }
        )
    shares = {str(r.population): r for r in time_share.itertuples(index=False)}
    k = partial(res.cell, "outcomes_summary", column_id="value")

    def share_text(population: str) -> str:
        r = shares.get(population)
        if r is None or _val(r.share_of_time_in_response) is None:
            text, value = DASH, None
        else:
            text, value = (
                (
                    f"{pct(r.share_of_time_in_response)} of {short(r.total_days_observed)} observed days "
                    f"(n = {short(r.n_patients)})"
                ),
                r.share_of_time_in_response,
            )
        return k(
            f"share_in_response_{population.replace(' ', '_')}",
            text=text,
            value=value,
            statistic="share of observed days",
            source="analysis.time_in_response",
            counts=() if r is None else (r.n_patients,),
        )

    steroid_rows = []
    for r in steroids.itertuples(index=False):
        c = partial(res.cell, "steroid_sparing", r.visit, row_label=visits[r.visit], source="analysis.steroid_sparing")
        steroid_rows.append(
            {
                "visit": visits[r.visit],
                "n": c("n", short(r.n_pairs), r.n_pairs, "n pairs"),
                "doses": c(
                    "doses",
                    f"{short(r.baseline_median)} → {short(r.visit_median)}",
                    r.visit_median,
                    "median dose at the visit, mg/day",
                    counts=(r.n_pairs,),
                ),
                "change": c(
                    "change",
                    f"{short(r.median_change)} [{short(r.change_q1)}{EN}{short(r.change_q3)}]",
                    r.median_change,
                    "median [IQR] change, mg/day",
                    counts=(r.n_pairs,),
                ),
                "p": c("p", pval(r.wilcoxon_p_value), r.wilcoxon_p_value, "p (Wilcoxon)", counts=(r.n_pairs,)),
                "sig": _significant(r.wilcoxon_p_value) and not res.is_small(r.n_pairs),
                "method": _text(r.wilcoxon_method),
                "tapered": c(
                    "tapered",
                    f"{short(r.n_tapered)}/{short(r.n_above_taper_at_baseline)} ({pct(r.tapered_share)}; "
                    f"{ci_pct(r.tapered_ci_low, r.tapered_ci_high)})"
                    if r.n_above_taper_at_baseline
                    else DASH,
                    r.n_tapered,
                    "n/N (%; 95% CI)",
                    counts=(r.n_above_taper_at_baseline,),
                ),
                "off": c(
                    "off",
                    f"{short(r.n_off_steroids)}/{short(r.n_above_taper_at_baseline)} ({pct(r.off_share)})"
                    if r.n_above_taper_at_baseline
                    else DASH,
                    r.n_off_steroids,
                    "n/N (%)",
                    counts=(r.n_above_taper_at_baseline,),
                ),
            }
        )
    taper = [short(v) for v in steroids["taper_mg_day"].dropna().unique()] if "taper_mg_day" in steroids else []
    n = len(follow_up)
    ends = follow_up["observation_end_reason"].fillna("unknown").astype(str).value_counts()
    cutoff = follow_up[["data_cutoff_date", "data_cutoff_source"]].drop_duplicates()
    f_src = "marts.fct_patient_follow_up"

    def count(row_id: str, column: str) -> str:
        m = int(_true(follow_up[column]).sum())
        return k(row_id, text=n_pct(m, n), value=m, statistic="n (%)", source=f_src, counts=(n,))

    km_src = "analysis.time_to_event_km"
    return {
        "km": rows,
        "days": days,
        "median_time_to_response": k(
            "km_median_TTRESP",
            text=km_median(by_param["TTRESP"]) if "TTRESP" in by_param else DASH,
            value=getattr(by_param.get("TTRESP"), "median_days", None),
            statistic="Kaplan-Meier median (95% CI), days",
            source=km_src,
            counts=_km_counts(by_param.get("TTRESP")),
        ),
        "median_duration": k(
            "km_median_DOR",
            text=km_median(by_param["DOR"]) if "DOR" in by_param else "no responders",
            value=getattr(by_param.get("DOR"), "median_days", None),
            statistic="Kaplan-Meier median (95% CI), days",
            source=km_src,
            counts=_km_counts(by_param.get("DOR")),
        ),
        "share_all": share_text("all patients"),
        "share_responders": share_text("responders"),
        "steroids": steroid_rows,
        "taper": ", ".join(taper) or DASH,
        "n_rescue": count("rescue_therapy", "had_rescue_therapy"),
        "n_other_itp": count("other_itp_treatment", "has_other_itp_treatment"),
        "other_itp": sorted({d.strip() for v in follow_up["other_itp_drugs"].dropna() for d in str(v).split(",")}),
        "n_dependent": count("corticosteroid_dependent", "is_corticosteroid_dependent"),
        "observation_ends": [(reason, res.count_text(int(m))) for reason, m in ends.items()],
        "cutoff": "; ".join(f"{_date_text(r.data_cutoff_date)} ({r.data_cutoff_source})" for r in cutoff.itertuples())
        or DASH,
    }


def _format_paired_row(
    r: Any,
    d: int,
    visits: Mapping[str, str],
    notes: dict[str, str],
    c: Any,
    compact: bool,
    small: Callable[[Any], bool] = lambda count: False,
) -> dict[str, Any]:
    test, method, note = _text(r.test_used), _text(r.wilcoxon_method), _text(r.note)
    test += f" ({method})" if test.startswith("Wilcoxon") and method else ""
    mark = notes.setdefault(note, "abcdefghijklmnopqrstuvwxyz"[len(notes) % 26]) if note else ""
    p_values = {k: getattr(r, k) for k in ("p_value", "p_value_holm", "p_value_bh")}
    c = partial(c, counts=(r.n_pairs,))  # every statistic of the row is computed from its pairs
    shown = not small(r.n_pairs)

    def describe(prefix: str) -> tuple[str, str]:
        get = lambda s: getattr(r, f"{prefix}_{s}")  # noqa: E731
        iqr = c(
            f"{prefix}_median_iqr",
            f"{fixed(get('median'), d)} [{fixed(get('q1'), d)}{EN}{fixed(get('q3'), d)}]",
            get("median"),
            "median [IQR]",
        )
        if compact:
            return "", iqr
        return c(
            f"{prefix}_mean_sd",
            f"{fixed(get('mean'), d)}\u00a0\u00b1\u00a0{fixed(get('sd'), d)}",
            get("mean"),
            "mean \u00b1 SD",
        ), iqr

    hl = (
        ""
        if compact
        else c(
            "hodges_lehmann",
            f"{fixed(r.hodges_lehmann, d)} ({fixed(r.hodges_lehmann_ci_low, d)} "
            f"to {fixed(r.hodges_lehmann_ci_high, d)})",
            r.hodges_lehmann,
            "Hodges-Lehmann shift (95% CI)",
        )
    )
    return {
        "visit": visits[r.visit],
        "n": c("n", short(r.n_pairs), r.n_pairs, "n pairs"),
        "test": test,
        "mark": mark,
        "base": describe("baseline"),
        "follow": describe("followup"),
        "change": c(
            "mean_change",
            f"{fixed(r.mean_difference, d)} ({fixed(r.mean_difference_ci_low, d)} to "
            f"{fixed(r.mean_difference_ci_high, d)})",
            r.mean_difference,
            "mean difference (95% CI)",
        ),
        "hl": hl,
        **{k: c(k, pval(v), v, k.replace("_", " ")) for k, v in p_values.items()},
        **{f"{k}_sig": shown and _significant(v) for k, v in p_values.items()},
    }


COMPACT_LAB_TABLES = ("other-labs",)  # the template shows median [IQR] and the mean change only


def lab_table_id(section: str) -> str:
    """The results table_id of a lab section's table (``labs_other`` for the other-lab table)."""
    return "labs_other" if section == "other-labs" else f"labs_{section}"


def lab_tables(
    paired: pd.DataFrame,
    analytes: pd.DataFrame,
    visits: Mapping[str, str],
    report_panels: Sequence[Mapping[str, Any]] = (),
    res: Results | None = None,
) -> dict[str, dict]:
    """Paired-test rows per analyte for each lab section of the study (var report_panels: a
    section id and the analyte panels it holds) and the other-lab table, each with lettered
    footnotes (the tests' notes). Decimals per analyte from reference.analytes."""
    res = res or Results()
    meta = analytes.set_index("analyte")
    order = {a: i for i, a in enumerate(analytes["analyte"])}
    PANELS = {str(p["section"]): tuple(p.get("panels") or ()) for p in report_panels}
    out: dict[str, dict] = {k: {"groups": [], "notes": {}} for k in (*PANELS, "other-labs")}
    for analyte, rows in sorted(paired.groupby("analyte"), key=lambda kv: order.get(kv[0], len(order))):
        info = meta.loc[analyte] if analyte in meta.index else pd.Series(dtype=object)
        decimals = _val(info.get("decimals"))
        key = next((k for k, panels in PANELS.items() if info.get("panel") in panels), "other-labs")
        table = out[key]
        name = str(info.get("analyte_name", analyte))
        comparisons = [
            _format_paired_row(
                r,
                2 if decimals is None else int(decimals),
                visits,
                table["notes"],
                partial(
                    res.cell,
                    lab_table_id(key),
                    f"{analyte}:{r.comparison}",
                    source="analysis.paired_tests",
                    group=name,
                    row_label=f"{name}, {visits[r.visit]}",
                ),
                key in COMPACT_LAB_TABLES,
                res.is_small,
            )
            for r in rows.itertuples(index=False)
        ]
        table["groups"].append(
            {"code": analyte, "name": name, "unit": unit_text(info.get("unit", "")), "comparisons": comparisons}
        )
    for table in out.values():
        table["notes"] = [(mark, note) for note, mark in table["notes"].items()]
    return out


SAFETY_COLUMNS = (  # column id -> (heading, the marts.rpt_adverse_events_by_term column of its patients)
    ("any", "Any grade", "n_patients_any_grade"),
    ("grade_1", "Grade 1", "n_patients_grade_1"),
    ("grade_2", "Grade 2", "n_patients_grade_2"),
    ("grade_3", "Grade 3", "n_patients_grade_3"),
    ("grade_3_plus", "Grade \u2265 3", "n_patients_grade_3_plus"),
    ("serious", "Serious", "n_patients_serious"),
    ("related", "Related", "n_patients_related"),
)
SAFETY_SOURCE = "marts.rpt_adverse_events_by_term"


def safety_section(
    by_term: pd.DataFrame,
    n_patients: int,
    res: Results | None = None,
    ctcae_version: str | None = None,
) -> dict[str, Any]:
    """Treatment-emergent adverse events in journal format, as marts.rpt_adverse_events_by_term
    tabulates them (one row per preferred term in its term_order, the "any adverse event" row
    first): patients n (%) of the ``n_patients`` of the analysis set at any grade, by worst grade,
    serious and related; events; and the exposure-adjusted incidence (patients per 100
    patient-months of index-drug exposure), the page's one exposure-adjusted figure."""
    res = res or Results()
    ordered = by_term.sort_values("term_order", kind="stable")
    rows = []
    for r in ordered.itertuples(index=False):
        row_id = "any_adverse_event" if r.row_type == "any adverse event" else f"term={r.term}"
        c = partial(res.cell, "adverse_events", row_id, source=SAFETY_SOURCE, row_label=str(r.term))
        cells = [
            c(col, n_pct(getattr(r, name), n_patients), getattr(r, name), "patients n (%)")
            for col, _, name in SAFETY_COLUMNS
        ]
        rate = _val(r.patients_per_100_patient_months)
        rows.append(
            {
                "term": str(r.term),
                "total": row_id == "any_adverse_event",
                "cells": cells,
                "events": c("events", short(r.n_events), r.n_events, "events"),
                "rate": c(
                    "rate_per_100_patient_months",
                    DASH if rate is None else f"{rate:.1f}",
                    rate,
                    "patients per 100 patient-months",
                    counts=(r.n_patients_any_grade,),  # suppressed with its numerator
                ),
            }
        )
    anyrow = ordered[ordered["row_type"] == "any adverse event"]
    first = next(anyrow.itertuples(index=False), None)
    # the mart always has the any row; without it the counts are absent, never "none"
    months = None if first is None else _val(first.exposure_patient_months)
    recorded = None if first is None else int(first.n_events_recorded)
    left_out = None if first is None else int(first.n_events_recorded) - int(first.n_events)
    s = partial(res.cell, "safety_summary", column_id="value", source=SAFETY_SOURCE)
    return {
        "rows": rows,
        "columns": [h for _, h, _ in SAFETY_COLUMNS],
        "n": n_patients,
        "patient_months": s(
            "patient_months", text=DASH if months is None else f"{months:.1f}", value=months, statistic="patient-months"
        ),
        "ctcae_version": f"version {ctcae_version}" if ctcae_version else "version not recorded (var ctcae_version)",
        "recorded": s("events_recorded", text=short(recorded), value=recorded, statistic="events"),
        "not_emergent": s("events_not_treatment_emergent", text=short(left_out), value=left_out, statistic="events"),
    }


def on_treatment_troughs(troughs: pd.DataFrame) -> pd.DataFrame:
    """The trough levels drawn during an index-drug period (fct_trough_levels.is_on_treatment):
    the rows both the exposure card and the trough figure count."""
    return troughs[_true(troughs["is_on_treatment"])]


def study_drug_exposure(exposure: pd.DataFrame, index_drug: str) -> pd.DataFrame:
    """The index drug's exposure periods (fct_drug_exposure)."""
    return exposure[exposure["drug"].astype(str).str.lower() == index_drug.lower()]


def exposure_section(
    exposure: pd.DataFrame,
    visit_rows: pd.DataFrame,
    troughs: pd.DataFrame,
    target: tuple[float, float] | None,
    visits: Mapping[str, str],
    index_drug: str,
    trough_unit: str = "",
    res: Results | None = None,
) -> dict[str, Any]:
    res = res or Results()
    drug = exposure["drug"].astype(str).str.lower()
    siro = exposure[drug == index_drug.lower()].sort_values(["patient_id", "start_study_day"])
    n = siro["patient_id"].nunique()
    start = siro.groupby("patient_id")["daily_dose_mg"].first().value_counts().sort_index()
    previous = siro.groupby("patient_id")["daily_dose_mg"].shift()
    changed = siro[previous.notna() & (siro["daily_dose_mg"] != previous)]
    steps = Counter(zip(previous[changed.index], changed["daily_dose_mg"]))
    per_visit = []
    post = visit_rows[visit_rows["visit"] != "baseline"].sort_values("visit_order")
    v_src = "marts.fct_visits"
    for visit, g in post.groupby("visit", sort=False):
        c = partial(res.cell, "exposure_by_visit", visit, source=v_src, row_label=visits[visit])
        dose, trough = _floats(g["index_drug_daily_dose_mg"]), _floats(g["index_drug_trough"])
        in_target = g["is_index_drug_trough_in_target"].dropna().astype(bool)  # decided in fct_visits
        per_visit.append(
            {
                "visit": visits[visit],
                "n_dose": c("n_dose", str(dose.size), dose.size, "n"),
                "dose": c(
                    "dose",
                    median_range(dose),
                    np.median(dose) if dose.size else None,
                    "median (range), mg/day",
                    counts=(dose.size,),
                ),
                "doses": [
                    c(f"dose={short(k)}", f"{short(k)}\u00a0mg\u00a0\u00d7\u00a0{v}", v, "n at dose")
                    for k, v in sorted(Counter(dose).items())
                ],
                "trough": c(
                    "trough",
                    median_iqr(trough, one),
                    np.median(trough) if trough.size else None,
                    f"median [IQR], {trough_unit}".strip(),
                    counts=(trough.size,),
                ),
                "n_trough": c("n_trough", str(trough.size), trough.size, "n"),
                "in_target": c(
                    "in_target",
                    n_pct(int(in_target.sum()), in_target.size),
                    int(in_target.sum()),
                    "n (%)",
                    counts=(in_target.size,),
                ),
            }
        )
    treated = on_treatment_troughs(troughs)
    k, m = int(_true(treated["is_in_target"]).sum()), len(treated)
    others = exposure[drug != index_drug.lower()]
    e = partial(res.cell, "exposure_summary", column_id="value", source="marts.fct_drug_exposure")
    return {
        "n": e("patients", text=str(n), value=n, statistic="n"),
        "start": [
            e(f"start_dose={short(d)}", text=f"{short(d)} mg/day: {c} patient(s)", value=c, statistic="n")
            for d, c in start.items()
        ],
        "changed": e(
            "dose_changed",
            text=f"{changed['patient_id'].nunique()} of {n}",
            value=changed["patient_id"].nunique(),
            statistic="n of N",
            counts=(n,),
        ),
        "changes": [
            e(
                f"dose_change={short(a)}->{short(b)}",
                text=f"{short(a)} \u2192 {short(b)} mg/day ({c}\u00d7)",
                value=c,
                statistic="n changes",
            )
            for (a, b), c in sorted(steps.items())
        ],
        "per_visit": per_visit,
        "troughs": e(
            "troughs_in_target",
            text=f"{n_pct(k, m)} of {m} trough levels" if m else "no trough levels",
            value=k,
            statistic="n (%) of levels",
            source="marts.fct_trough_levels",
            counts=(m,),
        ),
        "target": f"{short(target[0])}{EN}{short(target[1])} {trough_unit}".strip() if target else "no target range",
        "concomitant": [
            {
                "drug": name,
                "patients": res.cell(
                    "other_drugs",
                    name,
                    "patients",
                    str(g["patient_id"].nunique()),
                    g["patient_id"].nunique(),
                    "n",
                    "marts.fct_drug_exposure",
                ),
                "dose": res.cell(
                    "other_drugs",
                    name,
                    "dose",
                    median_range(g["daily_dose_mg"]),
                    None,
                    "median (range), mg/day",
                    "marts.fct_drug_exposure",
                    counts=(g["patient_id"].nunique(),),
                ),
            }
            for name, g in others.groupby(drug[others.index])
        ],
    }


def quality_section(
    quarantine: pd.DataFrame,
    run_results: Mapping[str, Any] | None,
    validation: ValidationSummary | None,
    fields: pd.DataFrame | None = None,
    res: Results | None = None,
) -> dict[str, Any]:
    """Data quality. With small-cell suppression (``res``), small row and patient counts print
    ``<N``, as the flow diagram's quarantined patients do."""
    count = (res or Results()).count_text
    rows = [
        {"table": t, "reason": r, "rows": count(len(g)), "patients": count(g["patient_id"].nunique())}
        for (t, r), g in quarantine.groupby(["source_table", "rejection_reason"], dropna=False)
    ]
    clean = None if fields is None else fields[fields["row_rejection_reason"].isna()]  # the rest: Table 12
    field_rows = (
        []
        if clean is None
        else [
            {"table": t, "field": f, "reason": r, "rows": count(len(g)), "patients": count(g["patient_id"].nunique())}
            for (t, f, r), g in clean.groupby(["source_table", "field_name", "rejection_reason"], dropna=False)
        ]
    )
    dbt = None
    if run_results:
        results = run_results.get("results", [])
        kind = [str(r.get("unique_id", "")).split(".")[0] for r in results]
        tests = [r for r, k in zip(results, kind) if k in ("test", "unit_test")]
        args = run_results.get("args") or {}
        dbt = {
            "n_tests": len(tests),
            "status": dict(sorted(Counter(str(r.get("status")) for r in tests).items())),
            "nodes": ", ".join(
                f"{v} {k.replace('_', ' ')}{'' if v == 1 else 's'}" for k, v in sorted(Counter(kind).items())
            ),
            "problems": [
                f"{r.get('unique_id')}: {r.get('status')} ({r.get('failures')} failing rows)"
                for r in tests
                if r.get("status") not in ("pass", "success")
            ],
            "generated_at": run_results.get("metadata", {}).get("generated_at", "unknown"),
            "command": args.get("which", "unknown"),
            "vars": args.get("vars") or {},
        }
    return {"quarantine": rows, "fields": field_rows, "dbt": dbt, "gx": validation}


def methods_section(
    windows: pd.DataFrame,
    paired: pd.DataFrame,
    friedman: pd.DataFrame,
    subgroups: pd.DataFrame,
    visits: Mapping[str, str],
    res: Results | None = None,
) -> dict[str, Any]:
    """The methods' facts about this run; patient counts as in the tables (``<N`` when small)."""
    count = (res or Results()).count_text
    w = windows.sort_values("visit_order")
    base = w[_true(w["is_baseline"])]
    comparison = {c: f"baseline vs {visits[str(c).removeprefix('baseline_vs_')]}" for c in paired["comparison"]}
    tested = paired[paired["p_value"].notna()].groupby("comparison", sort=False).size()
    return {
        "baseline": (
            f"the last value in study days {short(base['window_start_day'].iloc[0])} to "
            f"{short(base['window_end_day'].iloc[0])}"
            if len(base)
            else "not defined"
        ),
        "windows": [
            {
                "visit": r.visit_label,
                "target": short(r.target_day),
                "window": f"{short(r.window_start_day)} to {short(r.window_end_day)}",
            }
            for r in w.itertuples()
        ],
        "comparisons": ", ".join(comparison.values()) or DASH,
        "normality": sorted(set(paired["normality_rule"].dropna().astype(str))),
        "wilcoxon": "; ".join(
            f"{m} in {k} comparison(s)" for m, k in sorted(Counter(paired["wilcoxon_method"].dropna()).items())
        )
        or "not used",
        "exact_max": stats.EXACT_WILCOXON_MAX_N + 1,
        "confidence": f"{stats.CONFIDENCE * 100:g}%",
        "n_adjusted": ", ".join(f"{k} analytes for {comparison[c]}" for c, k in tested.items()) or "no analytes",
        "friedman": [
            (", ".join(visits[v] for v in str(r.visits).split(",")), count(r.n_patients)) for r in friedman.itertuples()
        ],
        "groups": sorted(
            {f"{r.group_a} vs {r.group_b}" for r in subgroups.itertuples() if _text(r.group_a) and _text(r.group_b)}
        ),
        "odds_ratio": _odds_ratio_methods(subgroups, visits),
    }


ODDS_RATIO_CI_TEXT = {
    stats.ODDS_RATIO_EXACT: "exact conditional confidence intervals (as R fisher.test)",
    stats.ODDS_RATIO_WALD: (
        f"Wald confidence intervals from the conditional likelihood (used above "
        f"{stats.EXACT_ODDS_RATIO_MAX_N:,} evaluable patients when every cell holds at "
        f"least {stats.WALD_ODDS_RATIO_MIN_CELL}, where the exact interval is slow; "
        "within about 1% of it there)"
    ),
}


def _odds_ratio_methods(subgroups: pd.DataFrame, visits: Mapping[str, str]) -> list[str]:
    """Which odds-ratio CI method each visit's row used, e.g. "exact ... (Month 1, Month 3)"."""
    if "odds_ratio_method" not in subgroups:
        return []
    used: dict[str, list[str]] = {}
    for r in subgroups.itertuples(index=False):
        if _text(r.odds_ratio_method):
            used.setdefault(str(r.odds_ratio_method), []).append(visits[r.visit])
    return [f"{ODDS_RATIO_CI_TEXT.get(m, m)} ({', '.join(v)})" for m, v in used.items()]


FLOW_SOURCE = "marts.rpt_patient_flow"


def _flow_count(res: Results, row: Any) -> Cell:
    """The patient count of one marts.rpt_patient_flow row, as a result cell."""
    row_id = "|".join(x for x in (str(row.step), _text(row.visit), _text(row.reason)) if x).replace("|", ":")
    return res.cell(
        "patient_flow",
        row_id,
        "n",
        str(int(row.n_patients)),
        row.n_patients,
        "patients",
        FLOW_SOURCE,
        row_label=" ".join(x for x in (str(row.step_label), _text(row.visit), _text(row.reason)) if x),
    )


def _flow_rows(f: pd.DataFrame, step: str, visit: str | None) -> pd.DataFrame:
    """The flow rows of a step (at a visit, when one is given)."""
    return f[(f["step"] == step) & ((f["visit"].astype(object) == visit) if visit else True)]


def _flow_side(f: pd.DataFrame, res: Results, step: str, visit: str | None = None) -> list[dict[str, Any]]:
    """The patients leaving the flow at a step, one entry per reason."""
    rows = _flow_rows(f, step, visit)
    return [
        {"label": _text(r.reason) or str(r.step_label), "n": _flow_count(res, r)} for r in rows.itertuples(index=False)
    ]


def _flow_box(
    f: pd.DataFrame, res: Results, visits: Mapping[str, str], step: str, visit: str | None = None
) -> dict[str, Any] | None:
    """A main box of the flow diagram, or None when the step has no row."""
    rows = _flow_rows(f, step, visit)
    if not len(rows):
        return None
    r = next(rows.itertuples(index=False))
    label = f"{r.step_label} at {visits[visit]}" if visit and step == "evaluable" else str(r.step_label)
    if step == "analysed":
        label = f"Analysed at {visits[_text(r.visit)]} (the last visit)"
    return {"label": label, "n": _flow_count(res, r)}


def flow_section(flow: pd.DataFrame, visits: Mapping[str, str], res: Results | None = None) -> dict[str, Any]:
    """The patient flow diagram (STROBE 13) from marts.rpt_patient_flow: main boxes top to bottom,
    each with the patients leaving the flow beside it (quarantined by reason, no day 0, NE by reason)."""
    res = res or Results()
    f = flow.sort_values(["step_order", "step"], kind="stable")
    boxes = []
    for step, out in (("delivered", "quarantined"), ("accepted", "no_index_dose"), ("with_index_dose", None)):
        b = _flow_box(f, res, visits, step)
        if b is not None:
            leaving = _flow_side(f, res, out) if out else []
            if out == "quarantined" and not leaving:
                leaving = [
                    {
                        "label": "Patients quarantined",
                        "n": res.cell("patient_flow", "quarantined", "n", "0", 0, "patients", FLOW_SOURCE),
                    }
                ]
            boxes.append({**b, "side_title": "Excluded", "side": leaving})
    visit_rows = f[f["step"] == "evaluable"].drop_duplicates("visit")
    for r in visit_rows.itertuples(index=False):
        b = _flow_box(f, res, visits, "evaluable", str(r.visit))
        assert b is not None  # the visit is one of the evaluable rows, so its box has a row
        boxes.append({**b, "side_title": "Not evaluable", "side": _flow_side(f, res, "not_evaluable", str(r.visit))})
    last = _flow_box(f, res, visits, "analysed")
    if last is not None:
        boxes.append({**last, "side_title": "", "side": []})
    return {"boxes": boxes}


def missing_data_section(
    missing: pd.DataFrame, analytes: pd.DataFrame, visits: Mapping[str, str], res: Results | None = None
) -> dict[str, Any]:
    """Missing data per analyte x visit (STROBE 14b) from marts.rpt_missing_data: one row per
    analyte, one column group per visit (expected, present, missing, of which quarantined)."""
    res = res or Results()
    order = {a: i for i, a in enumerate(analytes["analyte"])}
    names = dict(zip(analytes["analyte"], analytes["analyte_name"]))
    m = missing.assign(_o=missing["analyte"].map(order).fillna(len(order))).sort_values(["_o", "visit_order"])
    visit_codes = [str(v) for v in m.drop_duplicates("visit").sort_values("visit_order")["visit"]]
    rows = []
    for analyte, g in m.groupby("analyte", sort=False):
        by_visit = {str(r.visit): r for r in g.itertuples(index=False)}
        cells: list[dict[str, Cell] | None] = []
        for v in visit_codes:
            r = by_visit.get(v)
            if r is None:
                cells.append(None)
                continue
            c = partial(
                res.cell,
                "missing_data",
                f"{analyte}:{v}",
                source="marts.rpt_missing_data",
                group=str(analyte),
                row_label=f"{names.get(analyte, analyte)}, {visits[v]}",
            )
            cells.append(
                {
                    "present": c(
                        "present",
                        f"{int(r.n_present)}/{int(r.n_expected)}",
                        r.n_present,
                        "n/N present",
                        counts=(r.n_expected,),
                    ),
                    "missing": c("missing", str(int(r.n_missing)), r.n_missing, "n missing"),
                    "quarantined": c(
                        "quarantined", str(int(r.n_quarantined)), r.n_quarantined, "n missing with a quarantined result"
                    ),
                }
            )
        rows.append({"code": str(analyte), "name": str(names.get(analyte, analyte)), "cells": cells})
    return {"visits": [visits[v] for v in visit_codes], "rows": rows}


def follow_up_section(
    follow_up: pd.DataFrame, visit_rows: pd.DataFrame, visits: Mapping[str, str], res: Results | None = None
) -> dict[str, Any]:
    """Follow-up (STROBE 14c: day 0 to the last contact, at most the data cut-off, in months as
    marts.fct_patient_follow_up.follow_up_months gives them) and
    outcomes by visit (STROBE 15, marts.fct_visits): platelet count median [IQR], prednisone-
    equivalent dose, WHO bleeding grade and rescue therapy per visit."""
    res = res or Results()
    src = "marts.fct_patient_follow_up"
    months = _floats(follow_up["follow_up_months"])  # day 0 to the last contact, at most the cut-off
    complete = months.size == len(follow_up)  # a total over a column with a null is absent, never too small
    k = partial(res.cell, "follow_up", column_id="value", source=src)
    summary = {
        "median": k(
            "median_months",
            text=median_iqr(months, one),
            value=float(np.median(months)) if months.size else None,
            statistic="median [IQR], months",
            counts=(months.size,),
        ),
        "total": k(
            "total_patient_months",
            text=one(months.sum()) if months.size and complete else DASH,
            value=float(months.sum()) if months.size and complete else None,
            statistic="sum, patient-months",
            counts=(months.size,),
        ),
        "n": k("patients", text=str(months.size), value=months.size, statistic="n"),
    }
    per_visit = []
    v_src = "marts.fct_visits"
    for visit, g in visit_rows.sort_values("visit_order").groupby("visit", sort=False):
        c = partial(res.cell, "outcomes_by_visit", visit, source=v_src, row_label=visits[visit])
        plt, dose = _floats(g["platelet_count"]), _floats(g["prednisone_equivalent_mg_day"])
        grade = pd.to_numeric(g["who_bleeding_grade"], errors="coerce").dropna()
        rescue = g["rescue_therapy"].dropna().astype(bool)
        per_visit.append(
            {
                "visit": visits[visit],
                "n_plt": c("n_platelets", str(plt.size), plt.size, "n"),
                "platelets": c(
                    "platelets",
                    median_iqr(plt),
                    float(np.median(plt)) if plt.size else None,
                    "median [IQR]",
                    counts=(plt.size,),
                ),
                "dose": c(
                    "prednisone",
                    median_iqr(dose, one),
                    float(np.median(dose)) if dose.size else None,
                    "median [IQR], mg/day",
                    counts=(dose.size,),
                ),
                "bleeding_1": c(
                    "bleeding_grade_1_plus",
                    n_pct(int((grade >= 1).sum()), grade.size),
                    int((grade >= 1).sum()),
                    "n (%) of assessed",
                    counts=(grade.size,),
                ),
                "bleeding_2": c(
                    "bleeding_grade_2_plus",
                    n_pct(int((grade >= 2).sum()), grade.size),
                    int((grade >= 2).sum()),
                    "n (%) of assessed",
                    counts=(grade.size,),
                ),
                "rescue": c(
                    "rescue_therapy",
                    n_pct(int(rescue.sum()), rescue.size),
                    int(rescue.sum()),
                    "n (%) of assessed",
                    counts=(rescue.size,),
                ),
            }
        )
    return {**summary, "per_visit": per_visit}


LISTING_MAX_PATIENTS = 50  # default: the listing is shown for cohorts of at most this many patients


def listing_section(
    patients: pd.DataFrame,
    visit_rows: pd.DataFrame,
    responses: pd.DataFrame,
    summary: pd.DataFrame,
    events: pd.DataFrame,
    visits: Mapping[str, str],
    max_patients: int = LISTING_MAX_PATIENTS,
    res: Results | None = None,
) -> dict[str, Any]:
    """The patient listing (a supplement for a small cohort): per patient of the analysis set,
    baseline, each post-baseline visit's platelet count and response, dose and trough by visit,
    best response and adverse events (term, grade). Empty when the analysis set has more than
    ``max_patients`` patients (0: never)."""
    res = res or Results()
    p = patients[_true(patients["has_index_drug_start"])].sort_values("patient_id")
    if not len(p) or len(p) > max_patients:
        return {"rows": [], "visits": [], "n": len(p), "max": max_patients}
    post = visit_rows[visit_rows["visit"] != "baseline"].sort_values("visit_order")
    visit_codes = list(dict.fromkeys(post["visit"].astype(str)))
    by_visit = {(str(r.patient_id), str(r.visit)): r for r in post.itertuples(index=False)}
    response = {(str(r.patient_id), str(r.visit)): _text(r.response) for r in responses.itertuples(index=False)}
    best = dict(zip(summary["patient_id"].astype(str), summary["best_response"].astype(object)))
    ev = events.assign(grade=pd.to_numeric(events["ctcae_grade"], errors="coerce")).sort_values(
        ["patient_id", "onset_on"]
    )
    rows = []
    for r in p.itertuples(index=False):
        pid = str(r.patient_id)
        c = partial(res.cell, "patient_listing", pid, row_label=pid)
        cells = []
        for v in visit_codes:
            x = by_visit.get((pid, v))
            count = None if x is None else _val(x.platelet_count)
            text = DASH if count is None else f"{short(count)} ({response.get((pid, v)) or 'NE'})"
            cells.append(
                c(
                    f"{v}_platelets",
                    text,
                    count,
                    "platelet count (response)",
                    "marts.fct_visits,marts.fct_platelet_response",
                )
            )
        doses = [
            short(x.index_drug_daily_dose_mg) if _val(x.index_drug_daily_dose_mg) is not None else DASH
            for x in (by_visit.get((pid, v)) for v in visit_codes)
            if x is not None
        ]
        troughs = [
            one(x.index_drug_trough) if _val(x.index_drug_trough) is not None else DASH
            for x in (by_visit.get((pid, v)) for v in visit_codes)
            if x is not None
        ]
        mine = ev[ev["patient_id"].astype(str) == pid]
        rows.append(
            {
                "patient": pid,
                "sex": _text(r.sex),
                "diagnosis": _text(r.ctd_diagnosis),
                "age": c("age", short(r.age_at_index), r.age_at_index, "years", "marts.dim_patients"),
                "baseline": c(
                    "baseline_platelets",
                    short(r.baseline_platelet_count),
                    r.baseline_platelet_count,
                    "platelet count",
                    "marts.dim_patients",
                ),
                "visits": cells,
                "best": _text(best.get(pid)) or "NE",
                "dose": c("dose", " / ".join(doses) or DASH, None, "daily dose by visit, mg", "marts.fct_visits"),
                "trough": c("trough", " / ".join(troughs) or DASH, None, "trough by visit", "marts.fct_visits"),
                "events": c(
                    "adverse_events",
                    "; ".join(f"{_text(e.term)} (grade {short(e.grade)})" for e in mine.itertuples(index=False))
                    or "none",
                    len(mine),
                    "events (term, grade)",
                    "marts.fct_adverse_events",
                ),
            }
        )
    return {"rows": rows, "visits": [visits[v] for v in visit_codes], "n": len(p), "max": max_patients}
