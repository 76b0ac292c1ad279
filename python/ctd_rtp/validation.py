"""Great Expectations checks on the marts and analysis tables before a report is rendered.

GX's SQL datasource does not speak DuckDB, so the report reads the tables into pandas and
this module validates the data frames in an ephemeral (in-memory) GX context: one suite per
table. Expected row counts come from the data themselves (patients with a day 0 x visits in
marts.dim_visit_schedule), and every analysis table must carry the data fingerprint of the
marts it was computed from, so statistics that predate the last build fail as "stale".

Any failed expectation raises :class:`ValidationFailed`, whose message names the table, the
expectation and example failing values; the report then writes nothing.
"""

from __future__ import annotations

import logging
import os
import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .forked import Forked
from .stats import ODDS_RATIO_METHODS, RESPONSE_CODES

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

#: Every table the report validates, as "schema.table" (also the keys of the frames mapping).
VALIDATED_TABLES: tuple[str, ...] = (
    "marts.dim_patients",
    "marts.fct_visits",
    "marts.fct_platelet_response",
    "marts.fct_patient_response_summary",
    "marts.rpt_response_rates",
    "marts.fct_lab_changes",
    "marts.fct_adverse_events",
    "marts.fct_drug_exposure",
    "marts.fct_trough_levels",
    "marts.fct_platelet_count_response",
    "marts.fct_time_to_event",
    "marts.fct_patient_follow_up",
    "marts.fct_concomitant_drugs",
    "marts.rpt_patient_flow",
    "marts.rpt_missing_data",
    "marts.rpt_adverse_events_by_term",
    "quarantine.quarantined_rows",
    "quarantine.quarantined_fields",
    "analysis.paired_tests",
    "analysis.response_rate_ci",
    "analysis.friedman_tests",
    "analysis.subgroup_response",
    "analysis.time_to_event_km",
    "analysis.time_to_event_km_timepoints",
    "analysis.time_to_event_km_curve",
    "analysis.time_in_response",
    "analysis.steroid_sparing",
    "analysis.report_results",
)
TTE_PARAMETERS = ["TTRESP", "TTCR", "DOR"]
#: Tables the suites need for reference values (not validated themselves).
REFERENCE_TABLES: tuple[str, ...] = ("reference.analytes", "marts.dim_visit_schedule", "marts.dim_study")
ANALYSIS_TABLES = tuple(t for t in VALIDATED_TABLES if t.startswith("analysis."))
RESPONSES = list(RESPONSE_CODES)  # one list of response codes (ctd_rtp.stats)
STALE_HINT = "statistics are stale: run `ctd-rtp stats`"


class ValidationFailed(RuntimeError):
    """At least one expectation failed; the message lists table, expectation and examples."""


@dataclass(frozen=True)
class ValidationSummary:
    n_suites: int
    n_expectations: int
    n_passed: int
    seconds: float = 0.0

    @property
    def success(self) -> bool:
        return self.n_passed == self.n_expectations


# --------------------------------------------------------------------------- suites
def _expected_fingerprint(frames: Mapping[str, pd.DataFrame], fingerprint: str | None) -> str:
    """The data fingerprint every analysis table must carry: the one given, or else the first one
    of analysis.response_rate_ci (all analysis tables must agree with it; "" when it has none)."""
    if fingerprint is not None:
        return fingerprint
    fps = frames["analysis.response_rate_ci"]["data_fingerprint"].dropna()
    return str(fps.iloc[0]) if len(fps) else ""


