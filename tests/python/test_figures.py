"""Tests for ctd_rtp.figures: inline-SVG figures for the self-contained report."""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from collections import Counter

import numpy as np
import pandas as pd
import pytest

from ctd_rtp import figures as F

# The demo study's response thresholds and trough target (dbt_project.yml, seeds/reference/analytes.csv).
DEMO_THRESHOLDS = (30, 100)
DEMO_TARGET = (4, 15)

NS = "{http://www.w3.org/2000/svg}"
COLOURS = {"CR": "#009E73", "PR": "#56B4E9", "NR": "#D55E00", "NE": "#999999"}
VISITS = ("month_1", "month_3", "month_6")
HOSTILE = '<script>alert(1)</script>"onload="x'


# --------------------------------------------------------------------------- helpers
def parse(fig: F.Figure) -> ET.Element:
    return ET.fromstring(fig.svg)


def tag(e: ET.Element) -> str:
    return e.tag.replace(NS, "")


def by_class(root: ET.Element, name: str, cls: str) -> list[ET.Element]:
    return [e for e in root.iter(NS + name) if cls in e.get("class", "").split()]


def tip(e: ET.Element) -> str:
    t = e.find(NS + "title")
    return "" if t is None else (t.text or "")


def texts(root: ET.Element) -> list[str]:
    return ["".join(e.itertext()) for e in root.iter(NS + "text")]


def viewbox(root: ET.Element) -> tuple[float, float]:
    x, y, w, h = map(float, root.get("viewBox").split())
    assert (x, y) == (0, 0)
    return w, h


def attribute_coordinates(a: dict[str, str]):
    """Yield ('x'|'y', value) for the position attributes of one element."""
    for k in ("x", "x1", "x2", "cx"):
        if k in a:
            yield "x", float(a[k])
    for k in ("y", "y1", "y2", "cy"):
        if k in a:
            yield "y", float(a[k])


def rect_far_corner(a: dict[str, str]):
    """Yield the bottom-right corner of a rect (its width and height must not be negative)."""
    yield "x", float(a["x"]) + float(a["width"])
    yield "y", float(a["y"]) + float(a["height"])
    assert float(a["width"]) >= 0 and float(a["height"]) >= 0


def points_coordinates(points: str):
    """Yield the coordinates of a polyline's or polygon's points."""
    for pair in points.split():
        px, py = map(float, pair.split(","))
        yield "x", px
        yield "y", py


def path_coordinates(d: str):
    """Yield the coordinates of a path's absolute M, L, H and V commands (no other command allowed)."""
    assert re.fullmatch(r"[MLHVZ0-9.\- ]+", d), d
    cmd, nums = None, []
    for tok in re.findall(r"[MLHVZ]|-?\d+(?:\.\d+)?", d):
        if tok in "MLHVZ":
            cmd = tok
            continue
        nums.append(float(tok))
        if cmd in "ML" and len(nums) == 2:
            yield "x", nums[0]
            yield "y", nums[1]
            nums = []
        elif cmd in "HV":
            yield ("x" if cmd == "H" else "y"), nums.pop()


def coordinates(root: ET.Element):
    """Yield ('x'|'y', value) for every drawn coordinate (absolute path commands only)."""
    for e in root.iter():
        a = e.attrib
        yield from attribute_coordinates(a)
        if tag(e) == "rect":
            yield from rect_far_corner(a)
        if tag(e) in ("polyline", "polygon"):
            yield from points_coordinates(a["points"])
        if tag(e) == "path":
            yield from path_coordinates(a["d"])


def check_structure(fig: F.Figure, figure_id: str) -> ET.Element:
    """Common contract: accessible, self-contained, rounded, in-bounds SVG."""
    root = parse(fig)
    assert tag(root) == "svg" and root.get("role") == "img" and root.get("width") == "100%"
    assert "system-ui" in root.get("font-family")
    ids = root.get("aria-labelledby").split()
    assert ids == [f"{figure_id}-title", f"{figure_id}-desc"]
    title, desc = root.find(NS + "title"), root.find(NS + "desc")
    assert title.get("id") == ids[0] and desc.get("id") == ids[1]
    assert title.text and desc.text == fig.alt
    assert fig.alt and fig.caption
    w, h = viewbox(root)
    for axis, v in coordinates(root):
        assert 0 <= v <= (w if axis == "x" else h), (axis, v)
    # no float noise: every numeric attribute has at most one decimal
    for e in root.iter():
        for k, v in e.attrib.items():
            assert not re.search(r"\d\.\d{2,}", v) or k in ("style",), (k, v)
    assert "http" not in fig.svg.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "<script" not in fig.svg.lower()
    # never drawn smaller than the width at which its smallest text (the root's 12 or a text's
    # own font-size) is 12 px, and drawn at its natural size (the viewBox width) when that is wider
    sizes = [float(t.get("font-size", root.get("font-size"))) for t in root.iter(NS + "text") if "".join(t.itertext())]
    style = dict(d.split(":") for d in root.get("style").split(";"))
    low = float(style["min-width"].removesuffix("px"))
    assert low == fig.min_width == math.ceil(w * 12 / min(sizes))
    assert float(style["max-width"].removesuffix("px")) == max(w, low) and style["height"] == "auto"
    return root


