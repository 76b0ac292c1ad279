"""Great Expectations validation of the marts and analysis tables (ctd_rtp.validation).

The demo warehouse is read once; each test corrupts a copy of one data frame and checks that
the failure names the table, the expectation and the offending value. The warehouse itself
is never edited here.
"""

from __future__ import annotations

import re

import pandas as pd
import pytest

from conftest import Built
from ctd_rtp.report import load_warehouse
from ctd_rtp.validation import (
    ANALYSIS_TABLES,
    REFERENCE_TABLES,
    STALE_HINT,
    VALIDATED_TABLES,
    ValidationFailed,
    validate,
)
from ctd_rtp.warehouse import Settings


@pytest.fixture(scope="module")
def demo(demo_warehouse: Built) -> tuple[dict[str, pd.DataFrame], str]:
    return load_warehouse(Settings.from_env(demo_warehouse.env))


def corrupted(frames: dict[str, pd.DataFrame], table: str, change) -> dict[str, pd.DataFrame]:
    out = dict(frames)
    out[table] = change(frames[table].copy())
    return out


def failure(frames: dict[str, pd.DataFrame], fingerprint: str | None) -> str:
    with pytest.raises(ValidationFailed) as info:
        validate(frames, fingerprint)
    return str(info.value)


def test_demo_warehouse_passes_every_suite_quietly_without_hashing_the_frames(demo, capfd, monkeypatch) -> None:
    from great_expectations.execution_engine import pandas_execution_engine

    def hashed(frame: pd.DataFrame) -> str:
        raise AssertionError("GX hashed a frame (its batch fingerprint): nothing reads it, and it is slow")

    monkeypatch.setattr(pandas_execution_engine, "hash_pandas_dataframe", hashed)
    frames, fingerprint = demo
    summary = validate(frames, fingerprint)
    assert summary.n_suites == len(VALIDATED_TABLES) == 28
    assert summary.n_passed == summary.n_expectations >= 100
    assert summary.success
    out, err = capfd.readouterr()
    assert out == "" and err == ""  # no tqdm progress bars, no GX chatter


def test_orr_above_one_names_table_expectation_and_value(demo) -> None:
    frames, fingerprint = demo

    def bad_orr(df: pd.DataFrame) -> pd.DataFrame:
        df.loc[df["visit"] == "month_3", "orr"] = 1.5
        return df

    message = failure(corrupted(frames, "analysis.response_rate_ci", bad_orr), fingerprint)
    assert re.search(
        r"analysis\.response_rate_ci: expect_column_values_to_be_between\(column='orr'.*"
        r"1 failing value\(s\), e\.g\. \[1\.5\]",
        message,
    )
    # the same corruption also breaks orr <= ci_high
    assert "expect_column_pair_values_a_to_be_greater_than_b(column_A='ci_high', column_B='orr'" in message


def test_duplicate_compound_key(demo) -> None:
    frames, fingerprint = demo
    message = failure(
        corrupted(frames, "marts.fct_platelet_response", lambda df: pd.concat([df, df.iloc[[0]]], ignore_index=True)),
        fingerprint,
    )
    first = frames["marts.fct_platelet_response"].iloc[0]
    assert (
        "marts.fct_platelet_response: expect_compound_columns_to_be_unique(column_list=['patient_id', 'visit'])"
        in message
    )
    assert f"'patient_id': '{first['patient_id']}'" in message
    # one row too many for 13 patients x 3 visits
    assert (
        "expect_table_row_count_to_equal(value=39): observed 40 [13 patients with a day 0 x 3 post-baseline visits]"
        in message
    )


def test_unknown_response_code(demo) -> None:
    frames, fingerprint = demo

    def xx(df: pd.DataFrame) -> pd.DataFrame:
        df.loc[df.index[2], "response"] = "XX"
        return df

    message = failure(corrupted(frames, "marts.fct_platelet_response", xx), fingerprint)
    assert (
        "marts.fct_platelet_response: expect_column_values_to_be_in_set(column='response', "
        "value_set=['CR', 'PR', 'NR', 'NE']): 1 failing value(s), e.g. ['XX']"
    ) in message


def test_statistics_older_than_the_marts_are_stale(demo) -> None:
    frames, _ = demo
    message = failure(frames, "0123456789abcdef")  # what a rebuild after `stats` looks like
    assert message.startswith(f"validation failed: {len(ANALYSIS_TABLES)} of ")  # one per analysis table
    assert f"({STALE_HINT})" in message
    for table in ANALYSIS_TABLES:
        assert f"{table}: expect_column_values_to_be_in_set(column='data_fingerprint'" in message


def test_analysis_tables_from_different_runs_disagree(demo) -> None:
    frames, _ = demo
    old = corrupted(frames, "analysis.friedman_tests", lambda df: df.assign(data_fingerprint="feedfacefeedface"))
    message = failure(old, None)  # no current fingerprint: the tables must agree among themselves
    assert "analysis.friedman_tests" in message and "['feedfacefeedface']" in message
    assert STALE_HINT in message


