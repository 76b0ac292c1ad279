"""The demo cohort generator: deterministic, byte for byte, and honest about being synthetic."""

from __future__ import annotations

import filecmp
from pathlib import Path

import pytest

from ctd_rtp import cohort

SEEDS = Path(__file__).resolve().parents[2] / "seeds" / "demo"


def test_regenerating_the_demo_cohort_reproduces_the_committed_files(tmp_path: Path) -> None:
    written = cohort.write_csv(cohort.synthesize(), tmp_path)
    assert [p.name for p in written] == [f"{t}.csv" for t in cohort.RAW_COLUMNS]
    for path in written:
        committed = SEEDS / path.name
        assert filecmp.cmp(path, committed, shallow=False), f"{path.name} differs from seeds/demo: run `make demo-data`"


def test_demo_cohort_shape_matches_the_study() -> None:
    rows = cohort.synthesize()
    patients = rows["patients"]
    assert len(patients) == 13
    assert sum(1 for p in patients if p[1] == "F") >= 10  # mostly women
    assert sum(1 for p in patients if p[3] == "SLE") >= 7  # mostly SLE
    sirolimus_starts = [e for e in rows["drug_exposures"] if e[2] == "sirolimus" and e[3]]
    assert {float(e[5]) for e in sirolimus_starts} >= {1.0}  # starts at 1 mg/day
    assert max(int(a[5]) for a in rows["adverse_events"]) <= 2  # no grade >= 3
    # the deliberate imperfections are present
    labs = rows["lab_results"]
    assert any(r[4].startswith("<") for r in labs)
    assert any(r[5] == "/uL" and r[3] == "PLT#" for r in labs)
    assert any(r[4] == "" for r in labs)
    assert {r[3] for r in labs} >= {"PLT", "Platelet count", "TREG_PCT", "IL6", "SIRO_TROUGH"}


def test_other_sizes_and_seeds_are_deterministic_and_differ() -> None:
    a = cohort.synthesize(40, seed=7)
    b = cohort.synthesize(40, seed=7)
    c = cohort.synthesize(40, seed=8)
    assert a == b
    assert a["lab_results"] != c["lab_results"]
    assert len(a["patients"]) == 40
    assert len({p[0] for p in a["patients"]}) == 40


def test_invalid_size_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        cohort.synthesize(0)


def test_chunk_size_does_not_change_the_output(tmp_path: Path) -> None:
    one = cohort.write_cohort(tmp_path / "one", 30, seed=3, chunk_size=1000)
    many = cohort.write_cohort(tmp_path / "many", 30, seed=3, chunk_size=7)
    for a, b in zip(one, many):
        assert a.read_bytes() == b.read_bytes(), a.name


def test_parquet_holds_the_same_rows_as_csv(tmp_path: Path) -> None:
    import pandas as pd

    csvs = cohort.write_cohort(tmp_path / "csv", 25, seed=5, fmt="csv", chunk_size=10)
    parquets = cohort.write_cohort(tmp_path / "pq", 25, seed=5, fmt="parquet", chunk_size=10)
    for c, p in zip(csvs, parquets):
        a = pd.read_csv(c, dtype=str, keep_default_na=False)
        b = pd.read_parquet(p)
        pd.testing.assert_frame_equal(a, b, check_dtype=False)


def test_random_cohorts_carry_a_small_share_of_messy_lab_rows() -> None:
    labs = cohort.synthesize(400, seed=11)["lab_results"]
    unknown_unit = sum(1 for r in labs if r[5] == "mmol/mol")
    non_numeric = sum(1 for r in labs if r[4] == "see comment")
    assert 0 < unknown_unit + non_numeric < 0.01 * len(labs)
    assert 80 <= len(labs) / 400 <= 140  # realistic density per patient
