"""The rendered demo report agrees with itself and with the marts: every count a card, a
figure legend or a table shows is read back from the HTML and compared with the mart column
it must come from (counted here independently, in SQL)."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import duckdb
import pytest

from conftest import Built, run_cli

pytestmark = pytest.mark.slow


class _Tables(HTMLParser):
    """Table captions -> rows of cell texts; KPI cards label -> value."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.cards: dict[str, str] = {}
        self._caption: str | None = None
        self._rows: list[list[str]] | None = None
        self._cell: list[str] | None = None
        self._span: str | None = None
        self._label = ""
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        cls = dict(attrs).get("class") or ""
        if tag == "table":
            self._rows, self._caption = [], ""
        elif tag == "caption":
            self._text = []
        elif tag == "tr" and self._rows is not None:
            self._rows.append([])
        elif tag in ("td", "th") and self._rows is not None:
            self._cell = []
        elif tag == "span" and cls in ("label", "value"):
            self._span, self._text = cls, []

    def handle_endtag(self, tag: str) -> None:
        if tag == "caption":
            self._caption = "".join(self._text).strip()
        elif tag in ("td", "th") and self._cell is not None and self._rows:
            self._rows[-1].append("".join(self._cell).strip())
            self._cell = None
        elif tag == "table" and self._rows is not None:
            self.tables[self._caption or f"table {len(self.tables)}"] = [r for r in self._rows if r]
            self._rows = None
        elif tag == "span" and self._span:
            text = "".join(self._text).strip()
            if self._span == "label":
                self._label = text
            else:
                self.cards[self._label] = text
            self._span = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)
        self._text.append(data)


@pytest.fixture(scope="module")
def rendered(demo_warehouse: Built, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, _Tables]:
    out = tmp_path_factory.mktemp("agreement")
    run_cli(["report", "--out-dir", str(out)], demo_warehouse.env)
    html = (out / "ctd_rtp_report_latest.html").read_text(encoding="utf-8")
    parsed = _Tables()
    parsed.feed(html)
    return html, parsed


def _table(parsed: _Tables, starts: str) -> list[list[str]]:
    """The rows of the table whose title (the caption after its "Table k. ") starts so."""
    return next(rows for caption, rows in parsed.tables.items() if caption.split(". ", 1)[-1].startswith(starts))


def _query(db: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql).fetchall()


def test_trough_legend_and_exposure_card_count_the_same_levels(rendered, demo_warehouse: Built) -> None:
    html, parsed = rendered
    within = int(re.search(r"Within target \(n=(\d+)\)", html).group(1))
    outside = int(re.search(r"Outside target \(n=(\d+)\)", html).group(1))
    card = next(v for k, v in parsed.cards.items() if k.startswith("Troughs in target"))
    k, m = map(int, re.match(r"(\d+) \([\d.]+%\) of (\d+) trough levels", card).groups())
    [(in_target, on_treatment)] = _query(
        demo_warehouse.db_path,
        "select count(*) filter (where is_in_target), count(*) from marts.fct_trough_levels where is_on_treatment",
    )
    assert (within, within + outside) == (k, m) == (in_target, on_treatment)
    [(exposure_total,)] = _query(demo_warehouse.db_path, "select sum(n_troughs) from marts.fct_drug_exposure")
    assert exposure_total == on_treatment


