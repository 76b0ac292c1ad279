"""The self-contained HTML study report: read, validate, build the context, render, write.

I/O lives in :func:`load_warehouse` and :func:`collect_run_info`; :func:`build_context` is pure
(data frames in, template context out), so every number can be unit-tested on small frames.
Every number comes from the warehouse at run time. The template autoescapes everything; only
the SVG made by :mod:`ctd_rtp.figures` (escaped internally) is marked safe.
"""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import tempfile
import time
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

import duckdb
import numpy as np
import pandas as pd
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from . import figures, stats
from .analysis import marts_fingerprint
from .study import Study
from .validation import REFERENCE_TABLES, VALIDATED_TABLES, ValidationSummary, plain_frame, validate
from .validation import preload as preload_validation
from .warehouse import Reader, Settings, SparkReader, WarehouseMissing, reader_from_env

TEMPLATES = Path(__file__).resolve().parent / "templates"
PACKAGES = ("dbt-core", "dbt-duckdb", "duckdb", "pandas", "scipy", "great_expectations", "jinja2")
SPARK_PACKAGES = ("dbt-core", "dbt-spark", "pyspark", "pandas", "scipy", "great_expectations", "jinja2")
DASH, MINUS, EN, INF = "\u2014", "\u2212", "\u2013", "\u221e"
LAB_VALUES = "marts.fct_lab_results"
# Long tables are read with only the columns the report uses (they grow with patients x analytes),
# with text as categoricals (DuckDB reads them through Arrow): ids, analytes and visits repeat, and
# GX hashes and checks them faster so.
QUERIES = {  # table -> (columns, filter); the same SQL on DuckDB and Spark
    "marts.fct_lab_changes": (("patient_id", "analyte", "visit", "baseline_value", "value"), None),
    # the response analyte's counts (the filter names it: see load_warehouse)
    LAB_VALUES: (("patient_id", "analyte", "study_day", "value"), "analyte = {response_analyte} and study_day is not null"),
}
# Rows in key order (sorted by the engine, ascending, nulls last), whatever order the tables are
# stored in (Spark keeps no insertion order; figures and tables list rows in frame order).
# Reference and analysis tables keep their table order: the seed's order is the display order,
# and `stats` writes its rows in reading order.
ROW_ORDER = {
    "marts.dim_patients": ("patient_id",),
    "marts.fct_visits": ("patient_id", "visit_order"),
    "marts.fct_platelet_response": ("patient_id", "visit_order"),
    "marts.fct_patient_response_summary": ("patient_id",),
    "marts.rpt_response_rates": ("visit_order",),
    "marts.fct_lab_changes": ("patient_id", "analyte", "visit"),  # read without visit_order
    "marts.fct_adverse_events": ("ae_id",),
    "marts.fct_drug_exposure": ("exposure_id",),
    "marts.fct_trough_levels": ("patient_id", "study_day", "result_id"),
    "marts.fct_platelet_count_response": ("patient_id", "study_day", "result_id"),
    "marts.fct_time_to_event": ("patient_id", "paramcd"),
    "marts.fct_patient_follow_up": ("patient_id",),
    "marts.fct_concomitant_drugs": ("exposure_id",),
    "quarantine.quarantined_fields": ("source_table", "row_key", "field_name", "occurrence"),
    "quarantine.quarantined_rows": ("source_table", "row_key", "rejection_reason", "occurrence"),
    LAB_VALUES: ("patient_id", "analyte", "study_day", "value"),
}
SECTIONS = {  # id -> heading, in reading order; the study's lab sections (var report_panels) go before "other-labs"
    "provenance": "Study and provenance", "baseline": "Baseline characteristics",
    "response": "Platelet response", "other-labs": "Other laboratory values", "safety": "Safety",
    "exposure": "{drug} exposure", "quality": "Data quality", "methods": "Methods",
}


def report_sections(study: Study) -> dict[str, str]:
    """Section id -> heading, in reading order, with the study's lab sections and drug."""
    out: dict[str, str] = {}
    for key, text in SECTIONS.items():
        if key == "other-labs":
            out.update({str(p["section"]): str(p.get("title") or p["section"]) for p in study.report_panels})
        out[key] = text.format(drug=study.drug_label)
    return out


