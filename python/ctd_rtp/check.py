"""`ctd-rtp check DIR`: what a delivery would give before any build.

Reads each raw file once (DuckDB's CSV and Parquet readers; Python's codecs for a declared
encoding), applies the row rules of the staging models in the delivery's declared format
(delivery.yml) and says, per file and column, what would be quarantined and how to declare it.
Unknown (test code, unit) pairs are also written as a map stub CSV, ready to fill in and put
beside the delivery as its local `lab_test_map.csv`.

The SQL below restates the row rules (models/staging/*.sql, macros/parsing.sql) and the
cross-table rules (macros/checked_rows.sql; all but overlapping exposures) for an in-memory
DuckDB; tests/python/test_delivery_corpus.py checks on every export variant that the rows it
predicts, per table and reason, are exactly the rows the build quarantines.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import duckdb

from . import delivery as dl

TABLES = ("patients", "drug_exposures", "lab_results", "visit_assessments", "adverse_events")
CONTRACT = {
    "patients": ["patient_id", "sex", "birth_year", "ctd_diagnosis", "ctd_diagnosed_on",
                 "thrombocytopenia_diagnosed_on", "prior_therapy_lines"],
    "drug_exposures": ["exposure_id", "patient_id", "drug", "started_on", "ended_on", "daily_dose_mg"],
    "lab_results": ["result_id", "patient_id", "collected_on", "test_code", "value", "unit"],
    "visit_assessments": ["patient_id", "assessed_on", "who_bleeding_grade", "prednisone_equivalent_mg_day",
                          "rescue_therapy"],
    "adverse_events": ["ae_id", "patient_id", "onset_on", "resolved_on", "term", "ctcae_grade", "serious",
                       "related_to_study_drug"],
}
DATE_COLUMNS = {
    "patients": ["ctd_diagnosed_on", "thrombocytopenia_diagnosed_on"],
    "drug_exposures": ["started_on", "ended_on"],
    "lab_results": ["collected_on"],
    "visit_assessments": ["assessed_on"],
    "adverse_events": ["onset_on", "resolved_on"],
}
EXIT_OK, EXIT_USAGE, EXIT_REFUSED = 0, 2, 3

# macros/parsing.sql, restated (date_patterns, lab_flag_regex, normalize_unit)
NUMERIC_DATE = {"ymd": [], "dmy": ["%d/%m/%Y", "%d.%m.%Y", "%d-%m-%Y"], "mdy": ["%m/%d/%Y", "%m.%d.%Y", "%m-%d-%Y"]}
SPELLED_DATE = ["%d-%b-%Y", "%d %b %Y", "%d-%B-%Y", "%d %B %Y", "%b %d, %Y", "%B %d, %Y", "%b %d %Y", "%B %d %Y"]
NUMERIC_DATE_RE = "[0-9]{1,2}[./-][0-9]{1,2}[./-][0-9]{4}"
SPELLED_DATE_RE = "[0-9]{1,2}[ -][A-Za-z]{3,9}[ -][0-9]{4}|[A-Za-z]{3,9} [0-9]{1,2},? [0-9]{4}"
TIME_RE = "[ T][0-9]{1,2}:[0-9]{2}(:[0-9]{2}([.][0-9]+)?)?$"
FLAG = "[(]?(?i:HH|LL|H|L|AA|A)[)]?|[*]{1,2}|[!]{1,2}|↑{1,2}|↓{1,2}"
FLAG_TRAILING = f"^(.*[0-9.])[ ]*({FLAG})$"
FLAG_LEADING = f"^({FLAG})[ ]+(.+)$"


class CheckUsageError(ValueError):
    """Bad usage (missing folder, bad --vars): exit 2."""


def lit(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def lits(values: Iterable[str]) -> str:
    return ", ".join(lit(v.lower()) for v in values)


def array(values: Iterable[str]) -> str:
    return "[" + ", ".join(lit(v) for v in values) + "]"


# --------------------------------------------------------------------------- value parsing SQL

def text_sql(col: str, fmt: Mapping[str, Any]) -> str:
    plain = f"nullif(trim({col}), '')"
    if fmt["missing_values"]:
        return f"(case when lower(trim({col})) not in ({lits(fmt['missing_values'])}) then {plain} end)"
    return plain


def date_sql(col: str, fmt: Mapping[str, Any]) -> str:
    t = text_sql(col, fmt)
    day = f"regexp_replace({t}, {lit(TIME_RE)}, '')"
    spelled = f"when regexp_full_match({day}, {lit(SPELLED_DATE_RE)}) then cast(try_strptime({day}, {array(SPELLED_DATE)}) as date)"
    if fmt["date_order"] == "ymd" and not fmt["date_formats"]:
        return (f"coalesce(try_cast({t} as date), case when regexp_full_match({t}, {lit(SPELLED_DATE_RE)}) "
                f"then cast(try_strptime({t}, {array(SPELLED_DATE)}) as date) end)")
    parts = []
    if fmt["date_formats"]:
        f = array(fmt["date_formats"])
        parts.append(f"when try_strptime({t}, {f}) is not null then cast(try_strptime({t}, {f}) as date)")
    if NUMERIC_DATE[fmt["date_order"]]:
        parts.append(f"when regexp_full_match({day}, {lit(NUMERIC_DATE_RE)}) "
                     f"then cast(try_strptime({day}, {array(NUMERIC_DATE[fmt['date_order']])}) as date)")
    parts.append(spelled)
    if fmt["date_order"] == "ymd":
        parts.append(f"else try_cast({t} as date)")
    else:
        parts.append(f"when regexp_full_match({t}, '[0-9]{{4}}[-/].*') then try_cast({t} as date)")
    return "(case " + " ".join(parts) + " end)"


def finite(expr: str) -> str:
    return f"(case when isfinite({expr}) then {expr} end)"


def number_from_text(t: str, fmt: Mapping[str, Any]) -> str:
    dec, th = fmt["decimal_separator"], fmt["thousands_separator"]
    if dec == "." and not th:
        return finite(f"try_cast({t} as double)")
    th_class = {",": "[,]", ".": "[.]", " ": "[ \u00a0\u202f]", "'": "[']"}.get(th, "")
    whole = f"([0-9]{{1,3}}({th_class}[0-9]{{3}})+|[0-9]+)" if th else "[0-9]+"
    pattern = f"[+-]?({whole}([{dec}][0-9]*)?|[{dec}][0-9]+)([eE][+-]?[0-9]+)?"
    stripped = f"regexp_replace({t}, {lit(th_class)}, '', 'g')" if th else t
    plain = f"replace({stripped}, ',', '.')"
    return f"(case when regexp_full_match({t}, {lit(pattern)}) then {finite(f'try_cast({plain} as double)')} end)"


def number_sql(col: str, fmt: Mapping[str, Any]) -> str:
    if fmt["decimal_separator"] == "." and not fmt["thousands_separator"] and not fmt["missing_values"]:
        return finite(f"try_cast(nullif(trim({col}), '') as double)")
    return number_from_text(text_sql(col, fmt), fmt)


def integer_sql(col: str, fmt: Mapping[str, Any]) -> str:
    t = text_sql(col, fmt)
    return (f"(case when regexp_full_match({t}, '[+-]?[0-9]+([{fmt['decimal_separator']}]0*)?') "
            f"then try_cast(try_cast(replace({t}, ',', '.') as double) as integer) end)")


def boolean_sql(col: str, fmt: Mapping[str, Any]) -> str:
    t = f"lower({text_sql(col, fmt)})"
    true = [*dl.DEFAULT_TRUE, *fmt["booleans"]["true_values"]]
    false = [*dl.DEFAULT_FALSE, *fmt["booleans"]["false_values"]]
    return f"(case when {t} in ({lits(true)}) then true when {t} in ({lits(false)}) then false end)"


def sex_sql(col: str, fmt: Mapping[str, Any]) -> str:
    t = f"upper(trim({col}))"
    parts = []
    for sex in ("F", "M"):
        if fmt["sex"][sex]:
            parts.append(f"when lower({t}) in ({lits(fmt['sex'][sex])}) then '{sex}'")
    return f"(case {' '.join(parts)} else {t} end)" if parts else t


def flag_sql(t: str) -> str:
    return (f"(case when try_cast({t} as double) is not null then null"
            f" when regexp_extract({t}, {lit(FLAG_TRAILING)}, 2) <> '' then upper(translate(regexp_extract({t}, {lit(FLAG_TRAILING)}, 2), '()', ''))"
            f" when regexp_extract({t}, {lit(FLAG_LEADING)}, 1) <> '' then upper(translate(regexp_extract({t}, {lit(FLAG_LEADING)}, 1), '()', '')) end)")


def without_flag_sql(t: str) -> str:
    return (f"(case when try_cast({t} as double) is not null then {t}"
            f" when regexp_extract({t}, {lit(FLAG_TRAILING)}, 2) <> '' then regexp_extract({t}, {lit(FLAG_TRAILING)}, 1)"
            f" when regexp_extract({t}, {lit(FLAG_LEADING)}, 1) <> '' then regexp_extract({t}, {lit(FLAG_LEADING)}, 2)"
            f" else {t} end)")


def rx(t: str, pattern: str, replacement: str) -> str:
    return f"regexp_replace({t}, {lit(pattern)}, {lit(replacement)}, 'g')"


def unit_key_sql(unit: str) -> str:
    t = f"translate(lower(trim({unit})), 'µμ×', 'uux')"
    t = rx(t, "[ \u00a0]+", "")
    t = f"translate({rx(t, '([⁰¹²³⁴⁵⁶⁷⁸⁹⁻]+)', '^' + chr(92) + '1')}, '⁰¹²³⁴⁵⁶⁷⁸⁹⁻', '0123456789-')"
    t = rx(t, "^[x*](10)", chr(92) + "1")
    t = rx(t, "10([*]{1,2}|[e^])([0-9]+)", "10^" + chr(92) + "2")
    t = rx(t, "^k/", "10^3/")
    return rx(t, "/mm[*^]?3$", "/ul")


def code_text_sql(code: str) -> str:
    return f"upper({rx(f'translate(trim({code}), {lit(chr(0xFF08) + chr(0xFF09))}, {lit(chr(40) + chr(41))})', '[ ' + chr(0xA0) + ']+', ' ')})"


def code_key_sql(code: str, unit: str) -> str:
    c = code_text_sql(code)
    with_unit = "^(.+?)[ ]*[(]([^()]+)[)]$"
    inner = unit_key_sql(f"regexp_extract({c}, {lit(with_unit)}, 2)")
    return (f"(case when {inner} <> '' and {inner} = {unit_key_sql(unit)} "
            f"then regexp_extract({c}, {lit(with_unit)}, 1) else {c} end)")


def note(fmt: Mapping[str, Any], kind: str) -> str:
    """The format a reason names (macros/delivery.sql format_note)."""
    if kind == "date":
        text = f"date_order: {fmt['date_order']}" + (f", date_formats: {' | '.join(fmt['date_formats'])}" if fmt["date_formats"] else "")
    elif kind == "number":
        th = fmt["thousands_separator"]
        text = f"decimal_separator: '{fmt['decimal_separator']}', thousands_separator: " + (f"'{th}'" if th else "none")
    elif kind == "boolean":
        text = (f"booleans: {', '.join([*dl.DEFAULT_TRUE, *fmt['booleans']['true_values']])} / "
                f"{', '.join([*dl.DEFAULT_FALSE, *fmt['booleans']['false_values']])}")
    else:
        text = f"sex: {', '.join(['F', *fmt['sex']['F']])} / {', '.join(['M', *fmt['sex']['M']])}"
    return f" [delivery.yml {text}]"


# --------------------------------------------------------------------------- row rules (staging)

@dataclass(frozen=True)
class Rule:
    reason: str  # the reason the build writes (format note included)
    condition: str  # SQL over the typed columns, true = the row breaks the rule
    column: str  # the raw column it reads
    kind: str = ""  # date, number, boolean, sex: the hint the report can give
    field: bool = False  # nulls the field only; the row goes on (quarantine.quarantined_fields)


def typed_sql(table: str, fmt: Mapping[str, Any], map_sql: str, per_ul_min: float,
              diagnoses: Sequence[str] = ()) -> tuple[str, list[Rule]]:
    """`select` of the raw table with the typed columns the rules read, and the rules in staging order."""
    key = lambda c: f"nullif(trim({c}), '')"  # noqa: E731 - patient_key / id columns
    blank = lambda c: f"({text_sql(c, fmt)} is null)"  # noqa: E731
    d, n, b = note(fmt, "date"), note(fmt, "number"), note(fmt, "boolean")
    if table == "patients":
        cols = {"k_patient_id": key("patient_id"), "v_sex": sex_sql("sex", fmt), "v_birth_year": integer_sql("birth_year", fmt),
                "v_ctd_diagnosed_on": date_sql("ctd_diagnosed_on", fmt),
                "v_thrombocytopenia_diagnosed_on": date_sql("thrombocytopenia_diagnosed_on", fmt),
                "v_prior_therapy_lines": integer_sql("prior_therapy_lines", fmt)}
        year = dt.date.today().year
        rules = [Rule("missing patient_id", "k_patient_id is null", "patient_id"),
                 Rule("sex not F or M" + note(fmt, "sex"), "v_sex not in ('F', 'M') or v_sex is null", "sex", "sex"),
                 Rule("birth_year not an integer", "v_birth_year is null", "birth_year"),
                 Rule("birth_year not within the last 120 years", f"v_birth_year not between {year - 120} and {year}", "birth_year"),
                 Rule("unknown ctd_diagnosis", f"trim(ctd_diagnosis) not in ({', '.join(lit(x) for x in diagnoses) or lit('')}) or ctd_diagnosis is null",
                      "ctd_diagnosis"),
                 Rule("ctd_diagnosed_on not a date" + d, f"v_ctd_diagnosed_on is null and not {blank('ctd_diagnosed_on')}",
                      "ctd_diagnosed_on", "date"),
                 Rule("thrombocytopenia_diagnosed_on not a date" + d,
                      f"v_thrombocytopenia_diagnosed_on is null and not {blank('thrombocytopenia_diagnosed_on')}",
                      "thrombocytopenia_diagnosed_on", "date"),
                 Rule("prior_therapy_lines not an integer", f"v_prior_therapy_lines is null and not {blank('prior_therapy_lines')}",
                      "prior_therapy_lines"),
                 Rule("negative prior_therapy_lines", "v_prior_therapy_lines < 0", "prior_therapy_lines")]
    elif table == "drug_exposures":
        cols = {"k_exposure_id": key("exposure_id"), "k_pid": key("patient_id"), "v_drug": "lower(trim(drug))", "v_started_on": date_sql("started_on", fmt),
                "v_ended_on": date_sql("ended_on", fmt), "v_daily_dose_mg": number_sql("daily_dose_mg", fmt)}
        rules = [Rule("missing exposure_id", "k_exposure_id is null", "exposure_id"),
                 Rule("missing drug", "v_drug is null or v_drug = ''", "drug"),
                 Rule("started_on missing or not a date" + d, "v_started_on is null", "started_on", "date"),
                 Rule("ended_on not a date" + d, f"v_ended_on is null and not {blank('ended_on')}", "ended_on", "date"),
                 Rule("exposure ends before it starts", "v_ended_on < v_started_on", "ended_on"),
                 Rule("daily_dose_mg missing or not a number" + n, "v_daily_dose_mg is null", "daily_dose_mg", "number"),
                 Rule("daily_dose_mg not positive", "v_daily_dose_mg <= 0", "daily_dose_mg")]
    elif table == "lab_results":
        value_text = text_sql("value", fmt)
        core = without_flag_sql(value_text)
        number = number_from_text(f"trim(ltrim({core}, '<>='))", fmt)
        cols = {"k_result_id": key("result_id"), "k_pid": key("patient_id"), "v_collected_on": date_sql("collected_on", fmt), "v_value_text": value_text,
                "v_number": number, "v_lab_flag": flag_sql(value_text)}
        rules = [Rule("missing result_id", "k_result_id is null", "result_id"),
                 Rule("collected_on missing or not a date" + d, "v_collected_on is null", "collected_on", "date"),
                 Rule("empty value", "v_value_text is null", "value"),
                 Rule("value not numeric" + n, "v_number is null", "value", "number"),
                 Rule("unknown unit for test code", "m_analyte is null and v_code_key in (select code_key from lab_map)", "unit", "map"),
                 Rule("unknown test code", "m_analyte is null", "test_code", "map"),
                 Rule("outside plausible range", "v_number * m_factor < m_low or v_number * m_factor > m_high", "value"),
                 Rule("value too small for its unit (scale mix-up?)", f"m_factor = 0.001 and v_number < {per_ul_min}", "unit")]
    elif table == "visit_assessments":
        cols = {"k_patient_id": key("patient_id"), "k_pid": key("patient_id"), "v_assessed_on": date_sql("assessed_on", fmt),
                "v_grade": integer_sql("who_bleeding_grade", fmt), "v_prednisone": number_sql("prednisone_equivalent_mg_day", fmt),
                "v_rescue": boolean_sql("rescue_therapy", fmt)}
        # models/staging/stg_visit_assessments.sql: only patient and date reject the row; a bad
        # grade, dose or rescue flag nulls that field (listed as "<reason> (field nulled)")
        rules = [Rule("missing patient_id", "k_patient_id is null", "patient_id"),
                 Rule("assessed_on missing or not a date" + d, "v_assessed_on is null", "assessed_on", "date"),
                 Rule("who_bleeding_grade not an integer", f"v_grade is null and not {blank('who_bleeding_grade')}",
                      "who_bleeding_grade", field=True),
                 Rule("who_bleeding_grade outside 0-4", "v_grade not between 0 and 4", "who_bleeding_grade", field=True),
                 Rule("prednisone_equivalent_mg_day not a number" + n,
                      f"v_prednisone is null and not {blank('prednisone_equivalent_mg_day')}",
                      "prednisone_equivalent_mg_day", "number", field=True),
                 Rule("negative prednisone dose", "v_prednisone < 0", "prednisone_equivalent_mg_day", field=True),
                 Rule("rescue_therapy not a boolean" + b, f"v_rescue is null and not {blank('rescue_therapy')}",
                      "rescue_therapy", "boolean", field=True)]
    else:
        cols = {"k_ae_id": key("ae_id"), "k_pid": key("patient_id"), "v_onset_on": date_sql("onset_on", fmt), "v_resolved_on": date_sql("resolved_on", fmt),
                "v_term": "trim(term)", "v_grade": integer_sql("ctcae_grade", fmt), "v_serious": boolean_sql("serious", fmt),
                "v_related": boolean_sql("related_to_study_drug", fmt)}
        rules = [Rule("missing ae_id", "k_ae_id is null", "ae_id"),
                 Rule("onset_on missing or not a date" + d, "v_onset_on is null", "onset_on", "date"),
                 Rule("resolved_on not a date" + d, f"v_resolved_on is null and not {blank('resolved_on')}", "resolved_on", "date"),
                 Rule("adverse event resolves before onset", "v_resolved_on < v_onset_on", "resolved_on"),
                 Rule("missing term", "v_term is null or v_term = ''", "term"),
                 Rule("ctcae_grade missing or not an integer", "v_grade is null", "ctcae_grade"),
                 Rule("ctcae_grade outside 1-5", "v_grade not between 1 and 5", "ctcae_grade"),
                 Rule("serious not a boolean" + b, "v_serious is null", "serious", "boolean"),
                 Rule("related_to_study_drug not a boolean" + b, "v_related is null", "related_to_study_drug", "boolean")]
    select = ", ".join(f"{expr} as {name}" for name, expr in cols.items())
    sql = f"select raw.*, {select} from raw_{table} as raw"
    if table == "lab_results":
        # the (code, unit) keys are normalised once per distinct pair, as stg_lab_results does
        pairs = (f"select test_code, unit, {code_key_sql('test_code', 'unit')} as v_code_key, {unit_key_sql('unit')} as v_unit_key "
                 "from (select distinct test_code, unit from raw_lab_results)")
        sql = (f"select typed.*, pairs.v_code_key, pairs.v_unit_key, lab_map.analyte as m_analyte, lab_map.factor as m_factor, "
               f"analytes.plausible_low as m_low, analytes.plausible_high as m_high from ({sql}) as typed "
               f"left join ({pairs}) as pairs on typed.test_code is not distinct from pairs.test_code "
               f"and typed.unit is not distinct from pairs.unit "
               f"left join lab_map on pairs.v_code_key = lab_map.code_key and pairs.v_unit_key = lab_map.unit_key "
               f"left join analytes on lab_map.analyte = analytes.analyte")
    return sql, rules


# --------------------------------------------------------------------------- cross-table rules (macros/checked_rows.sql)

KEYS = {"patients": ["k_patient_id"], "drug_exposures": ["k_exposure_id"], "lab_results": ["k_result_id"],
        "visit_assessments": ["k_patient_id", "v_assessed_on"], "adverse_events": ["k_ae_id"]}
KEY_REASON = {"patients": "patient_id", "drug_exposures": "exposure_id", "lab_results": "result_id",
              "visit_assessments": "patient_id, assessed_on", "adverse_events": "ae_id"}
ROW_DATE = {"drug_exposures": ("v_started_on", "started_on"), "lab_results": ("v_collected_on", "collected_on"),
            "visit_assessments": ("v_assessed_on", "assessed_on"), "adverse_events": ("v_onset_on", "onset_on")}


def cross_table_rules(table: str, study_earliest_date: str) -> list[Rule]:
    """The rules checked_rows adds after staging, in its order. Not restated: overlapping exposures."""
    keys = KEYS[table]
    rules = [Rule(f"duplicate key ({KEY_REASON[table]})", f"{' is not null and '.join(keys)} is not null and rows_with_key > 1",
                  keys[0].removeprefix("k_").removeprefix("v_"))]
    if table == "patients":
        return rules
    rules += [Rule("missing patient_id", "k_pid is null", "patient_id"),
              Rule("patient quarantined", "p_patient_id is null and k_pid in (select patient_id from delivered_patients)", "patient_id"),
              Rule("unknown patient", "p_patient_id is null", "patient_id")]
    typed, raw = ROW_DATE[table]
    rules += [Rule("date in the future", f"{typed} > current_date", raw),
              Rule("date before birth", f"extract(year from {typed}) < p_birth_year", raw),
              Rule("date before study period", f"{typed} < cast({lit(study_earliest_date)} as date)", raw)]
    return rules


def _final_reasons(con: duckdb.DuckDBPyConnection, table: str, rules: list[Rule], cross: list[Rule]
                   ) -> tuple[int, list[tuple[str, str, str, int]]]:
    """Each row's first reason (staging, then cross-table): rows rejected, and (reason, column, kind, rows) by count."""
    staged = "case rule_index " + " ".join(f"when {i} then {lit(r.reason)}" for i, r in enumerate(rules)) + " end"
    later = ("case " + " ".join(f"when {r.condition} then {lit(r.reason)}" for r in cross) + " end") if cross else "null"
    keys = KEYS[table]
    patient = ("left join clean_patients p on c.k_pid = p.patient_id" if table != "patients" and cross else "")
    p_cols = ", p.patient_id as p_patient_id, p.birth_year as p_birth_year" if patient else ""
    con.execute(
        f"create table final_{table} as select *, coalesce({staged}, {later}) as reason from ("
        f"select c.*, count(*) over (partition by {', '.join('c.' + k for k in keys)}) as rows_with_key{p_cols} "
        f"from checked_{table} c {patient})")
    by_reason = {r.reason: (r.column, r.kind) for r in [*rules, *cross]}
    counts = con.execute(f"select reason, count(*) from final_{table} where reason is not null group by 1 order by 2 desc, 1").fetchall()
    rejected = sum(n for _, n in counts)
    fields = [r for r in rules if r.field]
    if fields:  # per field, the first rule it breaks, in every row (as quarantine.quarantined_fields lists
        # them); the share counts the otherwise clean rows only (as the gate does)
        per_field: dict[str, list[Rule]] = {}
        for r in fields:
            per_field.setdefault(r.column, []).append(r)
        cases = [f"case {' '.join(f'when {r.condition} then {lit(r.reason)}' for r in rs)} end" for rs in per_field.values()]
        for i, case in enumerate(cases):
            con.execute(f"alter table final_{table} add column field_reason_{i} varchar")
            con.execute(f"update final_{table} set field_reason_{i} = {case}")
        for i, rs in enumerate(per_field.values()):
            for reason, n in con.execute(f"select field_reason_{i}, count(*) from final_{table} "
                                         f"where field_reason_{i} is not null group by 1 order by 2 desc, 1").fetchall():
                by_reason[reason + " (field nulled)"] = (rs[0].column, next(r.kind for r in rs if r.reason == reason))
                counts.append((reason + " (field nulled)", n))
        any_field = " or ".join(f"field_reason_{i} is not null" for i in range(len(cases)))
        rejected += con.execute(f"select count(*) from final_{table} where reason is null and ({any_field})").fetchone()[0]
        listed = ", ".join(f"field_reason_{i} || ' (field nulled)'" for i in range(len(cases)))
        con.execute(f"alter table final_{table} add column field_reasons varchar[]")
        con.execute(f"update final_{table} set field_reasons = list_filter([{listed}], lambda x: x is not null)")
    return rejected, [(reason, *by_reason[reason], n) for reason, n in counts]


