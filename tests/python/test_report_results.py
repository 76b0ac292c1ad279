"""Results as data: every number of the report's result sections is a row of
`analysis.report_results`, printed exactly as stored; a results table that no longer matches
the data stops the report (exit 4)."""

from __future__ import annotations

import re
import shutil
from html import unescape
from html.parser import HTMLParser
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from conftest import Built, run_cli
from ctd_rtp.report import sections
from ctd_rtp.report.context import RESULT_INPUTS, build_results
from ctd_rtp.report.formatting import _Visits
from ctd_rtp.report.loading import read_tables
from ctd_rtp.report.results import SUPPRESSED, Results, ResultsMismatch, is_count
from ctd_rtp.warehouse import DuckDBReader

PAGE_DIR: list[Path] = []  # where the module's report (and its .docx) went
RESULT_SECTIONS = (
    "participants",
    "baseline",
    "response",
    "immunology",
    "cytokines",
    "other-labs",
    "safety",
    "exposure",
    "listing",
)


class _Cells(HTMLParser):
    """data-result spans (key -> text) and, per result section, the text of every table cell,
    caption and card value with the text of its data-result spans removed (row and column
    headers are labels: visits, terms, analytes; not collected)."""

    def __init__(self) -> None:
        super().__init__()
        self.cells: dict[str, list[str]] = {}
        self.leftover: list[tuple[str, str]] = []
        self._section: str | None = None
        self._key: str | None = None
        self._depth = 0  # inside a td / th / .value, counting nesting
        self._inner = 0  # spans open inside a data-result span (the units of a list value)
        self._buffer: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "section":
            self._section = a.get("id")
        if tag == "span" and self._key is not None:
            self._inner += 1
        elif tag == "span" and a.get("data-result"):
            self._key, self._text = a["data-result"], []
        if tag in ("td", "caption") or (tag == "span" and a.get("class") == "value"):
            self._depth, self._buffer = 1, []

    def handle_endtag(self, tag: str) -> None:
        if tag == "span" and self._inner:
            self._inner -= 1
        elif tag == "span" and self._key is not None:
            self.cells.setdefault(self._key, []).append("".join(self._text))
            self._key = None
        elif tag in ("td", "caption", "span") and self._depth:
            if self._section in RESULT_SECTIONS:
                self.leftover.append((self._section, "".join(self._buffer)))
            self._depth = 0

    def handle_data(self, data: str) -> None:
        if self._key is not None:
            self._text.append(data)
        elif self._depth:
            self._buffer.append(data)


@pytest.fixture(scope="module")
def page(demo_warehouse: Built, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, pd.DataFrame]:
    out = tmp_path_factory.mktemp("results")
    run_cli(["report", "--docx", "--out-dir", str(out)], demo_warehouse.env)
    with duckdb.connect(str(demo_warehouse.db_path), read_only=True) as con:
        table = con.execute("select * from analysis.report_results").df()
    PAGE_DIR[:] = [out]
    return (out / "ctd_rtp_report_latest.html").read_text(encoding="utf-8"), table


@pytest.mark.slow
def test_every_row_of_the_results_table_is_on_the_page_as_stored(page) -> None:
    html, table = page
    parsed = _Cells()
    parsed.feed(html)
    stored = {f"{r.table_id}|{r.row_id}|{r.column_id}": r.formatted for r in table.itertuples()}
    assert len(stored) == len(table) > 500
    assert set(parsed.cells) == set(stored)  # no cell missing from the page, none printed from elsewhere
    for key, texts in parsed.cells.items():
        assert set(texts) == {stored[key]}, key
    # hand-checked anchors: month 6 ORR 10/13 and Table 1's n
    assert stored["response_by_visit|month_6|responders"] == "10/13"
    assert stored["response_by_visit|month_6|orr"] == "76.9%"
    assert stored["baseline|n|value"] == "13"


@pytest.mark.slow
def test_no_number_of_a_result_table_bypasses_the_results_table(page) -> None:
    """Outside the data-result spans, table cells and cards of the result sections hold labels
    only (visit names, terms, units, test names), no digits."""
    html, _ = page
    parsed = _Cells()
    parsed.feed(html)
    labels = re.compile(
        r"\u00d710\u2079/L|\u2265 1|Month \d+|month 6|Table S?\d+[a-z]?\.|default \d+|95%|IWG 2009|\bCD\d+|\bIL\d+[A-Z]?"
    )
    assert [(section, text) for section, text in parsed.leftover if re.search(r"\d", labels.sub("", text))] == []


