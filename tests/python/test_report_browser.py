"""The report in a real browser (Debian's chromium through Playwright): it loads with no
console errors and no network, every figure has a size, the response rates are on the page,
and a hostile adverse-event term stays text. Full-page screenshots go to test-output/."""

from __future__ import annotations

import csv
import math
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from conftest import FIXTURES, TEST_OUTPUT, Built, build, run_cli

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = Path("/usr/bin/chromium")
HOSTILE = '<script>window.__pwned=1</script><img src=x onerror="window.__pwned=2">'
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium (never `playwright install`)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def demo_report(demo_warehouse: Built, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    out = tmp_path_factory.mktemp("demo-report")
    run_cli(["report", "--out-dir", str(out)], demo_warehouse.env)
    return out / "ctd_rtp_report_latest.html", demo_warehouse.db_path


@pytest.fixture(scope="module")
def hostile_report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The own-cohort fixture with a script/img payload as an adverse event term (properly quoted CSV)."""
    work = tmp_path_factory.mktemp("hostile")
    raw = work / "raw"
    shutil.copytree(FIXTURES / "own_cohort", raw)
    path = raw / "adverse_events.csv"
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    rows[0]["term"] = HOSTILE
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    built = build(work, raw_dir=raw)
    run_cli(["stats"], built.env)
    run_cli(["report", "--out-dir", str(work / "reports")], built.env)
    return work / "reports" / "ctd_rtp_report_latest.html", built.db_path


def rate_strings(db_path: Path) -> list[str]:
    with duckdb.connect(str(db_path), read_only=True) as con:
        rows = con.execute("select orr, ci_low, ci_high from analysis.response_rate_ci").fetchall()
    return [
        s
        for orr, lo, hi in rows
        if orr is not None and not math.isnan(orr)
        for s in (f"{orr * 100:.1f}%", f"{lo * 100:.1f}\u2013{hi * 100:.1f}%")
    ]


def open_report(browser, html: Path, screenshot: str):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    requests: list[str] = []
    page.on("console", lambda m: errors.append(f"console: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(f"pageerror: {e}"))
    page.on("request", lambda r: requests.append(r.url))
    page.goto(html.resolve().as_uri())
    page.wait_for_load_state("load")
    TEST_OUTPUT.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(TEST_OUTPUT / screenshot), full_page=True)
    return page, errors, requests


def check_common(page, errors: list[str], requests: list[str], db_path: Path) -> None:
    assert errors == []
    assert requests and all(u.startswith(("file://", "data:")) for u in requests), requests
    svgs = page.locator("figure svg")
    assert svgs.count() == 8
    for i in range(svgs.count()):
        box = svgs.nth(i).bounding_box()
        assert box and box["width"] > 0 and box["height"] > 0, i
    text = page.inner_text("body")
    for s in rate_strings(db_path):
        assert s in text, s
    assert page.locator("img, script, iframe, object, embed").count() == 0


def test_demo_report_in_chromium(browser, demo_report) -> None:
    html, db = demo_report
    page, errors, requests = open_report(browser, html, "report-demo.png")
    check_common(page, errors, requests, db)
    assert page.get_by_text("Synthetic demonstration data \u2014 no real patients").first.is_visible()
    page.close()


def test_hostile_term_stays_text(browser, hostile_report) -> None:
    html, db = hostile_report
    page, errors, requests = open_report(browser, html, "report-hostile.png")
    check_common(page, errors, requests, db)
    assert page.evaluate("typeof window.__pwned") == "undefined"
    cell = page.locator("#ae-table tbody th", has_text="window.__pwned=1")
    assert cell.count() == 1 and cell.first.inner_text() == HOSTILE and cell.first.is_visible()
    # month 1 has no evaluable patient in this cohort: the rate is shown as a dash
    month_1 = page.locator("#response-table tr", has_text="Month 1")
    assert month_1.locator("td.orr").inner_text() == "\u2014"
    page.close()


SMALL_TEXT = """() => [...document.querySelectorAll('body *')]
  .filter(e => !e.closest('svg') && e.getClientRects().length
          && [...e.childNodes].some(n => n.nodeType === 3 && n.textContent.trim()))
  .map(e => [e.tagName, parseFloat(getComputedStyle(e).fontSize), e.textContent.trim().slice(0, 40)])
  .filter(x => x[1] < 12)"""
# Each table box: [caption, scrolls sideways, shows the cue] (the cue is the box's ::before, shown
# when it has content, is visible and has a height).
TABLE_CUE = """() => [...document.querySelectorAll('.table-wrap')].map(w => {
  const c = getComputedStyle(w, '::before');
  return [(w.querySelector('caption') || w).textContent.slice(0, 40), w.scrollWidth > w.clientWidth + 1,
          c.content !== 'none' && c.display !== 'none' && c.visibility === 'visible' && parseFloat(c.height) > 0]; })"""
SCROLLING = "() => [...document.querySelectorAll('.table-wrap')].filter(w => w.scrollWidth > w.clientWidth + 1).length"
# Every <text> of every figure, as drawn: computed font size x the scale of its screen transform
# (CSS px per user unit, sqrt of the area factor so a rotated label counts the same).
FIGURE_TEXT_UNDER_12 = """() => [...document.querySelectorAll('figure svg text')]
  .filter(t => t.textContent.trim())
  .map(t => { const m = t.getScreenCTM();
              const px = parseFloat(getComputedStyle(t).fontSize) * Math.sqrt(Math.abs(m.a * m.d - m.b * m.c));
              return [t.closest('figure').id, Math.round(px * 100) / 100, t.textContent.trim().slice(0, 30)]; })
  .filter(x => x[1] < 11.99)"""
FIGURE_TEXT_COUNT = "() => [...document.querySelectorAll('figure svg text')].filter(t => t.textContent.trim()).length"
# A figure box that scrolls must show the cue, and one that does not scroll must not.
FIGURE_SCROLL = """() => [...document.querySelectorAll('figure .figure-scroll')].map(w => [
  w.closest('figure').id, w.scrollWidth > w.clientWidth + 1, getComputedStyle(w, '::before').content !== 'none',
  w.querySelector('svg').getBoundingClientRect().width, w.clientWidth])"""
# A printed value is one unit on one line; a list value (class "list": the listing's events, doses
# and troughs, an estimate and its CI) may wrap only between its units, each on one line.
BROKEN_VALUES = """() => [...document.querySelectorAll(
    '[data-result]:not(.text):not(.list), [data-result].list > .unit, .flow-n')]
  .filter(e => new Set([...e.getClientRects()].map(r => Math.round(r.top))).size > 1).map(e => e.textContent)"""
# A value that is text (class "text", a note) wraps between words: never inside a bracket, and
# only at a space (so never inside a number).
BROKEN_TEXT = """() => [...document.querySelectorAll('[data-result].text')].filter(e => {
  const t = e.firstChild; if (!t) return false; if (t.nodeType !== 3 || e.childNodes.length > 1) return true;
  const s = t.textContent, r = document.createRange(); let depth = 0, top = null;
  for (let i = 0; i < s.length; i++) {
    if (/\\s/.test(s[i])) continue;
    r.setStart(t, i); r.setEnd(t, i + 1);
    const y = Math.round(r.getBoundingClientRect().top);
    if (top !== null && y !== top && (depth > 0 || !/\\s/.test(s[i - 1]))) return true;
    top = y;
    if ('(['.includes(s[i])) depth++;
    if (')]'.includes(s[i])) depth--;
  }
  return false; }).map(e => e.textContent)"""
# Elements (outside `skip`) whose right edge is past the printed width: paper cannot scroll.
PAST_PAGE = """([width, inside, skip]) => [...document.querySelectorAll(inside + ' *')]
  .filter(e => !(skip && e.closest(skip)) && e.getClientRects().length && e.getBoundingClientRect().right > width + 0.5)
  .map(e => [e.tagName, Math.round(e.getBoundingClientRect().right), e.textContent.trim().slice(0, 40)])"""
ROWS_SPLIT = (
    "() => [...document.querySelectorAll('tr')].filter(r => getComputedStyle(r).breakInside !== 'avoid').length"
)
A4_PORTRAIT, A4_LANDSCAPE = 680, 1016  # A4 less the margins (14 mm each side), at 96 dpi


def figure_scroll(page) -> tuple[list[str], list[str], list[str]]:
    """(figure boxes that scroll, boxes that scroll without the cue, boxes showing the cue but not scrolling)."""
    rows = page.evaluate(FIGURE_SCROLL)
    assert len(rows) == 8, rows
    scrolls = [fid for fid, scrolling, _, _, _ in rows if scrolling]
    no_cue = [fid for fid, scrolling, cue, _, _ in rows if scrolling and not cue]
    stray_cue = [fid for fid, scrolling, cue, _, _ in rows if cue and not scrolling]
    return scrolls, no_cue, stray_cue


def table_cue(page) -> tuple[list[str], list[str], list[str]]:
    """(table boxes that scroll, boxes that scroll without the cue, boxes showing the cue but not scrolling)."""
    rows = page.evaluate(TABLE_CUE)
    assert len(rows) >= 15, rows
    scrolls = [cap for cap, scrolling, _ in rows if scrolling]
    no_cue = [cap for cap, scrolling, cue in rows if scrolling and not cue]
    stray_cue = [cap for cap, scrolling, cue in rows if cue and not scrolling]
    return scrolls, no_cue, stray_cue


def test_phone_and_a4_print_layout(browser, demo_report) -> None:
    """390 px phone: no text under 12 px, in the figures too (a figure keeps the width at which
    its smallest text is 12 px and scrolls sideways inside its box, under a cue); the page never
    scrolls sideways; every wide table scrolls inside its box with the cue shown. 1280 px: the
    page and no figure scrolls sideways, no figure cue, figures within their box, figure text
    >= 12 px. At both widths a table box that scrolls shows the cue and one that fits does not.
    A4 print: nothing (tables, figures) is wider than the printed width (the patient listing:
    than an A4 landscape page, which it gets in the PDF); no printed value (a number, range or
    bracket) breaks across lines; rows are not split. Screenshots at 1280 and 390 px and the A4
    PDF go to test-output/."""
    html, _ = demo_report
    TEST_OUTPUT.mkdir(parents=True, exist_ok=True)
    wide = browser.new_page(viewport={"width": 1280, "height": 900})
    wide.goto(html.resolve().as_uri())
    wide.wait_for_load_state("load")
    wide.screenshot(path=str(TEST_OUTPUT / "report-1280.png"), full_page=True)
    assert wide.evaluate("document.documentElement.scrollWidth") <= 1280
    assert wide.evaluate(FIGURE_TEXT_COUNT) > 100
    assert wide.evaluate(FIGURE_TEXT_UNDER_12) == []
    assert figure_scroll(wide) == ([], [], [])
    for fid, _, _, svg_width, box_width in wide.evaluate(FIGURE_SCROLL):
        assert 0 < svg_width <= box_width + 0.5, (fid, svg_width, box_width)
    scrolls, no_cue, stray_cue = table_cue(wide)
    assert no_cue == [] and stray_cue == []
    assert len(scrolls) <= 2, scrolls  # at 1280 px most tables fit their box (headers wrap)
    wide.close()

    phone = browser.new_page(viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True)
    phone.goto(html.resolve().as_uri())
    phone.wait_for_load_state("load")
    phone.screenshot(path=str(TEST_OUTPUT / "report-390.png"), full_page=True)
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    assert phone.evaluate(SMALL_TEXT) == []
    assert phone.evaluate(FIGURE_TEXT_COUNT) > 100
    assert phone.evaluate(FIGURE_TEXT_UNDER_12) == []  # [figure id, px, text] of each offender
    scrolls, no_cue, stray_cue = figure_scroll(phone)
    assert "figure-3" in scrolls  # the 760-unit trajectory plot cannot be readable in a 330 px box
    assert no_cue == [] and stray_cue == []
    assert phone.evaluate(SCROLLING) >= 3  # the lab, response and safety tables are wider than a phone
    scrolls, no_cue, stray_cue = table_cue(phone)
    assert no_cue == [] and stray_cue == []
    assert any(c.startswith("Table 1.") for c, _, _ in phone.evaluate(TABLE_CUE)) and not any(
        c.startswith("Table 1.") for c in scrolls
    )  # the two-column baseline table fits a phone: it shows no cue
    phone.close()

    paper = browser.new_page(viewport={"width": A4_PORTRAIT, "height": 1000})
    paper.goto(html.resolve().as_uri())
    paper.emulate_media(media="print")
    assert figure_scroll(paper) == ([], [], [])  # on paper figures shrink to the page: no scrolling, no cue
    for fid, _, _, svg_width, box_width in paper.evaluate(FIGURE_SCROLL):
        assert 0 < svg_width <= min(box_width, A4_PORTRAIT) + 0.5, (fid, svg_width, box_width)
    scrolls, no_cue, stray_cue = table_cue(paper)  # paper cannot scroll: every table fits, no cue
    assert [c for c in scrolls if not c.startswith("Table S1.")] == [] and stray_cue == []
    assert paper.evaluate(PAST_PAGE, [A4_PORTRAIT, "body", "section#listing"]) == []
    assert paper.evaluate(BROKEN_VALUES) == []
    assert paper.evaluate(BROKEN_TEXT) == []
    assert paper.evaluate("document.querySelectorAll('[data-result].list > .unit').length") > 50
    assert paper.evaluate("document.querySelectorAll('[data-result].text').length") >= 2
    assert paper.evaluate("document.querySelectorAll('tr').length") > 100 and paper.evaluate(ROWS_SPLIT) == 0
    assert paper.evaluate("getComputedStyle(document.querySelector('section#listing')).page") == "listing"
    paper.pdf(path=str(TEST_OUTPUT / "report-a4.pdf"), format="A4", print_background=False)
    # the patient listing, too wide for portrait, prints on its own A4 landscape page and fits it
    paper.set_viewport_size({"width": A4_LANDSCAPE, "height": 700})
    assert paper.evaluate(PAST_PAGE, [A4_LANDSCAPE, "section#listing", None]) == []
    assert table_cue(paper) == ([], [], [])
    assert paper.evaluate(BROKEN_VALUES) == [] and paper.evaluate(BROKEN_TEXT) == []
    paper.close()
    pdf = (TEST_OUTPUT / "report-a4.pdf").read_bytes()
    assert pdf[:5] == b"%PDF-"
    boxes = [tuple(float(x) for x in m.split()) for m in re.findall(rb"/MediaBox\s*\[([^\]]*)\]", pdf)]
    landscape = [b for b in boxes if b[2] > b[3]]
    # the listing's pages (13 patients: one or two, rows never split) are A4 landscape, the rest portrait
    assert len(boxes) > 15 and 1 <= len(landscape) <= 3, boxes
    assert all(abs(b[2] - 842.88) < 1 and abs(b[3] - 595.92) < 1 for b in landscape)
    assert all(abs(b[2] - 595.92) < 1 and abs(b[3] - 842.88) < 1 for b in boxes if b not in landscape)