# --------------------------------------------------------------------------- reading the delivery

@dataclass
class FileReport:
    name: str
    table: str
    rows: int = 0
    encoding: str = "utf-8"
    delimiter: str = ""
    date_order: str = ""
    stops_build: list[str] = field(default_factory=list)
    hints: list[str] = field(default_factory=list)


@dataclass
class RuleCount:
    table: str
    reason: str
    column: str
    rows: int
    examples: list[str]
    hint: str = ""


@dataclass
class Report:
    folder: Path
    delivery_declared: bool
    threshold: float
    files: list[FileReport]
    rows: dict[str, int]
    rejected: dict[str, int]
    rules: list[RuleCount]
    unknown_pairs: list[tuple[str, str, int, str, str]]  # code, unit, rows, example value, suggested analyte
    stub_path: Path | None
    problems: list[str]  # delivery-level problems (delivery.yml, local map): the build would stop

    def share(self, table: str) -> float:
        return self.rejected.get(table, 0) / self.rows[table] if self.rows.get(table) else 0.0

    @property
    def refused(self) -> list[str]:
        out = [f"{f.name}: {p}" for f in self.files for p in f.stops_build] + list(self.problems)
        out += [f"{t}: {self.share(t):.1%} of rows would be quarantined (> max_quarantined_share {self.threshold:g})"
                for t in self.rows if self.share(t) > self.threshold]
        return out


