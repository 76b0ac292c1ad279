"""The template context, pure: data frames keyed "schema.table" and the run info in, every
section, table and figure the page shows out (so every number can be unit-tested on small frames)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pandas as pd

from .. import figures
from ..figures import mpl
from ..study import Study
from ..validation import ValidationSummary, plain_frame
from .formatting import _true, _Visits, unit_text
from .results import LAB_TABLES, RESULTS_TABLE, TABLE_ORDER, Results, table_titles
from .sections import (
    KM_PARAMETERS,
    LISTING_MAX_PATIENTS,
    baseline_table,
    exposure_section,
    flow_section,
    follow_up_section,
    lab_table_id,
    lab_tables,
    listing_section,
    methods_section,
    missing_data_section,
    on_treatment_troughs,
    outcomes_section,
    quality_section,
    response_section,
    safety_section,
    study_drug_exposure,
)

LAB_VALUES = "marts.fct_lab_results"
SECTIONS = {  # id -> heading, in reading order; the study's lab sections (var report_panels) go before "other-labs"
    "provenance": "Study and provenance",
    "participants": "Participants and follow-up",
    "baseline": "Baseline characteristics and missing data",
    "response": "Platelet response",
    "other-labs": "Other laboratory values",
    "safety": "Safety",
    "exposure": "{drug} exposure",
    "listing": "Patient listing",
    "quality": "Data quality",
    "methods": "Methods",
}


def report_sections(study: Study) -> dict[str, str]:
    """Section id -> heading, in reading order, with the study's lab sections and drug."""
    out: dict[str, str] = {}
    for key, text in SECTIONS.items():
        if key == "other-labs":
            out.update({str(p["section"]): str(p.get("title") or p["section"]) for p in study.report_panels})
        out[key] = text.format(drug=study.drug_label)
    return out


@dataclass(frozen=True)
class RunInfo:
    """Provenance from around the data (gathered by :func:`ctd_rtp.report.loading.collect_run_info`)."""

    generated_at: datetime
    data_fingerprint: str = ""
    build_time: str = "unknown"
    git_revision: str = "unknown"
    versions: Mapping[str, str] = field(default_factory=dict)
    run_results: Mapping[str, Any] | None = None
    run_results_source: str = "dbt run_results.json"  # where run_results came from (the report says)
    run_results_missing: str = "no run_results.json found"  # why there are none, when there are none
    validation: ValidationSummary | None = None
    db_path: str = ""


#: Figures that draw individual patients: a line, bar, tile or point per patient (the
#: Kaplan-Meier curves: a step or censor mark per patient, numbers at risk to the last one).
PATIENT_LEVEL_FIGURES = frozenset({"heatmap", "trajectories", "waterfall", "km", "swimmer", "paired", "troughs"})


def suppression_on(min_cell_count: int) -> bool:
    """Small-cell suppression for sharing: on from a threshold of 2."""
    return min_cell_count > 1


def left_out_for_sharing(frames: Mapping[str, pd.DataFrame], min_cell_count: int) -> dict[str, str]:
    """The one rule for what small-cell suppression leaves out of the page, beyond the cells
    themselves: figure name (or ``"listing"``) -> why. Every figure and the listing that show
    individual patients, and the response-rate figure when a count it labels (responders,
    evaluable at a visit) is from 1 to ``min_cell_count`` - 1."""
    if not suppression_on(min_cell_count):
        return {}
    why = {name: "it shows individual patients" for name in (*PATIENT_LEVEL_FIGURES, "listing")}
    rates = frames["marts.rpt_response_rates"]
    labelled = pd.to_numeric(pd.concat([rates["n_responders"], rates["n_evaluable"]]), errors="coerce")
    if ((labelled > 0) & (labelled < min_cell_count)).any():
        why["rates"] = f"its labels give counts below {min_cell_count}"
    return why