@pytest.mark.slow
def test_the_results_table_names_its_sources_and_the_page_shows_them(page) -> None:
    html, table = page
    assert table["source"].str.match(r"^(marts|analysis)\.[a-z_]+(,(marts|analysis)\.[a-z_]+)*$").all()
    assert table.loc[table["table_id"] == "response_by_visit", "source"].str.contains("marts.rpt_response_rates").all()
    for table_id in ("baseline", "response_by_visit", "adverse_events", "labs_immunology", "exposure_by_visit"):
        assert f"(table_id = '{table_id}')" in html, table_id
    orr = table[(table["table_id"] == "response_by_visit") & (table["column_id"] == "orr")]
    assert (orr["value"].round(4).tolist()) == [round(v, 4) for v in orr["value"]] and orr["statistic"].eq(
        "proportion"
    ).all()


@pytest.mark.slow
def test_a_results_table_that_no_longer_matches_stops_the_report(demo_warehouse: Built, tmp_path: Path) -> None:
    db = tmp_path / "warehouse.duckdb"
    shutil.copy2(demo_warehouse.db_path, db)
    env = {**demo_warehouse.env, "CTD_RTP_DB": str(db)}
    with duckdb.connect(str(db)) as con:
        con.execute(
            "update analysis.report_results set formatted = '99' "
            "where table_id = 'response_by_visit' and row_id = 'month_6' and column_id = 'cr'"
        )
    proc = run_cli(["report", "--out-dir", str(tmp_path / "reports")], env, check=False)
    assert proc.returncode == 4, proc.stdout + proc.stderr
    assert "response_by_visit|month_6|cr" in proc.stderr and "statistics are stale" in proc.stderr
    assert not (tmp_path / "reports").exists()


def test_replay_prints_the_stored_text_and_reports_extra_rows() -> None:
    fresh = Results()
    fresh.cell("t", "r", "c", "1 (50.0%)", 1, "n (%)", "marts.x")
    stored = fresh.frame()
    again = Results(stored)
    assert again.cell("t", "r", "c", "1 (50.0%)", 1) == "1 (50.0%)"
    again.check()
    changed = Results(stored)
    changed.cell("t", "r", "c", "2 (100.0%)", 2)
    with pytest.raises(ResultsMismatch, match=r"t\|r\|c: the page would print '2 \(100.0%\)'"):
        changed.check()
    extra = Results(pd.concat([stored, stored.assign(row_id="other")]))
    extra.cell("t", "r", "c", "1 (50.0%)", 1)
    with pytest.raises(ResultsMismatch, match=r"t\|other\|c: in the results table, not on the page"):
        extra.check()
    with pytest.raises(ValueError, match="printed twice"):
        fresh.cell("t", "r", "c", "1", 1)


@pytest.mark.slow
def test_the_word_file_holds_the_same_tables(page, tmp_path_factory: pytest.TempPathFactory) -> None:
    """`report --docx`: opened again, one Word table per results table, each cell as stored."""
    from docx import Document

    html, table = page
    docx_path = PAGE_DIR[0] / "ctd_rtp_report_latest.docx"
    assert docx_path.exists() and any(PAGE_DIR[0].glob("ctd_rtp_report_2*.docx"))
    doc = Document(str(docx_path))
    ids = list(dict.fromkeys(table.sort_values("row_order")["table_id"]))
    assert len(doc.tables) == len(ids)
    for word_table, table_id in zip(doc.tables, ids):
        g = table[table["table_id"] == table_id]
        rows = list(dict.fromkeys(g.sort_values("row_order")["row_id"]))
        columns = list(dict.fromkeys(g.sort_values("row_order")["column_id"]))
        grid = [[c.text for c in r.cells] for r in word_table.rows]
        assert len(grid) == len(rows) + 1 and len(grid[0]) == len(columns) + 1, table_id
        stored = {(r.row_id, r.column_id): r.formatted for r in g.itertuples()}
        for i, row in enumerate(rows, start=1):
            for j, column in enumerate(columns, start=1):
                assert grid[i][j] == stored.get((row, column), ""), (table_id, row, column)
    texts = [p.text for p in doc.paragraphs]
    # the demo's third table on the page (after missing data and baseline); every title as stored
    assert "Table 3. Platelet response by visit with exact 95% confidence intervals" in texts
    assert set(table["table_title"]) <= set(texts)
    assert any(t.startswith("Source: marts.rpt_response_rates") for t in texts)
    assert "SYNTHETIC DATA: no real patients." in texts