def raw_files(folder: Path, table: str) -> list[Path]:
    """<table>.csv|.parquet, plus lab_results_<extract>.csv|.parquet (macros/raw_table.sql)."""
    out = []
    for path in sorted(folder.glob(f"{table}*")):
        if path.suffix not in (".csv", ".parquet") or not path.is_file():
            continue
        if path.stem == table or (table == "lab_results" and path.stem.startswith(f"{table}_")):
            out.append(path)
    return out


def _delimiter(header: str) -> str:
    best, count = ",", 0
    for candidate in (",", ";", "\t", "|"):
        if header.count(candidate) > count:
            best, count = candidate, header.count(candidate)
    return best


def _guess_encoding(data: bytes) -> str | None:
    try:
        from charset_normalizer import from_bytes
    except ImportError:  # pragma: no cover - installed with requests
        return None
    best = from_bytes(data).best()
    return best.encoding.replace("_", "-") if best is not None else None


def read_raw_file(con: duckdb.DuckDBPyConnection, path: Path, table: str, fmt: Mapping[str, Any],
                  scratch: Path) -> tuple[FileReport, str | None]:
    """Check one file's shape and load it as text; returns its report and the relation SQL (None: unreadable)."""
    report = FileReport(path.name, table, encoding=fmt["encoding"])
    expected = CONTRACT[table]
    source = lit(path.name)
    if path.suffix == ".parquet":
        report.encoding, report.delimiter = "(parquet)", ""
        described = [r[0] for r in con.execute(f"describe select * from read_parquet({lit(str(path))})").fetchall()]
        missing = [c for c in expected if c not in {d.lower() for d in described}]
        if missing:
            report.stops_build.append(f"missing column(s) {', '.join(missing)}")
            return report, None
        by_lower = {d.lower(): d for d in described}
        cols = ", ".join(f'cast("{by_lower[c]}" as varchar) as {c}' for c in expected)
        return report, f"select {cols}, {source} as source_file from read_parquet({lit(str(path))})"
    read_path = path
    if fmt["encoding"] not in dl.UTF8_NAMES:
        try:
            text = dl.decode(path, fmt["encoding"])
        except dl.DeliveryError as exc:
            report.stops_build.append(str(exc).removeprefix(f"{path.name} "))
            return report, None
        read_path = scratch / path.name
        read_path.write_text(text, encoding="utf-8", newline="")
        header = text.split("\n", 1)[0]
    else:
        with path.open("rb") as fh:
            first = fh.readline()
        if not first:
            report.stops_build.append("the file is empty (0 bytes); write at least the header line")
            return report, None
        try:
            header = first.decode("utf-8")
        except UnicodeDecodeError:
            header = ""
    header = header.lstrip("\ufeff").rstrip("\r\n")
    report.delimiter = _delimiter(header)
    found = [c.strip().strip('"').strip().lower() or f"unnamed_{i + 1}" for i, c in enumerate(header.split(report.delimiter))]
    missing = [c for c in expected if c not in found]
    if missing and header:
        report.stops_build.append(f"missing column(s) {', '.join(missing)}; found {', '.join(found)}")
        return report, None
    columns = "{" + ", ".join(f"{lit(c)}: 'VARCHAR'" for c in found) + "}"
    delim = "\\t" if report.delimiter == "\t" else report.delimiter
    relation = (f"read_csv({lit(str(read_path))}, header = true, auto_detect = false, delim = {lit(delim)}, "
                f"quote = '\"', escape = '\"', columns = {columns})")
    loaded = f"file_{table}_{abs(hash(path.name)) % 10**8}"
    try:  # the one read of the file (every value decoded, every line split)
        con.execute(f"create table {loaded} as select * from {relation}")
    except duckdb.Error as exc:
        message = str(exc).splitlines()[0]
        if "unicode" in str(exc).lower() or not header:
            guess = _guess_encoding(path.read_bytes())
            hint = f"; it reads as {guess}: declare `encoding: {guess}` in delivery.yml" if guess else ""
            report.stops_build.append(f"not UTF-8 text{hint}")
        else:
            report.stops_build.append(f"cannot be read as CSV: {message}")
        return report, None
    cols = ", ".join(expected)
    return report, f"select {cols}, {source} as source_file from {loaded}"


