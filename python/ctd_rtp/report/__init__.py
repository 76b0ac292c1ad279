"""The self-contained HTML study report: read, validate, build the context, render, write.

One module per job:

- :mod:`.loading`: the warehouse tables the report reads, and the provenance around them (I/O);
- :mod:`.formatting`: numbers as printed (``median [IQR]``, ``n (%)``, p values);
- :mod:`.sections`: each section's rows from data frames (pure);
- :mod:`.context`: the whole template context, figures included (pure);
- :mod:`.rendering`: the Jinja template, atomic writes, and :func:`generate_report`.

Every number comes from the warehouse at run time. The template autoescapes everything; only
the SVG made by :mod:`ctd_rtp.figures` (escaped internally) is marked safe.
"""

from __future__ import annotations

from .context import (
    LAB_VALUES,
    RESULT_INPUTS,
    RESULTS,
    SECTIONS,
    RunInfo,
    build_context,
    build_figures,
    build_results,
    report_sections,
)
from .formatting import (
    DASH,
    EN,
    INF,
    MINUS,
    _floats,
    _significant,
    _text,
    _true,
    _val,
    _Visits,
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
from .loading import PACKAGES, QUERIES, ROW_ORDER, SPARK_PACKAGES, collect_run_info, load_warehouse
from .rendering import TEMPLATES, ReportResult, generate_report, render
from .sections import (
    KM_PARAMETERS,
    ODDS_RATIO_CI_TEXT,
    RESPONSES,
    _date_text,
    _odds_ratio_methods,
    baseline_table,
    bleeding_evidence_counts,
    exposure_section,
    km_median,
    lab_tables,
    methods_section,
    on_treatment_troughs,
    outcomes_section,
    quality_section,
    response_section,
    safety_section,
)

__all__ = [
    "DASH",
    "EN",
    "INF",
    "MINUS",
    "KM_PARAMETERS",
    "LAB_VALUES",
    "ODDS_RATIO_CI_TEXT",
    "PACKAGES",
    "RESULT_INPUTS",
    "RESULTS",
    "QUERIES",
    "RESPONSES",
    "ROW_ORDER",
    "SECTIONS",
    "SPARK_PACKAGES",
    "TEMPLATES",
    "ReportResult",
    "RunInfo",
    "baseline_table",
    "bleeding_evidence_counts",
    "build_context",
    "build_figures",
    "ci_pct",
    "collect_run_info",
    "exposure_section",
    "fixed",
    "generate_report",
    "km_median",
    "lab_tables",
    "load_warehouse",
    "median_iqr",
    "median_range",
    "methods_section",
    "n_pct",
    "on_treatment_troughs",
    "one",
    "outcomes_section",
    "pct",
    "pval",
    "quality_section",
    "render",
    "response_section",
    "report_sections",
    "build_results",
    "safety_section",
    "short",
    "sig",
    "unit_text",
    "value_range",
    "_date_text",
    "_floats",
    "_odds_ratio_methods",
    "_significant",
    "_text",
    "_true",
    "_val",
    "_Visits",
]
