"""SVG building blocks of the hand-written figures: escaped markup, scales and ticks, axes,
legends, the accessible ``<svg>`` wrapper and the input-frame checks (no plot here)."""

from __future__ import annotations

import html
import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import NamedTuple

import numpy as np
import pandas as pd

#: Okabe-Ito colours for response categories (colour-blind safe).
RESPONSE_COLOURS: Mapping[str, str] = MappingProxyType(
    {"CR": "#009E73", "PR": "#56B4E9", "NR": "#D55E00", "NE": "#999999"}
)
RESPONSE_ORDER: tuple[str, ...] = ("CR", "PR", "NR", "NE")
UNKNOWN_COLOUR, MISSING_COLOUR = "#CCCCCC", "#F2F2F2"
INCREASE, DECREASE, UNCHANGED, OUTSIDE_TARGET = "#0072B2", "#E69F00", "#999999", "#D55E00"
GRID, AXIS, INK = "#E0E0E0", "#555555", "#111111"
FONT = "system-ui, sans-serif"
CHAR_W = 6.6  # rough width of one 11 px character, for layout only
TIMES = "\u00d7"
PLT_UNIT = "\u00d710\u2079/L"
#: No figure text is drawn smaller than this (CSS px): each SVG carries the width at which it is.
MIN_TEXT_PX = 12.0
_LOG_MANTISSAS = (1, 2, 3, 4, 5, 6, 8, 10)


@dataclass(frozen=True)
class Figure:
    """A rendered figure: inline SVG markup, alt text and a caption."""

    svg: str
    alt: str
    caption: str

    @property
    def min_width(self) -> int:
        """The narrowest width (CSS px) at which the figure's smallest text is 12 px (its ``min-width``)."""
        return min_display_width(self.svg)


# --------------------------------------------------------------------------- text and markup
def _esc(text: object) -> str:
    """Escape any value for XML text or a double-quoted attribute."""
    return html.escape(str(text), quote=True)


def _fmt(v: float | np.floating) -> str:
    """Coordinate with at most one decimal (no float noise, no ``-0``)."""
    s = f"{round(float(v), 1) + 0.0:.1f}"
    return s[:-2] if s.endswith(".0") else s


def _num(v: float) -> str:
    """Tick or data value, compact (``30``, ``0.25``, ``12.5``)."""
    return f"{round(float(v), 6):g}"


def _stat(v: float) -> str:
    """Summary statistic with precision suited to its magnitude."""
    return f"{v:.{0 if abs(v) >= 100 else 1 if abs(v) >= 10 else 2}f}"


def _el(tag: str, content: str | None = None, **attrs: object) -> str:
    """One element; ``content`` must already be markup. ``class_`` -> ``class``,
    ``stroke_width`` -> ``stroke-width``; floats are rounded, everything else escaped."""
    parts = "".join(
        f' {k.rstrip("_").replace("_", "-")}="{_fmt(v) if isinstance(v, (float, np.floating)) else _esc(v)}"'
        for k, v in attrs.items()
        if v is not None
    )
    return f"<{tag}{parts}/>" if content is None else f"<{tag}{parts}>{content}</{tag}>"


def _text(x: float, y: float, s: object, rotate: bool = False, **attrs: object) -> str:
    """A ``<text>`` with escaped content, optionally rotated -90 degrees about (x, y)."""
    turn = f"rotate(-90 {_fmt(x)} {_fmt(y)})" if rotate else None
    return _el("text", _esc(s), x=float(x), y=float(y), transform=turn, **attrs)


def _tip(s: object) -> str:
    """A tooltip ``<title>`` child (escaped)."""
    return _el("title", _esc(s))


def _points(pts: Iterable[tuple[float, float]]) -> str:
    return " ".join(f"{_fmt(x)},{_fmt(y)}" for x, y in pts)


def _whiskers(x: float, y_from: float, y_to: float, cap: float) -> str:
    """Path data for a vertical line from ``y_from`` to ``y_to`` with a cap at ``y_to``."""
    return f"M{_fmt(x)} {_fmt(y_from)}V{_fmt(y_to)}M{_fmt(x - cap)} {_fmt(y_to)}H{_fmt(x + cap)}"


def _safe_id(figure_id: object) -> str:
    """Reduce ``figure_id`` to a valid XML id prefix (letters, digits, ``-``, ``_``)."""
    s = re.sub(r"[^A-Za-z0-9_-]+", "-", str(figure_id)).strip("-") or "fig"
    return s if s[0].isalpha() else f"fig-{s}"


def _natural_key(s: str) -> tuple:
    """Sort key so that ``P2`` sorts before ``P10``."""
    return tuple((0, int(t), "") if t.isdigit() else (1, 0, t.lower()) for t in re.split(r"(\d+)", s) if t)