# --------------------------------------------------------------------------- data
PIDS = [f"P{i:02d}" for i in range(1, 14)]
GROUPS = ["CR"] * 4 + ["PR"] * 5 + ["NR"] * 3 + ["NE"]  # 9 responders


@pytest.fixture
def traj() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    rows = []
    for i, (p, g) in enumerate(zip(PIDS, GROUPS)):
        days = [0, 14, 30, 60, 90, 120, 150, 180][: 8 - (i % 3)]  # ragged follow-up
        for d in days:
            rows.append((p, d, float(np.clip(rng.lognormal(3.5, 1), 5, 400)), g))
    df = pd.DataFrame(rows, columns=["patient_id", "study_day", "platelet_count", "response_group"])
    df.loc[(df.patient_id == "P01") & (df.study_day == 30), "platelet_count"] = 100.0
    return df


def big_traj(n: int = 1000) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    pid = np.repeat([f"X{i:04d}" for i in range(n)], 13)
    day = np.tile(np.arange(0, 181, 15), n)
    grp = np.repeat(rng.choice(["CR", "PR", "NR", "NE"], n), 13)
    return pd.DataFrame(
        {"patient_id": pid, "study_day": day, "platelet_count": rng.lognormal(3.5, 1, n * 13), "response_group": grp}
    )


@pytest.fixture
def heat() -> pd.DataFrame:
    codes = {
        "P01": "NR NR NR",
        "P02": "PR CR CR",
        "P03": "NE PR PR",
        "P04": "CR CR CR",
        "P05": "NR PR NR",
        "P06": "NE NE NE",
        "P07": "PR PR CR",
        "P08": "NR NR PR",
        "P09": "PR PR PR",
        "P10": "NR NR NR",
        "P11": "PR CR PR",
        "P12": "NE NR NR",
        "P13": "NR PR CR",
    }
    rows = [(p, v, c) for p, s in codes.items() for v, c in zip(VISITS, s.split())]
    rows.append(("P01", "baseline", "CR"))  # a visit not requested: ignored
    return pd.DataFrame(rows, columns=["patient_id", "visit", "response"])


def big_heat(n: int = 1000) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "patient_id": np.repeat([f"X{i}" for i in range(n)], 3),
            "visit": np.tile(VISITS, n),
            "response": rng.choice(["CR", "PR", "NR", "NE"], 3 * n),
        }
    )


def paired(n: int = 13, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    base = rng.normal(5, 1.5, n).round(2)
    return pd.DataFrame(
        {
            "patient_id": [f"P{i:02d}" for i in range(1, n + 1)],
            "baseline_value": base,
            "value": (base + rng.normal(0.5, 1, n)).round(2),
        }
    )


@pytest.fixture
def wf() -> pd.DataFrame:
    fc = [0.8, 1.0, 1.6, 2.0, 2.5, 3.1, 4.0, 5.5, 7.0, 9.0, 12.0, 1.2, 25.0]
    return pd.DataFrame({"patient_id": PIDS, "best_fold_change": fc, "response_group": GROUPS[::-1]})


@pytest.fixture
def rates() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "visit": list(VISITS),
            "orr": [5 / 13, 7 / 13, 8 / 13],
            "ci_low": [0.14, 0.25, 0.32],
            "ci_high": [0.68, 0.81, 0.86],
            "n_responders": [5, 7, 8],
            "n_evaluable": [13, 13, 13],
        }
    )


@pytest.fixture
def trough() -> pd.DataFrame:
    rows = []
    for i, p in enumerate(PIDS):
        for j, d in enumerate([7, 14, 30, 60, 90, 180]):
            rows.append((p, d, [2.0, 5.0, 8.0, 12.0, 16.5, 9.0][(i + j) % 6], 1.0 + i % 2))
    return pd.DataFrame(rows, columns=["patient_id", "study_day", "trough", "daily_dose_mg"])


def all_figures(fid: str, traj, heat, wf, rates, trough) -> list[F.Figure]:
    return [
        F.platelet_trajectories(traj, fid),
        F.response_heatmap(heat, fid, VISITS),
        F.paired_plot(paired(), fid, "TREG_PCT", "%"),
        F.paired_panel({"TREG_PCT": paired(), "CD4_PCT": paired(seed=1)}, fid, {"TREG_PCT": "%"}),
        F.waterfall(wf, fid),
        F.response_rate_bars(rates, fid),
        F.dose_trough_plot(trough, fid, DEMO_TARGET),
    ]