@pytest.mark.slow
def test_the_captions_are_the_stored_titles_numbered_in_page_order(page) -> None:
    """Every caption is "Table k. <title>", k = 1, 2, 3 ... in page order (the listing: Table S1),
    and the caption of each result table is its table_title in the results table."""
    html, table = page
    captions = [
        unescape(re.sub(r"<[^>]+>", "", re.sub(r'<span class="tag">.*?</span>', "", c)))
        for c in re.findall(r"<caption>(.*?)</caption>", html, flags=re.S)
    ]
    numbers = [m.group(1) if (m := re.match(r"Table (S?\d+)\. ", c)) else c for c in captions]
    main = [n for n in numbers if not n.startswith("S")]
    assert main == [str(k) for k in range(1, len(main) + 1)] and numbers.count("S1") == 1
    titles = dict(zip(table["table_id"], table["table_title"]))
    page_ids = re.findall(r"table_id = '([a-z_]+)'", html)
    for table_id in page_ids:
        if titles[table_id].startswith("Table "):
            assert titles[table_id] in captions, table_id
    # the demo: two lab sections, so the safety table is the thirteenth
    assert titles["adverse_events"].startswith("Table 13. Treatment-emergent adverse events")
    assert titles["labs_immunology"] == "Table 10. Lymphocyte subsets and regulatory T cells, baseline vs follow-up"


@pytest.fixture(scope="module")
def shared(demo_warehouse: Built, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, pd.DataFrame]:
    """A copy of the demo analysed with `stats --min-cell-count 5`, and its page (with --docx)."""
    tmp = tmp_path_factory.mktemp("shared")
    db = tmp / "warehouse.duckdb"
    shutil.copy2(demo_warehouse.db_path, db)
    env = {**demo_warehouse.env, "CTD_RTP_DB": str(db)}
    run_cli(["stats", "--min-cell-count", "5"], env)
    run_cli(["report", "--docx", "--out-dir", str(tmp / "reports")], env)
    with duckdb.connect(str(db), read_only=True) as con:
        table = con.execute("select * from analysis.report_results").df()
    return db, (tmp / "reports" / "ctd_rtp_report_latest.html").read_text(encoding="utf-8"), table


@pytest.mark.slow
def test_min_cell_count_hides_small_counts_in_the_table_the_page_and_the_word_file(shared) -> None:
    from docx import Document

    db, html, table = shared
    counts = table[table["statistic"].map(is_count)]
    hidden = counts[counts["formatted"] == "<5"]
    assert len(hidden) > 20 and hidden["value"].isna().all()  # no value leaks beside the text
    shown = counts[counts["formatted"] != "<5"]
    assert (shown["value"].isna() | (shown["value"] == 0) | (shown["value"] >= 5)).all()
    # month 1 of Table 2: CR 0 stays 0, NE 1 and PR 4 are hidden, NR 8 is shown
    t2 = table[(table["table_id"] == "response_by_visit") & (table["row_id"] == "month_1")].set_index("column_id")
    assert (t2.at["cr", "formatted"], t2.at["pr", "formatted"], t2.at["ne", "formatted"], t2.at["nr", "formatted"]) == (
        "0",
        "<5",
        "<5",
        "8",
    )
    parsed = _Cells()
    parsed.feed(html)
    stored = {f"{r.table_id}|{r.row_id}|{r.column_id}": r.formatted for r in table.itertuples()}
    assert {k: v[0] for k, v in parsed.cells.items()} == stored
    assert 'data-result="response_by_visit|month_1|pr">&lt;5</span>' in html and "Small-cell suppression." in html
    word = [
        c.text
        for t in Document(str(db.parent / "reports" / "ctd_rtp_report_latest.docx")).tables
        for r in t.rows
        for c in r.cells
    ]
    assert word.count("<5") == len(hidden)
    assert word.count(SUPPRESSED) == (table["formatted"] == SUPPRESSED).sum() > 5