def build_figures(
    frames: Mapping[str, pd.DataFrame],
    study: Study,
    visits: Mapping[str, str],
    trough_unit: str = "",
    min_cell_count: int = 0,
) -> dict[str, dict[str, Any]]:
    """The figures in page order, numbered. With small-cell suppression, a figure
    :func:`left_out_for_sharing` names keeps its number and caption slot but no drawing, alt
    text or data: the caption says it is left out for sharing."""
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
        # one row a patient; by patient, as the rest of the report lists them (read unsorted: loading.ROW_ORDER)
        panel = changes[(changes["analyte"] == code) & (changes["visit"] == at)]
        panels[label] = panel.sort_values("patient_id", kind="stable", ignore_index=True)
        units[label] = unit_text(names.at[code, "unit"])
    troughs = on_treatment_troughs(frames["marts.fct_trough_levels"])
    ci = (
        frames["analysis.response_rate_ci"]
        .merge(rates[["visit", "visit_order"]], on="visit")
        .sort_values("visit_order")
    )
    endpoint_label = visits[at]
    made = {  # in page order, which numbers them
        "rates": figures.response_rate_bars(ci, "fig-rates"),
        "heatmap": figures.response_heatmap(frames["marts.fct_platelet_response"], "fig-heatmap", visits=post),
        "trajectories": figures.platelet_trajectories(
            plt,
            "fig-trajectories",
            thresholds=tuple(sorted({study.pr_threshold, study.cr_threshold})),
            endpoint_label=endpoint_label,
        ),
        "waterfall": figures.waterfall(
            summary.rename(columns={"primary_endpoint_response": "response_group"}),
            "fig-waterfall",
            endpoint_label=endpoint_label,
            pr_fold=study.pr_fold,
            pr_threshold=study.pr_threshold,
        ),
        "paired": figures.paired_panel(panels, "fig-paired", units, followup_label=endpoint_label),
        "troughs": figures.dose_trough_plot(
            troughs, "fig-troughs", target=study.trough_target, drug=study.index_drug, unit=trough_unit
        ),
    }
    made["km"] = mpl.km_curves(
        frames["analysis.time_to_event_km_curve"],
        frames["analysis.time_to_event_km"],
        "fig-km",
        {c: KM_PARAMETERS[c][0] for c in ("TTRESP", "DOR")},
        at_risk_days=(0, *sorted({int(d) for d in frames["analysis.time_to_event_km_timepoints"]["day"]})),
        cumulative=("TTRESP",),
    )
    made["swimmer"] = mpl.swimmer(
        frames["marts.fct_patient_follow_up"],
        frames["marts.fct_platelet_count_response"],
        swimmer_events(frames, study.index_drug),
        "fig-swimmer",
    )
    order = ("rates", "heatmap", "trajectories", "waterfall", "km", "swimmer", "paired", "troughs")  # page order
    made = {name: made[name] for name in order}
    left_out = left_out_for_sharing(frames, min_cell_count)
    # Inline SVG in HTML needs no namespace declaration: the file then holds no URL at all.
    return {
        name: (
            {
                "svg": "",
                "alt": "",
                "caption": f"Left out for sharing (small-cell suppression): {left_out[name]}.",
                "number": number,
                "left_out": True,
            }
            if name in left_out
            else {
                "svg": fig.svg.replace(' xmlns="http://www.w3.org/2000/svg"', "", 1),
                "alt": fig.alt,
                "caption": fig.caption,
                "number": number,
                "left_out": False,
                "min_width": fig.min_width,  # px: narrower boxes scroll (the cue rule in report.css.j2)
            }
        )
        for number, (name, fig) in enumerate(made.items(), start=1)
    }


