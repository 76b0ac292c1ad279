"""Inline-SVG figures for the self-contained HTML report.

Pure Python (numpy, pandas, standard library): no plotting library, no JavaScript and no
external resources, so the report works offline and in print. Each public function takes a
DataFrame and returns a :class:`Figure`: one complete ``<svg>`` (``viewBox``, ``width="100%"``,
a ``min-width`` at which its smallest text is 12 px (:func:`.svg.sized`), ``role="img"``,
``aria-labelledby`` -> its own ``<title>``/``<desc>``), alt text computed from the data, and a
caption. Text from data is XML-escaped, every ``id`` is prefixed with the
caller's ``figure_id``, coordinates are rounded to 0.1 px, and empty input gives "No data".

:mod:`.svg` holds the building blocks (markup, scales and axes), :mod:`.plots` the plots.
"""

from __future__ import annotations

from .plots import (
    dose_trough_plot,
    paired_panel,
    paired_plot,
    platelet_trajectories,
    response_heatmap,
    response_rate_bars,
    waterfall,
)
from .svg import (
    MIN_TEXT_PX,
    RESPONSE_COLOURS,
    RESPONSE_ORDER,
    Figure,
    _esc,
    _fmt,
    _log_nice,
    _log_ticks,
    _nice_ticks,
    _Scale,
    min_display_width,
    readable_width,
    smallest_font,
)

__all__ = [
    "Figure",
    "MIN_TEXT_PX",
    "min_display_width",
    "readable_width",
    "smallest_font",
    "RESPONSE_COLOURS",
    "RESPONSE_ORDER",
    "platelet_trajectories",
    "response_heatmap",
    "paired_plot",
    "paired_panel",
    "waterfall",
    "response_rate_bars",
    "dose_trough_plot",
    "_esc",
    "_fmt",
    "_log_nice",
    "_log_ticks",
    "_nice_ticks",
    "_Scale",
]