def _suites(frames: Mapping[str, pd.DataFrame], fingerprint: str | None) -> dict[str, list[Any]]:
    """Expectations per table; counts derived from dim_patients and marts.dim_visit_schedule,
    ranges from the study in force (marts.dim_study) and the analytes seed."""
    import great_expectations.expectations as gxe

    patients = frames["marts.dim_patients"]
    windows = frames["marts.dim_visit_schedule"]
    n_day0 = int(patients["has_index_drug_start"].eq(True).sum())
    windows = windows.sort_values("visit_order")
    visits = [str(v) for v in windows["visit"]]
    post = [str(v) for v in windows.loc[~windows["is_baseline"].eq(True), "visit"]]
    analytes = [str(a) for a in frames["reference.analytes"]["analyte"]]
    # the response analyte's plausible range (seeds/reference/analytes.csv)
    response_analyte = str(frames["marts.dim_study"]["response_analyte"].iloc[0])
    ranges = frames["reference.analytes"].set_index("analyte")
    plt = float(ranges.at[response_analyte, "plausible_high"]) if response_analyte in ranges.index else None
    fingerprint = _expected_fingerprint(frames, fingerprint)

    def not_null(*cols: str) -> list[Any]:
        return [gxe.ExpectColumnValuesToNotBeNull(column=c) for c in cols]

    def unique(*cols: str) -> list[Any]:
        if len(cols) == 1:
            return [*not_null(*cols), gxe.ExpectColumnValuesToBeUnique(column=cols[0])]
        return [*not_null(*cols), gxe.ExpectCompoundColumnsToBeUnique(column_list=list(cols))]

    def between(col: str, lo: float | None, hi: float | None, **kw: Any) -> Any:
        return gxe.ExpectColumnValuesToBeBetween(column=col, min_value=lo, max_value=hi, **kw)

    def in_set(col: str, values: list[Any]) -> Any:
        return gxe.ExpectColumnValuesToBeInSet(column=col, value_set=values)

    def a_ge_b(a: str, b: str) -> Any:
        return gxe.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A=a, column_B=b, or_equal=True, ignore_row_if="either_value_is_missing"
        )

    def rows(n: int, why: str) -> Any:
        return gxe.ExpectTableRowCountToEqual(value=n, meta={"hint": why})

    def probabilities(*cols: str) -> list[Any]:
        return [between(c, 0, 1) for c in cols]

    def stamped() -> list[Any]:
        return [
            *not_null("run_id", "computed_at", "cohort"),
            gxe.ExpectColumnValuesToBeInSet(
                column="data_fingerprint", value_set=[fingerprint], meta={"hint": STALE_HINT}
            ),
            *not_null("data_fingerprint"),
        ]

    return {
        "marts.dim_patients": [
            *unique("patient_id"),
            *not_null("cohort", "has_index_drug_start"),
            in_set("sex", ["F", "M"]),
            *not_null("ctd_diagnosis"),
            between("age_at_index", 0, 120),
            between("baseline_platelet_count", 0, plt),
            between("prior_therapy_lines", 0, None),
            gxe.ExpectTableRowCountToBeBetween(min_value=1),
        ],
        "marts.fct_visits": [
            *unique("patient_id", "visit"),
            in_set("visit", visits),
            between("platelet_count", 0, plt),
            between("baseline_platelet_count", 0, plt),
            in_set("who_bleeding_grade", [0, 1, 2, 3, 4]),
            rows(n_day0 * len(visits), f"{n_day0} patients with a day 0 x {len(visits)} visits"),
        ],
        "marts.fct_platelet_response": [
            *unique("patient_id", "visit"),
            *not_null("response"),
            in_set("response", RESPONSES),
            in_set("visit", post),
            between("platelet_count", 0, plt),
            between("baseline_platelet_count", 0, plt),
            rows(n_day0 * len(post), f"{n_day0} patients with a day 0 x {len(post)} post-baseline visits"),
        ],
        "marts.fct_patient_response_summary": [
            *unique("patient_id"),
            in_set("best_response", RESPONSES),
            in_set("primary_endpoint_response", RESPONSES),
            between("days_to_first_response", 0, None),
            between("max_platelet_count", 0, plt),
            rows(n_day0, f"{n_day0} patients with a day 0"),
        ],
        "marts.rpt_response_rates": [
            *unique("visit"),
            in_set("visit", post),
            *probabilities("orr", "orr_all_patients"),
            between("n_patients", n_day0, n_day0, meta={"hint": f"dim_patients has {n_day0} patients with a day 0"}),
            a_ge_b("n_evaluable", "n_responders"),
            *not_null("response_rule", "orr_denominator"),
            rows(len(post), f"{len(post)} post-baseline visits"),
        ],
        "marts.fct_lab_changes": [
            *unique("patient_id", "analyte", "visit"),
            *not_null("value"),
            in_set("analyte", analytes),
            in_set("visit", post),
        ],
        "marts.fct_adverse_events": [
            *unique("ae_id"),
            *not_null("patient_id"),
            in_set("ctcae_grade", [1, 2, 3, 4, 5]),
        ],
        "marts.fct_drug_exposure": [
            *unique("exposure_id"),
            *not_null("patient_id", "drug"),
            between("daily_dose_mg", 0, None, strict_min=True),
            *probabilities("fraction_troughs_in_target"),
            a_ge_b("n_troughs", "n_troughs_in_target"),
        ],
        "marts.fct_trough_levels": [
            *unique("result_id"),
            *not_null("patient_id", "trough", "is_on_treatment"),
            between("trough", 0, None),
        ],
        "marts.fct_platelet_count_response": [
            *unique("result_id"),
            *not_null("patient_id", "response", "response_reason"),
            in_set("response", RESPONSES),
            between("platelet_count", 0, plt),
            between("study_day", 1, None),
        ],
        "marts.fct_time_to_event": [
            *unique("patient_id", "paramcd"),
            *not_null("start_date", "analysis_date", "days", "cnsr"),
            in_set("paramcd", TTE_PARAMETERS),
            in_set("cnsr", [0, 1]),
            between("days", 0, None),
            a_ge_b("analysis_date", "start_date"),
        ],
        "marts.fct_patient_follow_up": [
            *unique("patient_id"),
            *probabilities("share_of_time_in_response"),
            a_ge_b("days_observed", "days_in_response"),
            between("days_in_response", 0, None),
            in_set("observation_end_reason", ["data cut-off", "end of treatment", "start of rescue therapy"]),
            rows(n_day0, f"{n_day0} patients with a day 0"),
        ],
        "marts.fct_concomitant_drugs": [*unique("exposure_id"), *not_null("patient_id", "drug", "drug_class")],
        "marts.rpt_patient_flow": [
            gxe.ExpectCompoundColumnsToBeUnique(column_list=["step", "visit", "reason"]),  # visit, reason: may be null
            *not_null("step", "step_order", "step_label", "n_patients"),
            in_set(
                "step",
                [
                    "delivered",
                    "quarantined",
                    "accepted",
                    "no_index_dose",
                    "with_index_dose",
                    "evaluable",
                    "not_evaluable",
                    "analysed",
                ],
            ),
            in_set("visit", post),
            between("n_patients", 0, None),
        ],
        "marts.rpt_missing_data": [
            *unique("analyte", "visit"),
            in_set("analyte", analytes),
            in_set("visit", visits),
            between("n_expected", n_day0, n_day0, meta={"hint": f"dim_patients has {n_day0} patients with a day 0"}),
            a_ge_b("n_expected", "n_present"),
            a_ge_b("n_missing", "n_quarantined"),
            between("n_quarantined", 0, None),
        ],
        "marts.rpt_adverse_events_by_term": [
            *unique("row_type", "term"),
            *unique("term_order"),
            in_set("row_type", ["any adverse event", "preferred term"]),
            between(
                "n_analysis_set", n_day0, n_day0, meta={"hint": f"dim_patients has {n_day0} patients with a day 0"}
            ),
            between("n_patients_any_grade", 0, n_day0),
            a_ge_b("n_patients_any_grade", "n_patients_grade_3_plus"),
            a_ge_b("n_patients_grade_3_plus", "n_patients_grade_3"),
            a_ge_b("n_events", "n_patients_any_grade"),
            a_ge_b("n_events_recorded", "n_events"),
            between("patients_per_100_patient_months", 0, None),
        ],
        "quarantine.quarantined_fields": [
            *unique("source_table", "row_key", "field_name", "occurrence"),
            *not_null("rejection_reason", "field_name"),
        ],
        "quarantine.quarantined_rows": [
            *unique("source_table", "row_key", "rejection_reason", "occurrence"),
            in_set(
                "source_table", ["patients", "drug_exposures", "lab_results", "visit_assessments", "adverse_events"]
            ),
        ],
        "analysis.paired_tests": [
            *unique("analyte", "comparison"),
            between("n_pairs", 0, n_day0),
            *probabilities("p_value", "t_p_value", "wilcoxon_p_value", "shapiro_p_value", "p_value_holm", "p_value_bh"),
            a_ge_b("p_value_holm", "p_value"),
            a_ge_b("mean_difference_ci_high", "mean_difference_ci_low"),
            *stamped(),
        ],
        "analysis.response_rate_ci": [
            *unique("visit"),
            in_set("visit", post),
            *probabilities("orr", "ci_low", "ci_high"),
            a_ge_b("orr", "ci_low"),
            a_ge_b("ci_high", "orr"),
            a_ge_b("n_evaluable", "n_responders"),
            between("n_evaluable", 0, n_day0),
            rows(len(post), f"{len(post)} post-baseline visits"),
            *stamped(),
        ],
        "analysis.friedman_tests": [*unique("measure"), *probabilities("p_value", "kendalls_w"), *stamped()],
        "analysis.subgroup_response": [
            *unique("subgroup", "visit"),
            in_set("visit", post),
            *probabilities("p_value"),
            gxe.ExpectColumnValuesToBeInSet(
                column="odds_ratio_method", value_set=list(ODDS_RATIO_METHODS), meta={"hint": STALE_HINT}
            ),
            a_ge_b("odds_ratio_ci_high", "odds_ratio_ci_low"),
            *stamped(),
        ],
        "analysis.time_to_event_km": [
            *unique("paramcd"),
            in_set("paramcd", TTE_PARAMETERS),
            between("n", 0, n_day0),
            a_ge_b("n", "n_events"),
            a_ge_b("median_days", "median_ci_low"),
            a_ge_b("median_ci_high", "median_days"),
            between("median_days", 0, None),
            *stamped(),
        ],
        "analysis.time_to_event_km_timepoints": [
            *unique("paramcd", "day"),
            in_set("paramcd", TTE_PARAMETERS),
            *probabilities("survival", "survival_ci_low", "survival_ci_high", "cumulative_incidence"),
            a_ge_b("survival", "survival_ci_low"),
            a_ge_b("survival_ci_high", "survival"),
            *stamped(),
        ],
        "analysis.time_to_event_km_curve": [
            *unique("paramcd", "day"),
            in_set("paramcd", TTE_PARAMETERS),
            between("day", 0, None),
            *probabilities("survival", "survival_ci_low", "survival_ci_high"),
            a_ge_b("n_at_risk", "n_events"),
            a_ge_b("survival", "survival_ci_low"),
            a_ge_b("survival_ci_high", "survival"),
            *stamped(),
        ],
        "analysis.time_in_response": [
            *unique("population"),
            in_set("population", ["all patients", "responders"]),
            *probabilities("share_of_time_in_response", "median_share"),
            a_ge_b("total_days_observed", "total_days_in_response"),
            *stamped(),
        ],
        "analysis.report_results": [
            *unique("table_id", "row_id", "column_id"),
            *not_null("formatted", "source", "statistic", "row_order"),
            gxe.ExpectColumnValuesToMatchRegex(
                column="source", regex=r"^(marts|analysis)\.[a-z_]+(,(marts|analysis)\.[a-z_]+)*$"
            ),
            gxe.ExpectTableRowCountToBeBetween(min_value=1),
            *stamped(),
        ],
        "analysis.steroid_sparing": [
            *unique("visit"),
            in_set("visit", post),
            between("n_pairs", 0, n_day0),
            *probabilities("tapered_share", "tapered_ci_low", "tapered_ci_high", "off_share", "wilcoxon_p_value"),
            a_ge_b("n_above_taper_at_baseline", "n_tapered"),
            a_ge_b("n_tapered", "n_off_steroids"),
            *stamped(),
        ],
    }


