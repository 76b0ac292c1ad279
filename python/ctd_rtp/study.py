"""The study definition: which drug, analyte, schedule, endpoint, rule and subgroups.

It lives in one place, the dbt vars (defaults in dbt_project.yml: the demo study).
Another single-arm study is a YAML file of the vars it changes, chosen with CTD_RTP_STUDY=path
(docs/study-definition.md). Two directions:

- before a build, ``merged_vars`` folds that file under the user's ``--vars`` (the user wins),
  checked like ``--vars`` (unknown key, wrong type: exit 2 naming the file);
- after a build, ``Study.from_frames`` reads what was in force from ``marts.dim_study`` and
  ``marts.dim_visit_schedule``, so the statistics and the report always describe the build
  they read, never a file that may have changed since.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

STUDY_TABLES = ("marts.dim_study", "marts.dim_visit_schedule")


class BadStudy(ValueError):
    """The study file is missing, not YAML, or names an undeclared var (the CLI exits 2)."""


def read_study_file(path: Path, project_dir: Path) -> dict[str, Any]:
    """The vars of a study file, checked as --vars are (dbt.parse_vars)."""
    from .dbt import BadVars, parse_vars

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise BadStudy(f"CTD_RTP_STUDY={path}: cannot read the study file ({exc.strerror})") from None
    try:
        given = parse_vars(text, project_dir) if text.strip() else {}
    except BadVars as exc:
        message = str(exc).replace("--vars", "the study file")
        raise BadStudy(f"CTD_RTP_STUDY={path}: {message}") from None
    return given


def merged_vars(project_dir: Path, study_path: Path | None, user_vars: str | None) -> str | None:
    """One --vars mapping for dbt: the study file's vars, then the user's --vars over them."""
    from .dbt import parse_vars

    if study_path is None:
        return user_vars
    combined = {**read_study_file(study_path, project_dir), **parse_vars(user_vars, project_dir)}
    return json.dumps(combined, default=str) if combined else None


@dataclass(frozen=True)
class Visit:
    visit: str
    order: int
    label: str
    target_day: int
    window_start_day: int
    window_end_day: int
    is_baseline: bool


@dataclass(frozen=True)
class Study:
    """The study in force for a warehouse (one row of marts.dim_study)."""

    short_name: str
    title: str
    population: str
    index_drug: str
    response_analyte: str
    trough_analyte: str | None
    trough_target: tuple[float, float] | None
    primary_endpoint_visit: str
    comparison_visits: tuple[str, ...]
    cr_threshold: float
    pr_threshold: float
    pr_fold: float
    pr_rule: str
    response_rule: str
    is_published_rule: bool
    subgroups: tuple[dict[str, str], ...]
    report_panels: tuple[dict[str, Any], ...]
    paired_figure_analytes: tuple[str, ...] = ()
    ctcae_version: str | None = None
    visits: tuple[Visit, ...] = field(default=())
    data_cutoff_date: str | None = None
    data_cutoff_source: str | None = None

    @property
    def post_baseline_visits(self) -> tuple[str, ...]:
        return tuple(v.visit for v in self.visits if not v.is_baseline)

    @property
    def visit_labels(self) -> dict[str, str]:
        return {v.visit: v.label for v in self.visits}

    @property
    def primary_endpoint_label(self) -> str:
        return self.visit_labels.get(self.primary_endpoint_visit, self.primary_endpoint_visit)

    @property
    def drug_label(self) -> str:
        """The index drug with a capital, for headings."""
        return self.index_drug[:1].upper() + self.index_drug[1:]

    @classmethod
    def from_frames(cls, study: pd.DataFrame, schedule: pd.DataFrame) -> Study:
        if len(study) != 1:
            raise ValueError(f"marts.dim_study must hold one row, found {len(study)}")
        row = study.iloc[0]

        def text(name: str) -> str | None:
            value = row.get(name)
            return (
                None if value is None or (isinstance(value, float) and pd.isna(value)) or pd.isna(value) else str(value)
            )

        low, high = row.get("trough_target_low"), row.get("trough_target_high")
        target = None if low is None or high is None or pd.isna(low) or pd.isna(high) else (float(low), float(high))
        visits = tuple(
            Visit(
                str(r.visit),
                int(r.visit_order),
                str(r.visit_label),
                int(r.target_day),
                int(r.window_start_day),
                int(r.window_end_day),
                bool(r.is_baseline),
            )
            for r in schedule.sort_values("visit_order").itertuples(index=False)
        )
        cutoff = row.get("data_cutoff_date")
        return cls(
            short_name=str(row["study_short_name"]),
            title=str(row["study_title"]),
            population=str(row["study_population"]),
            index_drug=str(row["index_drug"]),
            response_analyte=str(row["response_analyte"]),
            trough_analyte=text("trough_analyte"),
            trough_target=target,
            primary_endpoint_visit=str(row["primary_endpoint_visit"]),
            comparison_visits=tuple(v for v in str(row["comparison_visits"]).split(",") if v),
            cr_threshold=float(row["cr_platelet_threshold"]),
            pr_threshold=float(row["pr_platelet_threshold"]),
            pr_fold=float(row["pr_fold_over_baseline"]),
            pr_rule=str(row["pr_rule"]),
            response_rule=str(row["response_rule"]),
            is_published_rule=bool(row["is_published_rule"]),
            subgroups=tuple(json.loads(str(row["response_subgroups_json"]) or "[]")),
            report_panels=tuple(json.loads(str(row["report_panels_json"]) or "[]")),
            paired_figure_analytes=tuple(a for a in str(row["paired_figure_analytes"] or "").split(",") if a),
            ctcae_version=text("ctcae_version"),
            visits=visits,
            data_cutoff_date=None if cutoff is None or pd.isna(cutoff) else str(pd.Timestamp(cutoff).date()),
            data_cutoff_source=text("data_cutoff_source"),
        )