# The lab sections (immunology, cytokines) and their titles come from the study (var report_panels).
RESPONSES = stats.RESPONSE_CODES  # one list of response codes (ctd_rtp.stats)


@dataclass(frozen=True)
class ReportResult:
    dated_path: Path
    latest_path: Path
    validation: ValidationSummary


@dataclass(frozen=True)
class RunInfo:
    """Provenance from around the data (gathered by :func:`collect_run_info`)."""

    generated_at: datetime
    data_fingerprint: str = ""
    build_time: str = "unknown"
    git_revision: str = "unknown"
    versions: Mapping[str, str] = field(default_factory=dict)
    run_results: Mapping[str, Any] | None = None
    validation: ValidationSummary | None = None
    db_path: str = ""


# --------------------------------------------------------------------------- number formatting
def _val(x: Any) -> float | None:
    """A float, or None for missing, NaN or non-numeric values."""
    if x is None or x is pd.NA:
        return None
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(v) else v


def _signed(text: str, v: float) -> str:
    """A typographic minus; no "-0.0"."""
    if math.isinf(v):
        return INF if v > 0 else MINUS + INF
    return text.lstrip("-") if float(text) == 0 else text.replace("-", MINUS, 1)


def fixed(x: Any, decimals: int = 1) -> str:
    v = _val(x)
    return DASH if v is None else _signed(f"{v:.{decimals}f}" if math.isfinite(v) else "0", v)


def sig(x: Any, digits: int = 3) -> str:
    """Three significant digits (``0.0234``, ``1.00``, ``17.3``); large values as integers."""
    v = _val(x)
    if v is None or not math.isfinite(v):
        return fixed(v)
    text = f"{v:.0f}" if abs(v) >= 10 ** digits - 0.5 else f"{v:#.{digits}g}".rstrip(".")
    return _signed(text, v)


def pval(p: Any) -> str:
    v = _val(p)
    return DASH if v is None else "<0.001" if v < 0.001 else sig(v)


def pct(fraction: Any) -> str:
    v = _val(fraction)
    return DASH if v is None else f"{v * 100:.1f}%"


def ci_pct(low: Any, high: Any) -> str:
    lo, hi = _val(low), _val(high)
    return DASH if lo is None or hi is None else f"{lo * 100:.1f}{EN}{hi * 100:.1f}%"


def n_pct(k: Any, n: int) -> str:
    return f"{int(k)} ({100 * k / n:.1f}%)" if n else f"{int(k)}"


one = partial(fixed, decimals=1)


def short(x: Any) -> str:
    """Whole numbers without decimals, others with one (``40``, ``40.5``)."""
    v = _val(x)
    return fixed(v, 0 if v is None or not math.isfinite(v) or v.is_integer() else 1)


def _floats(values: Any) -> np.ndarray:
    arr = pd.to_numeric(pd.Series(values, dtype=object), errors="coerce").to_numpy(dtype="float64")
    return arr[np.isfinite(arr)]


def median_iqr(values: Any, fmt: Callable[[Any], str] = short) -> str:
    arr = _floats(values)
    if not arr.size:
        return DASH
    q1, med, q3 = np.quantile(arr, [0.25, 0.5, 0.75])  # R type 7, as in stats.py
    return f"{fmt(med)} [{fmt(q1)}{EN}{fmt(q3)}]"


def value_range(values: Any, fmt: Callable[[Any], str] = short) -> str:
    arr = _floats(values)
    return DASH if not arr.size else f"{fmt(arr.min())}{EN}{fmt(arr.max())}"


def median_range(values: Any, fmt: Callable[[Any], str] = short) -> str:
    arr = _floats(values)
    return DASH if not arr.size else f"{fmt(np.median(arr))} ({value_range(arr, fmt)})"


def unit_text(unit: Any) -> str:
    """Canonical units as printed: ``10^9/L`` -> ``x10 superscript 9/L``, ``cells/uL`` -> ``cells/micro-L``."""
    return str(unit or "").replace("10^9", "\u00d710\u2079").replace("uL", "\u00b5L")


def _text(x: Any) -> str:
    """Text of a value; "" for None and NaN (a missing note or group is not the word "nan")."""
    return "" if x is None or x is pd.NA or (isinstance(x, float) and math.isnan(x)) else str(x)


def _true(series: pd.Series) -> pd.Series:
    return series.astype(object).where(series.notna(), False).astype(bool)


