"""The report's sections, pure: data frames in, rows and texts for the template out."""

from __future__ import annotations

from collections import Counter
from typing import Any, Mapping

import pandas as pd

from .. import stats
from ..validation import ValidationSummary
from .formatting import (DASH, EN, _floats, _significant, _text, _true, _val, ci_pct, fixed, median_iqr,
                         median_range, n_pct, one, pct, pval, short, sig, unit_text, value_range)

PANELS = {"immunology": ("lymphocyte subsets", "regulatory T cells"), "cytokines": ("cytokines",)}
RESPONSES = ("CR", "PR", "NR", "NE")


def baseline_table(patients: pd.DataFrame) -> list[dict[str, Any]]:
    """Table 1 rows (label, value, indent) for the analysis set (patients with a day 0)."""
    p = patients[_true(patients["has_sirolimus_start"])] if "has_sirolimus_start" in patients else patients
    n, rows = len(p), []

    def add(label: str, value: str, indent: bool = False) -> None:
        rows.append({"label": label, "value": value, "indent": indent})

    def counts(label: str, column: str, names: Mapping[str, str] | None = None) -> None:
        add(label, "")
        for level, k in p[column].fillna("missing").astype(str).value_counts().items():
            add((names or {}).get(level, level), n_pct(k, n), indent=True)

    plt = "Baseline platelets, \u00d710\u2079/L"
    add("Patients, n", str(n))
    add("Age at first sirolimus dose, years, median [IQR]", median_iqr(p["age_at_index"]))
    counts("Sex, n (%)", "sex", {"F": "Female", "M": "Male"})
    counts("Connective tissue disease, n (%)", "ctd_diagnosis")
    add("CTD duration, years, median [IQR]", median_iqr(p["ctd_duration_years"], one))
    add("Thrombocytopenia duration, years, median [IQR]", median_iqr(p["thrombocytopenia_duration_years"], one))
    add("Prior therapy lines, median [IQR]", median_iqr(p["prior_therapy_lines"]))
    add(f"{plt}, median [IQR]", median_iqr(p["baseline_platelet_count"]))
    add(f"{plt}, range", value_range(p["baseline_platelet_count"]))
    if "baseline_bleeding_grade" in p:
        add("WHO bleeding grade \u2265 1 at baseline, n (%)", n_pct((p["baseline_bleeding_grade"].fillna(0) >= 1).sum(), n))
    add("Prednisone-equivalent dose at baseline, mg/day, median [IQR]", median_iqr(p["baseline_prednisone_mg_day"], one))
    return rows


def bleeding_evidence_counts(visit_responses: pd.DataFrame) -> dict[str, int]:
    """Visits (patient x post-baseline visit, fct_platelet_response) with a platelet count whose
    bleeding was decided without a usable grade: no assessment at all (the missing-assessment
    rule applied) and an unusable one (the would-be CR/PR became NE, or the count was NR anyway)."""
    counted = visit_responses[visit_responses["platelet_count"].notna()]
    evidence = counted["bleeding_evidence"].astype(str)
    return {"not_recorded": int((evidence == "not recorded").sum()), "unusable": int((evidence == "unusable").sum()),
            "unusable_ne": int(((evidence == "unusable") & (counted["response"] == "NE")).sum())}