def _map_sql(con: duckdb.DuckDBPyConnection, project_dir: Path, folder: Path, problems: list[str]) -> str:
    """The lab test map in force (macros/lab_test_map.sql): the shipped seed plus a valid local map."""
    seeds = project_dir / "seeds" / "reference"
    con.execute(f"create table analytes as select analyte, cast(plausible_low as double) as plausible_low, "
                f"cast(plausible_high as double) as plausible_high from read_csv({lit(str(seeds / 'analytes.csv'))}, header = true)")
    con.execute(f"create table shipped_map as select source_code, source_unit, analyte, cast(factor as double) as factor "
                f"from read_csv({lit(str(seeds / 'lab_test_map.csv'))}, header = true, all_varchar = true)")
    keyed = (f"select {code_text_sql('source_code')} as code_key, {unit_key_sql('source_unit')} as unit_key, "
             "analyte, factor, source_code, source_unit")
    con.execute(f"create table shipped_keys as {keyed} from shipped_map")
    local = folder / dl.LOCAL_MAP_FILE
    if not local.is_file():
        return "select distinct code_key, unit_key, analyte, factor from shipped_keys"
    con.execute(f"create table local_map as select row_number() over () + 1 as line, trim(source_code) as source_code, "
                f"trim(source_unit) as source_unit, trim(analyte) as analyte, trim(factor) as factor_text, "
                f"try_cast(trim(factor) as double) as factor from read_csv({lit(str(local))}, header = true, all_varchar = true)")
    con.execute(f"create table local_keys as {keyed}, line, factor_text from local_map")
    bad = con.execute(
        "select line, source_code, source_unit, analyte, factor_text from local_keys where coalesce(source_code, '') = '' "
        "or coalesce(source_unit, '') = '' or coalesce(analyte, '') = '' or analyte not in (select analyte from analytes) "
        "or factor is null or not isfinite(factor) or factor <= 0 order by line").fetchall()
    for line, code, unit, analyte, factor in bad[:5]:
        problems.append(f"lab_test_map.csv line {line} ({code}, {unit}): analyte {analyte or '(empty)'} / factor "
                        f"{factor or '(empty)'} is not usable (an analyte of seeds/reference/analytes.csv and a positive factor)")
    conflicts = con.execute(
        "select l.line, l.source_code, l.source_unit, l.analyte, l.factor, s.source_code, s.source_unit, s.analyte, s.factor "
        "from local_keys l join shipped_keys s using (code_key, unit_key) where l.analyte <> s.analyte or l.factor <> s.factor "
        "order by 1").fetchall()
    for line, code, unit, analyte, factor, scode, sunit, sanalyte, sfactor in conflicts[:5]:
        problems.append(f"lab_test_map.csv line {line} ({code}, {unit} -> {analyte} x{factor:g}) conflicts with the shipped "
                        f"seeds/reference/lab_test_map.csv row ({scode}, {sunit} -> {sanalyte} x{sfactor:g})")
    twice = con.execute(
        "select a.line, b.line, a.source_code, a.source_unit, a.analyte, a.factor, b.analyte, b.factor from local_keys a "
        "join local_keys b on a.code_key = b.code_key and a.unit_key = b.unit_key and a.line < b.line "
        "where a.analyte <> b.analyte or a.factor <> b.factor order by 1").fetchall()
    for line_a, line_b, code, unit, analyte_a, factor_a, analyte_b, factor_b in twice[:5]:
        problems.append(f"lab_test_map.csv lines {line_a} and {line_b}: ({code}, {unit}) maps to both {analyte_a} x{factor_a:g} "
                        f"and {analyte_b} x{factor_b:g}")
    return ("select distinct code_key, unit_key, analyte, factor from shipped_keys union "
            "select distinct code_key, unit_key, analyte, factor from local_keys where analyte in (select analyte from analytes) and factor > 0")