# --------------------------------------------------------------------------- helper layer
def test_nice_ticks_cover_domain_with_round_steps():
    assert F._nice_ticks(0, 97) == [0, 20, 40, 60, 80, 100]
    assert F._nice_ticks(0.12, 0.93) == pytest.approx([0, 0.2, 0.4, 0.6, 0.8, 1.0])
    t = F._nice_ticks(3.3, 3.3)  # degenerate domain is widened
    assert t[0] < 3.3 < t[-1] and len(t) >= 3


def test_log_ticks_for_platelet_domain():
    assert F._log_ticks(5, 400) == [5, 10, 20, 30, 50, 100, 200, 400]
    assert F._log_nice(3.7, up=False) == 3 and F._log_nice(450, up=True) == 500


def test_scales_map_and_clamp():
    lin = F._Scale(0, 10, 100, 200)
    assert lin(5) == 150 and lin(-5) == 100 and lin(99) == 200
    log = F._Scale(1, 100, 300, 100, log=True)
    assert log(10) == pytest.approx(200) and log(0) == 300 and log(1e6) == 100


def test_fmt_rounds_and_escape_quotes():
    assert F._fmt(0.1 + 0.2) == "0.3" and F._fmt(12.0) == "12" and F._fmt(-0.01) == "0"
    assert F._esc('<a b="c">&') == "&lt;a b=&quot;c&quot;&gt;&amp;"


# --------------------------------------------------------------------------- 1. trajectories
def test_trajectories_one_coloured_line_per_patient(traj):
    fig = F.platelet_trajectories(traj, "traj", thresholds=DEMO_THRESHOLDS)
    root = check_structure(fig, "traj")
    lines = by_class(root, "polyline", "trajectory")
    assert len(lines) == 13
    expected = dict(zip(PIDS, GROUPS))
    for ln in lines:
        pid = tip(ln).split()[0]
        assert ln.get("stroke") == COLOURS[expected[pid]]
        n_obs = (traj.patient_id == pid).sum()
        assert len(ln.get("points").split()) == n_obs
    assert not by_class(root, "polygon", "band")
    assert {"CR (n=4)", "PR (n=5)", "NR (n=3)", "NE (n=1)"} <= set(texts(root))


def test_trajectories_log_scale_and_thresholds(traj):
    root = parse(F.platelet_trajectories(traj, "traj", thresholds=DEMO_THRESHOLDS))
    th = by_class(root, "line", "threshold")
    assert len(th) == 2 and all(t.get("stroke-dasharray") for t in th)
    y30, y100 = sorted((float(t.get("y1")) for t in th), reverse=True)
    labels = [t for t in texts(root) if t.startswith(("30", "100"))]
    assert "30" in labels and "100 ×10⁹/L" in labels
    tick_labels = set(texts(root))
    assert {"5", "10", "20", "50", "200", "400"} <= tick_labels
    # P01 has exactly 100 on day 30 -> drawn on the 100 threshold line
    p01 = next(ln for ln in by_class(root, "polyline", "trajectory") if tip(ln).startswith("P01"))
    ys = [float(p.split(",")[1]) for p in p01.get("points").split()]
    assert ys[2] == pytest.approx(y100, abs=0.05)
    # log scale: pixel distances are proportional to log ratios (5 is the lowest tick)
    grid_y = {float(e.get("y1")) for e in by_class(root, "line", "grid") if e.get("y1") == e.get("y2")}
    y5 = max(grid_y)
    assert (y5 - y100) / (y30 - y100) == pytest.approx(math.log10(100 / 5) / math.log10(100 / 30), rel=0.02)


def test_trajectories_alt_counts(traj):
    fig = F.platelet_trajectories(traj, "traj", thresholds=DEMO_THRESHOLDS)
    assert "13 patients" in fig.alt and "9 responders" in fig.alt and "0 to 180" in fig.alt
    fewer = traj[traj.patient_id != "P02"]  # drop a CR patient
    assert "12 patients" in F.platelet_trajectories(fewer, "t").alt
    assert "8 responders" in F.platelet_trajectories(fewer, "t").alt


def test_trajectories_summary_mode_above_max_lines():
    df = big_traj()
    fig = F.platelet_trajectories(df, "big")
    root = check_structure(fig, "big")
    assert len(by_class(root, "polyline", "trajectory")) == 20  # max_lines // 10
    assert len(by_class(root, "polygon", "band")) == 4
    assert len(by_class(root, "polyline", "median")) == 4
    assert "20 randomly sampled" in fig.caption and "median" in fig.caption
    assert len(fig.svg.encode()) < 300_000
    # deterministic for a seed, different for another seed
    assert F.platelet_trajectories(df, "big").svg == fig.svg
    assert F.platelet_trajectories(df, "big", seed=1).svg != fig.svg
    # the threshold is max_lines: exactly max_lines patients stay unsummarised
    small = df[df.patient_id.isin(df.patient_id.unique()[:50])]
    for limit, expected in ((50, 50), (49, 4)):
        root = parse(F.platelet_trajectories(small, "s", max_lines=limit))
        assert len(by_class(root, "polyline", "trajectory")) == expected


