"""Bad-input fault cases, declared as data: the valid own_cohort fixture + one mutation each.

Every case names the table it breaks, the mutation (applied in code to a temporary copy of
tests/python/fixtures/own_cohort) and the outcome the warehouse promises
(docs/data-rejection.md):

- ``Quarantined``: the build passes; the row is in ``quarantine.quarantined_rows`` with exactly
  this ``rejection_reason``.
- ``Kept``: the build passes; the row is clean (``rejection_reason is null``) in its
  ``intermediate.int_<table>_checked`` model, with the typed values given.
- ``Marts``: the build passes; a query on the published tables returns exactly these rows.
- ``BuildFails``: ``ctd-rtp build`` exits 3 and its error output contains every fragment.
- ``Refused``: the delivery gate refuses. The base cohort is built (or run, with the report)
  first in the same folder; then the faulty delivery exits 3 with every fragment in its error
  output, said once, and the published marts (and the report) are exactly as before.
- ``Logged``: the build's log (stdout) contains every fragment.

Passing batches build with ``--accept-delivery``: the 4-patient cohort with several faults per
build quarantines far more than the gate's 5% of a table. A case with its own ``cli`` arguments
(the gate cases) is built alone, with exactly those arguments.

For every passing build the suite also checks that nothing is lost: for each table, the rows
written to the file = clean rows + quarantined rows (counted independently of dbt's own
reconciliation test, from the rows the mutation meant to deliver).

tests/python/test_faults.py runs the cases; cases whose mutations cannot disturb each other
share one build (see ``plan_batches``), build-failure cases get a build of their own.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parent / "fixtures"
BASE = FIXTURES / "own_cohort"
TABLES = ("patients", "drug_exposures", "lab_results", "visit_assessments", "adverse_events")

# The row key each table shows in quarantine.quarantined_rows (models/quarantine/quarantined_rows.sql).
ROW_KEY_SQL = {
    "patients": "patient_id",
    "drug_exposures": "exposure_id",
    "lab_results": "result_id",
    "visit_assessments": "patient_id || '@' || coalesce(cast(assessed_on as varchar), '?')",
    "adverse_events": "ae_id",
}


# --------------------------------------------------------------------------- the raw cohort


@dataclass
class RawTable:
    columns: list[str]
    rows: list[dict[str, Any]]


Writer = Callable[[RawTable, Path], Path]


def write_csv(
    table: RawTable,
    path: Path,
    *,
    delimiter: str = ",",
    newline: str = "\n",
    encoding: str = "utf-8",
    bom: bool = False,
    header: Sequence[str] | None = None,
) -> Path:
    buffer = io.StringIO()
    out = csv.writer(buffer, delimiter=delimiter, lineterminator=newline)
    out.writerow(list(header or table.columns))
    for row in table.rows:
        out.writerow([row.get(c, "") for c in table.columns])
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + buffer.getvalue().encode(encoding))
    return path


@dataclass
class Cohort:
    """The raw tables as rows of text, plus a writer per table (CSV unless a case changes it)."""

    tables: dict[str, RawTable]
    writers: dict[str, Writer] = field(default_factory=dict)

    @classmethod
    def base(cls) -> Cohort:
        tables = {}
        for name in TABLES:
            with (BASE / f"{name}.csv").open(newline="", encoding="utf-8") as fh:
                reader = csv.DictReader(fh)
                tables[name] = RawTable(list(reader.fieldnames or []), [dict(r) for r in reader])
        return cls(tables)

    def write(self, folder: Path) -> dict[str, int]:
        """Write every table into folder; return the data rows each file is meant to hold."""
        folder.mkdir(parents=True, exist_ok=True)
        for name, table in self.tables.items():
            writer = self.writers.get(name)
            if writer is None:
                write_csv(table, folder / f"{name}.csv")
            else:
                writer(table, folder / f"{name}.csv")
        return {name: len(t.rows) for name, t in self.tables.items()}


# --------------------------------------------------------------------------- mutations
# kind: "rows" edits or adds rows that no other case uses (any number per table per build);
# "file" changes how the table's file is written (one per table per build, rows still compose);
# "exclusive" replaces the table's content (nothing else may touch that table in the build).


@dataclass(frozen=True)
class Mutation:
    table: str
    kind: str
    what: str
    apply: Callable[[Cohort], None] = field(compare=False)


def add(table: str, **values: str) -> Mutation:
    def apply(c: Cohort) -> None:
        t = c.tables[table]
        t.rows.append({col: values.get(col, "") for col in t.columns})

    return Mutation(table, "rows", f"add {table} row {values}", apply)


def edit(table: str, key_column: str, key: str, **values: str) -> Mutation:
    def apply(c: Cohort) -> None:
        hits = [r for r in c.tables[table].rows if r[key_column] == key]
        assert hits, f"no {table} row with {key_column}={key}"
        for r in hits:
            r.update(values)

    return Mutation(table, "rows", f"set {values} on {table} {key_column}={key}", apply)


def repeat(table: str, key_column: str, key: str, times: int = 1) -> Mutation:
    """The row with this key delivered again, every column identical (an export run twice)."""

    def apply(c: Cohort) -> None:
        hits = [r for r in c.tables[table].rows if r[key_column] == key]
        assert len(hits) == 1, f"{len(hits)} {table} rows with {key_column}={key}"
        c.tables[table].rows.extend(dict(hits[0]) for _ in range(times))

    return Mutation(table, "rows", f"repeat {table} {key_column}={key} {times} more time(s)", apply)


def every_row(table: str, column: str, value: Callable[[str], str], what: str) -> Mutation:
    """The same change on every row of the table (a systematic export problem)."""

    def apply(c: Cohort) -> None:
        for r in c.tables[table].rows:
            r[column] = value(r[column])

    return Mutation(table, "exclusive", what, apply)


def day_first(iso: str) -> str:
    year, month, day = iso.split("-")
    return f"{day}/{month}/{year}"


def file_format(table: str, what: str, kind: str = "file", **csv_options: Any) -> Mutation:
    def apply(c: Cohort) -> None:
        c.writers[table] = lambda t, p: write_csv(t, p, **csv_options)

    return Mutation(table, kind, what, apply)


def raw_bytes(table: str, what: str, content: Callable[[RawTable], bytes]) -> Mutation:
    """The file holds exactly these bytes (the build is expected to fail, so rows are moot)."""

    def apply(c: Cohort) -> None:
        def writer(t: RawTable, p: Path) -> Path:
            p.write_bytes(content(t))
            return p

        c.writers[table] = writer

    return Mutation(table, "exclusive", what, apply)


def header_only(table: str) -> Mutation:
    def apply(c: Cohort) -> None:
        c.tables[table].rows.clear()

    return Mutation(table, "exclusive", f"{table}.csv holds only its header line", apply)


def drop_column(table: str, column: str) -> Mutation:
    def apply(c: Cohort) -> None:
        c.tables[table].columns.remove(column)

    return Mutation(table, "exclusive", f"{table}.csv without column {column}", apply)


def extra_column(table: str, column: str, value: str) -> Mutation:
    def apply(c: Cohort) -> None:
        t = c.tables[table]
        t.columns.append(column)
        for r in t.rows:
            r.setdefault(column, value)

    return Mutation(table, "file", f"{table}.csv with an extra column {column}", apply)


def shuffled_upper_header(table: str) -> Mutation:
    def apply(c: Cohort) -> None:
        t = c.tables[table]
        t.columns.reverse()
        c.writers[table] = lambda tt, p: write_csv(tt, p, header=[col.upper() for col in tt.columns])

    return Mutation(table, "file", f"{table}.csv with columns reversed and the header in upper case", apply)


def append_line(table: str, line: str) -> Mutation:
    """A raw text line appended to the CSV as is (e.g. a row with too many fields)."""

    def apply(c: Cohort) -> None:
        def writer(t: RawTable, p: Path) -> Path:
            write_csv(t, p)
            with p.open("a", encoding="utf-8") as fh:
                fh.write(line + "\n")
            return p

        c.writers[table] = writer

    return Mutation(table, "exclusive", f"{table}.csv gets the line {line!r}", apply)


def lab_results_parquet() -> Mutation:
    """lab_results.parquet with typed columns: value DOUBLE, collected_on DATE (no CSV next to it)."""

    def apply(c: Cohort) -> None:
        t = c.tables["lab_results"]
        t.rows = [r for r in t.rows if not r["value"].startswith(("<", ">"))]  # a number column has no "<2.0"

        def writer(tt: RawTable, p: Path) -> Path:
            import pyarrow as pa
            import pyarrow.parquet as pq

            data = {col: [r[col] for r in tt.rows] for col in tt.columns}
            data["value"] = [float(v) for v in data["value"]]
            data["collected_on"] = [dt.date.fromisoformat(v) for v in data["collected_on"]]
            out = p.with_suffix(".parquet")
            pq.write_table(pa.table(data), out)
            return out

        c.writers["lab_results"] = writer

    return Mutation(
        "lab_results", "exclusive", "lab_results.parquet with a DOUBLE value and a DATE collected_on", apply
    )


def csv_text_writer(table: str, what: str, kind: str, transform: Callable[[str], str]) -> Mutation:
    """The CSV as written by write_csv, then transformed as text (e.g. a preamble line)."""

    def apply(c: Cohort) -> None:
        def writer(t: RawTable, p: Path) -> Path:
            write_csv(t, p)
            p.write_text(transform(p.read_text(encoding="utf-8")), encoding="utf-8")
            return p

        c.writers[table] = writer

    return Mutation(table, kind, what, apply)


def duplicate_header_column(table: str, column: str) -> Mutation:
    def apply(c: Cohort) -> None:
        t = c.tables[table]
        t.columns.append(column + "#2")
        c.writers[table] = lambda tt, p: write_csv(tt, p, header=[col.split("#")[0] for col in tt.columns])

    return Mutation(table, "exclusive", f"{table}.csv names column {column} twice", apply)


def parquet_copy(table: str, *, keep_csv: bool = False, drop: str | None = None) -> Mutation:
    """<table>.parquet with every column as text (optionally one dropped, optionally the CSV kept too)."""

    def apply(c: Cohort) -> None:
        def writer(t: RawTable, p: Path) -> Path:
            import pyarrow as pa
            import pyarrow.parquet as pq

            columns = [col for col in t.columns if col != drop]
            pq.write_table(pa.table({col: [r[col] for r in t.rows] for col in columns}), p.with_suffix(".parquet"))
            if keep_csv:
                write_csv(t, p)
            return p.with_suffix(".parquet")

        c.writers[table] = writer

    what = (
        f"{table}.parquet" + (f" without column {drop}" if drop else "") + (f" next to {table}.csv" if keep_csv else "")
    )
    return Mutation(table, "exclusive", what, apply)


def new_patient(
    pid: str, *, sex: str = "F", birth_year: str = "1978", diagnosis: str = "SLE", prior_lines: str = "2"
) -> Mutation:
    return add(
        "patients",
        patient_id=pid,
        sex=sex,
        birth_year=birth_year,
        ctd_diagnosis=diagnosis,
        ctd_diagnosed_on="2016-01-01",
        thrombocytopenia_diagnosed_on="2020-01-01",
        prior_therapy_lines=prior_lines,
    )


def lab(result_id: str, patient_id: str, collected_on: str, test_code: str, value: str, unit: str) -> Mutation:
    return add(
        "lab_results",
        result_id=result_id,
        patient_id=patient_id,
        collected_on=collected_on,
        test_code=test_code,
        value=value,
        unit=unit,
    )


def visit(
    patient_id: str, assessed_on: str, bleeding: str = "0", prednisone: str = "5", rescue: str = "false"
) -> Mutation:
    return add(
        "visit_assessments",
        patient_id=patient_id,
        assessed_on=assessed_on,
        who_bleeding_grade=bleeding,
        prednisone_equivalent_mg_day=prednisone,
        rescue_therapy=rescue,
    )


def exposure(
    exposure_id: str, patient_id: str, started_on: str, ended_on: str, drug: str = "sirolimus", dose: str = "1"
) -> Mutation:
    return add(
        "drug_exposures",
        exposure_id=exposure_id,
        patient_id=patient_id,
        drug=drug,
        started_on=started_on,
        ended_on=ended_on,
        daily_dose_mg=dose,
    )


def responder_at_month_6(
    pid: str,
    *,
    bleeding: str = "0",
    prednisone: str = "5",
    assessed_on: str = "2024-06-29",
    extra_visits: Sequence[Mutation] = (),
) -> tuple[Mutation, ...]:
    """A new patient whose only post-baseline count (60 on day 180, baseline 20) meets the PR
    rule: what the month-6 assessment says about bleeding decides the response."""
    return (
        new_patient(pid),
        exposure(f"X_{pid}", pid, "2024-01-01", "2024-07-31"),
        lab(f"{pid}_B", pid, "2024-01-01", "PLT", "20", "10^9/L"),
        lab(f"{pid}_M6", pid, "2024-06-29", "PLT", "60", "10^9/L"),
        *((visit(pid, assessed_on, bleeding=bleeding, prednisone=prednisone),) if assessed_on else ()),
        *extra_visits,
    )


def month_6(pid: str, response: str, reason: str) -> Marts:
    return Marts(
        f"{pid} month_6 is {response} ({reason})",
        f"select response, response_reason from marts.fct_platelet_response where patient_id = '{pid}' "
        "and visit = 'month_6'",
        ((response, reason),),
    )


def adverse_event(
    ae_id: str, patient_id: str, grade: str = "1", serious: str = "false", related: str = "true"
) -> Mutation:
    return add(
        "adverse_events",
        ae_id=ae_id,
        patient_id=patient_id,
        onset_on="2023-03-20",
        resolved_on="2023-03-25",
        term="Headache",
        ctcae_grade=grade,
        serious=serious,
        related_to_study_drug=related,
    )


# --------------------------------------------------------------------------- expectations


@dataclass(frozen=True)
class Quarantined:
    table: str
    key: str
    reason: str
    count: int = 1

    def describe(self) -> str:
        return f"quarantined: {self.reason!r}" + (f" (x{self.count})" if self.count != 1 else "")


@dataclass(frozen=True)
class FieldQuarantined:
    """The row stays clean; one field is nulled and listed in quarantine.quarantined_fields."""

    table: str
    key: str
    field_name: str
    reason: str

    def describe(self) -> str:
        return f"field {self.field_name} quarantined: {self.reason!r} (row kept)"


@dataclass(frozen=True)
class Kept:
    table: str
    key: str
    values: tuple[tuple[str, Any], ...] = ()

    def describe(self) -> str:
        shown = ", ".join(f"{k}={v!r}" for k, v in self.values)
        return "kept" + (f" ({shown})" if shown else "")


@dataclass(frozen=True)
class Marts:
    what: str
    sql: str
    rows: tuple[tuple[Any, ...], ...]

    def describe(self) -> str:
        return self.what


@dataclass(frozen=True)
class BuildFails:
    fragments: tuple[str, ...]

    def describe(self) -> str:
        return "build fails (exit 3): " + " / ".join(repr(f) for f in self.fragments)


@dataclass(frozen=True)
class Refused:
    fragments: tuple[str, ...]
    command: str = "build"  # "run": the report of the good run must stay as it was too

    def describe(self) -> str:
        return f"delivery refused by `ctd-rtp {self.command}` (exit 3), previous warehouse kept: " + " / ".join(
            repr(f) for f in self.fragments
        )


@dataclass(frozen=True)
class Logged:
    fragments: tuple[str, ...]

    def describe(self) -> str:
        return "logs " + " / ".join(repr(f) for f in self.fragments)


Expectation = Quarantined | FieldQuarantined | Kept | Marts | BuildFails | Refused | Logged


def kept(table: str, key: str, **values: Any) -> Kept:
    return Kept(table, key, tuple(values.items()))


def fails(*fragments: str) -> tuple[BuildFails]:
    return (BuildFails(fragments),)


@dataclass(frozen=True)
class FaultCase:
    name: str
    table: str
    mutations: tuple[Mutation, ...]
    expected: tuple[Expectation, ...]
    cli: tuple[str, ...] | None = None  # own CLI arguments (built alone); None: shares a build, --accept-delivery

    @property
    def fails_build(self) -> bool:
        return any(isinstance(e, BuildFails) for e in self.expected)

    @property
    def refused(self) -> Refused | None:
        return next((e for e in self.expected if isinstance(e, Refused)), None)

    @property
    def alone(self) -> bool:
        return self.fails_build or self.refused is not None or self.cli is not None

    def outcome(self) -> str:
        return "; ".join(e.describe() for e in self.expected)


def case(
    name: str,
    table: str,
    mutations: Mutation | Sequence[Mutation],
    *expected: Expectation,
    cli: Sequence[str] | None = None,
) -> FaultCase:
    muts = (mutations,) if isinstance(mutations, Mutation) else tuple(mutations)
    return FaultCase(name, table, muts, tuple(expected), tuple(cli) if cli is not None else None)


RESPONSES_SQL = "select visit, response from marts.fct_platelet_response where patient_id = '{pid}' order by visit"
ALL_NE = (("month_1", "NE"), ("month_3", "NE"), ("month_6", "NE"))
# The hand-worked responses of the base cohort (test_warehouse_build.py): unchanged by a harmless fault.
BASE_RESPONSES_SQL = (
    "select patient_id, visit, response from marts.fct_platelet_response"
    " where patient_id in ('A', 'B', 'C', 'D') order by 1, 2"
)
BASE_RESPONSES = (
    ("A", "month_1", "NE"),
    ("A", "month_3", "PR"),
    ("A", "month_6", "CR"),
    ("B", "month_1", "NE"),
    ("B", "month_3", "NR"),
    ("B", "month_6", "NR"),
    ("C", "month_1", "NE"),
    ("C", "month_3", "NR"),
    ("C", "month_6", "NE"),
    ("D", "month_1", "NE"),
    ("D", "month_3", "NE"),
    ("D", "month_6", "NE"),
)

# A reason for a value that does not fit the delivery's format names the format (macros/delivery.sql
# format_note); these are the defaults, with no delivery.yml.
DEFAULT_NUMBER = "[delivery.yml decimal_separator: '.', thousands_separator: none]"
DEFAULT_DATE = "[delivery.yml date_order: ymd]"
DEFAULT_BOOLEAN = "[delivery.yml booleans: true, t, yes, y, 1 / false, f, no, n, 0]"

# Base cohort reminders: day 0 = A 2023-01-01, B 2023-02-01, C 2023-03-01, D 2023-04-01.
# Visit windows (study days) -30..0, 15..45, 60..120, 150..210. A clean row added for A, B or C
# lies outside every window (e.g. A on 2023-01-08 = day 7) so the base responses stay as worked
# out by hand; D has no baseline count, so D's responses are NE whatever is added.

CASES: tuple[FaultCase, ...] = (
    # ---- file shape -------------------------------------------------------------------
    case(
        "empty_file",
        "lab_results",
        raw_bytes("lab_results", "lab_results.csv is 0 bytes", lambda t: b""),
        *fails("lab_results.csv", "is empty"),
    ),
    case(
        "header_only",
        "adverse_events",
        header_only("adverse_events"),
        Marts("build passes with no adverse events", "select count(*) from marts.fct_adverse_events", ((0,),)),
        kept("patients", "A"),
    ),
    case(
        "missing_column",
        "lab_results",
        drop_column("lab_results", "unit"),
        *fails(
            "lab_results.csv: missing column(s) unit",
            "expected result_id, patient_id, collected_on, test_code, value, unit",
        ),
    ),
    case(
        "extra_column_ignored",
        "drug_exposures",
        extra_column("drug_exposures", "comment", "entered by hand"),
        kept("drug_exposures", "X1", drug="sirolimus", daily_dose_mg=1.0),
    ),
    case(
        "columns_reordered_upper_case",
        "patients",
        shuffled_upper_header("patients"),
        kept("patients", "C", sex="F", birth_year=1990, ctd_diagnosis="SLE"),
    ),
    case(
        "semicolon_delimiter",
        "lab_results",
        file_format("lab_results", "lab_results.csv separated by ';'", delimiter=";"),
        kept("lab_results", "A1", analyte="PLT", value=25.0),
    ),
    case(
        "utf8_bom",
        "visit_assessments",
        file_format("visit_assessments", "visit_assessments.csv starts with a UTF-8 BOM", bom=True),
        kept("visit_assessments", "A@2023-01-01", who_bleeding_grade=1),
    ),
    case(
        "crlf_line_endings",
        "adverse_events",
        file_format("adverse_events", "adverse_events.csv with CRLF line endings", newline="\r\n"),
        kept("adverse_events", "AE1", is_related_to_study_drug=True),
        kept("adverse_events", "AE2", is_related_to_study_drug=True),
    ),
    case(
        "quoted_newline_in_field",
        "adverse_events",
        edit("adverse_events", "ae_id", "AE1", term="Oral\nmucositis, mild"),
        kept("adverse_events", "AE1", term="Oral\nmucositis, mild", ctcae_grade=1),
    ),
    case(
        "ragged_row",
        "lab_results",
        append_line("lab_results", "R1,A,2023-01-08,PLT,25,000,10^9/L"),
        *fails("lab_results.csv", "line 19", "7 fields", "expected 6"),
    ),
    case(
        "not_utf8",
        "adverse_events",
        raw_bytes(
            "adverse_events",
            "adverse_events.csv saved as Latin-1 (term 'Ulcération')",
            lambda t: (
                "ae_id,patient_id,onset_on,resolved_on,term,ctcae_grade,serious,related_to_study_drug\n"
                "AE1,A,2023-02-10,2023-02-20,Ulcération buccale,1,false,true\n".encode("latin-1")
            ),
        ),
        *fails("adverse_events.csv", "not UTF-8"),
    ),
    case(
        "parquet_missing_column",
        "lab_results",
        parquet_copy("lab_results", drop="value"),
        *fails("lab_results.parquet: missing column(s) value"),
    ),
    case(
        "csv_and_parquet_both_present",
        "patients",
        parquet_copy("patients", keep_csv=True),
        *fails("both patients.csv and patients.parquet", "keep only the one"),
    ),
    case(
        "duplicate_header_column",
        "lab_results",
        duplicate_header_column("lab_results", "value"),
        *fails("lab_results.csv: column(s) value appear more than once"),
    ),
    case(
        "preamble_before_header",
        "lab_results",
        csv_text_writer(
            "lab_results",
            "a report title line above the header",
            "exclusive",
            lambda text: "Exported from LIS on 2024-01-01\n" + text,
        ),
        *fails(
            "lab_results.csv: missing column(s)",
            "found Exported from LIS on 2024-01-01",
            "the header must be the first line",
        ),
    ),
    case(
        "unterminated_quote",
        "adverse_events",
        append_line("adverse_events", 'AE9,A,2023-02-10,2023-02-20,"Oral ulcer,1,false,true'),
        *fails("adverse_events.csv line 4", "unterminated quote"),
    ),
    case(
        "tab_delimited",
        "drug_exposures",
        file_format("drug_exposures", "drug_exposures.csv separated by tabs", delimiter="\t"),
        kept("drug_exposures", "X2", drug="sirolimus", is_ongoing=True),
    ),
    case(
        "trailing_delimiter",
        "adverse_events",
        csv_text_writer(
            "adverse_events",
            "every line of adverse_events.csv ends with ','",
            "file",
            lambda text: text.replace("\n", ",\n"),
        ),
        kept("adverse_events", "AE2", ctcae_grade=2, is_serious=False),
    ),
    case(
        "trailing_blank_lines",
        "visit_assessments",
        csv_text_writer(
            "visit_assessments", "visit_assessments.csv ends with empty lines", "file", lambda text: text + "\n\n"
        ),
        kept("visit_assessments", "C@2023-03-01", rescue_therapy=False),
    ),
    case(
        "line_of_spaces",
        "visit_assessments",
        csv_text_writer("visit_assessments", "a line holding only spaces", "exclusive", lambda text: text + "   \n"),
        *fails("visit_assessments.csv line 9: a line holding only spaces"),
    ),
    case(
        "parquet_numeric_value",
        "lab_results",
        lab_results_parquet(),
        kept("lab_results", "B2", analyte="PLT", value=25.0),
        kept("lab_results", "A5", analyte="TREG_PCT", value=3.0),
        Marts("same responses as the CSV cohort", BASE_RESPONSES_SQL, BASE_RESPONSES),
    ),
    # ---- lab results --------------------------------------------------------------------
    case(
        "duplicate_result_id",
        "lab_results",
        (lab("DUP1", "B", "2023-02-10", "PLT", "12", "10^9/L"), lab("DUP1", "B", "2023-02-11", "PLT", "13", "10^9/L")),
        Quarantined("lab_results", "DUP1", "duplicate key (result_id)", count=2),
    ),
    case(
        "missing_result_id",
        "lab_results",
        (lab("", "B", "2023-02-12", "PLT", "12", "10^9/L"), lab("  ", "B", "2023-02-12", "PLT", "13", "10^9/L")),
        Quarantined("lab_results", "(missing key)", "missing result_id", count=2),
    ),
    case(
        "lab_without_patient_id",
        "lab_results",
        lab("L_NOPAT", "", "2023-02-12", "PLT", "12", "10^9/L"),
        Quarantined("lab_results", "L_NOPAT", "missing patient_id"),
    ),
    case(
        "unknown_patient",
        "lab_results",
        lab("L_UNK", "Z9", "2023-02-12", "PLT", "12", "10^9/L"),
        Quarantined("lab_results", "L_UNK", "unknown patient"),
    ),
    case(
        "unknown_test_code",
        "lab_results",
        lab("L_CODE", "B", "2023-02-13", "PLTX", "12", "10^9/L"),
        Quarantined("lab_results", "L_CODE", "unknown test code"),
    ),
    case(
        "unknown_unit",
        "lab_results",
        lab("L_UNIT", "B", "2023-02-13", "PLT", "12", "mmol/L"),
        Quarantined("lab_results", "L_UNIT", "unknown unit for test code"),
    ),
    case(
        "platelets_per_microlitre",
        "lab_results",
        lab("L_UL", "A", "2023-01-08", "PLT", "45000", "/uL"),
        kept("lab_results", "L_UL", analyte="PLT", value=45.0),
    ),
    case(
        "platelets_per_microlitre_scale_mixup",
        "lab_results",
        lab("L_UL45", "A", "2023-01-09", "PLT", "45", "/uL"),
        Quarantined("lab_results", "L_UL45", "value too small for its unit (scale mix-up?)"),
    ),
    case(
        "value_not_numeric",
        "lab_results",
        lab("L_ABC", "B", "2023-02-14", "PLT", "abc", "10^9/L"),
        Quarantined("lab_results", "L_ABC", f"value not numeric {DEFAULT_NUMBER}"),
    ),
    case(
        "decimal_comma",
        "lab_results",
        lab("L_COMMA", "B", "2023-02-14", "TREG_PCT", "2,5", "%"),
        Quarantined("lab_results", "L_COMMA", f"value not numeric {DEFAULT_NUMBER}"),
    ),
    case(
        "value_nan",
        "lab_results",
        lab("L_NAN", "B", "2023-02-14", "IL6", "NaN", "pg/mL"),
        Quarantined("lab_results", "L_NAN", f"value not numeric {DEFAULT_NUMBER}"),
    ),
    case(
        "date_with_slashes",
        "lab_results",
        lab("L_SLASH", "A", "2023/01/11", "PLT", "33", "10^9/L"),
        kept("lab_results", "L_SLASH", collected_on=dt.date(2023, 1, 11), value=33.0),
    ),
    case(
        "empty_value",
        "lab_results",
        lab("L_EMPTY", "B", "2023-02-14", "IL6", "", "pg/mL"),
        Quarantined("lab_results", "L_EMPTY", "empty value"),
    ),
    case(
        "censored_below",
        "lab_results",
        lab("L_LT", "A", "2023-01-08", "IL6", "<5", "pg/mL"),
        kept("lab_results", "L_LT", value=5.0, is_censored=True, censoring="<"),
    ),
    case(
        "censored_above",
        "lab_results",
        lab("L_GT", "A", "2023-01-08", "IL10", ">1000", "pg/mL"),
        kept("lab_results", "L_GT", value=1000.0, is_censored=True, censoring=">"),
    ),
    case(
        "negative_value",
        "lab_results",
        lab("L_NEG", "B", "2023-02-15", "PLT", "-5", "10^9/L"),
        Quarantined("lab_results", "L_NEG", "outside plausible range"),
    ),
    case(
        "implausible_value",
        "lab_results",
        lab("L_5000", "B", "2023-02-15", "PLT", "5000", "10^9/L"),
        Quarantined("lab_results", "L_5000", "outside plausible range"),
    ),
    case(
        "date_in_future",
        "lab_results",
        lab("L_FUT", "B", "2099-01-01", "PLT", "40", "10^9/L"),
        Quarantined("lab_results", "L_FUT", "date in the future"),
    ),
    case(
        "date_before_birth",
        "lab_results",
        lab("L_BIRTH", "A", "1979-06-01", "PLT", "40", "10^9/L"),
        Quarantined("lab_results", "L_BIRTH", "date before birth"),
    ),
    case(
        "date_before_study_period",
        "lab_results",
        lab("L_OLD", "A", "1999-06-01", "PLT", "40", "10^9/L"),
        Quarantined("lab_results", "L_OLD", "date before study period"),
    ),
    case(
        "unparseable_date",
        "lab_results",
        lab("L_DATE", "B", "31/12/2023", "PLT", "40", "10^9/L"),
        Quarantined("lab_results", "L_DATE", f"collected_on missing or not a date {DEFAULT_DATE}"),
    ),
    case(
        "value_flag_split_off",
        "lab_results",
        lab("L_FLAG", "A", "2023-01-08", "PLT", "33 H", "10^9/L"),
        kept("lab_results", "L_FLAG", value=33.0, lab_flag="H"),
    ),
    case(
        "unit_spelled_with_superscript",
        "lab_results",
        lab("L_SUP", "A", "2023-01-08", "PLT", "34", "×10⁹/L"),
        kept("lab_results", "L_SUP", analyte="PLT", value=34.0),
    ),
    case(
        "chinese_test_name",
        "lab_results",
        lab("L_ZH", "A", "2023-01-09", "血小板计数", "35", "10^9/L"),
        kept("lab_results", "L_ZH", analyte="PLT", value=35.0),
    ),
    case(
        "spelled_month_date",
        "lab_results",
        lab("L_MON", "A", "04-Jan-2023", "PLT", "36", "10^9/L"),
        kept("lab_results", "L_MON", collected_on=dt.date(2023, 1, 4)),
    ),
    case(
        "day_first_date_undeclared",
        "lab_results",
        lab("L_DMY", "A", "04/01/2023", "PLT", "37", "10^9/L"),
        Quarantined("lab_results", "L_DMY", f"collected_on missing or not a date {DEFAULT_DATE}"),
    ),
    case(
        "whitespace_around_codes",
        "lab_results",
        lab(" L_WS ", " A ", " 2023-01-10 ", " PLT ", " 30 ", " 10^9/L "),
        kept("lab_results", "L_WS", patient_id="A", analyte="PLT", value=30.0),
    ),
    case(
        "lowercase_test_code",
        "lab_results",
        lab("L_LOWER", "A", "2023-01-10", "plt", "31", "10^9/l"),
        kept("lab_results", "L_LOWER", analyte="PLT", value=31.0),
    ),
    case(
        "labs_without_baseline",
        "lab_results",
        (new_patient("G"), exposure("XG", "G", "2023-05-01", ""), lab("G1", "G", "2023-08-01", "PLT", "80", "10^9/L")),
        kept("lab_results", "G1"),
        Marts("G evaluates NE at every visit (no baseline count), not an error", RESPONSES_SQL.format(pid="G"), ALL_NE),
    ),
    # ---- exact duplicates (one copy kept) and conflicts (none kept) ---------------------
    # A3 is A's month-3 count: losing it would make A NE at month 3.
    case(
        "exact_duplicate_lab_line",
        "lab_results",
        repeat("lab_results", "result_id", "A3"),
        Quarantined("lab_results", "A3", "exact duplicate"),
        Marts(
            "one copy of A3 is clean",
            "select count(*) from intermediate.int_lab_results_checked "
            "where result_id = 'A3' and rejection_reason is null",
            ((1,),),
        ),
        Marts("responses as in the clean cohort", BASE_RESPONSES_SQL, BASE_RESPONSES),
    ),
    # B's month-6 assessment (bleeding grade 2) is what makes B NR at month 6; without it B would be PR.
    case(
        "exact_duplicate_visit_line",
        "visit_assessments",
        repeat("visit_assessments", "assessed_on", "2023-07-31", times=2),
        Quarantined("visit_assessments", "B@2023-07-31", "exact duplicate", count=2),
        Marts("responses as in the clean cohort", BASE_RESPONSES_SQL, BASE_RESPONSES),
    ),
    case(
        "exact_duplicate_written_differently",
        "lab_results",
        (
            lab("L_TWICE", "A", "2023-01-08", "PLT", "30", "10^9/L"),
            lab("L_TWICE", " A ", "2023/1/8", " PLT ", "30 ", "10^9/L"),
        ),
        Quarantined("lab_results", "L_TWICE", "exact duplicate"),
        Marts(
            "the copy kept is clean",
            "select count(*) from intermediate.int_lab_results_checked "
            "where result_id = 'L_TWICE' and rejection_reason is null",
            ((1,),),
        ),
    ),
    case(
        "two_copies_and_a_conflict",
        "lab_results",
        (
            lab("L_3X", "B", "2023-02-10", "PLT", "12", "10^9/L"),
            lab("L_3X", "B", "2023-02-10", "PLT", "12", "10^9/L"),
            lab("L_3X", "B", "2023-02-10", "PLT", "13", "10^9/L"),
        ),
        Quarantined("lab_results", "L_3X", "duplicate key (result_id)", count=3),
    ),
    case(
        "exact_duplicate_patient",
        "patients",
        repeat("patients", "patient_id", "D"),
        Quarantined("patients", "D", "exact duplicate"),
        Marts("D is in dim_patients once", "select count(*) from marts.dim_patients where patient_id = 'D'", ((1,),)),
    ),
    case(
        "exact_duplicate_exposure",
        "drug_exposures",
        repeat("drug_exposures", "exposure_id", "X4"),
        Quarantined("drug_exposures", "X4", "exact duplicate"),
        Marts(
            "D keeps day 0",
            "select index_date::varchar from marts.dim_patients where patient_id = 'D'",
            (("2023-04-01",),),
        ),
    ),
    case(
        "exact_duplicate_adverse_event",
        "adverse_events",
        (adverse_event("AE_TWICE", "A"), adverse_event("AE_TWICE", "A")),
        Quarantined("adverse_events", "AE_TWICE", "exact duplicate"),
        Marts(
            "AE_TWICE counted once", "select count(*) from marts.fct_adverse_events where ae_id = 'AE_TWICE'", ((1,),)
        ),
    ),
    case(
        "conflicting_patient_rows",
        "patients",
        (new_patient("Q"), new_patient("Q", birth_year="1979")),
        *fails("patients_file_patient_id_is_unique", "offending row: patient_id=Q, n_rows=2"),
    ),
    # ---- delivery gate (docs/data-rejection.md section 7, the delivery gate) -------------------------
    # every lab date written day-first: 17 of 17 lab rows quarantined; `run` keeps marts and report
    case(
        "gate_all_lab_dates_unparseable",
        "lab_results",
        every_row("lab_results", "collected_on", day_first, "every collected_on written day-first (31/12/2023)"),
        Refused(
            (
                "delivery refused, nothing published",
                "lab_results: 17 of 17 rows quarantined (100.0%), more than max_quarantined_share 5.0%",
                "top reasons: 17 x collected_on missing or not a date",
                "marts.fct_lab_results (had 17 rows when last published) would be empty: no clean lab result",
            ),
            command="run",
        ),
        cli=(),
    ),
    case(
        "gate_no_index_drug",
        "drug_exposures",
        every_row("drug_exposures", "drug", lambda _: "hydroxychloroquine", "every exposure is hydroxychloroquine"),
        Refused(
            (
                "no patient has an index dose: 0 of 4 patients have a clean exposure to the index drug",
                "marts.fct_platelet_response (had 12 rows when last published), "
                "marts.rpt_response_rates (had 3 rows when last published)",
            )
        ),
        cli=(),
    ),
    # 17 good lab rows + 5 bad = 5 of 22 (22.7%) against a threshold of 20%; + 4 bad = 4 of 21 (19.0%)
    case(
        "gate_share_just_over_threshold",
        "lab_results",
        tuple(lab(f"L_OVER{i}", "B", "2023-02-14", "PLT", "abc", "10^9/L") for i in range(5)),
        Refused(
            (
                "lab_results: 5 of 22 rows quarantined (22.7%), more than max_quarantined_share 20.0%",
                f"top reasons: 5 x value not numeric {DEFAULT_NUMBER}",
            )
        ),
        cli=("--vars", "{max_quarantined_share: 0.2}"),
    ),
    case(
        "gate_share_just_under_threshold",
        "lab_results",
        tuple(lab(f"L_UNDER{i}", "B", "2023-02-14", "PLT", "abc", "10^9/L") for i in range(4)),
        Quarantined("lab_results", "L_UNDER0", f"value not numeric {DEFAULT_NUMBER}"),
        Logged(("delivery gate: passed (max_quarantined_share 20.0%; highest share 19.0%)",)),
        Marts(
            "quarantine.delivery_summary",
            "select source_table, rows_delivered, rows_clean, rows_quarantined, rows_with_quarantined_fields, "
            "round(quarantined_share, 3), top_reasons from quarantine.delivery_summary order by table_order",
            (
                ("patients", 4, 4, 0, 0, 0.0, None),
                ("drug_exposures", 4, 4, 0, 0, 0.0, None),
                ("lab_results", 21, 17, 4, 0, 0.19, f"4 x value not numeric {DEFAULT_NUMBER}"),
                ("visit_assessments", 7, 7, 0, 0, 0.0, None),
                ("adverse_events", 2, 2, 0, 0, 0.0, None),
            ),
        ),
        Marts("responses as in the clean cohort", BASE_RESPONSES_SQL, BASE_RESPONSES),
        cli=("--vars", "{max_quarantined_share: 0.2}"),
    ),
    # a nulled field counts toward the share: every dose written with a decimal comma
    case(
        "gate_every_dose_unreadable",
        "visit_assessments",
        every_row(
            "visit_assessments",
            "prednisone_equivalent_mg_day",
            lambda v: v.replace(".", ",") + ",0" if "." not in v else v.replace(".", ","),
            "every prednisone dose with a decimal comma",
        ),
        Refused(
            (
                "visit_assessments: 0 of 7 rows quarantined and 7 with a field nulled (100.0%), "
                "more than max_quarantined_share 5.0%",
                f"7 x prednisone_equivalent_mg_day not a number {DEFAULT_NUMBER} (field nulled)",
            )
        ),
        cli=(),
    ),
    case(
        "gate_accept_delivery",
        "lab_results",
        every_row("lab_results", "collected_on", day_first, "every collected_on written day-first (31/12/2023)"),
        Logged(
            (
                "warning: delivery accepted with --accept-delivery although the gate would refuse it: "
                "lab_results: 17 of 17 rows quarantined (100.0%)",
            )
        ),
        Marts(
            "the accepted delivery is published: no clean lab result",
            "select count(*) from marts.fct_lab_results",
            ((0,),),
        ),
        cli=("--accept-delivery",),
    ),
    # ---- patients ---------------------------------------------------------------------
    case(
        "duplicate_patient_id",
        "patients",
        new_patient("A"),
        *fails("patients_file_patient_id_is_unique", "offending row: patient_id=A, n_rows=2"),
    ),
    case(
        "missing_patient_id",
        "patients",
        new_patient(""),
        *fails("patients_file_patient_id_is_present", "offending row: patient_id=None", "row_issue=missing patient_id"),
    ),
    case(
        "blank_patient_id",
        "patients",
        new_patient("   "),
        *fails("patients_file_patient_id_is_present", "offending row: patient_id=None", "row_issue=missing patient_id"),
    ),
    case(
        "patient_row_quarantined",
        "patients",
        (new_patient("H", sex="X"), lab("H1", "H", "2023-03-01", "PLT", "20", "10^9/L")),
        Quarantined("patients", "H", "sex not F or M [delivery.yml sex: F / M]"),
        Quarantined("lab_results", "H1", "patient quarantined"),
    ),
    case(
        "birth_year_implausible",
        "patients",
        (new_patient("M", birth_year="2090"), exposure("XM", "M", "2023-05-01", "")),
        Quarantined("patients", "M", "birth_year not within the last 120 years"),
        Quarantined("drug_exposures", "XM", "patient quarantined"),
    ),
    case(
        "prior_lines_not_integer",
        "patients",
        new_patient("N", prior_lines="two"),
        Quarantined("patients", "N", "prior_therapy_lines not an integer"),
    ),
    case("sex_lower_case", "patients", new_patient("K", sex="f"), kept("patients", "K", sex="F")),
    case(
        "patient_without_visits",
        "patients",
        (new_patient("E"), exposure("XE", "E", "2023-05-01", "")),
        Marts(
            "E kept in dim_patients with a day 0",
            "select patient_id, has_index_drug_start from marts.dim_patients where patient_id = 'E'",
            (("E", True),),
        ),
        Marts("E is NE at every visit", RESPONSES_SQL.format(pid="E"), ALL_NE),
    ),
    case(
        "patient_without_sirolimus",
        "patients",
        (
            new_patient("F"),
            exposure("XF", "F", "2023-01-01", "", drug="hydroxychloroquine", dose="400"),
            lab("F1", "F", "2023-01-01", "PLT", "20", "10^9/L"),
            visit("F", "2023-01-01"),
        ),
        kept("lab_results", "F1"),
        kept("drug_exposures", "XF"),
        Marts(
            "F kept in dim_patients without a day 0",
            "select patient_id, has_index_drug_start, index_date from marts.dim_patients where patient_id = 'F'",
            (("F", False, None),),
        ),
        Marts(
            "F has no response rows (not in any denominator)",
            "select count(*) from marts.fct_platelet_response where patient_id = 'F'",
            ((0,),),
        ),
    ),
    # ---- drug exposures ---------------------------------------------------------------
    case(
        "exposure_gap",
        "drug_exposures",
        exposure("X_GAP", "C", "2023-10-01", "2023-12-31"),
        kept("drug_exposures", "X_GAP"),
        Marts(
            "day 0 is still the first start",
            "select index_date::varchar from marts.dim_patients where patient_id = 'C'",
            (("2023-03-01",),),
        ),
    ),
    case(
        "exposure_overlap",
        "drug_exposures",
        exposure("X_OVER", "B", "2023-03-01", "2023-04-01", dose="2"),
        Quarantined("drug_exposures", "X_OVER", "overlaps an earlier exposure to the same drug"),
    ),
    case(
        "exposure_ends_before_start",
        "drug_exposures",
        exposure("X_BACK", "A", "2023-05-01", "2023-04-01"),
        *fails(
            "drug_exposures_file_exposure_ends_on_or_after_start",
            "offending row: exposure_id=X_BACK, patient_id=A",
            "row_issue=exposure ends before it starts",
        ),
    ),
    case(
        "dose_not_a_number",
        "drug_exposures",
        exposure("X_DOSE", "C", "2024-01-05", "2024-02-01", dose="one"),
        Quarantined("drug_exposures", "X_DOSE", f"daily_dose_mg missing or not a number {DEFAULT_NUMBER}"),
    ),
    case(
        "dose_infinite",
        "drug_exposures",
        exposure("X_INF", "C", "2024-03-01", "2024-03-10", dose="Infinity"),
        Quarantined("drug_exposures", "X_INF", f"daily_dose_mg missing or not a number {DEFAULT_NUMBER}"),
    ),
    # ---- visit assessments ------------------------------------------------------------
    # a bad field nulls that field only: the row and its other fields stay (quarantined_fields)
    case(
        "bleeding_grade_out_of_range",
        "visit_assessments",
        visit("B", "2023-03-15", bleeding="5", prednisone="7.5"),
        FieldQuarantined("visit_assessments", "B@2023-03-15", "who_bleeding_grade", "who_bleeding_grade outside 0-4"),
        kept("visit_assessments", "B@2023-03-15", who_bleeding_grade=None, prednisone_equivalent_mg_day=7.5),
    ),
    case(
        "bleeding_grade_fraction",
        "visit_assessments",
        visit("B", "2023-03-16", bleeding="1.5"),
        FieldQuarantined(
            "visit_assessments", "B@2023-03-16", "who_bleeding_grade", "who_bleeding_grade not an integer"
        ),
    ),
    # lost evidence is never good news: each patient's only count (day 180) meets the PR rule
    case(
        "bad_dose_keeps_bleeding_grade",
        "visit_assessments",
        responder_at_month_6("E1", bleeding="2", prednisone="12,5"),
        FieldQuarantined(
            "visit_assessments",
            "E1@2024-06-29",
            "prednisone_equivalent_mg_day",
            f"prednisone_equivalent_mg_day not a number {DEFAULT_NUMBER}",
        ),
        kept("visit_assessments", "E1@2024-06-29", who_bleeding_grade=2, prednisone_equivalent_mg_day=None),
        month_6("E1", "NR", "WHO bleeding grade >= 2"),
    ),
    case(
        "unusable_bleeding_grade_is_ne",
        "visit_assessments",
        responder_at_month_6("E2", bleeding="2a"),
        FieldQuarantined(
            "visit_assessments", "E2@2024-06-29", "who_bleeding_grade", "who_bleeding_grade not an integer"
        ),
        month_6("E2", "NE", "bleeding assessment unusable (quarantined or invalid grade)"),
    ),
    case(
        "conflicting_assessments_are_ne",
        "visit_assessments",
        responder_at_month_6("E3", extra_visits=(visit("E3", "2024-06-29", bleeding="2"),)),
        Quarantined("visit_assessments", "E3@2024-06-29", "duplicate key (patient_id, assessed_on)", count=2),
        month_6("E3", "NE", "bleeding assessment unusable (quarantined or invalid grade)"),
    ),
    case(
        "undated_assessment_is_ne",
        "visit_assessments",
        responder_at_month_6("E4", assessed_on="29/06/2024"),
        Quarantined("visit_assessments", "E4@?", f"assessed_on missing or not a date {DEFAULT_DATE}"),
        month_6("E4", "NE", "bleeding assessment unusable (quarantined or invalid grade)"),
    ),
    case(
        "no_assessment_counts_as_no_bleeding",
        "visit_assessments",
        responder_at_month_6("E5", assessed_on=""),
        month_6("E5", "PR", "meets the PR rule"),
    ),
    case(
        "bleeding_at_the_count_is_nr",
        "visit_assessments",
        responder_at_month_6("E6", bleeding="3"),
        month_6("E6", "NR", "WHO bleeding grade >= 2"),
    ),
    case(
        "booleans_spelled_variously",
        "visit_assessments",
        tuple(
            visit("D", f"2023-05-{day:02d}", rescue=text)
            for day, text in ((1, "Yes"), (2, "NO"), (3, "1"), (4, "0"), (5, "t"), (6, "f"), (7, "y"), (8, "n"))
        ),
        *(
            kept("visit_assessments", f"D@2023-05-{day:02d}", rescue_therapy=value)
            for day, value in (
                (1, True),
                (2, False),
                (3, True),
                (4, False),
                (5, True),
                (6, False),
                (7, True),
                (8, False),
            )
        ),
    ),
    case(
        "boolean_maybe",
        "visit_assessments",
        visit("C", "2023-03-20", rescue="maybe"),
        FieldQuarantined(
            "visit_assessments", "C@2023-03-20", "rescue_therapy", f"rescue_therapy not a boolean {DEFAULT_BOOLEAN}"
        ),
        kept("visit_assessments", "C@2023-03-20", rescue_therapy=None, who_bleeding_grade=0),
    ),
    case(
        "duplicate_visit",
        "visit_assessments",
        (visit("C", "2023-03-25"), visit("C", "2023-03-25", bleeding="1")),
        Quarantined("visit_assessments", "C@2023-03-25", "duplicate key (patient_id, assessed_on)", count=2),
    ),
    # ---- adverse events ---------------------------------------------------------------
    case(
        "ae_grade_0",
        "adverse_events",
        adverse_event("AE_G0", "A", grade="0"),
        Quarantined("adverse_events", "AE_G0", "ctcae_grade outside 1-5"),
    ),
    case(
        "ae_grade_6",
        "adverse_events",
        adverse_event("AE_G6", "A", grade="6"),
        Quarantined("adverse_events", "AE_G6", "ctcae_grade outside 1-5"),
    ),
    case(
        "ae_grade_written_as_decimal",
        "adverse_events",
        adverse_event("AE_G2F", "A", grade="2.0"),
        kept("adverse_events", "AE_G2F", ctcae_grade=2),
    ),
    case(
        "row_of_empty_cells",
        "adverse_events",
        add("adverse_events"),
        Quarantined("adverse_events", "(missing key)", "missing ae_id"),
    ),
    case(
        "ae_serious_maybe",
        "adverse_events",
        adverse_event("AE_MAYBE", "B", serious="maybe"),
        Quarantined("adverse_events", "AE_MAYBE", f"serious not a boolean {DEFAULT_BOOLEAN}"),
    ),
)


# --------------------------------------------------------------------------- batching


@dataclass
class Batch:
    name: str
    cases: list[FaultCase]

    @property
    def fails_build(self) -> bool:
        return any(c.fails_build for c in self.cases)

    @property
    def alone(self) -> bool:
        return any(c.alone for c in self.cases)

    @property
    def refused(self) -> Refused | None:
        return next((c.refused for c in self.cases if c.refused is not None), None)

    def cli(self) -> list[str]:
        """Arguments after the command: a lone case's own, else --accept-delivery (tiny cohort, many faults)."""
        own = next((c.cli for c in self.cases if c.cli is not None), None)
        return ["--quiet", *(own if own is not None else ("--accept-delivery",))]

    def cohort(self) -> Cohort:
        cohort = Cohort.base()
        for c in self.cases:
            for m in c.mutations:
                m.apply(cohort)
        return cohort