def _date_order_found(con: duckdb.DuckDBPyConnection, table: str, file_name: str) -> str:
    """Which order the numeric dates of one file fit: a day above 12 decides; otherwise ambiguous."""
    values = " union all ".join(f"select trim({c}) as v from raw_{table} where source_file = {lit(file_name)}"
                                for c in DATE_COLUMNS[table])
    row = con.execute(
        f"with d as (select regexp_extract(v, '^([0-9]{{1,2}})[./-]([0-9]{{1,2}})[./-][0-9]{{4}}', ['a', 'b']) as p, v from ({values}) "
        "where v is not null and v <> '') select count(*) filter (where regexp_full_match(v, '[0-9]{4}[-/].*')), "
        "count(*) filter (where try_cast(p.a as int) > 12 and try_cast(p.b as int) <= 12), "
        "count(*) filter (where try_cast(p.b as int) > 12 and try_cast(p.a as int) <= 12), "
        "count(*) filter (where try_cast(p.a as int) <= 12 and try_cast(p.b as int) <= 12), count(*) from d").fetchone()
    iso, dmy, mdy, both, total = row
    if total == 0:
        return "(no dates)"
    if dmy and not mdy:
        return "dmy"
    if mdy and not dmy:
        return "mdy"
    if dmy and mdy:
        return "mixed dmy/mdy"
    if both:
        return "dmy or mdy (no day above 12)"
    return "ymd" if iso else "?"