# --------------------------------------------------------------------------- 2. heatmap
def test_heatmap_cells_colours_and_letters(heat):
    fig = F.response_heatmap(heat, "hm", VISITS)
    root = check_structure(fig, "hm")
    cells = by_class(root, "rect", "cell")
    assert len(cells) == 13 * 3
    lookup = {(p, v): r for p, v, r in heat.itertuples(index=False)}
    for c in cells:
        who, resp = tip(c).split(": ")
        pid, visit = who.split(", ")
        assert resp == lookup[(pid, visit.lower().replace(" ", "_"))]
        assert c.get("fill") == COLOURS[resp]
    letters = Counter(e.text for e in by_class(root, "text", "cell-label"))
    assert letters == Counter(heat[heat.visit.isin(VISITS)].response)
    assert "Baseline" not in texts(root)


def test_heatmap_rows_sorted_by_best_response_then_id(heat):
    root = parse(F.response_heatmap(heat, "hm", VISITS))
    order = [t for t in texts(root) if t in PIDS]
    assert order == [
        "P02",
        "P04",
        "P07",
        "P11",
        "P13",  # best CR
        "P03",
        "P05",
        "P08",
        "P09",  # best PR
        "P01",
        "P10",
        "P12",  # best NR
        "P06",
    ]  # NE only


def test_heatmap_missing_assessment_still_drawn(heat):
    df = heat.drop(index=heat.index[(heat.patient_id == "P04") & (heat.visit == "month_3")])
    root = parse(F.response_heatmap(df, "hm", VISITS))
    assert len(by_class(root, "rect", "cell")) == 39
    missing = by_class(root, "rect", "missing")
    assert len(missing) == 1 and "P04, Month 3" in tip(missing[0])
    assert "Not assessed" in texts(root)


def test_heatmap_alt_counts_responders(heat):
    alt = F.response_heatmap(heat, "hm", VISITS).alt
    assert "13 patients at 3 visits" in alt
    assert "Month 1 5/13" in alt and "Month 3 8/13" in alt and "Month 6 8/13" in alt


def test_heatmap_summary_bars_above_60_patients():
    df = big_heat()
    fig = F.response_heatmap(df, "hb", VISITS)
    root = check_structure(fig, "hb")
    assert not by_class(root, "rect", "cell")
    segs = by_class(root, "rect", "segment")
    assert len(segs) == 3 * 4 and {s.get("fill") for s in segs} == set(COLOURS.values())
    # each visit's segments stack to the full height
    heights = Counter()
    for s in segs:
        heights[s.get("x")] += float(s.get("height"))
    assert len(heights) == 3 and max(heights.values()) - min(heights.values()) < 0.5
    m6 = df[df.visit == "month_6"].response
    cr = next(s for s in segs if tip(s).startswith("Month 6: CR"))
    assert f"{(m6 == 'CR').sum()}/1000" in tip(cr)
    assert "stacked bars" in fig.caption and len(fig.svg.encode()) < 300_000
    sixty = df[df.patient_id.isin([f"X{i}" for i in range(60)])]  # 60 is still drawn as a grid
    assert len(by_class(parse(F.response_heatmap(sixty, "x", VISITS)), "rect", "cell")) == 180


# --------------------------------------------------------------------------- 3. paired
def test_paired_lines_points_and_direction_colours():
    df = paired()
    fig = F.paired_plot(df, "pp", "TREG_PCT", "%")
    root = check_structure(fig, "pp")
    assert len(by_class(root, "line", "pair")) == 13
    pts = by_class(root, "circle", "point")
    assert len(pts) == 26
    up = set(df.patient_id[df.value > df.baseline_value])
    for p in pts:
        pid = tip(p).split(",")[0]
        assert p.get("fill") == ("#0072B2" if pid in up else "#E69F00")
    # higher values are drawn higher (smaller y)
    base = sorted((float(p.get("cy")), float(tip(p).split(": ")[1])) for p in pts if "baseline" in tip(p))
    vals = [v for _, v in base]
    assert vals == sorted(vals, reverse=True)
    med = by_class(root, "line", "summary-line")
    assert len(med) == 1 and med[0].get("stroke-width") == "3"


def test_paired_alt_and_axis():
    df = paired()
    fig = F.paired_plot(df, "pp", "TREG_PCT", "%", followup_label="Week 24")
    up = int((df.value > df.baseline_value).sum())
    assert "13 patients" in fig.alt and f"{up} increased" in fig.alt and "Week 24" in fig.alt
    assert f"median {df.baseline_value.median():.2f}" in fig.alt
    labels = texts(parse(fig))
    assert "Baseline" in labels and "Week 24" in labels
    ticks = [float(t) for t in labels if re.fullmatch(r"-?\d+(\.\d+)?", t)]
    steps = {round(b - a, 6) for a, b in zip(ticks, ticks[1:])}
    assert len(steps) == 1 and ticks[0] <= df[["baseline_value", "value"]].min().min()