# --------------------------------------------------------------------------- running
def _quiet() -> None:
    """No tqdm bars, analytics or chatty loggers from GX."""
    for name in ("great_expectations", "great_expectations.core", "great_expectations.data_context"):
        logging.getLogger(name).setLevel(logging.ERROR)


def _context() -> Any:
    import great_expectations as gx
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(),
        progress_bars=ProgressBarsConfig(globally=False, metric_calculations=False),
        analytics_enabled=False,
    )
    return gx.get_context(mode="ephemeral", project_config=config)


def _describe_failure(table: str, result: Any) -> str:
    config = result.expectation_config
    kwargs = {k: v for k, v in config.kwargs.items() if k != "batch_id" and v is not None}
    args = ", ".join(f"{k}={v!r}" for k, v in kwargs.items())
    detail = result.result or {}
    if "partial_unexpected_list" in detail:
        examples = detail.get("partial_unexpected_list") or []
        shown = [_py(v) for v in examples[:5]]
        found = f"{detail.get('unexpected_count', len(examples))} failing value(s), e.g. {shown!r}"
    else:
        found = f"observed {_py(detail.get('observed_value'))!r}"
    info = result.exception_info or {}
    if info.get("raised_exception"):
        found = f"error: {info.get('exception_message')}"
    hint = (config.meta or {}).get("hint")
    text = f"{table}: {config.type}({args}): {found}"
    return f"{text} [{hint}]" if hint else text


