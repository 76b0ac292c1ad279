"""The report's six hand-written SVG plots (one public function each; scales, axes and markup
come from :mod:`.svg`)."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from .svg import (
    AXIS,
    CHAR_W,
    DECREASE,
    INCREASE,
    INK,
    MISSING_COLOUR,
    OUTSIDE_TARGET,
    PLT_UNIT,
    RESPONSE_ORDER,
    TIMES,
    UNCHANGED,
    Figure,
    _band,
    _Box,
    _category_axes,
    _codes,
    _colour,
    _day_axis,
    _el,
    _fmt,
    _frame,
    _group_legend,
    _hline,
    _legend,
    _log_nice,
    _log_ticks,
    _natural_key,
    _nice_ticks,
    _no_data,
    _num,
    _ordered_groups,
    _points,
    _pretty,
    _safe_id,
    _Scale,
    _stat,
    _svg,
    _text,
    _tip,
    _truncate,
    _whiskers,
    _x_axis,
    _y_axis,
)


# --------------------------------------------------------------------------- 1. trajectories
def platelet_trajectories(
    df: pd.DataFrame,
    figure_id: str,
    thresholds: Sequence[float] = (),
    max_lines: int = 200,
    seed: int = 0,
    endpoint_label: str = "the primary endpoint",
) -> Figure:
    """Platelet count per patient over study days (log10 y), coloured by the response at the
    primary endpoint (``endpoint_label``); dashed lines at ``thresholds`` (the study's PR and CR).

    Columns: ``patient_id``, ``study_day``, ``platelet_count`` (10^9/L), ``response_group``
    (CR/PR/NR/NE; missing -> NE). Above ``max_lines`` patients: per-group medians with
    10th-90th percentile bands per 14-day bin plus a seeded sample of ``max_lines // 10`` patients.
    """
    fid, what = _safe_id(figure_id), "Platelet count trajectories"
    d = _frame(df, ("study_day", "platelet_count"), extra=("response_group",))
    if d is None:
        return _no_data(fid, what)
    d["group"] = _codes(d["response_group"], "NE")
    by_id = d.groupby("patient_id", sort=False)["group"]
    group_of = by_id.first()
    d["group"] = by_id.transform("first")  # each row its patient's group, without a second lookup by id
    n, counts = len(group_of), group_of.value_counts()
    groups = _ordered_groups(counts.index)
    W, H, box = 760, 440, _Box(64, 44, 680, 392)
    positive = d["platelet_count"][d["platelet_count"] > 0]
    lo = _log_nice(min(5.0, positive.min() if len(positive) else 5.0), up=False)
    hi = _log_nice(max(400.0, d["platelet_count"].max()), up=True)
    ys = _Scale(lo, hi, box.y1, box.y0, log=True)
    xs, x_axis, day_lo, day_hi = _day_axis(d["study_day"], box)
    body = _y_axis(box, [(ys(t), _num(t)) for t in _log_ticks(lo, hi)], f"Platelets ({PLT_UNIT})") + x_axis
    shown = sorted(t for t in thresholds if lo <= t <= hi)
    for i, t in enumerate(shown):
        body.append(_hline(box, ys(t), stroke="#333333", stroke_dasharray="5 4", class_="threshold"))
        label = f"{_num(t)} {PLT_UNIT}" if i == len(shown) - 1 else _num(t)
        body.append(_text(box.x1 + 4, ys(t) + 4, label, font_size=11, class_="threshold-label"))

    summary = n > max_lines
    pids = sorted(group_of.index, key=_natural_key)
    if summary:
        picked = np.random.default_rng(seed).choice(n, size=min(max_lines // 10, n), replace=False)
        pids = [pids[i] for i in sorted(picked)]
        d["bin"] = np.floor(d["study_day"] / 14).astype(int)
        # per patient by integer code: the same groups as by the id text, hashed once
        patient = pd.factorize(d["patient_id"])[0]
        per = d.groupby(["group", "bin", patient])["platelet_count"].median().reset_index()
        q = per.groupby(["group", "bin"])["platelet_count"].quantile([0.1, 0.5, 0.9]).unstack()
        for g in groups:
            qg = q.xs(g, level="group")
            x = [xs(min(max(b * 14 + 7, day_lo), day_hi)) for b in qg.index]
            band = [*zip(x, map(ys, qg[0.9])), *reversed([*zip(x, map(ys, qg[0.1]))])]
            body.append(
                _el(
                    "polygon",
                    _tip(f"{g}: 10th-90th percentile"),
                    points=_points(band),
                    fill=_colour(g),
                    fill_opacity=0.18,
                    stroke="none",
                    class_="band",
                )
            )
            body.append(
                _el(
                    "polyline",
                    _tip(f"{g}: median"),
                    points=_points(zip(x, map(ys, qg[0.5]))),
                    fill="none",
                    stroke=_colour(g),
                    stroke_width=2.5,
                    class_="median",
                )
            )
    drawn = d[d["patient_id"].isin(pids)] if summary else d  # not one sub-frame per patient
    by_patient = dict(tuple(drawn.groupby("patient_id", sort=False)))
    rank = {g: i for i, g in enumerate(RESPONSE_ORDER)}
    for pid in sorted(pids, key=lambda p: -rank.get(group_of[p], len(rank))):  # CR drawn on top
        sub, g = by_patient[pid].sort_values("study_day"), group_of[pid]
        pts = [(xs(a), ys(b)) for a, b in zip(sub["study_day"], sub["platelet_count"])]
        body.append(
            _el(
                "polyline",
                _tip(f"{pid} ({g})"),
                points=_points(pts * (2 if len(pts) == 1 else 1)),
                fill="none",
                stroke=_colour(g),
                stroke_width=1 if summary else 1.5,
                stroke_opacity=0.5 if summary else 0.85,
                stroke_linecap="round",
                stroke_linejoin="round",
                class_="trajectory",
            )
        )
    body.append(_group_legend(counts, box.x0))

    responders = int(counts.get("CR", 0) + counts.get("PR", 0))
    alt = (
        f"Platelet counts of {n} patients over {_num(day_lo)} to {_num(day_hi)} study days; "
        f"{responders} responders (CR or PR) at {endpoint_label} ({', '.join(f'{g} {counts[g]}' for g in groups)})."
    )
    caption = (
        f"Platelet count ({PLT_UNIT}, log scale) by study day, one line per patient coloured by the response "
        f"at {endpoint_label}"
    )
    caption += f"; dashed lines mark {' and '.join(map(_num, shown))} {PLT_UNIT}." if shown else "."
    if summary:
        note = (
            f" Because there are {n} patients (more than {max_lines}), thick lines show per-group "
            f"medians with 10th-90th percentile bands in 14-day bins, plus {len(pids)} randomly "
            f"sampled patients (seed {seed})."
        )
        caption, alt = caption + note, alt + note
    return Figure(_svg(fid, W, H, what, alt, body), alt, caption)


# --------------------------------------------------------------------------- 2. heatmap
def _heatmap_visits(df: pd.DataFrame | None) -> list[str]:
    """The visits in the data, by ``visit_order`` when given (none without a ``visit`` column)."""
    ordered = df.sort_values("visit_order") if df is not None and "visit_order" in df.columns else df
    return (
        [] if ordered is None or "visit" not in ordered.columns else list(dict.fromkeys(ordered["visit"].astype(str)))
    )


def _first_responses(d: pd.DataFrame) -> dict[tuple[str, str], str]:
    """(patient, visit) -> the first non-empty response in row order."""
    cells: dict[tuple[str, str], str] = {}
    # numpy object arrays: iterating pandas' Arrow-backed text element by element is slow.
    for p, v, r in zip(*(d[c].to_numpy(dtype=object) for c in ("patient_id", "visit", "response"))):
        if r:
            cells.setdefault((p, v), r)
    return cells


def _heatmap_grid(
    patients: set[str], visits: list[str], labels: list[str], cells: Mapping[tuple[str, str], str]
) -> tuple[float, float, list[str]]:
    """Width, height and body of the per-patient grid: one row per patient (sorted by best
    response, then natural id), one cell per visit."""
    rank = {g: i for i, g in enumerate(RESPONSE_ORDER)}

    def best(p: str) -> int:
        return min(rank.get(cells[(p, v)], len(rank)) if (p, v) in cells else len(rank) + 1 for v in visits)

    n, nv = len(patients), len(visits)
    body: list[str] = []
    pids = sorted(patients, key=lambda p: (best(p), _natural_key(p)))
    names = [_truncate(p) for p in pids]
    x0, cw, ch, y0 = min(150.0, 12 + CHAR_W * max(map(len, names))) + 8, 64, 20, 60
    W, H = max(x0 + cw * nv + 16, 380), y0 + ch * n + 12
    for j, lab in enumerate(labels):
        body.append(_text(x0 + j * cw + cw / 2, y0 - 8, _truncate(lab, 9), text_anchor="middle", font_weight="bold"))
    for i, (p, name) in enumerate(zip(pids, names)):
        y = y0 + i * ch
        body.append(_text(x0 - 6, y + ch / 2 + 4, name, text_anchor="end", font_size=11))
        for j, (v, lab) in enumerate(zip(visits, labels)):
            r = cells.get((p, v), "")
            body.append(
                _el(
                    "rect",
                    _tip(f"{p}, {lab}: {r or 'not assessed'}"),
                    x=float(x0 + j * cw + 1),
                    y=float(y + 1),
                    width=cw - 2,
                    height=ch - 2,
                    fill=_colour(r) if r else "#FFFFFF",
                    stroke="#CCCCCC",
                    class_="cell" if r else "cell missing",
                )
            )
            body.append(
                _text(
                    x0 + j * cw + cw / 2,
                    y + ch / 2 + 4,
                    _truncate(r, 4) or "\u2013",
                    text_anchor="middle",
                    font_size=11,
                    fill=INK,
                    class_="cell-label",
                )
            )
    return W, H, body


def _heatmap_bars(
    n: int,
    visits: list[str],
    labels: list[str],
    groups: list[str],
    tallies: Mapping[tuple[str, str], int],
    assessed: Mapping[str, int],
) -> tuple[float, float, list[str]]:
    """Width, height and body of the stacked bars: the share of the ``n`` patients in each
    response category (and not assessed) per visit."""
    W, H = max(420, 84 + len(visits) * 100), 360
    box = _Box(64, 44, W - 20, 320)
    ys = _Scale(0, 1, box.y1, box.y0)
    starts, bw, body = _category_axes(box, labels, "Patients", 0.35)
    for s, v, lab in zip(starts, visits, labels):
        tally = [(g, tallies[(v, g)]) for g in groups]
        cum = 0.0
        for g, c in [*tally, ("Not assessed", n - assessed[v])]:
            if not c:
                continue
            top, bottom = ys(cum + c / n), ys(cum)
            cum += c / n
            body.append(
                _el(
                    "rect",
                    _tip(f"{lab}: {g} {c}/{n} ({100 * c / n:.1f}%)"),
                    x=float(s),
                    y=top,
                    width=bw,
                    height=bottom - top,
                    stroke="#FFFFFF",
                    stroke_width=0.5,
                    fill=MISSING_COLOUR if g == "Not assessed" else _colour(g),
                    class_="segment",
                )
            )
            if bottom - top >= 14:
                body.append(
                    _text(
                        s + bw / 2,
                        (top + bottom) / 2 + 4,
                        f"{100 * c / n:.0f}%",
                        text_anchor="middle",
                        font_size=11,
                        fill=INK,
                    )
                )
    return W, H, body


def response_heatmap(
    df: pd.DataFrame, figure_id: str, visits: Sequence[str] | None = None, *, max_rows: int = 60
) -> Figure:
    """Response per patient (rows) and visit (columns); rows sorted by best response, then id.

    Columns: ``patient_id``, ``visit``, ``response``. ``visits``: the columns in order (default:
    the visits in the data, by ``visit_order`` when given). Rows for other visits are ignored; a
    patient without a response at a visit gets an empty "not assessed" cell. Above
    ``max_rows`` patients, stacked proportional bars per visit are drawn instead.
    """
    fid, what = _safe_id(figure_id), "Response by visit"
    d = _frame(df, (), extra=("visit", "response"))
    visits = [str(v) for v in (_heatmap_visits(df) if visits is None else visits)]
    if d is not None:
        d["visit"], d["response"] = d["visit"].astype(str).str.strip(), _codes(d["response"])
        d = d[d["visit"].isin(visits)]
    if d is None or d.empty:
        return _no_data(fid, what)
    cells = _first_responses(d)
    patients = set(d["patient_id"])
    n, nv, labels = len(patients), len(visits), [_pretty(v) for v in visits]
    # Patients per visit x response: one pass over the cells (summary bars and the alt text).
    tallies = Counter((v, r) for (_, v), r in cells.items())
    assessed = Counter(v for (_, v) in cells)
    groups = _ordered_groups(cells.values())
    legend = [(_colour(g), g) for g in groups]
    if len(cells) < n * nv:
        legend.append((MISSING_COLOUR if n > max_rows else "#FFFFFF", "Not assessed"))
    if n <= max_rows:
        W, H, body = _heatmap_grid(patients, visits, labels, cells)
        mode = "Each row is one patient (sorted by best response, then id); letters give the response."
    else:
        W, H, body = _heatmap_bars(n, visits, labels, groups, tallies, assessed)
        mode = (
            f"With {n} patients (more than {max_rows}) the per-patient grid is replaced by stacked "
            f"bars giving the share of patients in each response category per visit."
        )
    body.append(_legend(legend, 12))
    resp = "; ".join(f"{lab} {tallies[(v, 'CR')] + tallies[(v, 'PR')]}/{n}" for v, lab in zip(visits, labels))
    alt = f"Response of {n} patients at {nv} visits ({', '.join(labels)}); responders (CR or PR): {resp}."
    return Figure(_svg(fid, W, H, what, alt, body), alt, f"Response category by visit. {mode}")


# --------------------------------------------------------------------------- 3. paired plots
def _box_whisker(x: float, values: np.ndarray, ys: _Scale, w: float) -> list[str]:
    """Box (quartiles), median line and 10th-90th percentile whiskers centred at ``x``."""
    q10, q25, q50, q75, q90 = (ys(q) for q in np.quantile(values, [0.1, 0.25, 0.5, 0.75, 0.9]))
    return [
        _el(
            "path",
            d=_whiskers(x, q75, q90, w / 4) + _whiskers(x, q25, q10, w / 4),
            stroke=AXIS,
            fill="none",
            class_="whisker",
        ),
        _el(
            "rect",
            x=float(x - w / 2),
            y=q75,
            width=float(w),
            height=q25 - q75,
            fill="#FFFFFF",
            stroke=AXIS,
            class_="box",
        ),
        _el(
            "line",
            x1=float(x - w / 2),
            y1=q50,
            x2=float(x + w / 2),
            y2=q50,
            stroke="#000000",
            stroke_width=2,
            class_="box-median",
        ),
    ]


def _paired_body(d: pd.DataFrame, box: _Box, followup_label: str, y_title: str, summary: bool) -> list[str]:
    """Axes, per-patient lines (or box plots) and the bold median line inside ``box``."""
    base, fu = d["baseline_value"].to_numpy(), d["value"].to_numpy()
    ticks = _nice_ticks(min(base.min(), fu.min()), max(base.max(), fu.max()), 5)
    ys = _Scale(ticks[0], ticks[-1], box.y1, box.y0)
    xa, xb = box.x0 + (box.x1 - box.x0) * 0.28, box.x0 + (box.x1 - box.x0) * 0.72
    out = _y_axis(box, [(ys(t), _num(t)) for t in ticks], y_title)
    out += _x_axis(box, [(xa, "Baseline"), (xb, _truncate(followup_label, 14))], grid=False)
    if summary:
        for x, vals in ((xa, base), (xb, fu)):
            out += _box_whisker(x, vals, ys, min(40.0, (box.x1 - box.x0) * 0.15))
    else:
        for pid, b, v in zip(d["patient_id"], base, fu):
            c = INCREASE if v > b else DECREASE if v < b else UNCHANGED
            out.append(_el("line", x1=xa, y1=ys(b), x2=xb, y2=ys(v), stroke="#BBBBBB", class_="pair"))
            for x, val, lab in ((xa, b, "baseline"), (xb, v, followup_label)):
                out.append(
                    _el(
                        "circle",
                        _tip(f"{pid}, {lab}: {_num(val)}"),
                        cx=x,
                        cy=ys(val),
                        r=3.5,
                        fill=c,
                        fill_opacity=0.9,
                        class_="point",
                    )
                )
    m0, m1 = float(np.median(base)), float(np.median(fu))
    out.append(
        _el(
            "line",
            _tip(f"Median {_num(m0)} \u2192 {_num(m1)}"),
            x1=xa,
            y1=ys(m0),
            x2=xb,
            y2=ys(m1),
            stroke="#000000",
            stroke_width=3,
            stroke_linecap="round",
            class_="summary-line",
        )
    )
    return out


def _paired_summary(d: pd.DataFrame, unit: str) -> tuple[int, int, int, str]:
    """(n, increased, decreased, "median A to B unit") for one analyte."""
    delta = d["value"] - d["baseline_value"]
    med = f"median {_stat(d['baseline_value'].median())} to {_stat(d['value'].median())}"
    return len(d), int((delta > 0).sum()), int((delta < 0).sum()), med + (f" {unit}" if unit else "")


def _direction_legend(summary: bool) -> str:
    median = [("#000000", "Median")]
    return _legend(median if summary else [(INCREASE, "Increased"), (DECREASE, "Decreased"), *median], 12)


_PAIRED_NOTE = (
    "Box = interquartile range, whiskers = 10th-90th percentile, bold line joins the medians "
    "(shown instead of one line per patient because there are more than {} patients)."
)


def paired_plot(
    df: pd.DataFrame,
    figure_id: str,
    analyte_label: str,
    unit: str,
    followup_label: str = "Month 6",
    *,
    max_lines: int = 200,
) -> Figure:
    """Baseline vs follow-up value per patient for one analyte (linear y).

    Columns: ``patient_id``, ``baseline_value``, ``value``. A grey line per patient, points
    coloured by increase/decrease, a bold median line; box plots above ``max_lines`` patients.
    """
    fid, what = _safe_id(figure_id), f"{analyte_label}: baseline vs {followup_label}"
    d = _frame(df, ("baseline_value", "value"))
    if d is None:
        return _no_data(fid, what)
    summary = len(d) > max_lines
    body = [*_paired_body(d, _Box(72, 44, 420, 350), followup_label, unit, summary), _direction_legend(summary)]
    n, up, down, med = _paired_summary(d, unit)
    alt = f"{analyte_label} in {n} patients, baseline vs {followup_label}: {med}; {up} increased, {down} decreased" + (
        f", {n - up - down} unchanged." if n - up - down else "."
    )
    caption = f"{analyte_label} at baseline and {followup_label}; " + (
        _PAIRED_NOTE.format(max_lines)
        if summary
        else "one grey line per patient, points coloured by direction of change, bold line joins the medians."
    )
    return Figure(_svg(fid, 440, 400, what, alt, body), alt, caption)


def paired_panel(
    frames: Mapping[str, pd.DataFrame],
    figure_id: str,
    units: Mapping[str, str],
    followup_label: str = "Month 6",
    *,
    max_lines: int = 200,
) -> Figure:
    """Small multiples of paired plots, 3 per row, one per analyte, each with its own y axis.

    ``frames`` maps analyte label -> frame with ``patient_id``, ``baseline_value``, ``value``;
    ``units`` maps analyte label -> unit (missing -> no unit).
    """
    fid, what = _safe_id(figure_id), f"Baseline vs {followup_label} by analyte"
    cleaned = {k: _frame(v, ("baseline_value", "value")) for k, v in frames.items()}
    if all(v is None for v in cleaned.values()):
        return _no_data(fid, what)
    pw, ph, top = 260, 260, 32
    W, H = pw * min(3, len(cleaned)), top + ph * math.ceil(len(cleaned) / 3)
    body, summaries, parts = [], [], []
    for i, (name, d) in enumerate(cleaned.items()):
        px, py = pw * (i % 3), top + ph * (i // 3)
        unit = str(units.get(name, "") or "")
        inner = [
            _text(
                px + pw / 2,
                py + 18,
                _truncate(f"{name} ({unit})" if unit else str(name), 34),
                text_anchor="middle",
                font_size=13,
                font_weight="bold",
                class_="panel-title",
            )
        ]
        if d is None:
            inner.append(_text(px + pw / 2, py + ph / 2, "No data", text_anchor="middle", fill=AXIS, class_="no-data"))
            parts.append(f"{name}: no data")
        else:
            summaries.append(len(d) > max_lines)
            inner += _paired_body(
                d, _Box(px + 56, py + 32, px + pw - 12, py + ph - 42), followup_label, unit, summaries[-1]
            )
            n, up, down, med = _paired_summary(d, unit)
            parts.append(f"{name} {med} (n={n}, {up} up, {down} down)")
        body.append(_el("g", "".join(inner), id=f"{fid}-panel-{i}", class_="panel"))
    body.append(_direction_legend(all(summaries)))
    alt = f"Paired baseline vs {followup_label} values for {len(cleaned)} analytes: " + "; ".join(parts) + "."
    caption = (
        f"Baseline and {followup_label} values per analyte, each panel with its own y axis; grey lines "
        "join each patient's values, points coloured by direction of change, bold line joins the medians."
    )
    if any(summaries):
        caption += " Panels with many patients: " + _PAIRED_NOTE.format(max_lines)
    return Figure(_svg(fid, W, H, what, alt, body), alt, caption)


# --------------------------------------------------------------------------- 4. waterfall
def _fold_change_order(fcs: np.ndarray, ids: Sequence[str]) -> np.ndarray:
    """Row order by descending fold change, ties by natural patient id (the slow natural key only within ties)."""
    order = np.argsort(-fcs, kind="stable")
    ranked = fcs[order]
    runs = np.flatnonzero(np.r_[True, ranked[1:] != ranked[:-1]])
    for a, b in zip(runs, np.r_[runs[1:], len(order)]):
        if b - a > 1:
            order[a:b] = sorted(order[a:b], key=lambda i: _natural_key(ids[i]))
    return order


def _doubling_step(span: int, max_ticks: int) -> int:
    """The smallest power of two step that puts at most ``max_ticks`` steps across ``span``."""
    step = 1
    while span / step > max_ticks:
        step *= 2
    return step


def _binned_columns(groups: np.ndarray, l2: np.ndarray, max_columns: int) -> tuple[list[str], list[float]]:
    """Consecutive (already sorted) patients sharing ``max_columns`` columns: per column the most
    frequent group (ties: the first in code-point order) and the median log2 fold change."""
    n = len(l2)
    column = np.arange(n) * max_columns // n
    per = pd.DataFrame({"column": column, "l2": l2, "group": groups})
    heights = per.groupby("column")["l2"].median().to_numpy()
    modal = (
        per.groupby(["column", "group"])
        .size()
        .reset_index(name="k")
        .sort_values(["column", "k", "group"], ascending=[True, False, True])
        .drop_duplicates("column")["group"]
    )
    pairs = list(zip(modal, heights))
    return [g for g, _ in pairs], [v for _, v in pairs]


def _bar_span(y: float, y0: float) -> tuple[float, float]:
    """Top and bottom pixel of a bar from the baseline ``y0`` to ``y``, at least 1 px (a 1x bar stays visible)."""
    top, bottom = min(y, y0), max(y, y0)
    return top, max(bottom, top + 1)


def _bar_areas(starts: list[float], bw: float, groups: list[str], spans: list[tuple[float, float]]) -> list[str]:
    """One thin-bar area (a path of the bars) per response group, groups in legend order."""
    areas: dict[str, list[str]] = {}
    for s, g, (top, bottom) in zip(starts, groups, spans):
        areas.setdefault(g, []).append(f"M{_fmt(s)} {_fmt(top)}H{_fmt(s + bw)}V{_fmt(bottom)}H{_fmt(s)}Z")
    return [
        _el("path", _tip(f"{g} patients"), d="".join(areas[g]), fill=_colour(g), class_="bar-area")
        for g in _ordered_groups(areas)
    ]


def _bars(
    starts: list[float],
    bw: float,
    spans: list[tuple[float, float]],
    patients: list[tuple[str, str, str, float]],
    label_y: float | None,
) -> list[str]:
    """One bar per patient (id, label, group, fold change) with a tooltip; the labels under the
    axis at ``label_y`` (None: no labels)."""
    out = []
    for s, (top, bottom), (pid, name, g, f) in zip(starts, spans, patients):
        out.append(
            _el(
                "rect",
                _tip(f"{pid}: {_num(round(f, 2))}{TIMES} ({g})"),
                x=float(s),
                y=top,
                width=float(bw),
                height=bottom - top,
                fill=_colour(g),
                class_="bar",
            )
        )
        if label_y is not None:
            out.append(
                _text(
                    s + bw / 2 + 4, label_y + 6, name, rotate=True, text_anchor="end", font_size=11, class_="bar-label"
                )
            )
    return out


def waterfall(
    df: pd.DataFrame,
    figure_id: str,
    *,
    max_bars: int = 300,
    max_labels: int = 60,
    max_columns: int = 2000,
    endpoint_label: str = "the primary endpoint",
    pr_fold: float = 2.0,
    pr_threshold: float | None = None,
) -> Figure:
    """Best platelet fold change (best in-window count / baseline) per patient, sorted descending, log2 y;
    bars coloured by the response at the primary endpoint (``endpoint_label``), a dashed line at
    the PR fold criterion ``pr_fold`` (none when 0).

    Columns: ``patient_id``, ``best_fold_change`` (> 0), ``response_group``. Patient labels under
    the bars up to ``max_labels`` patients; above ``max_bars`` one thin-bar area per group; above
    ``max_columns`` patients each column of the area stands for a run of consecutive patients
    (height: their median, colour: their most frequent group), so the figure's size stays bounded.
    """
    fid, what = _safe_id(figure_id), "Best platelet fold change"
    d = _frame(df, ("best_fold_change",), extra=("response_group",))
    dropped = 0 if d is None else int((d["best_fold_change"] <= 0).sum())
    if d is None or dropped == len(d):
        return _no_data(fid, what)
    d = d[d["best_fold_change"] > 0].assign(group=lambda x: _codes(x["response_group"], "NE"))
    d = d.iloc[_fold_change_order(d["best_fold_change"].to_numpy(), d["patient_id"].to_numpy())]
    fc, l2 = d["best_fold_change"], np.log2(d["best_fold_change"].to_numpy())
    n, summary, labelled = len(d), len(d) > max_bars, len(d) <= max_labels
    kmin, kmax = math.floor(min(l2.min(), -1)), math.ceil(max(l2.max(), 3))
    step = _doubling_step(kmax - kmin, 8)
    names = [_truncate(p, 12) for p in d["patient_id"]]
    box = _Box(64, 44, 740, 344)
    W, H = 760, box.y1 + (14 + CHAR_W * max(map(len, names)) if labelled else 24) + 12
    ys = _Scale(kmin, kmax, box.y1, box.y0)
    body = _y_axis(
        box,
        [(ys(k), f"{2.0**k:g}{TIMES}" if k >= -1 else f"1/{2**-k}{TIMES}") for k in range(kmin, kmax + 1, step)],
        "Best / baseline platelets",
    )
    body.append(_text((box.x0 + box.x1) / 2, H - 6, f"Patients ({n}), sorted by fold change", text_anchor="middle"))
    binned = n > max_columns
    if binned:  # consecutive patients (already sorted) share a column: median height, modal group
        groups, heights = _binned_columns(d["group"].to_numpy(), l2, max_columns)
        if not summary:
            raise ValueError(f"max_columns ({max_columns}) below max_bars ({max_bars}): a column of patients is no bar")
    else:
        groups, heights = list(d["group"]), list(l2)
    starts, bw = _band(len(heights), box.x0, box.x1, 0.0 if summary else 0.2)
    spans = [_bar_span(ys(v), ys(0)) for v in heights]
    if summary:
        body += _bar_areas(starts, bw, groups, spans)
    else:
        body += _bars(starts, bw, spans, list(zip(d["patient_id"], names, groups, fc)), box.y1 if labelled else None)
    body.append(_hline(box, ys(0), stroke=AXIS, class_="baseline"))
    if pr_fold and pr_fold > 0:
        line = math.log2(pr_fold)
        body.append(_hline(box, ys(line), stroke="#333333", stroke_dasharray="5 4", class_="reference"))
        body.append(
            _text(box.x1 - 4, ys(line) - 5, f"{_num(pr_fold)}{TIMES} (PR fold)", text_anchor="end", font_size=11)
        )
    body.append(_group_legend(d["group"].value_counts(), box.x0))
    alt = (
        f"Best platelet fold change from baseline in {n} patients: median {_stat(fc.median())}{TIMES}, "
        f"range {_stat(fc.min())}{TIMES} to {_stat(fc.max())}{TIMES}"
        + (f"; {int((fc >= pr_fold).sum())} of {n} reached at least {_num(pr_fold)}-fold." if pr_fold else ".")
    )
    caption = (
        "Each bar is one patient's best in-window platelet count divided by baseline (log2 scale), "
        f"sorted descending and coloured by the response at {endpoint_label}."
    )
    if pr_fold:
        caption += f" Dashed line: {_num(pr_fold)}-fold increase, the partial-response fold criterion" + (
            f" (PR also requires \u2265{_num(pr_threshold)} {PLT_UNIT})." if pr_threshold else "."
        )
    if binned:
        caption += (
            f" With {n} patients each of the {max_columns} columns stands for about {n / max_columns:.0f} "
            "consecutive patients: its height is their median fold change, its colour their most frequent "
            "response group."
        )
    elif summary:
        caption += f" With {n} patients (more than {max_bars}) bars are drawn as a thin-bar area."
    if dropped:
        caption += f" {dropped} patient(s) with a non-positive fold change are not shown."
    return Figure(_svg(fid, W, H, what, alt, body), alt, caption)


# --------------------------------------------------------------------------- 5. response rate
def _rate_label(orr: float, k: float, n: float) -> str:
    """``61.5% (8/13)``; counts omitted when missing, ``n/a`` without a rate."""
    if not math.isfinite(orr):
        return "n/a"
    return f"{orr * 100:.1f}%" + (f" ({int(k)}/{int(n)})" if math.isfinite(k) and math.isfinite(n) else "")


def response_rate_bars(df: pd.DataFrame, figure_id: str) -> Figure:
    """Overall response rate per visit with confidence-interval error bars, y axis 0-100 %.

    Columns: ``visit``, ``orr``, ``ci_low``, ``ci_high`` (fractions 0..1), ``n_responders``,
    ``n_evaluable``. Visits are drawn in row order; a row without an ORR is labelled "n/a".
    """
    fid, what = _safe_id(figure_id), "Overall response rate by visit"
    num = ("orr", "ci_low", "ci_high", "n_responders", "n_evaluable")
    d = _frame(df, (), ids=("visit",), extra=num)
    if d is None:
        return _no_data(fid, what)
    d[list(num)] = d[list(num)].apply(pd.to_numeric, errors="coerce").astype(float)
    W, H = max(360, 84 + len(d) * 110), 340
    box = _Box(64, 44, W - 20, 290)
    ys = _Scale(0, 1, box.y1, box.y0)
    labels = [_pretty(v) for v in d["visit"]]
    starts, bw, body = _category_axes(box, labels, "Responders (CR or PR)", 0.4)
    parts = []
    for s, lab, r in zip(starts, labels, d.itertuples(index=False)):
        cx, label = s + bw / 2, _rate_label(r.orr, r.n_responders, r.n_evaluable)
        top = ys(r.orr) if math.isfinite(r.orr) else box.y1
        if math.isfinite(r.orr):
            body.append(
                _el(
                    "rect",
                    _tip(f"{lab}: {label}"),
                    x=float(s),
                    y=top,
                    width=float(bw),
                    height=box.y1 - top,
                    fill=INCREASE,
                    class_="bar",
                )
            )
        if math.isfinite(r.ci_low) and math.isfinite(r.ci_high):
            lo, hi, mid = ys(r.ci_low), ys(r.ci_high), (ys(r.ci_low) + ys(r.ci_high)) / 2
            body.append(
                _el(
                    "path",
                    _tip(f"{lab}: CI {r.ci_low * 100:.1f}% to {r.ci_high * 100:.1f}%"),
                    d=_whiskers(cx, mid, lo, 6) + _whiskers(cx, mid, hi, 6),
                    stroke="#000000",
                    stroke_width=1.5,
                    fill="none",
                    class_="errorbar",
                )
            )
            top = min(top, hi)
        body.append(_text(cx, top - 6, label, text_anchor="middle", class_="bar-label"))
        parts.append(f"{lab} {label}")
    alt = "Overall response rate (CR or PR) by visit: " + "; ".join(parts) + "; error bars show confidence intervals."
    caption = (
        "Proportion of evaluable patients with a response (CR or PR) at each visit; error bars show the "
        "confidence interval, labels give responders/evaluable."
    )
    return Figure(_svg(fid, W, H, what, alt, body), alt, caption)


# --------------------------------------------------------------------------- 6. dose / trough
def dose_trough_plot(
    df: pd.DataFrame,
    figure_id: str,
    target: tuple[float, float] | None,
    *,
    max_patients: int = 200,
    drug: str = "index drug",
    unit: str = "ng/mL",
) -> Figure:
    """Index-drug trough levels (``unit``) per patient over study days with a shaded target band
    (``target``: the study's trough target range; None: no figure).

    Columns: ``patient_id``, ``study_day``, ``trough``; optional ``daily_dose_mg`` (shown in
    tooltips and the alt text) and ``is_in_target`` (the mart's decision, fct_trough_levels; when
    absent, ``target`` decides). Points outside the target are highlighted. Above
    ``max_patients`` patients: the median and 10th-90th percentile band per 30-day bin.
    """
    title = drug[:1].upper() + drug[1:]
    fid, what = _safe_id(figure_id), f"{title} trough levels"
    has_dose = df is not None and "daily_dose_mg" in df.columns
    has_flag = df is not None and "is_in_target" in df.columns
    d = _frame(
        df,
        ("study_day", "trough"),
        extra=(*(("daily_dose_mg",) if has_dose else ()), *(("is_in_target",) if has_flag else ())),
    )
    if d is None or target is None:
        return _no_data(fid, what)
    dose = pd.to_numeric(d["daily_dose_mg"], errors="coerce") if has_dose else None
    t_lo, t_hi = sorted(float(t) for t in target)
    target_text = f"{_num(t_lo)}\u2013{_num(t_hi)} {unit}"
    W, H, box = 760, 400, _Box(64, 44, 740, 350)
    yt = _nice_ticks(0, max(d["trough"].max(), t_hi) * 1.05, 5)
    ys = _Scale(yt[0], yt[-1], box.y1, box.y0)
    xs, x_axis, day_lo, day_hi = _day_axis(d["study_day"], box)
    body = [
        _el(
            "rect",
            x=float(box.x0),
            y=ys(t_hi),
            width=float(box.x1 - box.x0),
            height=ys(t_lo) - ys(t_hi),
            fill="#009E73",
            fill_opacity=0.12,
            class_="target-band",
        ),
        *_y_axis(box, [(ys(t), _num(t)) for t in yt], f"Trough ({unit})"),
        *x_axis,
        _text(box.x1 - 4, ys(t_hi) + 14, f"Target {target_text}", text_anchor="end", font_size=11, fill="#00664A"),
    ]
    inside = d["is_in_target"].fillna(False).astype(bool) if has_flag else (d["trough"] >= t_lo) & (d["trough"] <= t_hi)
    points = []
    summarised = d["patient_id"].nunique() > max_patients
    if summarised:  # one band and one line instead of a circle per measurement
        binned = d.assign(bin=(d["study_day"] // 30) * 30 + 15).groupby("bin")["trough"]
        q = binned.quantile([0.1, 0.5, 0.9]).unstack().sort_index()
        upper = [(xs(b), ys(v)) for b, v in q[0.9].items()]
        lower = [(xs(b), ys(v)) for b, v in q[0.1].items()][::-1]
        body.append(
            _el("polygon", points=_points(upper + lower), fill=INCREASE, fill_opacity=0.2, class_="trough-band")
        )
        body.append(
            _el(
                "polyline",
                points=_points([(xs(b), ys(v)) for b, v in q[0.5].items()]),
                fill="none",
                stroke=INCREASE,
                stroke_width=2,
                class_="trough-median",
            )
        )
    for pid, sub in [] if summarised else d.groupby("patient_id", sort=False):
        sub = sub.sort_values("study_day")
        pts = [(xs(a), ys(b)) for a, b in zip(sub["study_day"], sub["trough"])]
        body.append(
            _el(
                "polyline",
                _tip(pid),
                points=_points(pts),
                fill="none",
                stroke=INCREASE,
                stroke_opacity=0.45,
                class_="trough-line",
            )
        )
        for i, (x, y) in zip(sub.index, pts):
            tip = f"{pid}, day {_num(d.at[i, 'study_day'])}: {_num(d.at[i, 'trough'])} {unit}"
            tip += f", {_num(dose[i])} mg/day" if dose is not None and math.isfinite(dose[i]) else ""
            points.append(
                _el(
                    "circle",
                    _tip(tip),
                    cx=x,
                    cy=y,
                    r=3,
                    fill=INCREASE if inside[i] else OUTSIDE_TARGET,
                    class_="trough-point",
                )
            )
    k, m = int(inside.sum()), len(d)
    body += [
        *points,
        _legend([(INCREASE, f"Within target (n={k})"), (OUTSIDE_TARGET, f"Outside target (n={m - k})")], box.x0),
    ]
    alt = (
        f"{title} trough levels: {m} measurements in {d['patient_id'].nunique()} patients over study days "
        f"{_num(day_lo)} to {_num(day_hi)}; {k} ({100 * k / m:.1f}%) within the {target_text} target."
    )
    if dose is not None and dose.notna().any():
        alt += f" Median daily dose {_num(dose.median())} mg."
    caption = (
        f"{title} trough concentration per patient over study days; the shaded band is the {target_text} "
        "target, orange points lie outside it."
    )
    if summarised:
        caption = (
            f"{title} trough concentration over study days in {d['patient_id'].nunique():,} patients: median "
            f"(line) and 10th-90th percentiles (band) per 30-day bin; the green band is the {target_text} target."
        )
    return Figure(_svg(fid, W, H, what, alt, body), alt, caption)