def _truncate(s: str, n: int = 18) -> str:
    return s if len(s) <= n else s[: n - 1] + "\u2026"


def _pretty(visit: str) -> str:
    """``week_12`` -> ``Week 12``."""
    s = str(visit).replace("_", " ").strip()
    return s[:1].upper() + s[1:]


def _colour(group: str) -> str:
    return RESPONSE_COLOURS.get(group, UNKNOWN_COLOUR)


def _ordered_groups(groups: Iterable[str]) -> list[str]:
    present = set(groups)
    return [g for g in RESPONSE_ORDER if g in present] + sorted(present - set(RESPONSE_ORDER))


# --------------------------------------------------------------------------- scales and ticks
class _Box(NamedTuple):
    """Plot area in SVG pixels; ``y0`` is the top edge, ``y1`` the bottom edge."""

    x0: float
    y0: float
    x1: float
    y1: float


@dataclass(frozen=True)
class _Scale:
    """Map domain [d0, d1] to pixels [r0, r1], linearly or on log10 (d0, d1 > 0); clamps."""

    d0: float
    d1: float
    r0: float
    r1: float
    log: bool = False

    def __call__(self, v: float) -> float:
        f: Callable[[float], float] = math.log10 if self.log else float
        v = min(max(float(v), min(self.d0, self.d1)), max(self.d0, self.d1))
        span = (f(self.d1) - f(self.d0)) or 1.0
        return self.r0 + (f(v) - f(self.d0)) / span * (self.r1 - self.r0)


def _nice_ticks(lo: float, hi: float, target: int = 5) -> list[float]:
    """Evenly spaced 'nice' ticks (steps 1, 2, 2.5, 5 x 10^k) covering [lo, hi]."""
    lo, hi = float(min(lo, hi)), float(max(lo, hi))
    if hi - lo < 1e-12:
        pad = abs(lo) * 0.1 or 1.0
        lo, hi = lo - pad, hi + pad
    raw = (hi - lo) / max(target, 1)
    mag = 10.0 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw * (1 - 1e-9))
    i0, i1 = math.floor(lo / step + 1e-9), math.ceil(hi / step - 1e-9)
    return [round(i * step, 10) + 0.0 for i in range(i0, i1 + 1)]


def _log_nice(v: float, up: bool) -> float:
    """Round ``v`` > 0 down (or up) to a 1-2-3-4-5-6-8 x 10^k value."""
    c = [m * 10.0 ** math.floor(math.log10(v)) for m in _LOG_MANTISSAS]
    return min(x for x in c if x >= v * (1 - 1e-9)) if up else max(x for x in c if x <= v * (1 + 1e-9))


def _log_ticks(lo: float, hi: float) -> list[float]:
    """1-2-3-5 ticks per decade inside [lo, hi] plus both ends (ticks crowding an end dropped)."""
    decades = math.log10(hi / lo)
    mants = (1, 2, 3, 5) if decades <= 3 else (1, 2, 5) if decades <= 5 else (1,)
    ks = range(math.floor(math.log10(lo)), math.ceil(math.log10(hi)) + 1)
    inner = sorted({round(m * 10.0**k, 10) for k in ks for m in mants})
    return [lo, *(t for t in inner if math.log10(t / lo) >= 0.17 and math.log10(hi / t) >= 0.17), hi]


def _band(n: int, r0: float, r1: float, pad: float, max_w: float = 60) -> tuple[list[float], float]:
    """Left edges and width of ``n`` centred bands across [r0, r1] (fractional padding, width capped)."""
    step = (r1 - r0) / max(n, 1)
    w = min(step * (1 - pad), max_w)
    return [r0 + i * step + (step - w) / 2 for i in range(n)], w


# --------------------------------------------------------------------------- axes, legend, document
def _hline(box: _Box, y: float, **style: object) -> str:
    return _el("line", None, x1=float(box.x0), y1=float(y), x2=float(box.x1), y2=float(y), **style)


def _y_axis(box: _Box, ticks: Iterable[tuple[float, str]], title: str = "") -> list[str]:
    """Grey horizontal grid lines with labels at pixel ``y``, the axis line and a rotated title."""
    out = []
    for y, label in ticks:
        out.append(_hline(box, y, stroke=GRID, class_="grid"))
        out.append(_text(box.x0 - 6, y + 4, label, text_anchor="end", font_size=11, fill=AXIS))
    out.append(_el("line", x1=float(box.x0), y1=float(box.y0), x2=float(box.x0), y2=float(box.y1), stroke=AXIS))
    if title:
        out.append(_text(box.x0 - 44, (box.y0 + box.y1) / 2, title, rotate=True, text_anchor="middle"))
    return out


