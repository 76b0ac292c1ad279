"""Real lab-system exports of the hand-worked cohort, declared as data (docs/data-contract.md).

Each variant rewrites one or more files of the reference cohort the way a hospital system
exports them (decimal comma and ';', day-first dates, Latin-1, GBK, value flags, unit
spellings, Chinese test names, quoted thousands, spelled sexes and booleans, missing-value
tokens) and names what a delivery.yml must declare for it. The promise
(tests/python/test_delivery_corpus.py):

- declared: the marts equal the reference cohort's marts (cohort label, source file, load
  batch and the new lab_flag aside);
- undeclared (``partial`` declared at most): the build quarantines the rows ``undeclared``
  names with a reason naming the format, or fails naming the file;
- ``ctd-rtp check`` on the undeclared delivery prints every fragment of ``hints``.

The reference cohort is tests/python/fixtures/own_cohort with two adverse-event terms in
French, so that an encoding has something to get wrong.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from faults import (
    DEFAULT_BOOLEAN,
    DEFAULT_DATE,
    DEFAULT_NUMBER,
    BuildFails,
    Cohort,
    FieldQuarantined,
    Quarantined,
    write_csv,
)

TERMS = {"AE1": "Ulcération buccale", "AE2": "Hypertriglycéridémie"}


def reference_cohort() -> Cohort:
    cohort = Cohort.base()
    for row in cohort.tables["adverse_events"].rows:
        row["term"] = TERMS.get(row["ae_id"], row["term"])
    return cohort


@dataclass(frozen=True)
class Variant:
    name: str
    tables: tuple[str, ...]
    apply: Callable[[Cohort], None]
    declare: Mapping[str, Mapping[str, Any]]  # file name -> its delivery.yml settings
    undeclared: tuple[Quarantined | FieldQuarantined | BuildFails, ...] = ()
    hints: tuple[str, ...] = ()
    partial: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # declared in the undeclared build


def _rows(cohort: Cohort, table: str) -> list[dict[str, Any]]:
    return cohort.tables[table].rows


def _writer(cohort: Cohort, table: str, **options: Any) -> None:
    cohort.writers[table] = lambda t, p: write_csv(t, p, **options)


def _dates(cohort: Cohort, table: str, columns: Sequence[str], render: Callable[[dt.date, int], str]) -> None:
    for i, row in enumerate(_rows(cohort, table)):
        for column in columns:
            if row[column]:
                row[column] = render(dt.date.fromisoformat(row[column]), i)


def decimal_comma_semicolon(c: Cohort) -> None:
    for row in _rows(c, "lab_results"):
        row["value"] = row["value"].replace(".", ",")
    _writer(c, "lab_results", delimiter=";")


def day_first_dates(c: Cohort) -> None:
    styles = (
        lambda d: f"{d:%d/%m/%Y}",
        lambda d: f"{d:%d.%m.%Y}",
        lambda d: f"{d.day}/{d.month}/{d.year}",
        lambda d: f"{d:%d-%m-%Y} 08:30",
    )
    _dates(c, "lab_results", ["collected_on"], lambda d, i: styles[i % len(styles)](d))
    _rows(c, "lab_results")[2]["collected_on"] = "01-Apr-2023"  # A3: a spelled month reads in any order


FLAGS = {
    "A1": "25 L",
    "A2": "20 LL",
    "A4": "120 H",
    "B1": "10*",
    "B3": "35 (L)",
    "C2": "35 ↑",
    "C3": "L 50",
    "D1": "15 (L)",
}
FLAGGED = {"A1": "L", "A2": "LL", "A4": "H", "B1": "*", "B3": "L", "C2": "↑", "C3": "L", "D1": "L"}
UNITS = {
    "A1": "×10⁹/L",
    "A2": "x10^9/L",
    "A3": "10^3/μL",
    "B1": "X10^9/L",
    "B2": "/µL",
    "B3": "G/L",
    "C1": "10E9/L",
    "C2": "10*9/L",
    "C3": "10 ^ 9 / l",
    "D1": "K/uL",
    "D2": "10^3/µL",
}


def flags_and_unit_spellings(c: Cohort) -> None:
    for row in _rows(c, "lab_results"):
        rid = row["result_id"]
        row["value"] = FLAGS.get(rid, row["value"])
        row["unit"] = UNITS.get(rid, row["unit"])
    by_id = {r["result_id"]: r for r in _rows(c, "lab_results")}
    by_id["B3"]["test_code"] = "PLT#"  # PLT# with G/L
    by_id["D2"]["test_code"] = "PLT (10^3/uL)"  # the unit in the test name as well


CHINESE = {
    "PLT": "血小板计数",
    "PLT#": "血小板",
    "Platelet count": "血小板计数",
    "TREG_PCT": "调节性T细胞",
    "IL6": "白细胞介素-6",
}


def chinese_names_gbk(c: Cohort) -> None:
    for row in _rows(c, "lab_results"):
        row["test_code"] = CHINESE[row["test_code"]]
    _writer(c, "lab_results", encoding="gbk")


def quoted_thousands(c: Cohort) -> None:
    for row in _rows(c, "lab_results"):
        if row["result_id"] == "B2":
            row["value"] = "25,000"  # written "25,000": the CSV writer quotes it


def spelled_sex_day_first(c: Cohort) -> None:
    spelled = {"A": "Female", "B": "male", "C": "女", "D": "FEMALE"}
    for row in _rows(c, "patients"):
        row["sex"] = spelled[row["patient_id"]]
    _dates(c, "patients", ["ctd_diagnosed_on", "thrombocytopenia_diagnosed_on"], lambda d, i: f"{d:%d.%m.%Y}")


def latin1_german_booleans(c: Cohort) -> None:
    words = {"true": "Ja", "yes": "ja", "false": "Nein", "no": "NEIN"}
    for row in _rows(c, "adverse_events"):
        row["serious"], row["related_to_study_drug"] = words[row["serious"]], words[row["related_to_study_drug"]]
    _writer(c, "adverse_events", encoding="latin-1", newline="\r\n")


def chinese_booleans_decimal_comma(c: Cohort) -> None:
    words = {"false": "否", "no": "否", "N": "否", "0": "否", "yes": "是", "true": "是"}
    for row in _rows(c, "visit_assessments"):
        row["rescue_therapy"] = words[row["rescue_therapy"]]
        row["prednisone_equivalent_mg_day"] = row["prednisone_equivalent_mg_day"].replace(".", ",")
    _writer(c, "visit_assessments", delimiter=";")


def month_first_missing_tokens(c: Cohort) -> None:
    _dates(c, "drug_exposures", ["started_on", "ended_on"], lambda d, i: f"{d:%m/%d/%Y}")
    for row in _rows(c, "drug_exposures"):
        row["ended_on"] = row["ended_on"] or "NA"


VARIANTS: tuple[Variant, ...] = (
    Variant(
        "decimal_comma_semicolon",
        ("lab_results",),
        decimal_comma_semicolon,
        {"lab_results.csv": {"decimal_separator": ","}},
        (
            Quarantined("lab_results", "A5", f"value not numeric {DEFAULT_NUMBER}"),
            Quarantined("lab_results", "C4", f"value not numeric {DEFAULT_NUMBER}"),
        ),
        ("value not numeric", 'decimal_separator: ","'),
    ),
    Variant(
        "day_first_dates",
        ("lab_results",),
        day_first_dates,
        {"lab_results.csv": {"date_order": "dmy"}},
        (Quarantined("lab_results", "A1", f"collected_on missing or not a date {DEFAULT_DATE}"),),
        ("date order found", "dmy", "declare `date_order: dmy`"),
    ),
    Variant("flags_and_unit_spellings", ("lab_results",), flags_and_unit_spellings, {}),
    Variant(
        "chinese_names_gbk",
        ("lab_results",),
        chinese_names_gbk,
        {"lab_results.csv": {"encoding": "gbk"}},
        (BuildFails(("lab_results.csv", "not UTF-8", "declare its encoding in delivery.yml")),),
        ("lab_results.csv: not UTF-8", "declare `encoding: "),
    ),
    Variant(
        "quoted_thousands",
        ("lab_results",),
        quoted_thousands,
        {"lab_results.csv": {"thousands_separator": ","}},
        (Quarantined("lab_results", "B2", f"value not numeric {DEFAULT_NUMBER}"),),
        ("'25,000'", 'thousands_separator: ","'),
    ),
    Variant(
        "spelled_sex_day_first",
        ("patients",),
        spelled_sex_day_first,
        {"patients.csv": {"sex": {"F": ["female", "女"], "M": ["male", "男"]}, "date_order": "dmy"}},
        (Quarantined("patients", "A", "sex not F or M [delivery.yml sex: F / M]"),),
        ("'Female'", "sex: {F: ["),
    ),
    Variant(
        "latin1_german_booleans",
        ("adverse_events",),
        latin1_german_booleans,
        {"adverse_events.csv": {"encoding": "latin-1", "booleans": {"true_values": ["ja"], "false_values": ["nein"]}}},
        (Quarantined("adverse_events", "AE1", f"serious not a boolean {DEFAULT_BOOLEAN}"),),
        ("'Nein'", "booleans: {true_values: ["),
        partial={"adverse_events.csv": {"encoding": "latin-1"}},
    ),
    Variant(
        "chinese_booleans_decimal_comma",
        ("visit_assessments",),
        chinese_booleans_decimal_comma,
        {
            "visit_assessments.csv": {
                "booleans": {"true_values": ["是"], "false_values": ["否"]},
                "decimal_separator": ",",
            }
        },
        # visit-assessment fields are nulled one by one (the row goes on: quarantined_fields)
        (
            FieldQuarantined(
                "visit_assessments",
                "A@2023-04-01",
                "prednisone_equivalent_mg_day",
                f"prednisone_equivalent_mg_day not a number {DEFAULT_NUMBER}",
            ),
            FieldQuarantined(
                "visit_assessments", "A@2023-01-01", "rescue_therapy", f"rescue_therapy not a boolean {DEFAULT_BOOLEAN}"
            ),
        ),
        ("'否'", 'decimal_separator: ","'),
    ),
    Variant(
        "month_first_missing_tokens",
        ("drug_exposures",),
        month_first_missing_tokens,
        {"drug_exposures.csv": {"date_order": "mdy", "missing_values": ["NA"]}},
        (Quarantined("drug_exposures", "X1", f"started_on missing or not a date {DEFAULT_DATE}"),),
        ("mdy", "declare `date_order: mdy`"),
    ),
)


@dataclass
class Delivery:
    """One folder to build: the reference cohort with some variants applied."""

    name: str
    variants: list[Variant]
    declared: bool

    def write(self, folder: Path) -> Path:
        cohort = reference_cohort()
        files: dict[str, Any] = {}
        for v in self.variants:
            v.apply(cohort)
            files.update(v.declare if self.declared else v.partial)
        cohort.write(folder)
        if files:
            (folder / "delivery.yml").write_text(
                "# written by tests/python/export_variants.py\n" + yaml.safe_dump({"files": files}, allow_unicode=True),
                encoding="utf-8",
            )
        return folder


def plan_deliveries(variants: Sequence[Variant] = VARIANTS) -> list[Delivery]:
    """Variants on different files share a build (their files: blocks compose); an undeclared
    variant that fails the build gets one of its own; a variant with nothing to declare is
    built declared only."""
    out: list[Delivery] = []
    for declared in (True, False):
        for v in variants:
            if not declared and not v.undeclared:
                continue
            fails = not declared and any(isinstance(e, BuildFails) for e in v.undeclared)
            target = None
            if not fails:
                target = next(
                    (
                        d
                        for d in out
                        if d.declared == declared
                        and not d.name.endswith("_fails")
                        and not {t for x in d.variants for t in x.tables} & set(v.tables)
                    ),
                    None,
                )
            if target is None:
                kind = "declared" if declared else "undeclared"
                target = Delivery(
                    f"{kind}{len([d for d in out if d.declared == declared]) + 1}" + ("_fails" if fails else ""),
                    [],
                    declared,
                )
                out.append(target)
            target.variants.append(v)
    return out