def test_a_number_computed_from_a_small_count_is_suppressed_with_its_count() -> None:
    shared = Results(min_cell_count=5)
    orr = shared.cell("t", "month_1", "orr", "33.3%", 1 / 3, "proportion", "marts.x", counts=(4, 12))
    ci = shared.cell("t", "month_1", "ci", "9.9\u201365.1%", 0.099, "95% CI", "marts.x", counts=(4, 12))
    iqr = shared.cell("t", "group", "iqr", "40 [30\u201350]", 40, "median [IQR]", "marts.x", counts=(3,))
    big = shared.cell("t", "month_3", "orr", "61.5%", 8 / 13, "proportion", "marts.x", counts=(8, 13))
    zero = shared.cell("t", "month_0", "orr", "0.0%", 0.0, "proportion", "marts.x", counts=(0, 13))
    count = shared.cell("t", "month_1", "pr", "4", 4, "n", "marts.x", counts=(12,))
    assert (orr, ci, iqr, big, zero, count) == (SUPPRESSED, SUPPRESSED, SUPPRESSED, "61.5%", "0.0%", "<5")
    frame = shared.frame().set_index("column_id")
    assert frame.loc[["orr", "ci", "iqr", "pr"], "value"].isna().sum() == 4 and shared.n_suppressed == 4
    assert frame.loc["orr", "formatted"].tolist() == [SUPPRESSED, "61.5%", "0.0%"]
    replay = Results(shared.frame())  # the report reads the threshold from the table
    assert replay.cell("t", "month_1", "orr", "33.3%", 1 / 3, "proportion", counts=(4, 12)) == SUPPRESSED
    for threshold in (0, 1):  # off: every number prints
        off = Results(min_cell_count=threshold)
        assert off.cell("t", "month_1", "orr", "33.3%", 1 / 3, "proportion", counts=(4, 12)) == "33.3%"
        assert off.cell("t", "month_1", "pr", "4", 4, "n") == "4" and off.n_suppressed == 0
    assert (shared.count_text(3), shared.count_text(0), shared.count_text(12.0)) == ("<5", "0", "12")


def _response_frames() -> tuple[pd.DataFrame, ...]:
    """Table 2, 3, 4 and 5 inputs for a hand-made cohort: month 3 has 3 evaluable patients
    (1 CR, 1 PR, 1 NR: ORR 2/3 = 66.7%); subgroup A 2/2 vs B 0/1; a Friedman test over 3 patients."""
    rates = pd.DataFrame(
        {
            "visit": ["month_3", "month_6"],
            "visit_order": [3, 6],
            "n_patients": [3, 12],
            "n_cr": [1, 4],
            "n_pr": [1, 4],
            "n_nr": [1, 4],
            "n_ne": [0, 0],
            "n_evaluable": [3, 12],
            "n_responders": [2, 8],
            "orr_all_patients": [2 / 3, 8 / 12],
            "orr": [2 / 3, 8 / 12],
            "orr_denominator": ["evaluable"] * 2,
            "response_rule": ["CR: platelets >= 100"] * 2,
        }
    )
    ci = pd.DataFrame(
        {"visit": ["month_3", "month_6"], "orr": [2 / 3, 8 / 12], "ci_low": [0.094, 0.349], "ci_high": [0.992, 0.901]}
    )
    summary = pd.DataFrame(
        {
            "patient_id": list("ABC"),
            "best_response": ["CR", "PR", "NR"],
            "is_responder_by_primary_endpoint": [True, True, False],
            "days_to_first_response": [20, 80, None],
            "lost_response": [False, True, False],
        }
    )
    subgroups = pd.DataFrame(
        {
            "visit": ["month_3"],
            "subgroup_label": ["SLE vs other"],
            "group_a": ["SLE"],
            "group_b": ["other"],
            "a_responders": [2],
            "a_evaluable": [2],
            "b_responders": [0],
            "b_evaluable": [1],
            "odds_ratio": [float("inf")],
            "odds_ratio_ci_low": [0.1],
            "odds_ratio_ci_high": [float("inf")],
            "p_value": [0.0333],
            "note": [""],
        }
    )
    friedman = pd.DataFrame(
        {
            "measure": ["platelet_count"],
            "visits": ["baseline,month_3"],
            "n_patients": [3],
            "statistic": [4.5],
            "df": [1],
            "p_value": [0.0339],
            "kendalls_w": [0.75],
            "note": [""],
        }
    )
    return rates, ci, summary, subgroups, friedman