def validate(frames: Mapping[str, pd.DataFrame], expected_fingerprint: str | None = None) -> ValidationSummary:
    """Validate every table in :data:`VALIDATED_TABLES`; raise :class:`ValidationFailed` on any failure.

    ``frames`` maps "schema.table" to a data frame (it must also hold :data:`REFERENCE_TABLES`).
    ``expected_fingerprint`` is the current marts fingerprint; without it the analysis tables
    must agree with each other.
    """
    started = time.perf_counter()
    missing = [t for t in (*VALIDATED_TABLES, *REFERENCE_TABLES) if t not in frames]
    if missing:
        raise ValidationFailed(f"validation failed: table(s) not provided: {', '.join(missing)}")
    _quiet()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import great_expectations as gx
        from great_expectations.execution_engine import pandas_execution_engine

        # GX fingerprints every pandas batch it is given (an md5 over pandas' hash of every row,
        # kept as a batch marker) when the frame is under HASH_THRESHOLD bytes. Nothing reads
        # that marker: the marts are fingerprinted in DuckDB (analysis.marts_fingerprint). At
        # 100,000 patients the hashing took 3 of the 6.5 s of validation, so it is switched off.
        pandas_execution_engine.HASH_THRESHOLD = 0

        frames = {name: plain_frame(frame) for name, frame in frames.items()}
        suites = _suites(frames, expected_fingerprint)
        context = _context()
        source = context.data_sources.add_pandas("warehouse")
        failures: list[str] = []
        n_expectations = n_passed = 0
        for table, expectations in suites.items():
            suite = gx.ExpectationSuite(name=table)
            for expectation in expectations:
                suite.add_expectation(expectation)
            batch = (
                source.add_dataframe_asset(table)
                .add_batch_definition_whole_dataframe("all")
                .get_batch(batch_parameters={"dataframe": frames[table]})
            )
            # Pass or fail first (BOOLEAN_ONLY: GX computes no unexpected-value lists or counts
            # for the messages, a third less time at 100,000 patients); a suite with a failure
            # runs again in full (SUMMARY) for the messages' counts and examples.
            outcome = batch.validate(suite, result_format="BOOLEAN_ONLY")
            n_expectations += len(outcome.results)
            n_passed += sum(1 for result in outcome.results if result.success)
            if not outcome.success:
                detailed = batch.validate(suite, result_format="SUMMARY").results
                failed = [r for r in detailed if not r.success] or [r for r in outcome.results if not r.success]
                failures.extend(_describe_failure(table, result) for result in failed)
    if failures:
        stale = any(STALE_HINT in f for f in failures)
        head = f"validation failed: {len(failures)} of {n_expectations} expectations failed"
        head += f" ({STALE_HINT})" if stale else ""
        raise ValidationFailed(head + "\n  - " + "\n  - ".join(failures))
    return ValidationSummary(len(suites), n_expectations, n_passed, time.perf_counter() - started)