def swimmer_events(frames: Mapping[str, pd.DataFrame], index_drug: str) -> pd.DataFrame:
    """Markers of the swimmer plot (patient_id, study_day, kind): the start of rescue therapy
    (fct_patient_follow_up), each index-drug dose change (fct_drug_exposure: a period whose dose
    differs from the one before) and each adverse event of CTCAE grade >= 2 (fct_adverse_events)."""
    follow = frames["marts.fct_patient_follow_up"]
    rescue = follow[follow["first_rescue_on"].notna()]
    rescue_days = (pd.to_datetime(rescue["first_rescue_on"]) - pd.to_datetime(rescue["index_date"])).dt.days
    exposure = study_drug_exposure(frames["marts.fct_drug_exposure"], index_drug).sort_values(
        ["patient_id", "start_study_day"]
    )
    previous = exposure.groupby("patient_id")["daily_dose_mg"].shift()
    changes = exposure[previous.notna() & (exposure["daily_dose_mg"] != previous)]
    ae = frames["marts.fct_adverse_events"]
    ae = ae[pd.to_numeric(ae["ctcae_grade"], errors="coerce") >= 2]
    return pd.concat(
        [
            pd.DataFrame({"patient_id": rescue["patient_id"], "study_day": rescue_days, "kind": "rescue"}),
            pd.DataFrame(
                {"patient_id": changes["patient_id"], "study_day": changes["start_study_day"], "kind": "dose"}
            ),
            pd.DataFrame({"patient_id": ae["patient_id"], "study_day": ae["onset_study_day"], "kind": "ae"}),
        ],
        ignore_index=True,
    )


#: The tables the result sections read (``ctd-rtp stats`` reads them back to write the results table).
RESULT_INPUTS: tuple[str, ...] = (
    "marts.dim_study",
    "marts.dim_visit_schedule",
    "marts.dim_patients",
    "reference.analytes",
    "marts.rpt_response_rates",
    "marts.fct_patient_response_summary",
    "marts.fct_platelet_response",
    "marts.fct_patient_follow_up",
    "marts.fct_adverse_events",
    "marts.fct_drug_exposure",
    "marts.fct_visits",
    "marts.fct_trough_levels",
    "analysis.response_rate_ci",
    "analysis.paired_tests",
    "analysis.subgroup_response",
    "analysis.friedman_tests",
    "analysis.time_to_event_km",
    "analysis.time_to_event_km_timepoints",
    "analysis.time_in_response",
    "analysis.steroid_sparing",
    "marts.rpt_patient_flow",
    "marts.rpt_missing_data",
    "marts.rpt_adverse_events_by_term",
)
RESULTS = f"analysis.{RESULTS_TABLE}"
#: The numbered result tables the page always shows (other drugs: when there are any), in the
#: order of results.TABLE_ORDER; not the lab tables (shown when they have rows) nor the
#: data-quality and methods tables (not result tables).
RESULT_TABLES = tuple(
    t
    for t in TABLE_ORDER
    if t not in (LAB_TABLES, "labs_other", "quarantined_rows", "quarantined_fields", "visit_windows")
)


def _visit_labels(windows: pd.DataFrame) -> _Visits:
    return _Visits((str(r.visit), str(r.visit_label)) for r in windows.itertuples())


def _trough_unit(study: Study, analytes: pd.DataFrame) -> str:
    analytes = analytes.set_index("analyte", drop=False)
    return (
        unit_text(analytes.at[study.trough_analyte, "unit"])
        if study.trough_analyte and study.trough_analyte in analytes.index
        else ""
    )