@pytest.mark.parametrize("threshold", [0, 1, 5])
def test_response_section_suppresses_what_small_counts_give(threshold: int) -> None:
    """With 5, every rate, CI, p and statistic of a group under 5 is suppressed (and not bold as
    significant); month 6 (counts 4 of 12: hidden counts, but ORR from 8 of 12) prints; 0 and 1
    change nothing."""
    res = Results(min_cell_count=threshold)
    visits = _Visits(month_3="Month 3", month_6="Month 6", baseline="Baseline")
    out = sections.response_section(*_response_frames(), visits, res=res)
    m3, m6 = out["rows"]
    sub, fried = out["subgroups"][0], out["friedman"][0]
    derived = (m3["orr"], m3["ci"], m3["orr_all"], sub["or"], sub["p"], fried["statistic"], fried["p"], fried["w"])
    if threshold == 5:
        assert derived == (SUPPRESSED,) * 8
        assert (m3["responders"], m3["cr"], sub["a"], sub["b"]) == ("<5", "<5", "<5", SUPPRESSED)
        assert not sub["sig"] and not fried["sig"]  # bold red would tell p < 0.05
        assert (out["time_to_response"], out["lost"], out["best"][3]["value"]) == (SUPPRESSED, "<5", SUPPRESSED)
        assert (m6["orr"], m6["responders"], m6["cr"]) == ("66.7%", "8/12", "<5")
    else:
        assert derived == (
            "66.7%",
            "9.4\u201399.2%",
            "66.7%",
            "\u221e (0.100 to \u221e)",
            "0.0333",
            "4.50",
            "0.0339",
            "0.750",
        )
        assert sub["sig"] and fried["sig"] and res.n_suppressed == 0
        assert out["time_to_response"] == "50 (20\u201380) days (n = 2)" and out["best"][3]["value"] == "0 (0.0%)"


@pytest.mark.slow
def test_a_threshold_of_0_or_1_changes_nothing_and_5_changes_the_demo(demo_warehouse: Built) -> None:
    with DuckDBReader(demo_warehouse.db_path).snapshot() as current:
        frames = read_tables(current, RESULT_INPUTS)
    off, one, five = (build_results(frames, n) for n in (0, 1, 5))
    pd.testing.assert_frame_equal(off.drop(columns="min_cell_count"), one.drop(columns="min_cell_count"))
    assert not off["formatted"].isin([SUPPRESSED, "<2", "<1", "<0"]).any()
    key = ["table_id", "row_id", "column_id"]
    both = off.merge(five, on=key, how="outer", suffixes=("_off", "_five"), indicator=True)
    assert set(both.loc[both["_merge"] != "both", "table_id"]) == {"patient_listing"}  # left out with 5
    both = both[both["_merge"] == "both"]
    changed = both["formatted_five"] != both["formatted_off"]
    assert changed.sum() == both["formatted_five"].isin([SUPPRESSED, "<5"]).sum() > 30


def _cells_of(table: pd.DataFrame, table_id: str) -> dict[tuple[str, str], str]:
    g = table[table["table_id"] == table_id]
    return {(str(r.row_id), str(r.column_id)): str(r.formatted) for r in g.itertuples()}