def _significant(p: Any) -> bool:
    v = _val(p)
    return v is not None and v < 0.05


class _Visits(dict):
    """visit code -> label from reference.visit_windows; unknown codes prettified."""

    def __missing__(self, visit: str) -> str:
        text = str(visit).replace("_", " ").strip()
        return text[:1].upper() + text[1:]


# --------------------------------------------------------------------------- sections (pure)
def baseline_table(patients: pd.DataFrame, drug: str = "index drug") -> list[dict[str, Any]]:
    """Table 1 rows (label, value, indent) for the analysis set (patients with a day 0)."""
    p = patients[_true(patients["has_index_drug_start"])] if "has_index_drug_start" in patients else patients
    n, rows = len(p), []

    def add(label: str, value: str, indent: bool = False) -> None:
        rows.append({"label": label, "value": value, "indent": indent})

    def counts(label: str, column: str, names: Mapping[str, str] | None = None) -> None:
        add(label, "")
        for level, k in p[column].fillna("missing").astype(str).value_counts().items():
            add((names or {}).get(level, level), n_pct(k, n), indent=True)

    plt = "Baseline platelets, \u00d710\u2079/L"
    add("Patients, n", str(n))
    add(f"Age at first {drug} dose, years, median [IQR]", median_iqr(p["age_at_index"]))
    counts("Sex, n (%)", "sex", {"F": "Female", "M": "Male"})
    counts("Diagnosis, n (%)", "ctd_diagnosis")
    add("Disease duration, years, median [IQR]", median_iqr(p["ctd_duration_years"], one))
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
    responders = summary[_true(summary["is_responder_by_primary_endpoint"])]
    days = _floats(responders["days_to_first_response"])
    sub_rows = [{"subgroup": _text(getattr(r, "subgroup_label", "")), "visit": visits[r.visit],
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
        "n_patients": n, "responders_by_endpoint": n_pct(len(responders), n),
        "time_to_response": f"{median_range(days)} days (n = {days.size})" if days.size else "no responders",
        "lost": f"{int(_true(summary['lost_response']).sum())} of {len(responders)} responders",
        "regained": int(_true(summary["regained_response"]).sum()) if "regained_response" in summary else 0,
        "bleeding": bleeding_evidence_counts(visit_responses) if visit_responses is not None else None,
        "subgroups": sub_rows, "friedman": fried_rows,
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
        "cutoff": "; ".join(f"{_date_text(r.data_cutoff_date)} ({r.data_cutoff_source})" for r in cutoff.itertuples()) or DASH,
        # STROBE 14c: day 0 to the last contact, at most the cut-off (fct_patient_follow_up.follow_up_days)
        "follow_up": (f"{median_iqr(_floats(follow_up['follow_up_days']) / MONTH_DAYS, one)} months"
                      if "follow_up_days" in follow_up and follow_up["follow_up_days"].notna().any() else DASH),
        "follow_up_total": (DASH if "follow_up_days" not in follow_up or patient_months(follow_up["follow_up_days"]) is None
                            else f"{patient_months(follow_up['follow_up_days']):.1f}"),
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


def lab_tables(paired: pd.DataFrame, analytes: pd.DataFrame, visits: Mapping[str, str],
               report_panels: Sequence[Mapping[str, Any]] = ()) -> dict[str, dict]:
    """Paired-test rows per analyte for each lab section of the study (var report_panels: a
    section id and the analyte panels it holds) and the other-lab table, each with lettered
    footnotes (the tests' notes). Decimals per analyte from reference.analytes."""
    meta = analytes.set_index("analyte")
    order = {a: i for i, a in enumerate(analytes["analyte"])}
    PANELS = {str(p["section"]): tuple(p.get("panels") or ()) for p in report_panels}
    out: dict[str, dict] = {k: {"groups": [], "notes": {}} for k in (*PANELS, "other-labs")}
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


MONTH_DAYS = 30.4375  # days per month (365.25 / 12): patient-months = days / MONTH_DAYS


def patient_months(days: pd.Series) -> float | None:
    """Total patient-months of a day count column; None when any value is missing (an exposure
    with no end and no data cut-off): a rate over a partial total would be too high."""
    values = _floats(days)
    return None if values.size == 0 or np.isnan(values).any() else float(values.sum()) / MONTH_DAYS


def safety_section(events: pd.DataFrame, n_patients: int, exposure_months: float | None = None) -> dict[str, Any]:
    """Adverse events; the exposure-adjusted rate counts treatment-emergent events per 100
    patient-months of index-drug exposure (fct_drug_exposure.exposure_days, closed at the cut-off)."""
    ev = events.assign(grade=pd.to_numeric(events["ctcae_grade"], errors="coerce"))
    rows = [{"term": term, "grade": short(grade), "events": len(g),
             "patients": n_pct(g["patient_id"].nunique(), n_patients)}
            for (term, grade), g in ev.groupby(["term", "grade"], dropna=False, sort=True)]

    def tally(mask: pd.Series) -> str:
        k = int(mask.sum())
        return "none" if k == 0 else f"{k} event(s) in {ev.loc[mask, 'patient_id'].nunique()} patient(s)"

    return {"rows": rows, "any": tally(pd.Series(True, index=ev.index)), "grade3": tally(ev["grade"] >= 3),
            "serious": tally(_true(ev["is_serious"])), "related": tally(_true(ev["is_related_to_study_drug"])),
            "emergent": tally(_true(ev["is_treatment_emergent"])),
            "exposure_months": DASH if exposure_months is None else f"{exposure_months:.1f}",
            "rate": (DASH if not exposure_months else
                     f"{100 * int(_true(ev['is_treatment_emergent']).sum()) / exposure_months:.1f}")}


def on_treatment_troughs(troughs: pd.DataFrame) -> pd.DataFrame:
    """The trough levels drawn during an index-drug period (fct_trough_levels.is_on_treatment):
    the rows both the exposure card and the trough figure count."""
    return troughs[_true(troughs["is_on_treatment"])]


def exposure_section(exposure: pd.DataFrame, visit_rows: pd.DataFrame, troughs: pd.DataFrame,
                     target: tuple[float, float] | None, visits: Mapping[str, str], index_drug: str,
                     trough_unit: str = "") -> dict[str, Any]:
    drug = exposure["drug"].astype(str).str.lower()
    siro = exposure[drug == index_drug.lower()].sort_values(["patient_id", "start_study_day"])
    n = siro["patient_id"].nunique()
    start = siro.groupby("patient_id")["daily_dose_mg"].first().value_counts().sort_index()
    previous = siro.groupby("patient_id")["daily_dose_mg"].shift()
    changed = siro[previous.notna() & (siro["daily_dose_mg"] != previous)]
    steps = Counter(zip(previous[changed.index], changed["daily_dose_mg"]))
    per_visit = []
    post = visit_rows[visit_rows["visit"] != "baseline"].sort_values("visit_order")
    for visit, g in post.groupby("visit", sort=False):
        dose, trough = _floats(g["index_drug_daily_dose_mg"]), _floats(g["index_drug_trough"])
        in_target = g["is_index_drug_trough_in_target"].dropna().astype(bool)  # decided in fct_visits
        per_visit.append({"visit": visits[visit], "n_dose": dose.size, "dose": median_range(dose),
                          "doses": [f"{short(k)}\u00a0mg\u00a0\u00d7\u00a0{v}" for k, v in sorted(Counter(dose).items())],
                          "trough": median_iqr(trough, one), "n_trough": trough.size,
                          "in_target": n_pct(int(in_target.sum()), in_target.size)})
    treated = on_treatment_troughs(troughs)
    k, m = int(_true(treated["is_in_target"]).sum()), len(treated)
    others = exposure[drug != index_drug.lower()]
    return {"n": n, "start": [f"{short(d)} mg/day: {c} patient(s)" for d, c in start.items()],
            "changed": f"{changed['patient_id'].nunique()} of {n}",
            "changes": [f"{short(a)} \u2192 {short(b)} mg/day ({c}\u00d7)" for (a, b), c in sorted(steps.items())],
            "per_visit": per_visit, "troughs": f"{n_pct(k, m)} of {m} trough levels" if m else "no trough levels",
            "target": f"{short(target[0])}{EN}{short(target[1])} {trough_unit}".strip() if target else "no target range",
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


# --------------------------------------------------------------------------- figures (pure)
def build_figures(frames: Mapping[str, pd.DataFrame], study: Study,
                  visits: Mapping[str, str], trough_unit: str = "") -> dict[str, dict[str, Any]]:
    summary = frames["marts.fct_patient_response_summary"]
    endpoint = summary.set_index("patient_id")["primary_endpoint_response"]
    labs, rates = frames[LAB_VALUES], frames["marts.rpt_response_rates"]
    plt = labs[(labs["analyte"] == study.response_analyte) & labs["patient_id"].isin(endpoint.index)]
    plt = plt.rename(columns={"value": "platelet_count"}).assign(response_group=lambda d: d["patient_id"].map(endpoint))
    post = list(study.post_baseline_visits)
    at = study.primary_endpoint_visit
    changes, names = frames["marts.fct_lab_changes"], frames["reference.analytes"].set_index("analyte")
    panels, units = {}, {}
    for code in (c for c in study.paired_figure_analytes if c in names.index):
        label = re.sub(r"\s*\(.*\)$", "", str(names.at[code, "analyte_name"]))  # "B cells (CD19+)" -> "B cells"
        panels[label] = changes[(changes["analyte"] == code) & (changes["visit"] == at)]
        units[label] = unit_text(names.at[code, "unit"])
    troughs = on_treatment_troughs(frames["marts.fct_trough_levels"])
    ci = frames["analysis.response_rate_ci"].merge(rates[["visit", "visit_order"]], on="visit").sort_values("visit_order")
    endpoint_label = visits[at]
    made = {  # in page order, which numbers them
        "rates": figures.response_rate_bars(ci, "fig-rates"),
        "heatmap": figures.response_heatmap(frames["marts.fct_platelet_response"], "fig-heatmap", visits=post),
        "trajectories": figures.platelet_trajectories(plt, "fig-trajectories",
                                                      thresholds=tuple(sorted({study.pr_threshold, study.cr_threshold})),
                                                      endpoint_label=endpoint_label),
        "waterfall": figures.waterfall(summary.rename(columns={"primary_endpoint_response": "response_group"}),
                                       "fig-waterfall", endpoint_label=endpoint_label, pr_fold=study.pr_fold,
                                       pr_threshold=study.pr_threshold),
        "paired": figures.paired_panel(panels, "fig-paired", units, followup_label=endpoint_label),
        "troughs": figures.dose_trough_plot(troughs, "fig-troughs", target=study.trough_target, drug=study.index_drug,
                                            unit=trough_unit),
    }
    # Inline SVG in HTML needs no namespace declaration: the file then holds no URL at all.
    return {name: {"svg": fig.svg.replace(' xmlns="http://www.w3.org/2000/svg"', "", 1), "alt": fig.alt,
                   "caption": fig.caption, "number": number}
            for number, (name, fig) in enumerate(made.items(), start=1)}


def build_context(frames: Mapping[str, pd.DataFrame], info: RunInfo) -> dict[str, Any]:
    """The template context from data frames keyed "schema.table" and the run info. Pure."""
    frames = {name: plain_frame(frame) for name, frame in frames.items()}  # pd.NA -> NaN / None
    patients, windows = frames["marts.dim_patients"], frames["marts.dim_visit_schedule"]
    study = Study.from_frames(frames["marts.dim_study"], windows)
    visits = _Visits((str(r.visit), str(r.visit_label)) for r in windows.itertuples())
    analytes = frames["reference.analytes"].set_index("analyte", drop=False)
    trough_unit = (unit_text(analytes.at[study.trough_analyte, "unit"])
                   if study.trough_analyte and study.trough_analyte in analytes.index else "")
    ci, rates, paired = (frames[t] for t in ("analysis.response_rate_ci", "marts.rpt_response_rates",
                                             "analysis.paired_tests"))
    cohort = "; ".join(sorted(set(patients["cohort"].dropna().astype(str)))) or "unknown"
    n_set = int(_true(patients["has_index_drug_start"]).sum())
    stamp = ci.iloc[0] if len(ci) else pd.Series(dtype=object)
    generated = info.generated_at.strftime("%Y-%m-%d %H:%M:%S UTC")
    fingerprint = info.data_fingerprint or str(stamp.get("data_fingerprint", "unknown"))
    provenance = [
        ("Study", f"{study.title} ({study.short_name})"),
        ("Cohort source", cohort), (f"Patients (with a first {study.index_drug} dose)", f"{len(patients)} ({n_set})"),
        ("Data cut-off", f"{study.data_cutoff_date or 'none'} ({study.data_cutoff_source or 'unknown'})"),
        ("Data fingerprint (marts)", fingerprint), ("Warehouse built", info.build_time),
        ("Warehouse file", info.db_path or "unknown"),
        ("Statistics run", f"{stamp.get('run_id', 'unknown')} at {stamp.get('computed_at', 'unknown')}"),
        ("Report generated", generated), ("Git revision", info.git_revision),
        ("Software", ", ".join(f"{k} {v}" for k, v in info.versions.items()) or "unknown"),
    ]
    return {
        "title": f"{study.title} ({study.short_name})",
        "study": {"drug": study.index_drug, "drug_title": study.drug_label, "population": study.population,
                  "endpoint": visits[study.primary_endpoint_visit], "short_name": study.short_name,
                  "subgroups": ", ".join(str(g.get("label") or g["name"]) for g in study.subgroups) or "none"},
        "cohort": cohort, "synthetic": "SYNTHETIC" in cohort.upper(),
        "sections": report_sections(study),
        "lab_sections": [{"id": str(p["section"]), "caption": str(p.get("caption") or p.get("title") or p["section"])}
                         for p in study.report_panels],
        "provenance": provenance, "generated": generated, "fingerprint": fingerprint,
        "table1": baseline_table(patients, study.index_drug), "n_analysis": n_set,
        "response": response_section(rates, ci, frames["marts.fct_patient_response_summary"],
                                     frames["analysis.subgroup_response"], frames["analysis.friedman_tests"], visits,
                                     frames["marts.fct_platelet_response"]),
        "outcomes": outcomes_section(frames["analysis.time_to_event_km"], frames["analysis.time_to_event_km_timepoints"],
                                     frames["analysis.time_in_response"], frames["analysis.steroid_sparing"],
                                     frames["marts.fct_patient_follow_up"], visits),
        "km_methods": sorted(set(frames["analysis.time_to_event_km"]["ci_method"].dropna().astype(str))),
        "labs": lab_tables(paired, frames["reference.analytes"], visits, study.report_panels),
        "safety": safety_section(frames["marts.fct_adverse_events"], n_set, patient_months(
            frames["marts.fct_drug_exposure"].loc[lambda e: e["drug"].astype(str).str.lower() == study.index_drug.lower(),
                                                  "exposure_days"])),
        "exposure": exposure_section(frames["marts.fct_drug_exposure"], frames["marts.fct_visits"],
                                     frames["marts.fct_trough_levels"], study.trough_target, visits, study.index_drug,
                                     trough_unit),
        "quality": quality_section(frames["quarantine.quarantined_rows"], info.run_results, info.validation,
                                   frames["quarantine.quarantined_fields"]),
        "methods": methods_section(windows, paired, frames["analysis.friedman_tests"],
                                   frames["analysis.subgroup_response"], visits),
        "ci_methods": sorted(set(ci["ci_method"].dropna().astype(str))),
        "figures": build_figures(frames, study, visits, trough_unit),
    }


def render(context: Mapping[str, Any]) -> str:
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=True, undefined=StrictUndefined,
                      trim_blocks=True, lstrip_blocks=True)
    return env.get_template("report.html.j2").render(**context)


# --------------------------------------------------------------------------- I/O
def load_warehouse(settings: Settings, reader: Reader | None = None) -> tuple[dict[str, pd.DataFrame], str]:
    """Every table the report needs and the current marts fingerprint, through a Reader (default:
    the engine CTD_RTP_ENGINE names; DuckDB reads everything through one read-only connection)."""
    frames: dict[str, pd.DataFrame] = {}
    with (reader or reader_from_env(settings=settings)).snapshot() as current:
        for name in (*VALIDATED_TABLES, *REFERENCE_TABLES, LAB_VALUES):
            schema, table = name.split(".")
            columns, where = QUERIES.get(name, (None, None))
            if where and "{response_analyte}" in where:  # the study in force, read before (REFERENCE_TABLES)
                analyte = str(frames["marts.dim_study"]["response_analyte"].iloc[0]).replace("'", "''")
                where = where.format(response_analyte=f"'{analyte}'")
            try:
                frame = current.read_mart(table, schema, columns=columns, where=where,
                                          categorical=name in QUERIES, order_by=ROW_ORDER.get(name))
            except (WarehouseMissing, duckdb.CatalogException) as exc:
                step = "stats" if schema == "analysis" else "build"
                raise WarehouseMissing(f"table {name} does not exist: run `ctd-rtp {step}` first") from exc
            frames[name] = frame
        fingerprint = marts_fingerprint(current)
    return frames, fingerprint


def _git_revision(project_dir: Path) -> str:
    try:
        proc = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=project_dir, capture_output=True,
                              text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return proc.stdout.strip() if proc.returncode == 0 and proc.stdout.strip() else "unknown"


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def _run_results(settings: Settings) -> dict[str, Any] | None:
    target = Path(os.environ.get("DBT_TARGET_PATH") or "target")
    path = (target if target.is_absolute() else settings.project_dir / target) / "run_results.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def collect_run_info(settings: Settings, now: datetime, fingerprint: str,
                     validation: ValidationSummary | None, reader: Reader | None = None) -> RunInfo:
    run_results = _run_results(settings)
    # DuckDB: the file; Spark: the folder of the marts' Parquet tables
    built = Path(reader.spark_dir) / "warehouse" / "marts.db" if isinstance(reader, SparkReader) else settings.db_path
    location = reader.location if reader is not None else str(settings.db_path)
    mtime = (datetime.fromtimestamp(built.stat().st_mtime, timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
             if built.exists() else "unknown")
    generated = (run_results or {}).get("metadata", {}).get("generated_at")
    build = f"{generated} (dbt run_results.json); file modified {mtime}" if generated else f"{mtime} (file modified)"
    versions = {n: _version(n) for n in (SPARK_PACKAGES if isinstance(reader, SparkReader) else PACKAGES)}
    return RunInfo(generated_at=now, data_fingerprint=fingerprint, build_time=build,
                   git_revision=_git_revision(settings.project_dir), versions=versions,
                   run_results=run_results, validation=validation, db_path=location)


def _write_atomically(path: Path, text: str) -> None:
    """Temp file in the same folder, then os.replace: readers see the old or the new file."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextmanager
def _step(log: Callable[[str], None], name: str) -> Iterator[list[str]]:
    """One log line per step with its duration (and a detail the step appends)."""
    started, detail = time.perf_counter(), []
    try:
        yield detail
    except BaseException:
        log(f"report: {name} FAILED after {time.perf_counter() - started:.2f}s")
        raise
    log(f"report: {name}{': ' + detail[0] if detail else ''} ({time.perf_counter() - started:.2f}s)")


def generate_report(settings: Settings, out_dir: Path, log: Callable[[str], None] = print,
                    now: datetime | None = None, reader: Reader | None = None) -> ReportResult:
    """Read, validate, build, render and write the report. On ValidationFailed nothing is written
    and earlier reports stay as they were. The reader defaults to the engine CTD_RTP_ENGINE names."""
    now = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
    out_dir = Path(out_dir)
    reader = reader or reader_from_env(settings=settings)
    with _step(log, "read tables") as note:
        preload_validation()  # GX's import overlaps the reads
        frames, fingerprint = load_warehouse(settings, reader)
        note.append(f"{len(frames)} tables from {reader.location}")
    with _step(log, "validate") as note:
        summary = validate(frames, fingerprint)
        note.append(f"{summary.n_passed}/{summary.n_expectations} expectations passed in {summary.n_suites} suites")
    with _step(log, "build context") as note:
        context = build_context(frames, collect_run_info(settings, now, fingerprint, summary, reader))
        note.append(f"{len(context['figures'])} figures")
    with _step(log, "render") as note:
        html = render(context)
        note.append(f"{len(html) / 1024:.0f} KiB")
    with _step(log, "write") as note:
        out_dir.mkdir(parents=True, exist_ok=True)
        dated = out_dir / f"ctd_rtp_report_{now.strftime('%Y%m%dT%H%M%SZ')}.html"
        latest = out_dir / "ctd_rtp_report_latest.html"
        _write_atomically(dated, html)
        _write_atomically(latest, html)
        note.append(f"{dated.name} and {latest.name}")
    return ReportResult(dated_path=dated, latest_path=latest, validation=summary)
