"""Number formatting for the report: one style for every table, card and footnote (typographic
minus, en dash ranges, `median [IQR]`, `n (%)`); a missing value is a dash, never "nan"."""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np
import pandas as pd

DASH, MINUS, EN, INF = "\u2014", "\u2212", "\u2013", "\u221e"


def _val(x: Any) -> float | None:
    """A float, or None for missing, NaN or non-numeric values."""
    if x is None or x is pd.NA:
        return None
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(v) else v


def _signed(text: str, v: float) -> str:
    """A typographic minus; no "-0.0"."""
    if math.isinf(v):
        return INF if v > 0 else MINUS + INF
    return text.lstrip("-") if float(text) == 0 else text.replace("-", MINUS, 1)


def fixed(x: Any, decimals: int = 1) -> str:
    v = _val(x)
    return DASH if v is None else _signed(f"{v:.{decimals}f}" if math.isfinite(v) else "0", v)


def sig(x: Any, digits: int = 3) -> str:
    """Three significant digits (``0.0234``, ``1.00``, ``17.3``); large values as integers."""
    v = _val(x)
    if v is None or not math.isfinite(v):
        return fixed(v)
    text = f"{v:.0f}" if abs(v) >= 10**digits - 0.5 else f"{v:#.{digits}g}".rstrip(".")
    return _signed(text, v)


def pval(p: Any) -> str:
    v = _val(p)
    return DASH if v is None else "<0.001" if v < 0.001 else sig(v)


def pct(fraction: Any) -> str:
    v = _val(fraction)
    return DASH if v is None else f"{v * 100:.1f}%"


def ci_pct(low: Any, high: Any) -> str:
    lo, hi = _val(low), _val(high)
    return DASH if lo is None or hi is None else f"{lo * 100:.1f}{EN}{hi * 100:.1f}%"


def n_pct(k: Any, n: int) -> str:
    return f"{int(k)} ({100 * k / n:.1f}%)" if n else f"{int(k)}"


one = partial(fixed, decimals=1)


def short(x: Any) -> str:
    """Whole numbers without decimals, others with one (``40``, ``40.5``)."""
    v = _val(x)
    return fixed(v, 0 if v is None or not math.isfinite(v) or v.is_integer() else 1)


def _floats(values: Any) -> np.ndarray:
    arr = pd.to_numeric(pd.Series(values, dtype=object), errors="coerce").to_numpy(dtype="float64")
    return arr[np.isfinite(arr)]


def median_iqr(values: Any, fmt: Callable[[Any], str] = short) -> str:
    arr = _floats(values)
    if not arr.size:
        return DASH
    q1, med, q3 = np.quantile(arr, [0.25, 0.5, 0.75])  # R type 7, as in stats.py
    return f"{fmt(med)} [{fmt(q1)}{EN}{fmt(q3)}]"


def value_range(values: Any, fmt: Callable[[Any], str] = short) -> str:
    arr = _floats(values)
    return DASH if not arr.size else f"{fmt(arr.min())}{EN}{fmt(arr.max())}"


def median_range(values: Any, fmt: Callable[[Any], str] = short) -> str:
    arr = _floats(values)
    return DASH if not arr.size else f"{fmt(np.median(arr))} ({value_range(arr, fmt)})"


def unit_text(unit: Any) -> str:
    """Canonical units as printed: ``10^9/L`` -> ``x10 superscript 9/L``, ``cells/uL`` -> ``cells/micro-L``."""
    return str(unit or "").replace("10^9", "\u00d710\u2079").replace("uL", "\u00b5L")


def _text(x: Any) -> str:
    """Text of a value; "" for None and NaN (a missing note or group is not the word "nan")."""
    return "" if x is None or x is pd.NA or (isinstance(x, float) and math.isnan(x)) else str(x)


def _true(series: pd.Series) -> pd.Series:
    return series.astype(object).where(series.notna(), False).astype(bool)


def _significant(p: Any) -> bool:
    v = _val(p)
    return v is not None and v < 0.05


class _Visits(dict):
    """visit code -> label from reference.visit_windows; unknown codes prettified."""

    def __missing__(self, visit: str) -> str:
        text = str(visit).replace("_", " ").strip()
        return text[:1].upper() + text[1:]