def test_paired_boxplots_above_200_patients():
    df = paired(1000)
    fig = F.paired_plot(df, "pb", "CD4_PCT", "%")
    root = check_structure(fig, "pb")
    assert not by_class(root, "line", "pair") and not by_class(root, "circle", "point")
    assert len(by_class(root, "rect", "box")) == 2 and len(by_class(root, "path", "whisker")) == 2
    assert "1000 patients" in fig.alt and "more than 200" in fig.caption
    assert len(fig.svg.encode()) < 300_000
    assert len(by_class(parse(F.paired_plot(paired(200), "p", "A", "%")), "line", "pair")) == 200


def test_paired_panel_small_multiples():
    names = ["TREG_PCT", "CD4_PCT", "CD8_PCT", "CD19_PCT", "NK_PCT"]
    frames = {k: paired(13 - i, seed=i) for i, k in enumerate(names)}
    fig = F.paired_panel(frames, "panel", {k: "%" for k in names})
    root = check_structure(fig, "panel")
    panels = [g for g in root.iter(NS + "g") if g.get("class") == "panel"]
    assert len(panels) == 5
    for i, (g, k) in enumerate(zip(panels, names)):
        assert g.get("id") == f"panel-panel-{i}"
        assert len(by_class(g, "line", "pair")) == 13 - i
        assert [t for t in texts(g) if t.startswith(k)] == [f"{k} (%)"]
        assert len(by_class(g, "line", "summary-line")) == 1
    tops = [float(by_class(g, "text", "panel-title")[0].get("y")) for g in panels]
    assert tops[0] == tops[1] == tops[2] < tops[3] == tops[4]  # 3 per row
    assert "5 analytes" in fig.alt and "NK_PCT" in fig.alt and "n=9" in fig.alt


def test_paired_panel_with_an_empty_frame():
    frames = {"TREG_PCT": paired(), "CD4_PCT": paired().iloc[0:0]}
    fig = F.paired_panel(frames, "pe", {})
    root = check_structure(fig, "pe")
    assert len(by_class(root, "line", "pair")) == 13 and "No data" in texts(root)
    assert "CD4_PCT: no data" in fig.alt


# --------------------------------------------------------------------------- 4. waterfall
def test_waterfall_sorted_coloured_bars(wf):
    fig = F.waterfall(wf, "wf")
    root = check_structure(fig, "wf")
    bars = by_class(root, "rect", "bar")
    assert len(bars) == 13
    xs = [float(b.get("x")) for b in bars]
    folds = [float(tip(b).split(": ")[1].split("×")[0]) for b in bars]
    assert xs == sorted(xs) and folds == sorted(wf.best_fold_change, reverse=True)
    group = dict(zip(wf.patient_id, wf.response_group))
    for b in bars:
        assert b.get("fill") == COLOURS[group[tip(b).split(":")[0]]]
    labels = set(texts(root))
    assert {"0.5×", "1×", "2×", "4×", "8×", "16×", "32×"} <= labels
    assert len({b.get("width") for b in bars}) == 1  # equal widths
    two_bars = by_class(parse(F.waterfall(wf.iloc[:2], "w2")), "rect", "bar")
    assert all(float(b.get("width")) <= 60 for b in two_bars)  # a few bars stay slim
    ref = by_class(root, "line", "reference")[0]
    base = by_class(root, "line", "baseline")[0]
    # bar of exactly 2x reaches the reference line; bars below 1x hang from the baseline
    two = next(b for b in bars if tip(b).startswith("P04"))
    assert float(two.get("y")) == pytest.approx(float(ref.get("y1")), abs=0.1)
    low = next(b for b in bars if tip(b).startswith("P01"))
    assert float(low.get("y")) == pytest.approx(float(base.get("y1")), abs=0.1)
    assert set(PIDS) <= labels  # per-bar labels for a small cohort


def test_waterfall_alt(wf):
    alt = F.waterfall(wf, "wf").alt
    assert "13 patients" in alt and "9 of 13 reached at least 2-fold" in alt
    assert f"median {wf.best_fold_change.median():.2f}×" in alt