def validate_in_background(
    frames: Mapping[str, pd.DataFrame], expected_fingerprint: str | None = None
) -> Forked[ValidationSummary]:
    """:func:`validate` in a forked child process (:mod:`ctd_rtp.forked`), so that it runs on the
    other core while the report builds its figures; ``.result()`` returns its summary or raises
    its :class:`ValidationFailed`. The child imports GX itself (about 2 s of CPU) and validates
    the frames as they were when it started."""
    return Forked("gx-validate", validate, frames, expected_fingerprint)


def _py(value: Any) -> Any:
    """numpy scalars (and tuples of them) as plain Python values, for readable messages."""
    if isinstance(value, (tuple, list)):
        return type(value)(_py(v) for v in value)
    return value.item() if hasattr(value, "item") and not isinstance(value, (str, bytes)) else value


def _plain(dtype: Any) -> bool:
    """Already NaN-based: numpy dtypes, categoricals and pandas' default text dtype ("str",
    missing = NaN), which is kept as is: as object columns, millions of strings are several
    times slower to hash, compare and check for nulls (GX does all three)."""
    return (
        not isinstance(dtype, pd.api.extensions.ExtensionDtype)
        or isinstance(dtype, pd.CategoricalDtype)
        or (isinstance(dtype, pd.StringDtype) and dtype.na_value is np.nan)
    )


def plain_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Nullable extension dtypes (pd.NA) as plain numpy dtypes (NaN / None), which GX's pandas
    engine and the report's arithmetic expect. Returns the frame itself when nothing changes."""
    converted = {}
    for col, dtype in frame.dtypes.items():
        if not _plain(dtype):
            series = frame[col]
            if pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype):
                converted[col] = series.astype("float64")
            else:
                converted[col] = series.astype(object).where(series.notna(), None)
    return frame.assign(**converted) if converted else frame