def test_row_counts_follow_dim_patients(demo) -> None:
    frames, fingerprint = demo

    def extra_patient(df: pd.DataFrame) -> pd.DataFrame:
        row = df.iloc[[0]].assign(patient_id="P99")
        return pd.concat([df, row], ignore_index=True)

    message = failure(corrupted(frames, "marts.dim_patients", extra_patient), fingerprint)
    # 14 patients with a day 0 now: every per-patient table is one patient short
    assert "marts.fct_platelet_response: expect_table_row_count_to_equal(value=42): observed 39" in message
    assert "marts.fct_visits: expect_table_row_count_to_equal(value=56): observed 52" in message
    assert re.search(
        r"marts\.rpt_response_rates: expect_column_values_to_be_between\(column='n_patients', "
        r"min_value=14(\.0)?, max_value=14(\.0)?\): 3 failing value\(s\), e\.g\. \[13, 13, 13\] "
        r"\[dim_patients has 14 patients with a day 0\]",
        message,
    )


@pytest.mark.parametrize(
    ("table", "column", "value", "expectation"),
    [
        ("marts.fct_visits", "platelet_count", 2500.0, "expect_column_values_to_be_between"),
        ("analysis.paired_tests", "p_value_bh", 1.2, "expect_column_values_to_be_between"),
        ("analysis.response_rate_ci", "ci_low", 0.99, "expect_column_pair_values_a_to_be_greater_than_b"),
        ("marts.dim_patients", "sex", "X", "expect_column_values_to_be_in_set"),
        ("marts.fct_adverse_events", "ae_id", None, "expect_column_values_to_not_be_null"),
    ],
)
def test_ranges_sets_and_keys(demo, table: str, column: str, value, expectation: str) -> None:
    frames, fingerprint = demo

    def set_one(df: pd.DataFrame) -> pd.DataFrame:
        df[column] = df[column].astype(object)
        df.loc[df.index[0], column] = value
        return df

    message = failure(corrupted(frames, table, set_one), fingerprint)
    assert f"{table}: {expectation}(" in message
    assert column in message


def test_missing_table_is_named(demo) -> None:
    frames, fingerprint = demo
    partial = {k: v for k, v in frames.items() if k != "analysis.subgroup_response"}
    assert "analysis.subgroup_response" in failure(partial, fingerprint)
    assert set(REFERENCE_TABLES) <= set(frames)


def test_stale_or_impossible_time_to_event_statistics_fail(demo) -> None:
    frames, fingerprint = demo

    def low_above_median(df: pd.DataFrame) -> pd.DataFrame:
        df.loc[df["paramcd"] == "TTRESP", "median_ci_low"] = df["median_days"] + 1
        return df

    message = failure(corrupted(frames, "analysis.time_to_event_km", low_above_median), fingerprint)
    assert "analysis.time_to_event_km" in message and "median_ci_low" in message

    def share_above_one(df: pd.DataFrame) -> pd.DataFrame:
        df["share_of_time_in_response"] = 1.5
        return df

    assert "share_of_time_in_response" in failure(
        corrupted(frames, "analysis.time_in_response", share_above_one), fingerprint
    )


def test_background_validation_gives_the_same_summary_and_failures_from_a_child_process(demo) -> None:
    """The report validates in a forked child (validate_in_background) while it builds the
    figures: the same summary when everything passes, the same ValidationFailed message when
    something fails, and any other error of the child raised again in the parent (same type,
    the child's traceback as a note), never taken as a pass."""
    import os

    from ctd_rtp import validation

    frames, fingerprint = demo
    summary = validation.validate_in_background(frames, fingerprint).result()
    direct = validate(frames, fingerprint)
    assert (summary.n_suites, summary.n_expectations, summary.n_passed) == (
        direct.n_suites,
        direct.n_expectations,
        direct.n_passed,
    )
    bad = corrupted(frames, "analysis.response_rate_ci", lambda f: f.assign(orr=1.5))
    with pytest.raises(ValidationFailed) as info:
        validation.validate_in_background(bad, fingerprint).result()
    assert str(info.value) == failure(bad, fingerprint)

    parent = os.getpid()

    class Exploding(dict):
        def items(self):  # in the child only: the parent does not read the frames here
            if os.getpid() != parent:
                raise KeyError("boom in the child")
            return super().items()

    with pytest.raises(KeyError, match="boom in the child") as raised:
        validation.validate_in_background(Exploding(frames), fingerprint).result()
    (note,) = raised.value.__notes__
    assert re.match(r"raised in gx-validate \(child process \d+, exit code 0\):\nTraceback", note), note
    assert "in items" in note