@pytest.mark.slow
def test_every_cell_computed_from_a_small_count_is_suppressed_on_the_demo(shared) -> None:
    """Which cells must be suppressed, worked out from the analysis tables and marts (not from
    the report's code): a rate of a visit, an odds ratio or Fisher p of a 2 x 2 table, a KM
    estimate, a paired test, whose counts include one from 1 to 4; and the others print."""
    db, html, table = shared
    small = lambda *ks: any(0 < int(k) < 5 for k in ks)  # noqa: E731
    with duckdb.connect(str(db), read_only=True) as con:
        rates = con.execute("select * from marts.rpt_response_rates").df()
        subgroups = con.execute("select * from analysis.subgroup_response").df()
        km = con.execute("select * from analysis.time_to_event_km").df().set_index("paramcd")
        points = con.execute("select * from analysis.time_to_event_km_timepoints").df()
        paired = con.execute("select * from analysis.paired_tests").df()
    expected: dict[tuple[str, str, str], bool] = {}
    for r in rates.itertuples():
        for col in ("orr", "ci", "orr_all"):
            expected["response_by_visit", r.visit, col] = small(r.n_responders, r.n_evaluable, r.n_patients)
    for r in subgroups.itertuples():
        for col in ("odds_ratio", "p"):
            expected["subgroups", r.visit, col] = small(r.a_responders, r.a_evaluable, r.b_responders, r.b_evaluable)
    for r in points.itertuples():
        n = km.at[r.paramcd, "n"]
        expected["time_to_event", r.paramcd, f"day_{r.day}"] = small(n, r.n_events_by_day, r.n_at_risk)
    for code, r in km.iterrows():
        expected["time_to_event", code, "median"] = small(r.n, r.n_events)
    labs = table[table["table_id"].str.startswith("labs_")]
    lab_table_of = dict(zip(labs["row_id"], labs["table_id"]))
    for r in paired.itertuples():
        table_id = lab_table_of[f"{r.analyte}:{r.comparison}"]
        for col in ("p_value", "baseline_median_iqr", "mean_change"):
            expected[table_id, f"{r.analyte}:{r.comparison}", col] = small(r.n_pairs)
    stored = {(r.table_id, r.row_id, r.column_id): r.formatted for r in table.itertuples()}
    got = {key: stored[key] == SUPPRESSED for key in expected}
    assert got == expected
    assert sum(expected.values()) >= 10 and not all(expected.values())  # the demo has both kinds
    parsed = _Cells()
    parsed.feed(html)
    for key, must in expected.items():
        assert (parsed.cells["|".join(key)] == [SUPPRESSED]) == must, key


_PERCENT = re.compile(r"\d+\.\d%")


def _visible_percentages(html: str) -> set[str]:
    return set(_PERCENT.findall(re.sub(r"<[^>]+>", " ", html)))


@pytest.mark.slow
def test_no_percentage_on_the_shared_page_gives_back_a_hidden_count(shared, page) -> None:
    """A hidden count k of a visit (CR, PR, NR, NE, responders) or of the analysis set (best
    response) must not come back as k / n on the page, n a denominator of that visit or the
    analysis set. The page without suppression does show some of them (so the check can fail)."""
    db, html, _ = shared
    with duckdb.connect(str(db), read_only=True) as con:
        rates = con.execute("select * from marts.rpt_response_rates").df()
        best = con.execute(
            "select best_response, count(*) as k from marts.fct_patient_response_summary group by 1"
        ).df()
    n_set = int(best["k"].sum())
    forbidden = set()
    for r in rates.itertuples():
        for k in (r.n_cr, r.n_pr, r.n_nr, r.n_ne, r.n_responders):
            if 0 < k < 5:
                forbidden |= {f"{100 * k / n:.1f}%" for n in (r.n_evaluable, r.n_patients, n_set) if n}
    forbidden |= {f"{100 * k / n_set:.1f}%" for k in best["k"] if 0 < k < 5}
    assert forbidden
    assert _visible_percentages(html) & forbidden == set()
    assert _visible_percentages(page[0]) & forbidden  # the same data unsuppressed print them


@pytest.mark.slow
def test_figures_of_individual_patients_are_left_out_for_sharing(shared, page, demo_warehouse: Built) -> None:
    _, html, _ = shared
    normal = page[0]
    with duckdb.connect(str(demo_warehouse.db_path), read_only=True) as con:
        ids = con.execute("select patient_id from marts.dim_patients").df()["patient_id"].tolist()
    assert normal.count("<svg") >= 8 and any(f">{p}<" in normal for p in ids)  # figures and the listing
    assert "<svg" not in html and not any(re.search(rf"\b{re.escape(p)}\b", html) for p in ids)
    figures = re.findall(r'<figure id="figure-(\d+)" class="left-out">\s*<figcaption>(.*?)</figcaption>', html)
    assert [n for n, _ in figures] == [str(i) for i in range(1, 9)]  # numbers kept, drawings left out
    assert all("Left out for sharing" in caption for _, caption in figures)
    assert 'id="listing"' not in html and 'id="listing"' in normal