def test_waterfall_thin_bar_area_above_300():
    rng = np.random.default_rng(0)
    df = pd.DataFrame(
        {
            "patient_id": [f"X{i}" for i in range(1000)],
            "best_fold_change": rng.lognormal(0.7, 1, 1000),
            "response_group": rng.choice(["CR", "PR", "NR", "NE"], 1000),
        }
    )
    fig = F.waterfall(df, "wb")
    root = check_structure(fig, "wb")
    assert not by_class(root, "rect", "bar") and not by_class(root, "text", "bar-label")
    areas = by_class(root, "path", "bar-area")
    assert {a.get("fill") for a in areas} == set(COLOURS.values())
    assert sum(a.get("d").count("Z") for a in areas) == 1000
    assert "thin-bar" in fig.caption and len(fig.svg.encode()) < 300_000
    mid = F.waterfall(df.iloc[:300], "w3")
    assert len(by_class(parse(mid), "rect", "bar")) == 300 and not by_class(parse(mid), "text", "bar-label")


def test_waterfall_bins_consecutive_patients_above_max_columns():
    rng = np.random.default_rng(1)
    n = 50_000
    df = pd.DataFrame(
        {
            "patient_id": [f"X{i}" for i in range(n)],
            "best_fold_change": rng.lognormal(0.7, 1, n),
            "response_group": rng.choice(["CR", "PR", "NR", "NE"], n, p=[0.1, 0.5, 0.3, 0.1]),
        }
    )
    fig = F.waterfall(df, "wn", max_columns=500)
    root = check_structure(fig, "wn")
    areas = by_class(root, "path", "bar-area")
    assert sum(a.get("d").count("Z") for a in areas) == 500
    assert "each of the 500 columns stands for about 100 consecutive patients" in fig.caption
    assert f"{n} patients" in fig.alt and len(fig.svg.encode()) < 100_000
    # columns follow the sorted patients: from left to right the bar ends never rise
    import re

    cols = sorted(
        (float(x), float(top), float(bottom))
        for a in areas
        for x, top, bottom in re.findall(r"M([\d.]+) ([\d.]+)H[\d.]+V([\d.]+)H", a.get("d"))
    )
    assert len(cols) == 500
    tops = [top for _, top, _ in cols]
    assert tops[0] < tops[len(tops) // 2]  # the leftmost column is the tallest part of the curve
    assert all(b >= a - 1e-6 for a, b in zip(tops[:250], tops[1:251]))  # above the baseline, tops only go down


# --------------------------------------------------------------------------- 5. response rate bars
def test_response_rate_bars(rates):
    fig = F.response_rate_bars(rates, "orr")
    root = check_structure(fig, "orr")
    bars = by_class(root, "rect", "bar")
    assert len(bars) == 3 and len(by_class(root, "path", "errorbar")) == 3
    labels = [t for t in texts(root) if "%" in t and "(" in t]
    assert labels == ["38.5% (5/13)", "53.8% (7/13)", "61.5% (8/13)"]
    assert {"0%", "20%", "40%", "60%", "80%", "100%"} <= set(texts(root))
    heights = [float(b.get("height")) for b in bars]
    assert heights[2] / heights[0] == pytest.approx(8 / 5, rel=0.01)
    assert "Month 6 61.5% (8/13)" in fig.alt


def test_response_rate_bars_missing_values(rates):
    df = rates.copy()
    df.loc[0, ["orr", "ci_low", "ci_high"]] = np.nan
    root = parse(F.response_rate_bars(df, "orr"))
    assert len(by_class(root, "rect", "bar")) == 2 and len(by_class(root, "path", "errorbar")) == 2
    assert "n/a" in texts(root)


# --------------------------------------------------------------------------- 6. trough
def test_dose_trough_plot(trough):
    fig = F.dose_trough_plot(trough, "tr", DEMO_TARGET)
    root = check_structure(fig, "tr")
    assert len(by_class(root, "polyline", "trough-line")) == 13
    pts = by_class(root, "circle", "trough-point")
    assert len(pts) == len(trough)
    band = by_class(root, "rect", "target-band")[0]
    top, bottom = float(band.get("y")), float(band.get("y")) + float(band.get("height"))
    for p in pts:
        value = float(tip(p).split(": ")[1].split()[0])
        inside = 4 <= value <= 15
        assert p.get("fill") == ("#0072B2" if inside else "#D55E00")
        assert (top - 0.1 <= float(p.get("cy")) <= bottom + 0.1) == inside
    n_in = int(trough.trough.between(4, 15).sum())
    assert f"{len(trough)} measurements in 13 patients" in fig.alt and f"{n_in} (" in fig.alt
    assert "mg/day" in tip(pts[0]) and "Median daily dose" in fig.alt
    no_dose = F.dose_trough_plot(trough.drop(columns="daily_dose_mg"), "tr", DEMO_TARGET)
    assert "dose" not in no_dose.alt


# --------------------------------------------------------------------------- cross-cutting
EMPTY_CALLS = [
    lambda df: F.platelet_trajectories(df, "e"),
    lambda df: F.response_heatmap(df, "e", VISITS),
    lambda df: F.paired_plot(df, "e", "TREG_PCT", "%"),
    lambda df: F.paired_panel({"A": df}, "e", {}),
    lambda df: F.waterfall(df, "e"),
    lambda df: F.response_rate_bars(df, "e"),
    lambda df: F.dose_trough_plot(df, "e", DEMO_TARGET),
]


@pytest.mark.parametrize("call", EMPTY_CALLS)
@pytest.mark.parametrize(
    "df",
    [
        pd.DataFrame(),
        pd.DataFrame(
            columns=[
                "patient_id",
                "study_day",
                "platelet_count",
                "response_group",
                "visit",
                "response",
                "baseline_value",
                "value",
                "best_fold_change",
                "orr",
                "ci_low",
                "ci_high",
                "n_responders",
                "n_evaluable",
                "trough",
            ]
        ),
    ],
)
def test_empty_input_gives_no_data_figure(call, df):
    fig = call(df)
    root = check_structure(fig, "e")
    assert "No data" in texts(root) and "no data" in fig.alt.lower()


def test_empty_panel_mapping_and_all_nan_rows():
    assert "no data" in F.paired_panel({}, "e", {}).alt
    nan = pd.DataFrame({"patient_id": ["P1"], "baseline_value": [np.nan], "value": [1.0]})
    assert "no data" in F.paired_plot(nan, "e", "A", "%").alt


def test_missing_column_is_an_error_not_a_silent_figure(traj):
    with pytest.raises(ValueError, match="platelet_count"):
        F.platelet_trajectories(traj.drop(columns="platelet_count"), "t")


def hostile_figures() -> list[F.Figure]:
    h = HOSTILE
    traj = pd.DataFrame(
        {
            "patient_id": [h, h, "P2"],
            "study_day": [0, 30, 0],
            "platelet_count": [20.0, 80.0, 40.0],
            "response_group": [h, h, "CR"],
        }
    )
    heat = pd.DataFrame({"patient_id": [h, h], "visit": [h, "month_1"], "response": [h, "CR"]})
    pair = pd.DataFrame({"patient_id": [h, "P2"], "baseline_value": [1.0, 2.0], "value": [2.0, 1.0]})
    wf = pd.DataFrame({"patient_id": [h], "best_fold_change": [3.0], "response_group": [h]})
    rates = pd.DataFrame(
        {"visit": [h], "orr": [0.5], "ci_low": [0.2], "ci_high": [0.8], "n_responders": [1], "n_evaluable": [2]}
    )
    tr = pd.DataFrame({"patient_id": [h, h], "study_day": [1, 2], "trough": [5.0, 20.0]})
    return [
        F.platelet_trajectories(traj, h),
        F.response_heatmap(heat, h, visits=(h, "month_1")),
        F.paired_plot(pair, h, h, h, followup_label=h),
        F.paired_panel({h: pair}, h, {h: h}, h),
        F.waterfall(wf, h),
        F.response_rate_bars(rates, h),
        F.dose_trough_plot(tr, h, DEMO_TARGET),
    ]


@pytest.mark.parametrize("i", range(7))
def test_hostile_labels_are_escaped(i):
    fig = hostile_figures()[i]
    root = parse(fig)  # must be well-formed XML
    for e in root.iter():
        assert tag(e) != "script"
        assert not [k for k in e.attrib if k.lower().startswith("on")], e.attrib
    # the hostile text survives as inert text (in a label or tooltip), escaped in the markup
    all_text = "".join("".join(e.itertext()) for e in root.iter())
    assert HOSTILE in all_text  # both the tag and the attribute-breaking quote, intact
    assert "&lt;script&gt;" in fig.svg and "<script>" not in fig.svg
    assert re.fullmatch(r"[A-Za-z][A-Za-z0-9_-]*-title", root.find(NS + "title").get("id"))


def test_ids_unique_across_figures_on_one_page(traj, heat, wf, rates, trough):
    figs = [all_figures(f"fig-{i}", traj, heat, wf, rates, trough)[i] for i in range(7)]
    figs += [all_figures(f"other-{i}", traj, heat, wf, rates, trough)[i] for i in range(7)]
    page = "<div>" + "".join(f.svg for f in figs) + "</div>"
    ids = [e.get("id") for e in ET.fromstring(page).iter() if e.get("id")]
    assert len(ids) == len(set(ids)) and len(ids) >= 28
    # control: the same figure_id twice does collide, so the check above is meaningful
    same = "<div>" + F.waterfall(wf, "a").svg + F.response_rate_bars(rates, "a").svg + "</div>"
    dup = [e.get("id") for e in ET.fromstring(same).iter() if e.get("id")]
    assert len(dup) != len(set(dup))


@pytest.mark.parametrize("i", range(7))
def test_every_figure_meets_common_contract(i, traj, heat, wf, rates, trough):
    fig = all_figures("c", traj, heat, wf, rates, trough)[i]
    check_structure(fig, "c")
    assert re.search(r"\d", fig.alt)
    assert len(fig.svg.encode()) < 300_000
    sizes = {int(s) for s in re.findall(r'font-size="(\d+)"', fig.svg)}
    assert sizes <= {11, 12, 13}


def test_dose_trough_plot_summarises_large_cohorts() -> None:
    rng = np.random.default_rng(0)
    n = 1000
    frame = pd.DataFrame(
        {
            "patient_id": np.repeat([f"P{i}" for i in range(n)], 6),
            "study_day": np.tile([30, 60, 90, 120, 150, 180], n),
            "trough": rng.uniform(2, 18, n * 6),
        }
    )
    fig = F.dose_trough_plot(frame, "trough-big", DEMO_TARGET)
    root = ET.fromstring(fig.svg)
    ns = {"s": "http://www.w3.org/2000/svg"}
    circles = root.findall(".//s:circle", ns) or root.findall(".//circle")
    assert not [c for c in circles if "trough-point" in (c.get("class") or "")]
    assert "1,000 patients" in fig.caption and "percentiles" in fig.caption
    assert len(fig.svg) < 300_000
    small = F.dose_trough_plot(frame[frame["patient_id"].isin(["P1", "P2"])], "trough-small", DEMO_TARGET)
    assert small.svg.count('class="trough-point"') == 12


# --------------------------------------------------------------------------- readable width
def hand_svg(*sizes: str, width: float = 600, root: str = ' font-size="12"', extra: str = "") -> str:
    texts = "".join(f'<text x="10" y="20"{a}>label</text>' for a in sizes)
    return f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} 200"{root}>{texts}{extra}</svg>'