def _hint(kind: str, table: str, examples: list[str], fmt: Mapping[str, Any], found_order: str, where: str) -> str:
    scope = f" (under `files: {{{where}: ...}}` for this file only)"
    if kind == "date":
        if found_order in ("dmy", "mdy") and found_order != fmt["date_order"]:
            return f"the dates fit date_order {found_order}: declare `date_order: {found_order}` in delivery.yml{scope}"
        if found_order.startswith("dmy or mdy"):
            return ("day-first or month-first dates, none with a day above 12: declare `date_order: dmy` or `date_order: mdy` "
                    "in delivery.yml (it cannot be guessed)")
        return "write ISO dates (yyyy-mm-dd), or declare date_order / date_formats in delivery.yml"
    if kind == "number":
        if any(re.fullmatch(r"[<>=]*\s*[0-9]{1,3}(,[0-9]{3})+", e) for e in examples):
            return ("values like 25,000: a thousands separator (declare `thousands_separator: \",\"`) or a decimal comma "
                    "(declare `decimal_separator: \",\"`), whichever the laboratory writes")
        if any(re.search(r"[0-9],[0-9]", e) for e in examples):
            return f"decimal commas: declare `decimal_separator: \",\"` in delivery.yml{scope}"
        return "write a plain number with a decimal point (flags such as H, L, * beside it are accepted)"
    if kind == "boolean":
        return ("declare which spellings mean true and which false, in quotes: "
                "`booleans: {true_values: [\"...\"], false_values: [\"...\"]}` in delivery.yml" + scope)
    if kind == "sex":
        return ("declare the spellings of each sex, in quotes: `sex: {F: [\"...\"], M: [\"...\"]}` in delivery.yml" + scope)
    if kind == "map":
        return "add the pairs to a local lab_test_map.csv beside the delivery (see the map stub)"
    return ""