def response_section(rates: pd.DataFrame, ci: pd.DataFrame, summary: pd.DataFrame, subgroups: pd.DataFrame,
                     friedman: pd.DataFrame, visits: Mapping[str, str],
                     visit_responses: pd.DataFrame | None = None) -> dict[str, Any]:
    merged = rates.sort_values("visit_order").merge(ci[["visit", "orr", "ci_low", "ci_high"]], on="visit",
                                                    how="left", suffixes=("_mart", ""))
    rows = [{"visit": visits[r.visit], "cr": r.n_cr, "pr": r.n_pr, "nr": r.n_nr, "ne": r.n_ne,
             "evaluable": r.n_evaluable, "responders": f"{r.n_responders}/{r.n_evaluable}", "orr": pct(r.orr),
             "ci": ci_pct(r.ci_low, r.ci_high), "orr_all": pct(r.orr_all_patients)}
            for r in merged.itertuples(index=False)]
    n = len(summary)
    best = summary["best_response"].fillna("NE").astype(str).value_counts()
    responders = summary[_true(summary["is_responder_by_month_6"])]
    days = _floats(responders["days_to_first_response"])
    sub_rows = [{"visit": visits[r.visit],
                 "a": f"{r.group_a}: {r.a_responders}/{r.a_evaluable}" if _text(r.group_a) else DASH,
                 "b": f"{r.group_b}: {r.b_responders}/{r.b_evaluable}" if _text(r.group_b) else DASH,
                 "or": DASH if _val(r.odds_ratio) is None else
                 f"{sig(r.odds_ratio)} ({sig(r.odds_ratio_ci_low)} to {sig(r.odds_ratio_ci_high)})",
                 "p": pval(r.p_value), "sig": _significant(r.p_value), "note": _text(r.note)}
                for r in subgroups.itertuples(index=False)]
    fried_rows = [{"measure": "Platelet count" if r.measure == "platelet_count" else visits[r.measure],
                   "visits": ", ".join(visits[v] for v in str(r.visits).split(",")), "n": r.n_patients,
                   "statistic": sig(r.statistic), "df": short(r.df), "p": pval(r.p_value),
                   "sig": _significant(r.p_value), "w": sig(r.kendalls_w), "note": _text(r.note)}
                  for r in friedman.itertuples(index=False)]
    return {
        "rows": rows, "rules": sorted(set(rates["response_rule"].dropna().astype(str))),
        "denominators": sorted(set(rates["orr_denominator"].dropna().astype(str))),
        "best": [{"response": code, "value": n_pct(best.get(code, 0), n)} for code in RESPONSES],
        "n_patients": n, "responders_by_6": n_pct(len(responders), n),
        "time_to_response": f"{median_range(days)} days (n = {days.size})" if days.size else "no responders",
        "lost": f"{int(_true(summary['lost_response']).sum())} of {len(responders)} responders",
        "regained": int(_true(summary["regained_response"]).sum()) if "regained_response" in summary else 0,
        "bleeding": bleeding_evidence_counts(visit_responses) if visit_responses is not None else None,
        "subgroups": sub_rows, "friedman": fried_rows,
    }


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


KM_PARAMETERS = {"TTRESP": ("Time to first response (CR or PR)", "responded by day"),
                 "TTCR": ("Time to complete response", "in CR by day"),
                 "DOR": ("Duration of response (responders)", "still in response at day")}


