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
from ctd_rtp.report.results import Results, ResultsMismatch, is_count

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
        self._buffer: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "section":
            self._section = a.get("id")
        if tag == "span" and a.get("data-result"):
            self._key, self._text = a["data-result"], []
        if tag in ("td", "caption") or (tag == "span" and a.get("class") == "value"):
            self._depth, self._buffer = 1, []

    def handle_endtag(self, tag: str) -> None:
        if tag == "span" and self._key is not None:
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


@pytest.mark.slow
def test_min_cell_count_hides_small_counts_in_the_table_the_page_and_the_word_file(
    demo_warehouse: Built, tmp_path: Path
) -> None:
    from docx import Document

    db = tmp_path / "warehouse.duckdb"
    shutil.copy2(demo_warehouse.db_path, db)
    env = {**demo_warehouse.env, "CTD_RTP_DB": str(db)}
    run_cli(["stats", "--min-cell-count", "5"], env)
    run_cli(["report", "--docx", "--out-dir", str(tmp_path / "reports")], env)
    with duckdb.connect(str(db), read_only=True) as con:
        table = con.execute("select * from analysis.report_results").df()
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
    html = (tmp_path / "reports" / "ctd_rtp_report_latest.html").read_text(encoding="utf-8")
    parsed = _Cells()
    parsed.feed(html)
    stored = {f"{r.table_id}|{r.row_id}|{r.column_id}": r.formatted for r in table.itertuples()}
    assert {k: v[0] for k, v in parsed.cells.items()} == stored
    assert 'data-result="response_by_visit|month_1|pr">&lt;5</span>' in html and "Small-cell suppression." in html
    word = [
        c.text
        for t in Document(str(tmp_path / "reports" / "ctd_rtp_report_latest.docx")).tables
        for r in t.rows
        for c in r.cells
    ]
    assert word.count("<5") == len(hidden)