def read_var(project_dir: Path, dbt_vars: str | None, name: str, default: Any) -> Any:
    """A dbt var as the build sees it: dbt_project.yml `vars:`, overridden by --vars (checked as
    the build commands check it: dbt.parse_vars)."""
    from .dbt import BadVars, declared_vars, parse_vars

    try:
        overrides = parse_vars(dbt_vars, project_dir)
    except BadVars as exc:
        raise CheckUsageError(str(exc)) from None
    return overrides.get(name, declared_vars(project_dir).get(name, default))


def read_threshold(project_dir: Path, dbt_vars: str | None) -> float:
    """var max_quarantined_share (the delivery gate's threshold), from dbt_project.yml or --vars."""
    value = read_var(project_dir, dbt_vars, "max_quarantined_share", 0.05)
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise CheckUsageError(f"max_quarantined_share must be a fraction (0.05), got {value!r}") from None
    if not 0 <= value <= 1:
        raise CheckUsageError(f"max_quarantined_share must be a fraction between 0 and 1, got {value}")
    return value


def run_check(folder: Path, project_dir: Path, threshold: float, stub_path: Path | None, per_ul_min: float = 1000,
              study_earliest_date: str = "2000-01-01", scratch: Path | None = None,
              diagnoses: Sequence[str] | None = None) -> Report:
    import tempfile

    if not folder.is_dir():
        raise CheckUsageError(f"{folder} is not a folder")
    problems: list[str] = []
    try:
        delivery = dl.load(folder)
    except dl.DeliveryError as exc:
        problems.append(str(exc))
        delivery = dl.Delivery(folder, dict(dl.DEFAULTS), {}, declared=True)
    con = duckdb.connect()
    files: list[FileReport] = []
    rows: dict[str, int] = {}
    rejected: dict[str, int] = {}
    counts: list[RuleCount] = []
    unknown: list[tuple[str, str, int, str, str]] = []
    loaded: dict[str, tuple[list[Rule], Mapping[str, Any], list[FileReport]]] = {}
    with tempfile.TemporaryDirectory(dir=scratch) as tmp:
        map_sql = _map_sql(con, project_dir, folder, problems)
        con.execute(f"create table lab_map as {map_sql}")
        for table in TABLES:
            fmt = delivery.format_for(table)
            paths = raw_files(folder, table)
            if not paths:
                report = FileReport(f"{table}.csv", table)
                report.stops_build.append("not found (all five tables are required; no rows = a header-only CSV)")
                files.append(report)
                continue
            selects = []
            table_reports = []
            for path in paths:
                file_fmt = delivery.format_for(path.name)
                report, relation = read_raw_file(con, path, table, {**fmt, "encoding": file_fmt["encoding"]}, Path(tmp))
                files.append(report)
                table_reports.append(report)
                if relation is not None:
                    selects.append(relation)
            if len(selects) != len(paths):
                continue
            con.execute(f"create table raw_{table} as " + " union all ".join(selects))
            typed, rules = typed_sql(table, fmt, map_sql, per_ul_min,
                                     read_var(project_dir, None, "diagnoses", []) if diagnoses is None else diagnoses)
            issue = "case " + " ".join(f"when {r.condition} then {i}" for i, r in enumerate(rules) if not r.field) + " end"
            con.execute(f"create table checked_{table} as select *, {issue} as rule_index from ({typed})")
            for report in table_reports:
                report.rows = con.execute(f"select count(*) from raw_{table} where source_file = ?", [report.name]).fetchone()[0]
                report.date_order = _date_order_found(con, table, report.name)
            rows[table] = sum(r.rows for r in table_reports)
            loaded[table] = (rules, fmt, table_reports)
            if table == "lab_results":
                map_rules = ", ".join(str(i) for i, r in enumerate(rules) if r.kind == "map")
                unknown = con.execute(
                    "select c.test_code, c.unit, count(*), min(c.value), "
                    "(select min(s.analyte) from shipped_keys s where s.code_key = c.v_code_key) "
                    f"from checked_lab_results c where rule_index in ({map_rules}) group by 1, 2, c.v_code_key order by 3 desc, 1, 2").fetchall()
        if "patients" in loaded:
            con.execute("create table clean_patients as select k_patient_id as patient_id, min(v_birth_year) as birth_year "
                        "from checked_patients where rule_index is null group by 1")
            con.execute("create table delivered_patients as select distinct k_patient_id as patient_id from checked_patients "
                        "where k_patient_id is not null")
        for table, (rules, fmt, table_reports) in loaded.items():
            cross = cross_table_rules(table, study_earliest_date) if "patients" in loaded else []
            rejected[table], table_counts = _final_reasons(con, table, rules, cross)
            for reason, column, kind, n in table_counts:
                examples = [e for (e,) in con.execute(
                    f"select {column} from final_{table} where "
                    + ("list_contains(field_reasons, ?)" if reason.endswith(" (field nulled)") else "reason = ?")
                    + " group by 1 order by count(*) desc, 1 limit 3",
                    [reason]).fetchall()]
                found = table_reports[0].date_order
                where = table_reports[0].name if len(table_reports) == 1 else f"{table}.csv"
                shown = ["(empty)" if e is None else str(e) for e in examples]
                counts.append(RuleCount(table, reason, column, n, shown, _hint(kind, table, shown, fmt, found, where)))
    con.close()
    if unknown and stub_path is not None:
        write_map_stub(stub_path, unknown)
    return Report(folder, delivery.declared, threshold, files, rows, rejected, counts, unknown,
                  stub_path if unknown else None, problems)