def test_response_cards_and_tables_agree_with_the_marts(rendered, demo_warehouse: Built) -> None:
    html, parsed = rendered
    db = demo_warehouse.db_path
    table2 = {r[0]: r[1:] for r in _table(parsed, "Platelet response by visit")[1:]}
    for visit, cr, pr, nr, ne, evaluable in _query(
        db,
        "select v.visit_label, n_cr, n_pr, n_nr, n_ne, n_evaluable from marts.rpt_response_rates "
        "join marts.dim_visit_schedule v using (visit) order by v.visit_order",
    ):
        assert table2[visit][:5] == [str(cr), str(pr), str(nr), str(ne), str(evaluable)], visit
    # the legends of the figures grouped by month-6 response count the month-6 row of Table 2
    month_6 = dict(zip(("CR", "PR", "NR", "NE"), map(int, table2["Month 6"][:4])))
    for code, n in re.findall(r"\b(CR|PR|NR|NE) \(n=(\d+)\)", html):
        assert int(n) == month_6[code], (code, n)
    # best response (Table 3) and the responders card: CR + PR of the per-count best response
    best = dict(zip(*[_table(parsed, "Best response")[i] for i in (0, 1)]))
    [(n_best_cr, n_best_pr, n_patients)] = _query(
        db,
        "select count(*) filter (where best_response = 'CR'), count(*) filter (where best_response = 'PR'), "
        "count(*) from marts.fct_patient_response_summary",
    )
    assert best["CR"].startswith(f"{n_best_cr} (") and best["PR"].startswith(f"{n_best_pr} (")
    assert best["Patients"] == str(n_patients)
    assert parsed.cards["Responders (CR or PR) by Month 6"].startswith(f"{n_best_cr + n_best_pr} (")
    # time to first response: first CR/PR count per patient, recounted from the per-count mart
    days = sorted(
        d
        for (d,) in _query(
            db,
            "select min(study_day) from marts.fct_platelet_count_response "
            "where response in ('CR', 'PR') group by patient_id",
        )
    )
    assert len(days) == n_best_cr + n_best_pr
    median = (days[len(days) // 2] + days[(len(days) - 1) // 2]) / 2
    assert parsed.cards["Time to first response, median (range)"] == (
        f"{median:g} ({days[0]}\u2013{days[-1]}) days (n = {len(days)})"
    )
    [(n_lost,)] = _query(db, "select count(*) filter (where lost_response) from marts.fct_patient_response_summary")
    assert parsed.cards["Confirmed loss of response"] == f"{n_lost} of {len(days)} responders"


def test_first_response_never_disagrees_with_the_visit_it_names(demo_warehouse: Built) -> None:
    """first_response_visit is the window of the count whose day is days_to_first_response."""
    rows = _query(
        demo_warehouse.db_path,
        """
        select s.patient_id, s.first_response_visit, s.days_to_first_response, c.visit, c.response
        from marts.fct_patient_response_summary as s
        left join marts.fct_platelet_count_response as c
            on c.patient_id = s.patient_id and c.study_day = s.days_to_first_response
        where s.days_to_first_response is not null""",
    )
    assert rows and all(visit == c_visit and response in ("CR", "PR") for _, visit, _, c_visit, response in rows), rows
    [(bleeding_starts,)] = _query(
        demo_warehouse.db_path,
        """
        select count(*) from marts.fct_patient_response_summary as s
        join marts.fct_platelet_count_response as c
            on c.patient_id = s.patient_id and c.study_day < s.days_to_first_response
        where c.meets_response_count and c.response = 'NR'""",
    )
    assert bleeding_starts > 0  # the demo has counts meeting the thresholds while bleeding, before the first response


def test_outcomes_over_time_agree_with_the_adtte_and_follow_up_marts(rendered, demo_warehouse: Built) -> None:
    html, parsed = rendered
    db = demo_warehouse.db_path
    table = {r[0]: r[1:] for r in _table(parsed, "Time to event")[1:]}
    labels = {
        "TTRESP": "Time to first response (CR or PR)",
        "TTCR": "Time to complete response",
        "DOR": "Duration of response (responders)",
    }
    for code, n, events, censored in _query(
        db,
        "select paramcd, count(*), count(*) filter (where cnsr = 0), "
        "count(*) filter (where cnsr = 1) from marts.fct_time_to_event group by 1",
    ):
        row = next(v for k, v in table.items() if k.startswith(labels[code]))
        assert row[:3] == [str(n), str(events), str(censored)], code
    # the KM median card is the TTRESP row of analysis.time_to_event_km, and the table says the same
    [(median, low, high)] = _query(
        db, "select median_days, median_ci_low, median_ci_high from analysis.time_to_event_km where paramcd = 'TTRESP'"
    )
    expected = f"{median:g} ({low:g}\u2013{'not reached' if high is None else f'{high:g}'}) days"
    assert parsed.cards["Time to first response, Kaplan\u2013Meier median (95% CI)"] == expected
    assert next(v for k, v in table.items() if k.startswith(labels["TTRESP"]))[4] == expected
    # share of time in response: pooled days of fct_patient_follow_up
    [(observed, in_response, n)] = _query(
        db, "select sum(days_observed), sum(days_in_response), count(*) from marts.fct_patient_follow_up"
    )
    assert parsed.cards["Share of observed time in response, all patients"] == (
        f"{100 * in_response / observed:.1f}% of {observed} observed days (n = {n})"
    )
    # steroid sparing at month 6: tapered among those above the taper dose at baseline, from fct_visits
    [(tapered, above)] = _query(
        db,
        """
        select count(*) filter (where m6.is_steroid_tapered), count(*)
        from marts.fct_visits as b join marts.fct_visits as m6 using (patient_id)
        where b.visit = 'baseline' and m6.visit = 'month_6' and not b.is_steroid_tapered
            and m6.prednisone_equivalent_mg_day is not null""",
    )
    month_6 = {r[0]: r[1:] for r in _table(parsed, "Corticosteroid sparing")[1:]}["Month 6"]
    assert month_6[4].startswith(f"{tapered}/{above} (")
    assert "censored at the start of rescue therapy" in html and "data cut-off" in html
