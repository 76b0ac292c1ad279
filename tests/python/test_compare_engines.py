"""The Spark/DuckDB parity check (benchmark.compare_engines) itself: equal frames pass, a
difference beyond 1e-9, a changed string or date, a missing value or row order does what it should."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pandas as pd
import pytest
from benchmark import compare_engines
from benchmark.compare_engines import _equal_by_columns, compare_frames

KEY = ["patient_id", "visit"]


def _frame(**overrides) -> pd.DataFrame:
    data = {
        "patient_id": ["P01", "P02"],
        "visit": ["month_3", "month_3"],
        "visit_date": [dt.date(2024, 4, 1), dt.date(2024, 5, 1)],
        "fold_change": [2.5, None],
        "response": ["PR", "NE"],
    }
    data.update(overrides)
    return pd.DataFrame(data)


def test_equal_frames_in_another_order_and_types_match() -> None:
    spark = _frame(fold_change=[Decimal("2.5"), float("nan")]).iloc[::-1]
    spark["visit_date"] = pd.to_datetime(spark["visit_date"])
    assert compare_frames("m", KEY, _frame(), spark) == []


def test_numbers_within_tolerance_only() -> None:
    assert compare_frames("m", KEY, _frame(), _frame(fold_change=[2.5 + 1e-12, None])) == []
    assert compare_frames("m", KEY, _frame(), _frame(fold_change=[2.5 + 1e-6, None]))


def test_strings_dates_nulls_and_rows_differ() -> None:
    assert compare_frames("m", KEY, _frame(), _frame(response=["CR", "NE"]))
    assert compare_frames("m", KEY, _frame(), _frame(visit_date=[dt.date(2024, 4, 2), dt.date(2024, 5, 1)]))
    assert compare_frames("m", KEY, _frame(), _frame(fold_change=[2.5, 0.0]))
    assert compare_frames("m", KEY, _frame(), _frame().iloc[:1])
    assert compare_frames("m", KEY, _frame(), _frame().drop(columns="response"))


def test_infinite_values_equal_only_to_the_same_infinity() -> None:
    inf = float("inf")
    assert compare_frames("m", KEY, _frame(fold_change=[inf, None]), _frame(fold_change=[inf, None])) == []
    assert compare_frames("m", KEY, _frame(fold_change=[inf, None]), _frame(fold_change=[-inf, None]))
    assert compare_frames("m", KEY, _frame(fold_change=[inf, None]), _frame(fold_change=[2.5, None]))


def _typed(**overrides) -> pd.DataFrame:
    """A mart as DuckDB's `.df()` gives it: datetime64 dates, float and nullable integer numbers,
    booleans, text; the column checks decide these without the row loop."""
    data = {
        "patient_id": ["P01", "P02", "P03"],
        "visit": ["month_3", "month_3", "month_6"],
        "visit_date": pd.to_datetime(["2024-04-01", "2024-05-01", None]),
        "fold_change": [2.5, None, float("inf")],
        "n_counts": pd.array([3, None, 1], dtype="Int64"),
        "is_evaluable": [True, False, True],
        "response": ["PR", None, "NE"],
    }
    data.update(overrides)
    return pd.DataFrame(data)


def test_typed_marts_are_shown_equal_column_by_column_without_the_row_loop(monkeypatch) -> None:
    def row_loop(value: object) -> object:
        raise AssertionError("compared row by row")

    monkeypatch.setattr(compare_engines, "_normal", row_loop)
    assert compare_frames("m", KEY, _typed(), _typed().iloc[::-1]) == []
    assert compare_frames("m", KEY, _typed(), _typed(fold_change=[2.5 + 1e-12, float("nan"), float("inf")])) == []
    assert compare_frames("m", KEY, _typed(), _typed(n_counts=[3.0, None, 1.0])) == []  # int and float alike


@pytest.mark.parametrize(
    "change",
    [
        {"response": ["CR", None, "NE"]},
        {"response": ["PR", "NE", "NE"]},  # a NULL against a value
        {"visit_date": pd.to_datetime(["2024-04-02", "2024-05-01", None])},
        {"fold_change": [2.5 + 1e-6, None, float("inf")]},
        {"fold_change": [2.5, 0.0, float("inf")]},
        {"fold_change": [2.5, None, float("-inf")]},
        {"n_counts": pd.array([3, 0, 1], dtype="Int64")},
        {"is_evaluable": [True, True, True]},
        {"patient_id": ["P01", "P02", "P04"]},
        {"patient_id": ["P01", "P01", "P03"], "visit": ["month_3", "month_3", "month_6"]},  # a duplicate key
    ],
)
def test_every_difference_goes_to_the_row_loop_which_words_it(change: dict) -> None:
    assert not _equal_by_columns(KEY, _typed(), _typed(**change))
    assert compare_frames("m", KEY, _typed(), _typed(**change))


def test_report_sections_are_split_by_id() -> None:
    from benchmark.compare_engines import report_sections

    html = '<section id="a"><p>1</p></section>\n<section id="b">\n<p>2</p>\n</section>'
    assert report_sections(html) == {
        "a": '<section id="a"><p>1</p></section>',
        "b": '<section id="b">\n<p>2</p>\n</section>',
    }