def outcomes_section(km: pd.DataFrame, km_points: pd.DataFrame, time_share: pd.DataFrame,
                     steroids: pd.DataFrame, follow_up: pd.DataFrame, visits: Mapping[str, str]) -> dict[str, Any]:
    """Outcomes over time, every number read from the analysis tables and marts (no recomputation)."""
    by_param = {str(r.paramcd): r for r in km.itertuples(index=False)}
    days = sorted({int(d) for d in km_points["day"]}) if len(km_points) else []
    points = {(str(r.paramcd), int(r.day)): r for r in km_points.itertuples(index=False)}
    rows = []
    for code, (label, reading) in KM_PARAMETERS.items():
        r = by_param.get(code)
        if r is None:
            continue
        estimates = []
        for day in days:
            p = points.get((code, day))
            if p is None:
                estimates.append(DASH)
            else:  # DOR: still in response, S(t); times to response: responded by then, 1 - S(t)
                value, low, high = ((p.survival, p.survival_ci_low, p.survival_ci_high) if code == "DOR" else
                                    (p.cumulative_incidence, p.cumulative_incidence_ci_low,
                                     p.cumulative_incidence_ci_high))
                # no event yet: S = 1 with a zero-width interval, which says nothing
                interval = "" if int(p.n_events_by_day) == 0 and code != "DOR" or low == high else \
                    f" ({ci_pct(low, high)})"
                estimates.append(f"{pct(value)}{interval}")
        rows.append({"parameter": label, "reading": reading, "n": r.n, "events": r.n_events,
                     "censored": r.n_censored, "total_days": short(r.total_days), "median": km_median(r),
                     "estimates": estimates, "note": _text(r.note)})
    shares = {str(r.population): r for r in time_share.itertuples(index=False)}

    def share_text(population: str) -> str:
        r = shares.get(population)
        if r is None or _val(r.share_of_time_in_response) is None:
            return DASH
        return (f"{pct(r.share_of_time_in_response)} of {short(r.total_days_observed)} observed days "
                f"(n = {r.n_patients})")

    steroid_rows = [{"visit": visits[r.visit], "n": r.n_pairs,
                     "doses": f"{short(r.baseline_median)} → {short(r.visit_median)}",
                     "change": f"{short(r.median_change)} [{short(r.change_q1)}{EN}{short(r.change_q3)}]",
                     "p": pval(r.wilcoxon_p_value), "sig": _significant(r.wilcoxon_p_value),
                     "method": _text(r.wilcoxon_method),
                     "tapered": (f"{r.n_tapered}/{r.n_above_taper_at_baseline} ({pct(r.tapered_share)}; "
                                 f"{ci_pct(r.tapered_ci_low, r.tapered_ci_high)})"
                                 if r.n_above_taper_at_baseline else DASH),
                     "off": (f"{r.n_off_steroids}/{r.n_above_taper_at_baseline} ({pct(r.off_share)})"
                             if r.n_above_taper_at_baseline else DASH)}
                    for r in steroids.itertuples(index=False)]
    taper = [short(v) for v in steroids["taper_mg_day"].dropna().unique()] if "taper_mg_day" in steroids else []
    n = len(follow_up)
    ends = follow_up["observation_end_reason"].fillna("unknown").astype(str).value_counts()
    cutoff = follow_up[["data_cutoff_date", "data_cutoff_source"]].drop_duplicates()
    return {
        "km": rows, "days": days,
        "median_time_to_response": km_median(by_param["TTRESP"]) if "TTRESP" in by_param else DASH,
        "median_duration": km_median(by_param["DOR"]) if "DOR" in by_param else "no responders",
        "share_all": share_text("all patients"), "share_responders": share_text("responders"),
        "steroids": steroid_rows, "taper": ", ".join(taper) or DASH,
        "n_rescue": n_pct(int(_true(follow_up["had_rescue_therapy"]).sum()), n),
        "n_other_itp": n_pct(int(_true(follow_up["has_other_itp_treatment"]).sum()), n),
        "other_itp": sorted({d.strip() for v in follow_up["other_itp_drugs"].dropna() for d in str(v).split(",")}),
        "n_dependent": n_pct(int(_true(follow_up["is_corticosteroid_dependent"]).sum()), n),
        "observation_ends": [(reason, int(k)) for reason, k in ends.items()],
        "cutoff": "; ".join(f"{r.data_cutoff_date} ({r.data_cutoff_source})" for r in cutoff.itertuples()) or DASH,
    }


def _describe(r: Any, prefix: str, d: int) -> tuple[str, str]:
    get = lambda s: getattr(r, f"{prefix}_{s}")  # noqa: E731
    return (f"{fixed(get('mean'), d)}\u00a0\u00b1\u00a0{fixed(get('sd'), d)}",
            f"{fixed(get('median'), d)} [{fixed(get('q1'), d)}{EN}{fixed(get('q3'), d)}]")


def _paired_row(r: Any, d: int, visits: Mapping[str, str], notes: dict[str, str]) -> dict[str, Any]:
    test, method, note = _text(r.test_used), _text(r.wilcoxon_method), _text(r.note)
    test += f" ({method})" if test.startswith("Wilcoxon") and method else ""
    mark = notes.setdefault(note, "abcdefghijklmnopqrstuvwxyz"[len(notes) % 26]) if note else ""
    p_values = {k: getattr(r, k) for k in ("p_value", "p_value_holm", "p_value_bh")}
    return {"visit": visits[r.visit], "n": r.n_pairs, "test": test, "mark": mark,
            "base": _describe(r, "baseline", d), "follow": _describe(r, "followup", d),
            "change": f"{fixed(r.mean_difference, d)} ({fixed(r.mean_difference_ci_low, d)} to "
                      f"{fixed(r.mean_difference_ci_high, d)})",
            "hl": f"{fixed(r.hodges_lehmann, d)} ({fixed(r.hodges_lehmann_ci_low, d)} to "
                  f"{fixed(r.hodges_lehmann_ci_high, d)})",
            **{k: pval(v) for k, v in p_values.items()}, **{f"{k}_sig": _significant(v) for k, v in p_values.items()}}


