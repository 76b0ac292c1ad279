"""The matplotlib figures (ctd_rtp.figures.mpl): SVG with text as text, no URL, ids prefixed,
censor marks and numbers at risk from the curve table, one swimmer bar per patient."""

from __future__ import annotations

import math
import re

import pandas as pd
import pytest

from ctd_rtp import stats
from ctd_rtp.figures import mpl

# 5 patients: events on days 10, 20 and 40; censored on days 30 and 50 (hand-worked KM:
# S(10) = 4/5, S(20) = 3/5, S(40) = 3/5 * 1/2 = 0.3)
TTE = pd.DataFrame(
    {"patient_id": list("abcde"), "paramcd": ["DOR"] * 5, "days": [10, 20, 30, 40, 50], "cnsr": [0, 0, 1, 0, 1]}
)


def test_km_curve_table_is_the_kaplan_meier_step_function() -> None:
    curve = stats.kaplan_meier_curve(TTE)
    by_day = curve.set_index("day")
    assert list(by_day.index) == [0, 10, 20, 30, 40, 50]
    assert by_day["survival"].round(6).tolist() == [1.0, 0.8, 0.6, 0.6, 0.3, 0.3]
    assert by_day["n_at_risk"].tolist() == [5, 5, 4, 3, 2, 1]
    assert by_day["n_censored"].tolist() == [0, 0, 0, 1, 0, 1]
    # the same fit as the timepoints table
    _, points = stats.kaplan_meier(TTE, timepoints=(30,))
    assert by_day.at[30, "survival"] == points.at[0, "survival"]


def test_km_figure_keeps_text_marks_censorings_and_shows_numbers_at_risk() -> None:
    curve = stats.kaplan_meier_curve(TTE)
    km, _ = stats.kaplan_meier(TTE)
    fig = mpl.km_curves(curve, km, "fig-km", {"DOR": "Duration of response"}, at_risk_days=(0, 30))
    svg = fig.svg
    assert svg.startswith("<svg") and 'width="100%"' in svg and "http" not in svg and "<?xml" not in svg
    assert "<text" in svg and "Duration of response" in svg  # svg.fonttype none: labels are text
    ids = re.findall(r'\bid="([^"]+)"', svg)
    assert ids and all(i.startswith("fig-km-") for i in ids)
    assert "at risk on days 0: 5, 30: 3" in fig.alt and "3 events, median 40 days" in fig.alt
    assert mpl.km_curves(curve.iloc[0:0], km, "x", {"DOR": "D"}).alt.endswith("no data available.")


def test_swimmer_draws_one_bar_per_patient_with_markers() -> None:
    follow = pd.DataFrame({"patient_id": ["P1", "P2"], "follow_up_days": [100, 200]})
    counts = pd.DataFrame({"patient_id": ["P1", "P1", "P2"], "study_day": [30, 60, 30], "response": ["PR", "CR", "NR"]})
    events = pd.DataFrame({"patient_id": ["P2", "P1"], "study_day": [50, 40], "kind": ["rescue", "ae"]})
    fig = mpl.swimmer(follow, counts, events, "fig-swim")
    assert "Swimmer plot of 2 patients: follow-up from 100 to 200 days" in fig.alt
    assert "1 rescue therapy starts, 0 dose changes, 1 adverse events" in fig.alt
    assert "P1" in fig.svg and "P2" in fig.svg and "http" not in fig.svg
    # above max_patients: the longest follow-ups, and only their markers
    top = mpl.swimmer(follow, counts, events, "fig-swim", max_patients=1)
    assert "the 1 of 2 patients with the longest follow-up" in top.alt and "1 rescue therapy starts" in top.alt
    assert "0 adverse events" in top.alt and "P1" not in top.svg


def test_mpl_figures_are_never_narrower_than_their_smallest_text_at_12_px(monkeypatch: pytest.MonkeyPatch) -> None:
    """matplotlib writes the viewBox in pt and each label's size as ``font-size: Npx`` (user
    units, i.e. pt) in its style: the minimum display width is viewBox width x 12 / the smallest."""
    curve = stats.kaplan_meier_curve(TTE)
    km, _ = stats.kaplan_meier(TTE)
    follow = pd.DataFrame({"patient_id": ["P1", "P2"], "follow_up_days": [100, 200]})
    counts = pd.DataFrame({"patient_id": ["P1"], "study_day": [30], "response": ["PR"]})
    events = pd.DataFrame({"patient_id": ["P1"], "study_day": [40], "kind": ["ae"]})
    figs = [
        mpl.km_curves(curve, km, "fig-km", {"DOR": "Duration of response"}, at_risk_days=(0, 30)),
        mpl.swimmer(follow, counts, events, "fig-swim"),
    ]
    for fig in figs:
        head = fig.svg[: fig.svg.index(">")]
        vb_width = float(re.search(r'viewBox="0 0 ([\d.]+) ', head).group(1))
        sizes = [float(x) for x in re.findall(r"<text[^>]*font-size: ([\d.]+)px", fig.svg)]
        assert sizes and min(sizes) == 9  # the smallest labels are 9 pt: 12 px at the natural size
        low = re.search(r"min-width:(\d+)px;max-width:(\d+)px", head)
        assert low and int(low.group(1)) == fig.min_width == math.ceil(vb_width * 12 / 9 - 1e-9)
        assert int(low.group(2)) >= int(low.group(1))
    # smaller fonts: a wider minimum for the same drawing
    monkeypatch.setattr(mpl, "RC", {**mpl.RC, "font.size": 6})
    tiny = mpl.km_curves(curve, km, "fig-km", {"DOR": "Duration of response"}, at_risk_days=(0, 30))
    assert min(float(x) for x in re.findall(r"<text[^>]*font-size: ([\d.]+)px", tiny.svg)) == 6
    assert tiny.min_width > figs[0].min_width


def test_swimmer_segments_run_from_each_count_to_the_next_or_the_end_of_follow_up() -> None:
    follow = pd.DataFrame({"patient_id": ["P2", "P1"], "follow_up_days": [200.0, 100.0]})  # rows: P2 0, P1 1
    counts = pd.DataFrame(
        {
            "patient_id": ["P1", "P1", "P2", "P1", "P9", "P2"],
            "study_day": [60.0, 30.0, 30.0, 150.0, 10.0, float("nan")],  # P1's day 150 is after its follow-up
            "response": ["CR", "PR", "NR", "PR", "CR", "PR"],
        }
    )
    got = mpl.swimmer_segments(follow, counts)
    assert got.to_dict("list") == {
        "y": [0, 1, 1],
        "left": [30.0, 30.0, 60.0],
        "width": [170.0, 30.0, 40.0],  # P2: 30-200 NR; P1: 30-60 PR, 60-100 CR
        "response": ["NR", "PR", "CR"],
    }
    assert mpl.swimmer_segments(follow, counts.iloc[0:0]).empty