def _x_axis(box: _Box, ticks: Iterable[tuple[float, str]], title: str = "", grid: bool = True) -> list[str]:
    """Tick labels below the plot at pixel ``x`` (optional grey vertical grid), axis line, title."""
    out = []
    for x, label in ticks:
        if grid:
            out.append(
                _el("line", x1=float(x), y1=float(box.y0), x2=float(x), y2=float(box.y1), stroke=GRID, class_="grid")
            )
        out.append(_text(x, box.y1 + 16, label, text_anchor="middle", font_size=11, fill=AXIS))
    out.append(_hline(box, box.y1, stroke=AXIS))
    if title:
        out.append(_text((box.x0 + box.x1) / 2, box.y1 + 34, title, text_anchor="middle"))
    return out


def _day_axis(days: pd.Series, box: _Box) -> tuple[_Scale, list[str], float, float]:
    """x scale and axis for study days (from day 0, or earlier if data start earlier)."""
    lo, hi = float(days.min()), float(days.max())
    xt = _nice_ticks(min(0.0, lo), hi, 6)
    xs = _Scale(xt[0], xt[-1], box.x0, box.x1)
    return xs, _x_axis(box, [(xs(t), _num(t)) for t in xt], "Study day"), lo, hi


def _category_axes(box: _Box, labels: Sequence[str], y_title: str, pad: float) -> tuple[list[float], float, list[str]]:
    """Bands for categorical bars plus a 0-100 % y axis; returns (starts, width, markup)."""
    starts, bw = _band(len(labels), box.x0, box.x1, pad, max_w=90)
    ys = _Scale(0, 1, box.y1, box.y0)
    out = _y_axis(box, [(ys(t / 5), f"{t * 20}%") for t in range(6)], y_title)
    out += _x_axis(box, [(s + bw / 2, _truncate(lab, 16)) for s, lab in zip(starts, labels)], grid=False)
    return starts, bw, out


def _legend(items: Sequence[tuple[str, str]], x: float, y: float = 20) -> str:
    """A horizontal legend of (colour, label) swatches starting at (x, y)."""
    out = []
    for colour, label in items:
        out.append(
            _el(
                "rect",
                x=float(x),
                y=float(y - 9),
                width=11,
                height=11,
                fill=colour,
                stroke="#888888",
                stroke_width=0.5,
                class_="legend-swatch",
            )
        )
        out.append(_text(x + 15, y, label, font_size=11))
        x += 29 + CHAR_W * len(label)
    return _el("g", "".join(out), class_="legend")


def _group_legend(counts: pd.Series, x: float) -> str:
    """Legend of response groups with their counts."""
    return _legend([(_colour(g), f"{g} (n={counts[g]})") for g in _ordered_groups(counts.index)], x)


def _svg(fid: str, width: float, height: float, title: str, desc: str, body: Iterable[str]) -> str:
    """Wrap body markup in an accessible, self-contained ``<svg>`` element, sized by :func:`sized`."""
    markup = (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_fmt(width)} {_fmt(height)}" '
        f'width="100%" role="img" aria-labelledby="{fid}-title {fid}-desc" font-family="{FONT}" '
        f'font-size="12">'
        + _el("title", _esc(title), id=f"{fid}-title")
        + _el("desc", _esc(desc), id=f"{fid}-desc")
        + "".join(body)
        + "</svg>"
    )
    return sized(markup, width)


# --------------------------------------------------------------------------- readable width
_LENGTH = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*(px|pt|em|%)?\s*$")
_FONT_SHORTHAND_SIZE = re.compile(r"(?:^|\s)([0-9]*\.?[0-9]+(?:px|pt|em|%))(?:/\S+)?\s")  # a size has a unit
_TRANSFORM = re.compile(r"(matrix|scale)\(([^)]*)\)")


def _font_size(e: ET.Element, inherited: float) -> float:
    """The font size of ``e`` in user units: its ``font-size`` attribute, or ``font-size`` /
    ``font`` in its ``style`` (the style wins, as in CSS); ``em`` and ``%`` are relative to
    ``inherited``, ``pt`` is 4/3 user units; nothing set: ``inherited``."""
    value = e.get("font-size")
    for decl in (e.get("style") or "").split(";"):
        name, _, v = decl.partition(":")
        name = name.strip().lower()
        if name == "font-size":
            value = v
        elif name == "font":
            m = _FONT_SHORTHAND_SIZE.search(v.strip() + " ")
            value = m.group(1) if m else value
    if value is None:
        return inherited
    m = _LENGTH.match(value)
    if not m:
        raise ValueError(f"unsupported SVG font size {value!r}")
    n, unit = float(m.group(1)), m.group(2) or "px"
    return {"px": n, "pt": n * 4 / 3, "em": n * inherited, "%": n / 100 * inherited}[unit]