def lab_tables(paired: pd.DataFrame, analytes: pd.DataFrame, visits: Mapping[str, str]) -> dict[str, dict]:
    """Paired-test rows per analyte for the immunology, cytokine and other-lab tables, each with
    lettered footnotes (the tests' notes). Decimals per analyte from reference.analytes."""
    meta = analytes.set_index("analyte")
    order = {a: i for i, a in enumerate(analytes["analyte"])}
    out: dict[str, dict] = {k: {"groups": [], "notes": {}} for k in ("immunology", "cytokines", "other-labs")}
    for analyte, rows in sorted(paired.groupby("analyte"), key=lambda kv: order.get(kv[0], len(order))):
        info = meta.loc[analyte] if analyte in meta.index else pd.Series(dtype=object)
        decimals = _val(info.get("decimals"))
        table = out[next((k for k, panels in PANELS.items() if info.get("panel") in panels), "other-labs")]
        comparisons = [_paired_row(r, 2 if decimals is None else int(decimals), visits, table["notes"])
                       for r in rows.itertuples(index=False)]
        table["groups"].append({"code": analyte, "name": str(info.get("analyte_name", analyte)),
                                "unit": unit_text(info.get("unit", "")), "comparisons": comparisons})
    for table in out.values():
        table["notes"] = [(mark, note) for note, mark in table["notes"].items()]
    return out


def safety_section(events: pd.DataFrame, n_patients: int) -> dict[str, Any]:
    ev = events.assign(grade=pd.to_numeric(events["ctcae_grade"], errors="coerce"))
    rows = [{"term": term, "grade": short(grade), "events": len(g),
             "patients": n_pct(g["patient_id"].nunique(), n_patients)}
            for (term, grade), g in ev.groupby(["term", "grade"], dropna=False, sort=True)]

    def tally(mask: pd.Series) -> str:
        k = int(mask.sum())
        return "none" if k == 0 else f"{k} event(s) in {ev.loc[mask, 'patient_id'].nunique()} patient(s)"

    return {"rows": rows, "any": tally(pd.Series(True, index=ev.index)), "grade3": tally(ev["grade"] >= 3),
            "serious": tally(_true(ev["is_serious"])), "related": tally(_true(ev["is_related_to_sirolimus"])),
            "emergent": tally(_true(ev["is_treatment_emergent"]))}


def on_treatment_troughs(troughs: pd.DataFrame) -> pd.DataFrame:
    """The trough levels drawn during a sirolimus period (fct_trough_levels.is_on_treatment):
    the rows both the exposure card and the trough figure count."""
    return troughs[_true(troughs["is_on_treatment"])]


def exposure_section(exposure: pd.DataFrame, visit_rows: pd.DataFrame, troughs: pd.DataFrame,
                     target: tuple[float, float], visits: Mapping[str, str]) -> dict[str, Any]:
    drug = exposure["drug"].astype(str).str.lower()
    siro = exposure[drug == "sirolimus"].sort_values(["patient_id", "start_study_day"])
    n = siro["patient_id"].nunique()
    start = siro.groupby("patient_id")["daily_dose_mg"].first().value_counts().sort_index()
    previous = siro.groupby("patient_id")["daily_dose_mg"].shift()
    changed = siro[previous.notna() & (siro["daily_dose_mg"] != previous)]
    steps = Counter(zip(previous[changed.index], changed["daily_dose_mg"]))
    lo, hi = target
    per_visit = []
    post = visit_rows[visit_rows["visit"] != "baseline"].sort_values("visit_order")
    for visit, g in post.groupby("visit", sort=False):
        dose, trough = _floats(g["sirolimus_daily_dose_mg"]), _floats(g["sirolimus_trough"])
        in_target = g["is_sirolimus_trough_in_target"].dropna().astype(bool)  # decided in fct_visits
        per_visit.append({"visit": visits[visit], "n_dose": dose.size, "dose": median_range(dose),
                          "doses": [f"{short(k)}\u00a0mg\u00a0\u00d7\u00a0{v}" for k, v in sorted(Counter(dose).items())],
                          "trough": median_iqr(trough, one), "n_trough": trough.size,
                          "in_target": n_pct(int(in_target.sum()), in_target.size)})
    treated = on_treatment_troughs(troughs)
    k, m = int(_true(treated["is_in_target"]).sum()), len(treated)
    others = exposure[drug != "sirolimus"]
    return {"n": n, "start": [f"{short(d)} mg/day: {c} patient(s)" for d, c in start.items()],
            "changed": f"{changed['patient_id'].nunique()} of {n}",
            "changes": [f"{short(a)} \u2192 {short(b)} mg/day ({c}\u00d7)" for (a, b), c in sorted(steps.items())],
            "per_visit": per_visit, "troughs": f"{n_pct(k, m)} of {m} trough levels" if m else "no trough levels",
            "target": f"{short(lo)}{EN}{short(hi)} ng/mL",
            "concomitant": [{"drug": name, "patients": g["patient_id"].nunique(), "dose": median_range(g["daily_dose_mg"])}
                            for name, g in others.groupby(drug[others.index])]}