def test_readable_width_is_viewbox_width_times_12_over_the_smallest_font() -> None:
    # 600 user units, smallest text 10 units: drawn 720 px wide, that text is 720/600 x 10 = 12 px
    svg = hand_svg(' font-size="11"', ' font-size="10"', "")
    assert F.smallest_font(svg) == 10
    assert F.readable_width(svg) == pytest.approx(720)
    assert F.min_display_width(svg) == 720
    # smaller fonts need a wider figure; a figure of 12-unit text needs exactly its viewBox width
    assert F.readable_width(hand_svg(' font-size="8"')) == pytest.approx(900)
    assert F.readable_width(hand_svg(' font-size="12"')) == pytest.approx(600)
    assert F.readable_width(hand_svg(' font-size="24"')) == pytest.approx(300)
    # 11-unit text in a 760-unit figure: 829.09 px, rounded up so the text is never under 12 px
    assert F.min_display_width(hand_svg(' font-size="11"', width=760)) == 830


def test_readable_width_reads_inherited_styled_and_scaled_font_sizes() -> None:
    # inherited from the root, or the CSS default (16) when nothing sets it
    assert F.smallest_font(hand_svg("")) == 12 and F.smallest_font(hand_svg("", root="")) == 16
    # matplotlib (svg.fonttype none) writes the size in the style: font-size or the font shorthand
    assert F.smallest_font(hand_svg(' style="font-size: 9px; font-family: DejaVu Sans"')) == 9
    assert F.smallest_font(hand_svg(" style=\"font: 700 8px/1.2 'DejaVu Sans'\"")) == 8
    assert F.smallest_font(hand_svg(' font-size="20" style="font-size:7"')) == 7  # the style wins
    assert F.smallest_font(hand_svg(' font-size="0.5em"', root=' font-size="20"')) == 10
    assert F.smallest_font(hand_svg(' font-size="6pt"')) == 8  # 1 pt = 4/3 user units
    # a scale transform on the text or a group shrinks it too
    grouped = '<g transform="translate(5 5) scale(0.5)"><text font-size="12">small</text></g>'
    assert F.smallest_font(hand_svg(' font-size="14"', extra=grouped)) == 6
    # empty texts and titles do not count; an SVG without text has no minimum
    assert F.smallest_font(hand_svg(' font-size="11"', extra='<text font-size="2"> </text><title>t</title>')) == 11
    no_text = '<svg viewBox="0 0 100 50"><rect width="1" height="1"/></svg>'
    assert F.readable_width(no_text) == 0 and F.min_display_width(no_text) == 0
    with pytest.raises(ValueError, match="font size"):
        F.smallest_font(hand_svg(' font-size="larger"'))
    with pytest.raises(ValueError, match="viewBox"):
        F.readable_width('<svg><text font-size="10">x</text></svg>')


def test_sized_svg_gets_its_readable_minimum_and_natural_maximum() -> None:
    from ctd_rtp.figures.svg import sized

    small = sized(hand_svg(' font-size="10"'), 600)
    assert 'style="min-width:720px;max-width:720px;height:auto"' in small
    big = sized(hand_svg(' font-size="24"'), 600)  # readable from 300 px: scales down to it
    assert 'style="min-width:300px;max-width:600px;height:auto"' in big
    with pytest.raises(ValueError, match="style"):
        sized(small, 600)