def _scale(transform: str | None) -> float:
    """Uniform scale factor of a ``transform`` attribute (sqrt of the area factor; 1 without scale)."""
    f = 1.0
    for kind, args in _TRANSFORM.findall(transform or ""):
        v = [float(a) for a in re.split(r"[\s,]+", args.strip()) if a]
        if kind == "scale":
            f *= math.sqrt(abs(v[0] * (v[1] if len(v) > 1 else v[0])))
        elif len(v) == 6:
            f *= math.sqrt(abs(v[0] * v[3] - v[1] * v[2]))
    return f


def smallest_font(markup: str, default: float = 16.0) -> float:
    """The smallest font size (user units, after scale transforms) of any ``<text>`` with
    visible characters in the SVG ``markup``; ``default`` is the size inherited by the root
    (CSS ``medium``). ``inf`` if the SVG holds no text."""
    root = ET.fromstring(markup)
    smallest = math.inf

    def walk(e: ET.Element, size: float, scale: float) -> None:
        nonlocal smallest
        size, scale = _font_size(e, size), scale * _scale(e.get("transform"))
        name = e.tag.rsplit("}", 1)[-1]
        if name in ("title", "desc", "metadata", "defs", "style", "clipPath"):
            return
        if name in ("text", "tspan") and (e.text or "").strip():
            smallest = min(smallest, size * scale)
        for child in e:
            walk(child, size, scale)

    walk(root, default, 1.0)
    return smallest


def readable_width(markup: str, min_px: float = MIN_TEXT_PX) -> float:
    """The narrowest display width (CSS px) at which every text of the SVG ``markup`` is at
    least ``min_px``: viewBox width x ``min_px`` / smallest font size (both in user units).
    0 for an SVG without text."""
    root = ET.fromstring(markup)
    view = root.get("viewBox")
    if not view:
        raise ValueError("the SVG has no viewBox")
    smallest = smallest_font(markup)
    return 0.0 if math.isinf(smallest) else float(view.split()[2]) * min_px / smallest


def min_display_width(markup: str) -> int:
    """:func:`readable_width` rounded up to a whole pixel (the SVG's CSS ``min-width``)."""
    return math.ceil(readable_width(markup) - 1e-9)


def sized(markup: str, natural: float) -> str:
    """Give the root ``<svg>`` of ``markup`` (which has no ``style`` yet) its display size: the
    box width, at most ``natural`` px (its drawn size) and never less than its readable width
    (smallest text 12 px; on a narrower box the figure scrolls sideways inside its box). Where
    the readable width exceeds ``natural``, the figure is drawn at its readable width."""
    low = min_display_width(markup)
    style = f' style="min-width:{low}px;max-width:{_fmt(max(natural, low))}px;height:auto"'
    start = markup.index("<svg")
    end = markup.index(">", start)
    if "style=" in markup[start:end]:
        raise ValueError("the root <svg> already has a style")
    return markup[:end] + style + markup[end:]


def _no_data(fid: str, what: str) -> Figure:
    alt = f"{what}: no data available."
    body = [_text(240, 64, "No data", text_anchor="middle", font_size=13, fill=AXIS, class_="no-data")]
    return Figure(_svg(fid, 480, 120, what, alt, body), alt, alt)


def _frame(
    df: pd.DataFrame | None, numeric: Sequence[str], ids: Sequence[str] = ("patient_id",), extra: Sequence[str] = ()
) -> pd.DataFrame | None:
    """Select columns, coerce ``numeric`` to float, drop rows with a non-finite number or a
    missing id (ids become stripped strings). ``None`` if no row is left; ``ValueError`` if
    a non-empty frame lacks a column."""
    if df is None or len(df) == 0:
        return None
    cols = [*ids, *numeric, *extra]
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise ValueError(f"missing required column(s): {', '.join(missing)}")
    out = df.loc[:, cols].copy()
    keep = np.ones(len(out), dtype=bool)
    for c in numeric:
        out[c] = pd.to_numeric(out[c], errors="coerce").astype(float)
        keep &= np.isfinite(out[c].to_numpy())
    for c in ids:
        keep &= out[c].notna().to_numpy()
    out = out.loc[keep].reset_index(drop=True)
    for c in ids:
        out[c] = out[c].astype(str).str.strip()
    return out if len(out) else None


def _codes(s: pd.Series, missing: str = "") -> pd.Series:
    """Normalise response codes to stripped upper case; missing -> ``missing``."""
    return s.astype(object).where(s.notna(), missing).astype(str).str.strip().str.upper().replace("", missing)