def write_map_stub(path: Path, pairs: list[tuple[str, str, int, str, str]]) -> Path:
    """A lab_test_map.csv to fill in: one row per unknown (code, unit); analyte suggested when the code
    is known with another unit; factor empty (1 when the unit already is the analyte's canonical one)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh, lineterminator="\n")
        out.writerow(["source_code", "source_unit", "analyte", "factor", "note"])
        for code, unit, n, example, analyte in pairs:
            out.writerow([code, unit, analyte or "", "", f"{n} row(s), e.g. value {example}; fill in analyte and factor"])
    return path


# --------------------------------------------------------------------------- the summary

def render(report: Report) -> str:
    lines = [f"delivery {report.folder}: "
             + ("delivery.yml declared" if report.delivery_declared else "no delivery.yml (the default formats)")]
    lines.append(f"  {'file':<28} {'rows':>7}  {'encoding':<12} {'delim':<5} {'date order found':<28} would quarantine")
    for f in report.files:
        share = ""
        if f.stops_build:
            share = "BUILD STOPS"
        elif report.rows.get(f.table):
            n = report.rejected.get(f.table, 0)
            share = f"{f.table}: {n} of {report.rows[f.table]} ({report.share(f.table):.1%})"
        delim = {"\t": "tab", "": "-"}.get(f.delimiter, f.delimiter)
        lines.append(f"  {f.name:<28} {f.rows:>7}  {f.encoding:<12} {delim:<5} {f.date_order:<28} {share}")
    issues = [f"  {f.name}: {p}" for f in report.files for p in f.stops_build] + [f"  {p}" for p in report.problems]
    if issues:
        lines.append("the build would stop:")
        lines += issues
    if report.rules:
        lines.append("rows that would be quarantined, by rule (column: count, examples -> what to do):")
        for r in report.rules:
            shown = ", ".join(repr(e) for e in r.examples)
            lines.append(f"  {r.table}.{r.column}: {r.rows} x {r.reason!r}, e.g. {shown}")
            if r.hint:
                lines.append(f"      -> {r.hint}")
    if report.unknown_pairs:
        total = sum(p[2] for p in report.unknown_pairs)
        lines.append(f"unknown (test code, unit): {len(report.unknown_pairs)} pair(s), {total} row(s):")
        for code, unit, n, example, analyte in report.unknown_pairs[:10]:
            lines.append(f"  ({code}, {unit}): {n} row(s)" + (f"; {code} is known as {analyte} with other units" if analyte else ""))
        if report.stub_path:
            lines.append(f"  map stub written: {report.stub_path} (fill in analyte and factor, save it as lab_test_map.csv "
                         "beside the delivery)")
    refused = report.refused
    if refused:
        lines.append("verdict: REFUSED (exit 3)")
        if issues:
            lines.append(f"  {len(issues)} problem(s) above stop the build")
        lines += [f"  {t}: {report.share(t):.1%} of rows would be quarantined (> max_quarantined_share {report.threshold:g})"
                  for t in report.rows if report.share(t) > report.threshold]
    else:
        lines.append(f"verdict: OK (no table above max_quarantined_share {report.threshold:g})")
    lines.append("(not evaluated here: overlapping drug exposures; the build checks them)")
    return "\n".join(lines)


def main(folder: Path, project_dir: Path, dbt_vars: str | None, stub_path: Path | None,
         out: Callable[[str], None] = print) -> int:
    threshold = read_threshold(project_dir, dbt_vars)
    report = run_check(folder, project_dir, threshold, stub_path, study_earliest_date=read_var(project_dir, dbt_vars,
                       "study_earliest_date", "2000-01-01"), per_ul_min=float(read_var(project_dir, dbt_vars,
                       "per_microlitre_min_count", 1000)), diagnoses=read_var(project_dir, dbt_vars, "diagnoses", []))
    out(render(report))
    return EXIT_REFUSED if report.refused else EXIT_OK
