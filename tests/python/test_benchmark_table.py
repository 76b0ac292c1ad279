"""The benchmark's table and targets (benchmark/run.py) from measured rows: above 100,000 patients
the references are not run, and the table and targets say so instead of dividing by nothing."""

from __future__ import annotations

from benchmark.run import REFERENCES_MAX_PATIENTS, Measure, Row, format_table, format_targets, targets


def _row(patients: int, build_s: float, peak_mb: float, references: bool) -> Row:
    return Row(
        patients=patients,
        lab_rows=132 * patients,
        raw_mb=6.0,
        synth_s=None,
        load="1.0 1.0 1.0",
        floor=Measure(1.0, 100.0),
        sql_reference=Measure(10.0, 100.0) if references else None,
        pandas_reference=Measure(40.0, 100.0) if references else None,
        references_equal_marts="fct_platelet_response 3 rows" if references else "not run",
        build=Measure(build_s, peak_mb, build_s * 2),
        incremental=Measure(build_s / 10, peak_mb),
        appended_rows=patients,
        stats=Measure(4.0, 100.0),
        report=Measure(5.0, 100.0),
        no_change_run=Measure(0.5, 50.0),
        report_mb=0.5,
    )


def test_rows_without_references_print_dashes_and_keep_their_own_targets() -> None:
    assert REFERENCES_MAX_PATIENTS == 100_000  # the largest size a target compares with the references
    rows = [_row(100_000, 30.0, 3000.0, True), _row(1_000_000, 540.0, 13_000.0, False)]
    table = format_table(rows).splitlines()
    big = table[-1].split(" | ")
    assert big[0] == "1,000,000" and big[4:6] == ["-", "-"] and big[8:10] == ["-", "-"]
    assert table[-2].split(" | ")[8:10] == ["3.0", "1.33"]  # 30 s / 10 s; 40 s / 30 s
    found = {(t.size, t.what): t for t in targets(rows)}
    assert found[("100,000", "full build <= 2x the plain-SQL reference")].met is False  # 3.0x
    assert found[("100,000", "full build >= 2x faster than the pandas reference")].met is False  # 1.33x
    assert found[("100,000", "statistics + report <= 10 s")].met is True  # 4 + 5
    assert found[("1,000,000", "full build <= 10 min")].met is True  # 9.0 min
    assert found[("1,000,000", "full build peak memory <= 12 GiB")].met is False  # 12.7 GiB
    assert found[("1,000,000", "incremental after a 1% lab extract <= 15% of the full build")].met is True
    assert not any(size == "1,000,000" and "reference" in what for size, what in found)
    text = format_targets(targets(rows))
    assert "NOT MET  1,000,000  full build peak memory <= 12 GiB: 12.70 GiB" in text


def test_a_build_limit_below_the_dbt_floor_says_so_and_the_table_shows_the_floor() -> None:
    small, medium = _row(1_000, 12.0, 300.0, False), _row(10_000, 20.0, 800.0, False)
    for row in (small, medium):
        row.dbt_floor_fresh, row.dbt_floor_kept, row.build_nodes = Measure(9.0, 200.0), Measure(6.0, 200.0), 263
    found = {(t.size, t.what): t for t in targets([small, medium])}
    five = found[("1,000", "full build <= 5 s")]
    assert five.met is False and "below dbt's floor here (6.0 s selecting no node" in five.measured
    eight = found[("10,000", "full build <= 8 s")]  # 8 s is above the 6 s floor: no note
    assert eight.met is False and eight.measured == "20.0 s"
    # 15% of a 12 s build is 1.8 s, under the floor; 15% of 20 s is 3 s, under it too
    for size in ("1,000", "10,000"):
        assert (
            "below dbt's floor" in found[(size, "incremental after a 1% lab extract <= 15% of the full build")].measured
        )
    last = format_table([small]).splitlines()[-1].split(" | ")
    assert last[-2:] == ["9.0 / 6.0", "263"]
    # rows measured before the floor was: a dash, and no note
    assert format_table([_row(1_000, 12.0, 300.0, False)]).splitlines()[-1].split(" | ")[-2:] == ["-", "-"]
    unmeasured = {(t.size, t.what): t for t in targets([_row(1_000, 12.0, 300.0, False)])}
    assert unmeasured[("1,000", "full build <= 5 s")].measured == "12.0 s"