def result_sections(
    frames: Mapping[str, pd.DataFrame], res: Results, listing_max_patients: int = LISTING_MAX_PATIENTS
) -> dict[str, Any]:
    """The sections whose every number is a cell of the results table (pure; frames as plain
    frames). The patient listing: for an analysis set of at most ``listing_max_patients``
    patients, and never with small-cell suppression (it lists individuals)."""
    patients, windows = frames["marts.dim_patients"], frames["marts.dim_visit_schedule"]
    study = Study.from_frames(frames["marts.dim_study"], windows)
    visits = _visit_labels(windows)
    n_set = int(_true(patients["has_index_drug_start"]).sum())
    exposure = frames["marts.fct_drug_exposure"]
    table1 = baseline_table(patients, study.index_drug, res)
    sections = {
        "table1": table1,
        "n_analysis": table1[0]["value"],
        "flow": flow_section(frames["marts.rpt_patient_flow"], visits, res),
        "missing": missing_data_section(frames["marts.rpt_missing_data"], frames["reference.analytes"], visits, res),
        "follow_up": follow_up_section(frames["marts.fct_patient_follow_up"], frames["marts.fct_visits"], visits, res),
        "response": response_section(
            frames["marts.rpt_response_rates"],
            frames["analysis.response_rate_ci"],
            frames["marts.fct_patient_response_summary"],
            frames["analysis.subgroup_response"],
            frames["analysis.friedman_tests"],
            visits,
            frames["marts.fct_platelet_response"],
            res,
        ),
        "outcomes": outcomes_section(
            frames["analysis.time_to_event_km"],
            frames["analysis.time_to_event_km_timepoints"],
            frames["analysis.time_in_response"],
            frames["analysis.steroid_sparing"],
            frames["marts.fct_patient_follow_up"],
            visits,
            res,
        ),
        "labs": lab_tables(
            frames["analysis.paired_tests"], frames["reference.analytes"], visits, study.report_panels, res
        ),
        "safety": safety_section(frames["marts.rpt_adverse_events_by_term"], n_set, res, study.ctcae_version),
        "listing": listing_section(
            patients,
            frames["marts.fct_visits"],
            frames["marts.fct_platelet_response"],
            frames["marts.fct_patient_response_summary"],
            frames["marts.fct_adverse_events"],
            visits,
            0 if "listing" in left_out_for_sharing(frames, res.min_cell_count) else listing_max_patients,
            res,
        ),
        "exposure": exposure_section(
            exposure,
            frames["marts.fct_visits"],
            frames["marts.fct_trough_levels"],
            study.trough_target,
            visits,
            study.index_drug,
            _trough_unit(study, frames["reference.analytes"]),
            res,
        ),
    }
    sections["tables"] = numbered_tables(sections, study)
    res.name_tables(sections["tables"])
    return sections


def lab_table_titles(study: Study) -> dict[str, str]:
    """The study's lab table ids (var report_panels, in page order) -> their titles."""
    return {
        lab_table_id(str(p["section"])): f"{p.get('caption') or p.get('title') or p['section']}, baseline vs follow-up"
        for p in study.report_panels
    }


def numbered_tables(
    sections: Mapping[str, Any], study: Study, quality: Mapping[str, Any] | None = None
) -> dict[str, str]:
    """table_id -> the caption of every table the page shows, numbered in page order
    (results.TABLE_ORDER): a table the data leave out (a lab panel without paired results, no
    other drugs, no quarantined rows) takes no number. ``quality``: the data-quality section,
    whose tables come after every result table (without it, they are not numbered)."""
    labs = sections["labs"]
    shown = [
        *(t for t in RESULT_TABLES if t != "other_drugs" or sections["exposure"]["concomitant"]),
        *(lab_table_id(k) for k, table in labs.items() if table["groups"]),
        *([] if quality is None else ["visit_windows"]),
        *(["quarantined_rows"] if quality and quality["quarantine"] else []),
        *(["quarantined_fields"] if quality and quality["fields"] else []),
    ]
    return table_titles(shown, lab_table_titles(study), sections_subgroups(study), study.drug_label)


def sections_subgroups(study: Study) -> str:
    """The study's response subgroups as the subgroup table's title names them."""
    return ", ".join(str(g.get("label") or g["name"]) for g in study.subgroups) or "none"


def build_results(
    frames: Mapping[str, pd.DataFrame], min_cell_count: int = 0, listing_max_patients: int = LISTING_MAX_PATIENTS
) -> pd.DataFrame:
    """The results table (one row per printed cell) from the frames of :data:`RESULT_INPUTS`,
    counts from 1 to ``min_cell_count`` - 1 suppressed. Pure."""
    res = Results(min_cell_count=min_cell_count)
    result_sections({name: plain_frame(frame) for name, frame in frames.items()}, res, listing_max_patients)
    return res.frame()


