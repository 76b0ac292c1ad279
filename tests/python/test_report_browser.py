"""The report in a real browser (Debian's chromium through Playwright): it loads with no
console errors and no network, every figure has a size, the response rates are on the page,
and a hostile adverse-event term stays text. Full-page screenshots go to test-output/."""

from __future__ import annotations

import csv
import math
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
NO_CUE = """() => [...document.querySelectorAll('.table-wrap')]
  .filter(w => w.scrollWidth > w.clientWidth + 1 && getComputedStyle(w, '::before').content === 'none')
  .map(w => (w.querySelector('caption') || w).textContent.slice(0, 60))"""
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
BROKEN_VALUES = """() => [...document.querySelectorAll('[data-result], .flow-n')]
  .filter(e => new Set([...e.getClientRects()].map(r => Math.round(r.top))).size > 1).map(e => e.textContent)"""


def figure_scroll(page) -> tuple[list[str], list[str], list[str]]:
    """(figure boxes that scroll, boxes that scroll without the cue, boxes showing the cue but not scrolling)."""
    rows = page.evaluate(FIGURE_SCROLL)
    assert len(rows) == 8, rows
    scrolls = [fid for fid, scrolling, _, _, _ in rows if scrolling]
    no_cue = [fid for fid, scrolling, cue, _, _ in rows if scrolling and not cue]
    stray_cue = [fid for fid, scrolling, cue, _, _ in rows if cue and not scrolling]
    return scrolls, no_cue, stray_cue


def test_phone_and_a4_print_layout(browser, demo_report) -> None:
    """390 px phone: no text under 12 px, in the figures too (a figure keeps the width at which
    its smallest text is 12 px and scrolls sideways inside its box, under a cue); the page never
    scrolls sideways; every wide table scrolls inside its box with the cue shown. 1280 px: the
    page and no figure scrolls sideways, no figure cue, figures within their box, figure text
    >= 12 px. A4 print:
    figures fit the printed width; no printed value (a number, range or bracket) breaks across
    lines; rows are not split. Screenshots at 1280 and 390 px and the A4 PDF go to test-output/."""
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
    assert phone.evaluate(NO_CUE) == []
    phone.close()

    paper = browser.new_page(viewport={"width": 680, "height": 1000})  # A4 less the margins, at 96 dpi
    paper.goto(html.resolve().as_uri())
    paper.emulate_media(media="print")
    assert figure_scroll(paper) == ([], [], [])  # on paper figures shrink to the page: no scrolling, no cue
    for fid, _, _, svg_width, box_width in paper.evaluate(FIGURE_SCROLL):
        assert 0 < svg_width <= min(box_width, 680) + 0.5, (fid, svg_width, box_width)
    assert paper.evaluate(BROKEN_VALUES) == []
    assert paper.evaluate("getComputedStyle(document.querySelector('tbody tr')).breakInside") == "avoid"
    paper.pdf(path=str(TEST_OUTPUT / "report-a4.pdf"), format="A4", print_background=False)
    paper.close()
    assert (TEST_OUTPUT / "report-a4.pdf").read_bytes()[:5] == b"%PDF-"
