"""Figures drawn with matplotlib (SVG backend, text kept as text): Kaplan-Meier curves with
censor marks and numbers at risk, and the swimmer plot.

Why matplotlib here and hand-written SVG for the six older figures: docs/report.md. The SVG is
made self-contained and URL-free for the report (no XML prolog, metadata or xlink namespace),
scales to its box (``width="100%"``) but never below the width at which its smallest text is
12 px (``min-width``, :func:`.svg.sized`; the smallest font here is 9 pt, which is 12 px at the
natural size), and keeps every label as ``<text>`` (``svg.fonttype: none``), so it stays
searchable, selectable and sharp on a phone and in print. matplotlib is imported on first use.
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from .svg import RESPONSE_COLOURS, Figure, _esc, _safe_id, sized

RC = {
    "svg.fonttype": "none",
    "svg.hashsalt": "ctd-rtp",
    "font.family": "sans-serif",
    "font.size": 10,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titlesize": 11,
    "axes.titleweight": "bold",
}
KM_COLOURS = ("#0072B2", "#E69F00", "#009E73")  # Okabe-Ito
MARKERS = {
    "rescue": ("D", "#000000", "Rescue therapy"),
    "dose": ("|", "#555555", "Dose change"),
    "ae": ("v", "#CC79A7", "Adverse event grade \u2265 2"),
}


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("svg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _svg(fig: Any, fid: str, title: str, desc: str) -> str:
    """The figure as inline SVG for the report: no prolog, metadata, URLs or fixed size; ids
    prefixed with the figure id; an accessible title and description."""
    buf = io.StringIO()
    fig.savefig(
        buf, format="svg", metadata={"Date": None, "Creator": None, "Format": None, "Type": None}, bbox_inches="tight"
    )
    text = buf.getvalue()
    text = text[text.index("<svg") :]
    text = re.sub(r"<metadata>.*?</metadata>", "", text, flags=re.S)
    text = re.sub(r'\s+xmlns(:xlink)?="[^"]*"', "", text)
    text = text.replace("xlink:href=", "href=")
    # no clipping paths: the report's page holds no url(...) at all (the data stay inside the axes)
    text = re.sub(r'\s*clip-path="url\(#[^)]*\)"', "", text)
    text = re.sub(r"<clipPath.*?</clipPath>", "", text, flags=re.S)
    text = re.sub(r'\bid="([^"]+)"', lambda m: f'id="{fid}-{m.group(1)}"', text)
    text = re.sub(r'href="#([^"]+)"', lambda m: f'href="#{fid}-{m.group(1)}"', text)
    width = re.search(r'<svg[^>]*\swidth="([\d.]+)pt"', text)
    max_w = float(width.group(1)) * 4 / 3 if width else 640.0
    text = re.sub(
        r'(<svg[^>]*?)\swidth="[\d.]+pt"\s+height="[\d.]+pt"',
        rf'\1 width="100%" role="img" aria-labelledby="{fid}-title {fid}-desc"',
        text,
        count=1,
    )
    head = text.index(">", text.index("<svg")) + 1
    text = (
        text[:head]
        + f'<title id="{fid}-title">{_esc(title)}</title><desc id="{fid}-desc">{_esc(desc)}</desc>'
        + text[head:]
    )
    text = sized(text, round(max_w))  # never narrower than its smallest text at 12 px
    _pyplot().close(fig)
    if "http" in text or "<script" in text or "url(" in text:
        raise ValueError("matplotlib SVG still holds a URL or a script")
    return text


def _no_data(fid: str, what: str) -> Figure:
    alt = f"{what}: no data available."
    svg = (
        f'<svg viewBox="0 0 480 120" width="100%" role="img" aria-labelledby="{fid}-title">'
        f'<title id="{fid}-title">{_esc(alt)}</title>'
        f'<text x="240" y="64" text-anchor="middle" font-size="13" fill="#555555">No data</text></svg>'
    )
    svg = sized(svg, 480)
    return Figure(svg, alt, alt)


def km_curves(
    curve: pd.DataFrame,
    summary: pd.DataFrame,
    figure_id: str,
    parameters: Mapping[str, str],
    at_risk_days: Sequence[int] = (),
    cumulative: Sequence[str] = (),
) -> Figure:
    """Kaplan-Meier step curves from ``analysis.time_to_event_km_curve`` (one panel per
    parameter in ``parameters``: paramcd -> title), censor marks (+) on the days with a
    censoring, and the numbers at risk below each panel at ``at_risk_days`` (read from the
    curve: the patients still followed on that day). Parameters in ``cumulative`` are drawn as
    1 - S(t) (the share who had the event, e.g. time to response). ``summary``
    (``analysis.time_to_event_km``) gives the medians for the description."""
    fid = _safe_id(figure_id)
    what = "Kaplan\u2013Meier curves"
    codes = [c for c in parameters if c in set(curve["paramcd"].astype(str))] if len(curve) else []
    if not codes:
        return _no_data(fid, what)
    plt = _pyplot()
    medians = {str(r.paramcd): r for r in summary.itertuples(index=False)}
    with plt.rc_context(RC):
        fig, axes = plt.subplots(1, len(codes), figsize=(4.2 * len(codes), 3.6), squeeze=False)
        parts = []
        for i, (ax, code) in enumerate(zip(axes[0], codes)):
            c = curve[curve["paramcd"].astype(str) == code].sort_values("day")
            days, s = c["day"].to_numpy(dtype=float), c["survival"].to_numpy(dtype=float)
            lo, hi = c["survival_ci_low"].to_numpy(dtype=float), c["survival_ci_high"].to_numpy(dtype=float)
            flip = code in cumulative
            y, ylo, yhi = (1 - s, 1 - hi, 1 - lo) if flip else (s, lo, hi)
            colour = KM_COLOURS[i % len(KM_COLOURS)]
            ax.step(days, y * 100, where="post", color=colour, linewidth=1.8)
            ax.fill_between(days, ylo * 100, yhi * 100, step="post", color=colour, alpha=0.15, linewidth=0)
            cens = c["n_censored"].to_numpy() > 0
            ax.plot(
                days[cens],
                y[cens] * 100,
                linestyle="none",
                marker="+",
                markersize=9,
                color=colour,
                markeredgewidth=1.5,
                label="censored",
            )
            ax.set_ylim(0, 102)
            ax.set_xlim(left=0)
            ax.set_title(parameters[code], loc="left")
            ax.set_ylabel("Patients with the event, %" if flip else "Still without the event, %")
            ax.set_xlabel("Days")
            ticks = [d for d in at_risk_days if d <= (days.max() if days.size else 0)] or [0]
            ax.set_xticks(ticks)
            # at risk on day d: patients with a time of at least d (the first curve row on or after d)
            risk = [int(c.loc[c["day"] >= d, "n_at_risk"].iloc[0]) if (c["day"] >= d).any() else 0 for d in ticks]
            ax.set_xticklabels([f"{d}\n{r}" for d, r in zip(ticks, risk)])
            ax.text(0, -0.32, "At risk", transform=ax.transAxes, ha="right", va="top", fontsize=9)
            r = medians.get(code)
            median = (
                "not reached"
                if r is None or pd.isna(getattr(r, "median_days", np.nan))
                else f"{float(r.median_days):g} days"
            )
            parts.append(
                f"{parameters[code]}: {int(c['n_at_risk'].iloc[0])} patients, "
                f"{int(c['n_events'].sum())} events, median {median}; at risk on days "
                + ", ".join(f"{d}: {n}" for d, n in zip(ticks, risk))
            )
        fig.tight_layout()
        alt = "Kaplan\u2013Meier curves. " + ". ".join(parts) + "."
        svg = _svg(fig, fid, what, alt)
    caption = (
        "Kaplan\u2013Meier estimates (shaded: pointwise 95% CI) from analysis.time_to_event_km_curve; "
        "+ marks a censoring; numbers under the day axis are the patients still at risk."
    )
    return Figure(svg, alt, caption)


def _bar_rows(follow_up: pd.DataFrame) -> dict[object, int]:
    """patient_id -> the swimmer bar (row y) it is drawn on: the order of ``follow_up``."""
    return {pid: y for y, pid in enumerate(follow_up["patient_id"].astype(object))}


def swimmer_segments(follow_up: pd.DataFrame, counts: pd.DataFrame) -> pd.DataFrame:
    """The coloured segments of the swimmer bars: for patient row y (the order of ``follow_up``:
    patient_id, follow_up_days), each count (``counts``: patient_id, numeric study_day,
    response) on or before the end of follow-up starts a segment that lasts until the patient's
    next count, the last one until the end of follow-up. Columns y, left, width, response."""
    row_of = _bar_rows(follow_up)
    end_of = dict(enumerate(follow_up["follow_up_days"].astype(float)))
    c = counts.assign(y=counts["patient_id"].astype(object).map(row_of)).dropna(subset=["y", "study_day"])
    c = c.assign(y=c["y"].astype(int))
    c = c.assign(end=c["y"].map(end_of))
    c = c[c["study_day"] <= c["end"]].sort_values(["y", "study_day"], kind="stable")
    stop = c.groupby("y")["study_day"].shift(-1).fillna(c["end"])
    return pd.DataFrame(
        {
            "y": c["y"].to_numpy(),
            "left": c["study_day"].to_numpy(dtype=float),
            "width": (stop - c["study_day"]).to_numpy(dtype=float),
            "response": c["response"].astype(str).to_numpy(),
        }
    )


def swimmer(
    follow_up: pd.DataFrame, counts: pd.DataFrame, events: pd.DataFrame, figure_id: str, max_patients: int = 60
) -> Figure:
    """One bar per patient from day 0 to the end of follow-up (``follow_up``: patient_id,
    follow_up_days), coloured by the response category of each evaluable platelet count until
    the next one (``counts``: patient_id, study_day, response), with markers (``events``:
    patient_id, study_day, kind in rescue / dose / ae). Patients sorted by follow-up."""
    fid = _safe_id(figure_id)
    what = "Swimmer plot"
    f = follow_up[["patient_id", "follow_up_days"]].dropna() if len(follow_up) else follow_up
    if not len(f):
        return _no_data(fid, what)
    f = f.assign(follow_up_days=pd.to_numeric(f["follow_up_days"], errors="coerce")).dropna()
    n_all = len(f)
    f = f.sort_values(["follow_up_days", "patient_id"]).tail(max_patients)
    plt = _pyplot()
    shown_ids = f["patient_id"]  # the bars drawn: the per-patient lookups below scan only their rows
    c = counts[counts["patient_id"].isin(shown_ids) & counts["response"].astype(str).isin(["CR", "PR", "NR"])].copy()
    c["study_day"] = pd.to_numeric(c["study_day"], errors="coerce")
    events = events[events["patient_id"].isin(shown_ids)]
    with plt.rc_context(RC):
        fig, ax = plt.subplots(figsize=(8, max(2.5, 0.28 * len(f) + 1.2)))
        # one call per kind of mark, not one per patient and segment: at 60 patients with a dozen
        # counts each, matplotlib's per-call cost was most of the figure's time
        ax.barh(range(len(f)), f["follow_up_days"], color="#EEEEEE", edgecolor="#999999", linewidth=0.5, height=0.7)
        segments = swimmer_segments(f, c)
        if len(segments):
            ax.barh(
                segments["y"],
                segments["width"],
                left=segments["left"],
                height=0.7,
                linewidth=0,
                color=[RESPONSE_COLOURS.get(str(r), "#CCCCCC") for r in segments["response"]],
            )
        marks = events.assign(
            y=events["patient_id"].astype(object).map(_bar_rows(f)),
            study_day=pd.to_numeric(events["study_day"], errors="coerce"),
        ).dropna(subset=["y", "study_day"])
        for kind, (marker, colour, _) in MARKERS.items():
            mine = marks[marks["kind"] == kind]
            if len(mine):
                ax.plot(mine["study_day"], mine["y"], linestyle="none", marker=marker, color=colour, markersize=6)
        ax.set_yticks(range(len(f)))
        ax.set_yticklabels(f["patient_id"].astype(str).tolist(), fontsize=9)
        ax.set_xlabel("Days since the first dose")
        ax.set_xlim(left=0)
        from matplotlib.artist import Artist
        from matplotlib.lines import Line2D
        from matplotlib.patches import Patch

        handles: list[Artist] = [Patch(color=RESPONSE_COLOURS[k], label=k) for k in ("CR", "PR", "NR")]
        handles += [
            Line2D([], [], linestyle="none", marker=m, color=col, label=lab) for m, col, lab in MARKERS.values()
        ]
        ax.legend(handles=handles, loc="lower right", fontsize=9, frameon=False, ncols=2)
        fig.tight_layout()
        n_marks = {k: int((events["kind"] == k).sum()) for k in MARKERS}
        shown = (
            f"{len(f)} patients" if len(f) == n_all else f"the {len(f)} of {n_all} patients with the longest follow-up"
        )
        alt = (
            f"Swimmer plot of {shown}: follow-up from {f['follow_up_days'].min():g} to "
            f"{f['follow_up_days'].max():g} days; markers: {n_marks['rescue']} rescue therapy starts, "
            f"{n_marks['dose']} dose changes, {n_marks['ae']} adverse events of grade 2 or more."
        )
        svg = _svg(fig, fid, what, alt)
    caption = (
        "One bar per patient from day 0 to the end of follow-up, coloured by the response category of each "
        "evaluable platelet count until the next one (grey: before the first evaluable count); markers for "
        "the start of rescue therapy, dose changes and adverse events of grade \u2265 2."
    )
    return Figure(svg, alt, caption)