def _compatible(batch: Batch, case_: FaultCase) -> bool:
    if batch.alone or case_.alone:
        return False
    used: dict[str, set[str]] = {}
    for c in batch.cases:
        for m in c.mutations:
            used.setdefault(m.table, set()).add(m.kind)
    for m in case_.mutations:
        kinds = used.get(m.table, set())
        if m.kind == "exclusive" and kinds:
            return False
        if "exclusive" in kinds:
            return False
        if m.kind == "file" and "file" in kinds:
            return False
    return True


def plan_batches(cases: Sequence[FaultCase] = CASES) -> list[Batch]:
    """Build-failure cases alone; the others greedily share builds when their mutations compose."""
    names = [c.name for c in cases]
    assert len(names) == len(set(names)), "fault case names must be unique"
    batches: list[Batch] = []
    for c in cases:
        target = next((b for b in batches if _compatible(b, c)), None)
        if target is None:
            target = Batch(c.name if c.alone else f"batch{sum(not b.alone for b in batches) + 1}", [])
            batches.append(target)
        target.cases.append(c)
    return batches


# --------------------------------------------------------------------------- results (for the summary line)


@dataclass
class CaseResult:
    name: str
    as_expected: bool
    batch: str
    detail: str = ""


RESULTS: dict[str, CaseResult] = {}  # case name -> outcome, filled by test_faults.py
BATCH_ROWS_LOST: dict[str, int] = {}  # build -> raw rows neither clean nor quarantined
SUITE_SECONDS: float = 0.0
BUILDS: int = 0


def summary_line() -> str:
    ok = sum(r.as_expected for r in RESULTS.values())
    lost = sum(BATCH_ROWS_LOST.values())
    return (
        f"fault suite: {len(RESULTS)} cases tried, {ok} as expected, rows lost: {lost} "
        f"({BUILDS} builds in {SUITE_SECONDS:.0f}s)"
    )