def build_context(frames: Mapping[str, pd.DataFrame], info: RunInfo) -> dict[str, Any]:
    """The template context from data frames keyed "schema.table" and the run info. Pure.

    With the results table among the frames, every result cell prints its stored text, and
    :class:`ResultsMismatch` (a validation failure) stops the report when the data would print
    anything else."""
    frames = {name: plain_frame(frame) for name, frame in frames.items()}  # pd.NA -> NaN / None
    patients, windows = frames["marts.dim_patients"], frames["marts.dim_visit_schedule"]
    study = Study.from_frames(frames["marts.dim_study"], windows)
    visits = _visit_labels(windows)
    trough_unit = _trough_unit(study, frames["reference.analytes"])
    ci, paired = frames["analysis.response_rate_ci"], frames["analysis.paired_tests"]
    res = Results(frames.get(RESULTS))
    stored = frames.get(RESULTS)
    listed = stored is None or (stored["table_id"] == "patient_listing").any()  # as `stats` decided
    results = result_sections(frames, res, len(patients) if listed else 0)
    res.check()
    quality = quality_section(
        frames["quarantine.quarantined_rows"],
        info.run_results,
        info.validation,
        frames["quarantine.quarantined_fields"],
        res,
    )
    quality["dbt_source"] = info.run_results_source
    quality["dbt_missing"] = info.run_results_missing
    results["tables"] = numbered_tables(results, study, quality)  # the result tables keep their numbers
    cohort = "; ".join(sorted(set(patients["cohort"].dropna().astype(str)))) or "unknown"
    n_set = int(_true(patients["has_index_drug_start"]).sum())
    stamp = ci.iloc[0] if len(ci) else pd.Series(dtype=object)
    generated = info.generated_at.strftime("%Y-%m-%d %H:%M:%S UTC")
    fingerprint = info.data_fingerprint or str(stamp.get("data_fingerprint", "unknown"))
    provenance = [
        ("Study", f"{study.title} ({study.short_name})"),
        ("Cohort source", cohort),
        (f"Patients (with a first {study.index_drug} dose)", f"{len(patients)} ({n_set})"),
        ("Data cut-off", f"{study.data_cutoff_date or 'none'} ({study.data_cutoff_source or 'unknown'})"),
        ("Data fingerprint (marts)", fingerprint),
        ("Warehouse built", info.build_time),
        ("Warehouse file", info.db_path or "unknown"),
        ("Statistics run", f"{stamp.get('run_id', 'unknown')} at {stamp.get('computed_at', 'unknown')}"),
        ("Report generated", generated),
        ("Git revision", info.git_revision),
        ("Software", ", ".join(f"{k} {v}" for k, v in info.versions.items()) or "unknown"),
    ]
    return {
        "title": f"{study.title} ({study.short_name})",
        "study": {
            "drug": study.index_drug,
            "drug_title": study.drug_label,
            "population": study.population,
            "endpoint": visits[study.primary_endpoint_visit],
            "short_name": study.short_name,
            "subgroups": sections_subgroups(study),
        },
        "cohort": cohort,
        "synthetic": "SYNTHETIC" in cohort.upper(),
        "sections": report_sections(study),
        "lab_sections": [
            {"id": str(p["section"]), "caption": str(p.get("caption") or p.get("title") or p["section"])}
            for p in study.report_panels
        ],
        "provenance": provenance,
        "generated": generated,
        "fingerprint": fingerprint,
        **results,
        "results_table": RESULTS,
        "sources": res.sources(),
        "suppression": {"min_cell_count": res.min_cell_count, "n": res.n_suppressed},
        "km_methods": sorted(set(frames["analysis.time_to_event_km"]["ci_method"].dropna().astype(str))),
        "quality": quality,
        "methods": methods_section(
            windows, paired, frames["analysis.friedman_tests"], frames["analysis.subgroup_response"], visits, res
        ),
        "ci_methods": sorted(set(ci["ci_method"].dropna().astype(str))),
        "figures": build_figures(frames, study, visits, trough_unit, res.min_cell_count),
    }
