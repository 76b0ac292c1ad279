"""Results as data: every number the report's result sections print, as one long table.

The analysis-results dataset `analysis.report_results` has one row per printed cell: which
table (``table_id``, its title), which row and column, the group the row belongs to, the
statistic, its numeric value (when it has one), the formatted text exactly as printed, and the
relation(s) it was computed from. ``ctd-rtp stats`` writes it (:func:`ctd_rtp.report.context.build_results`);
``ctd-rtp report`` prints the stored text of each cell and stops (exit 4, "statistics are stale")
when the current data would print anything else, so SQL users read exactly the numbers on the page.

Section builders take a :class:`Results` and call :meth:`Results.cell` for every number they
print; a :class:`Cell` is the printed text (a ``str``) that also knows its key, which the
template writes as ``data-result`` so tests can match every cell of the page to its row.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from types import MappingProxyType
from typing import Any

import pandas as pd

from ..validation import STALE_HINT, ValidationFailed

RESULTS_TABLE = "report_results"  # in schema analysis
COLUMNS = (
    "table_id",
    "table_title",
    "row_id",
    "row_label",
    "column_id",
    "group_label",
    "statistic",
    "value",
    "formatted",
    "source",
    "row_order",
    "min_cell_count",
)
NOT_COUNTS = ("patients per 100 patient-months", "patient-months")
#: The text of a cell computed from a count that small-cell suppression hides (a rate, %, CI,
#: median, p value...): the count itself prints as ``<N``, what was computed from it as this.
SUPPRESSED = "suppressed"


def is_count(statistic: str) -> bool:
    """Statistics that are (or show) a count of patients, events or values: the cells small-cell
    suppression hides (``n``, ``n (%)``, ``n/N``, ``patients n (%)``, ``events (patients)`` ...)."""
    return statistic.split(" ")[0] in ("n", "n/N", "patients", "events") and statistic not in NOT_COUNTS


#: table_id -> the title of its table on the page (and in the Word file and the results table),
#: without its number; {subgroups} and {drug} come from the study (:func:`table_titles`).
TABLE_TITLES = {
    "patient_flow": "Patient flow (STROBE 13)",
    "follow_up": "Follow-up (STROBE 14c)",
    "missing_data": (
        "Missing data by analyte and visit: present of expected, missing, and of the missing those with a "
        "quarantined result"
    ),
    "baseline": "Baseline characteristics of the analysis set",
    "response_by_visit": "Platelet response by visit with exact 95% confidence intervals",
    "response_summary": "Response: responders, time to first response, loss of response",
    "best_response": "Best response",
    "subgroups": "Response by subgroup ({subgroups}; Fisher's exact test)",
    "friedman": "Friedman test of platelet counts across visits",
    "outcomes_summary": "Outcomes over time: Kaplan-Meier medians and share of time in response",
    "time_to_event": "Time to event (Kaplan\u2013Meier, IWG 2009 / ADaM ADTTE)",
    "steroid_sparing": "Corticosteroid sparing: prednisone-equivalent dose by visit against baseline",
    "outcomes_by_visit": "Platelet count, corticosteroid dose, bleeding and rescue therapy by visit",
    "labs_other": "Blood counts, lipids and other laboratory values",
    "safety_summary": "Safety summary",
    "adverse_events": "Treatment-emergent adverse events by preferred term: patients with at least one event",
    "exposure_summary": "Index-drug exposure",
    "exposure_by_visit": "{drug} dose and trough level by visit",
    "other_drugs": "Other recorded drugs",
    "patient_listing": "Patient listing, analysis set: a supplement for a small cohort",
    "quarantined_rows": "Raw rows held back by the warehouse, by table and reason",
    "quarantined_fields": (
        "Fields nulled in otherwise clean rows (the row is kept without the field), by table, field and reason"
    ),
    "visit_windows": "Visit windows (study days, inclusive)",
}
LAB_TABLES = "labs"  # in TABLE_ORDER: the study's lab tables (var report_panels), in their order
#: The numbered tables in page order: the k-th one shown is "Table k" (the one place tables are numbered).
TABLE_ORDER = (
    "baseline",
    "missing_data",
    "response_by_visit",
    "best_response",
    "subgroups",
    "friedman",
    "time_to_event",
    "steroid_sparing",
    "outcomes_by_visit",
    LAB_TABLES,
    "labs_other",
    "adverse_events",
    "exposure_by_visit",
    "other_drugs",
    "quarantined_rows",
    "quarantined_fields",
    "visit_windows",
)
SUPPLEMENTARY = {"patient_listing": "Table S1"}  # numbered apart from the page's tables


def table_numbers(shown: Iterable[str], lab_tables: Sequence[str] = ()) -> dict[str, str]:
    """table_id -> "Table k": the tables of TABLE_ORDER that the page shows, numbered 1, 2, ...
    in page order (``lab_tables``: the study's lab table ids where LAB_TABLES stands)."""
    present = set(shown)
    order = [t for x in TABLE_ORDER for t in (lab_tables if x == LAB_TABLES else (x,)) if t in present]
    return {**{t: f"Table {k}" for k, t in enumerate(order, start=1)}, **SUPPLEMENTARY}


def table_titles(
    shown: Iterable[str],
    lab_titles: Mapping[str, str] | None = None,
    subgroups: str = "",
    drug: str = "Index drug",
) -> dict[str, str]:
    """table_id -> its title as the page's caption prints it: "Table k. <title>" for a numbered
    table shown (:func:`table_numbers`), the bare title for the other result tables (cards, the
    flow diagram). ``lab_titles``: the study's lab table ids -> titles, in page order."""
    labs = dict(lab_titles or {})
    numbers = table_numbers(shown, tuple(labs))
    words = {"subgroups": subgroups or "none", "drug": drug}
    titles = {**{k: v.format(**words) for k, v in TABLE_TITLES.items()}, **labs}
    return {k: f"{numbers[k]}. {v}" if k in numbers else v for k, v in titles.items()}


def table_title(table_id: str) -> str:
    """The table's title without its number; lab sections (``labs_<section>``) are named after their section."""
    return TABLE_TITLES.get(table_id) or (
        f"Laboratory values ({table_id.removeprefix('labs_')}), baseline vs follow-up"
        if table_id.startswith("labs_")
        else table_id
    )


class ResultsMismatch(ValidationFailed):
    """The stored results table does not hold what the current data would print (stale)."""


class Cell(str):
    """Printed text that knows its results key (table_id, row_id, column_id)."""

    key: tuple[str, str, str]

    def __new__(cls, text: str, key: tuple[str, str, str]) -> Cell:
        obj = super().__new__(cls, text)
        obj.key = key
        return obj

    @property
    def ref(self) -> str:
        """The key as one attribute value, ``table_id|row_id|column_id``."""
        return "|".join(self.key)


def _number(value: Any) -> float | None:
    if value is None or value is pd.NA or isinstance(value, (str, bytes)):
        return None
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(v) else v


class Results:
    """Collects the cells of the result sections. With ``stored`` (a frame of the results
    table), every cell returns the stored text and a differing or missing one is recorded; call
    :meth:`check` once everything is built."""

    def __init__(self, stored: pd.DataFrame | None = None, min_cell_count: int = 0) -> None:
        """``min_cell_count`` N > 1: a count from 1 to N - 1 is printed as ``<N`` (its percentage,
        fraction and value hidden), and a cell computed from such a count (see :meth:`cell`'s
        ``counts``) as :data:`SUPPRESSED`; with ``stored``, the threshold the stored table was made with."""
        if stored is not None and "min_cell_count" in stored and len(stored):
            min_cell_count = int(pd.to_numeric(stored["min_cell_count"], errors="coerce").fillna(0).max())
        self.min_cell_count = int(min_cell_count or 0)
        self.n_suppressed = 0
        self.records: list[dict[str, Any]] = []
        self._keys: set[tuple[str, str, str]] = set()
        self._stored = (
            None
            if stored is None
            else {
                (str(r.table_id), str(r.row_id), str(r.column_id)): str(r.formatted)
                for r in stored.itertuples(index=False)
            }
        )
        self.mismatches: list[str] = []

    def cell(
        self,
        table_id: str,
        row_id: Any,
        column_id: str,
        text: str,
        value: Any = None,
        statistic: str = "",
        source: str = "",
        group: str = "",
        row_label: str = "",
        counts: Iterable[Any] = (),
    ) -> Cell:
        """One printed cell. ``counts``: the counts a derived number is computed from (numerator,
        denominator, group n, the cells of a 2 x 2 table); with suppression on, a cell whose own
        count is small prints ``<N`` and a cell with any small count in ``counts`` prints
        :data:`SUPPRESSED`, both with a null value."""
        key = (table_id, str(row_id), column_id)
        if key in self._keys:
            raise ValueError(f"results cell {key} printed twice")
        self._keys.add(key)
        text = str(text)
        number = _number(value)
        if is_count(statistic) and self.is_small(number):
            text, number = self.count_text(number), None
            self.n_suppressed += 1
        elif any(self.is_small(_number(k)) for k in counts):
            text, number = SUPPRESSED, None
            self.n_suppressed += 1
        self.records.append(
            {
                "table_id": table_id,
                "table_title": table_title(table_id),
                "row_id": key[1],
                "row_label": str(row_label or str(row_id).replace("_", " ").capitalize()),
                "column_id": column_id,
                "group_label": group,
                "statistic": statistic,
                "value": number,
                "formatted": text,
                "source": source,
                "row_order": len(self.records),
                "min_cell_count": self.min_cell_count,
            }
        )
        if self._stored is not None:
            stored = self._stored.get(key)
            if stored != text:
                self.mismatches.append(
                    f"{'|'.join(key)}: the page would print {text!r}, the results table holds {stored!r}"
                )
                text = text if stored is None else stored
            else:
                text = stored
        return Cell(text, key)

    def is_small(self, count: Any) -> bool:
        """A count that suppression hides: 1 to N - 1 (zero and missing are not)."""
        k = _number(count)
        return self.min_cell_count > 1 and k is not None and 0 < k < self.min_cell_count

    def count_text(self, count: Any) -> str:
        """A count as printed outside the results table (methods, data quality): ``<N`` when small."""
        if self.is_small(count):
            return f"<{self.min_cell_count}"
        k = _number(count)
        return str(count) if k is None else str(int(k)) if k.is_integer() else str(k)

    def check(self) -> None:
        """ResultsMismatch when the stored table differs from what the data print (either way)."""
        if self._stored is None:
            return
        extra = sorted(set(self._stored) - self._keys)
        problems = self.mismatches + [f"{'|'.join(k)}: in the results table, not on the page" for k in extra[:20]]
        if problems:
            raise ResultsMismatch(
                f"validation failed: analysis.{RESULTS_TABLE} does not match the current data ({STALE_HINT}; "
                f"{len(problems)} cell(s)), e.g.\n  - " + "\n  - ".join(problems[:10])
            )

    #: table_id -> the title the page prints (numbered: :func:`table_titles`); set by :meth:`name_tables`
    titles: Mapping[str, str] = MappingProxyType({})

    def name_tables(self, titles: Mapping[str, str]) -> None:
        """The tables' titles as the page's captions print them, for the results table and the Word file."""
        self.titles = dict(titles)

    def frame(self) -> pd.DataFrame:
        out = pd.DataFrame(self.records, columns=list(COLUMNS))
        out["table_title"] = [self.titles.get(t, title) for t, title in zip(out["table_id"], out["table_title"])]
        out["value"] = out["value"].astype("float64")
        out["row_order"] = out["row_order"].astype("int64")
        out["min_cell_count"] = out["min_cell_count"].astype("int64")
        return out

    def sources(self) -> dict[str, str]:
        """table_id -> the relations its cells were computed from (for the "Source:" line)."""
        found: dict[str, list[str]] = {}
        for r in self.records:
            for s in str(r["source"]).split(","):
                if s.strip() and s.strip() not in found.setdefault(r["table_id"], []):
                    found[r["table_id"]].append(s.strip())
        return {t: ", ".join(v) for t, v in found.items()}