def quality_section(quarantine: pd.DataFrame, run_results: Mapping[str, Any] | None,
                    validation: ValidationSummary | None, fields: pd.DataFrame | None = None) -> dict[str, Any]:
    rows = [{"table": t, "reason": r, "rows": len(g), "patients": g["patient_id"].nunique()}
            for (t, r), g in quarantine.groupby(["source_table", "rejection_reason"], dropna=False)]
    clean = None if fields is None else fields[fields["row_rejection_reason"].isna()]  # the rest: Table 12
    field_rows = [] if clean is None else [
        {"table": t, "field": f, "reason": r, "rows": len(g), "patients": g["patient_id"].nunique()}
        for (t, f, r), g in clean.groupby(["source_table", "field_name", "rejection_reason"], dropna=False)]
    dbt = None
    if run_results:
        results = run_results.get("results", [])
        kind = [str(r.get("unique_id", "")).split(".")[0] for r in results]
        tests = [r for r, k in zip(results, kind) if k in ("test", "unit_test")]
        args = run_results.get("args") or {}
        dbt = {"n_tests": len(tests), "status": dict(sorted(Counter(str(r.get("status")) for r in tests).items())),
               "nodes": ", ".join(f"{v} {k.replace('_', ' ')}{'' if v == 1 else 's'}"
                                  for k, v in sorted(Counter(kind).items())),
               "problems": [f"{r.get('unique_id')}: {r.get('status')} ({r.get('failures')} failing rows)"
                            for r in tests if r.get("status") not in ("pass", "success")],
               "generated_at": run_results.get("metadata", {}).get("generated_at", "unknown"),
               "command": args.get("which", "unknown"), "vars": args.get("vars") or {}}
    return {"quarantine": rows, "fields": field_rows, "dbt": dbt, "gx": validation}


def methods_section(windows: pd.DataFrame, paired: pd.DataFrame, friedman: pd.DataFrame,
                    subgroups: pd.DataFrame, visits: Mapping[str, str]) -> dict[str, Any]:
    w = windows.sort_values("visit_order")
    base = w[_true(w["is_baseline"])]
    comparison = {c: f"baseline vs {visits[str(c).removeprefix('baseline_vs_')]}" for c in paired["comparison"]}
    tested = paired[paired["p_value"].notna()].groupby("comparison", sort=False).size()
    return {
        "baseline": (f"the last value in study days {short(base['window_start_day'].iloc[0])} to "
                     f"{short(base['window_end_day'].iloc[0])}" if len(base) else "not defined"),
        "windows": [{"visit": r.visit_label, "target": short(r.target_day),
                     "window": f"{short(r.window_start_day)} to {short(r.window_end_day)}"} for r in w.itertuples()],
        "comparisons": ", ".join(comparison.values()) or DASH,
        "normality": sorted(set(paired["normality_rule"].dropna().astype(str))),
        "wilcoxon": "; ".join(f"{m} in {k} comparison(s)"
                              for m, k in sorted(Counter(paired["wilcoxon_method"].dropna()).items())) or "not used",
        "exact_max": stats.EXACT_WILCOXON_MAX_N + 1, "confidence": f"{stats.CONFIDENCE * 100:g}%",
        "n_adjusted": ", ".join(f"{k} analytes for {comparison[c]}" for c, k in tested.items()) or "no analytes",
        "friedman": [(", ".join(visits[v] for v in str(r.visits).split(",")), r.n_patients) for r in friedman.itertuples()],
        "groups": sorted({f"{r.group_a} vs {r.group_b}" for r in subgroups.itertuples()
                          if _text(r.group_a) and _text(r.group_b)}),
        "odds_ratio": _odds_ratio_methods(subgroups, visits),
    }


ODDS_RATIO_CI_TEXT = {
    stats.ODDS_RATIO_EXACT: "exact conditional confidence intervals (as R fisher.test)",
    stats.ODDS_RATIO_WALD: (f"Wald confidence intervals from the conditional likelihood (used above "
                            f"{stats.EXACT_ODDS_RATIO_MAX_N:,} evaluable patients when every cell holds at "
                            f"least {stats.WALD_ODDS_RATIO_MIN_CELL}, where the exact interval is slow; "
                            "within about 1% of it there)"),
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

