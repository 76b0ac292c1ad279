"""Bad input, end to end: nothing lost, every rejection explained (cases in faults.py).

Each case is the valid own_cohort fixture + one mutation, built through `ctd-rtp build` into
a temporary folder. Independent passing cases share a build (faults.plan_batches); a case that
must fail the build gets its own. Builds run two at a time; each case is still checked and
reported on its own, and the session ends with the line
"fault suite: N cases tried, N as expected, rows lost: 0" (conftest.pytest_terminal_summary).
"""

from __future__ import annotations

import math
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest

import faults
from conftest import cli_env, run_cli
from ctd_rtp.report.loading import collect_run_info, read_build_record
from ctd_rtp.warehouse import DuckDBReader, Settings, table_fingerprint
from faults import (
    CASES,
    TABLES,
    Batch,
    BuildFails,
    Cohort,
    FaultCase,
    FieldQuarantined,
    Kept,
    Logged,
    Marts,
    Quarantined,
    Refused,
)

pytestmark = pytest.mark.slow

CHECKED = {t: f"intermediate.int_{t}_checked" for t in TABLES}


@dataclass
class BuildRun:
    batch: Batch
    returncode: int
    stdout: str
    stderr: str
    seconds: float
    db_path: Path
    written_rows: dict[str, int]
    row_counts: dict[str, tuple[int, int, int]] = field(default_factory=dict)  # table -> (read, clean, quarantined)
    # a refused delivery: the published marts (and report files) before and after it
    published: tuple[dict[str, str], dict[str, str]] | None = None
    reports: tuple[list[str], list[str]] | None = None
    # ... and the build the report describes (its time and dbt results), before and after
    build_records: tuple[tuple[str, Any], tuple[str, Any]] | None = None

    @property
    def rows_lost(self) -> int:
        """Rows written to a file that are neither clean nor quarantined (or counted twice)."""
        if self.returncode != 0:
            return 0  # nothing is published by a failed build: loud, not lost
        return sum(
            abs(self.written_rows[t] - (clean + quarantined)) for t, (_, clean, quarantined) in self.row_counts.items()
        )


def _marts(db: Path) -> dict[str, str]:
    with duckdb.connect(str(db), read_only=True) as con:
        names = [
            r[0]
            for r in con.execute(
                "select table_name from information_schema.tables where table_schema = 'marts' order by 1"
            ).fetchall()
        ]
        return {n: table_fingerprint(con, "marts", n) for n in names}


def _reported_build(env: dict[str, str]) -> tuple[str, Any]:
    """The build time and dbt results a report of the published warehouse would print, read as
    the report reads them (ctd_rtp.report.loading)."""
    settings = Settings.from_env(env)
    reader = DuckDBReader(settings.db_path)
    info = collect_run_info(settings, datetime.now(UTC), "", None, reader, read_build_record(reader))
    return info.build_time.split("; file modified")[0], info.run_results


def _run_batch(batch: Batch, root: Path) -> BuildRun:
    raw, work = root / batch.name / "raw", root / batch.name / "wh"
    work.mkdir(parents=True)
    started = time.perf_counter()
    env = cli_env(work, raw)
    env.pop("CTD_RTP_PSEUDONYM_SALT", None)  # the expectations name the study ids
    refused = batch.refused
    reports = work / "reports"
    command, report_args = ["build"], []
    if refused is not None and refused.command == "run":
        command, report_args = ["run"], ["--out-dir", str(reports)]
    before: tuple[dict[str, str], list[str], tuple[str, Any]] | None = None
    if refused is not None:  # a good delivery published first, in the same folders
        Cohort.base().write(raw)
        run_cli([*command, "--quiet", *report_args], env)
        before = (_marts(work / "warehouse.duckdb"), sorted(p.name for p in reports.glob("*")), _reported_build(env))
    command += [*batch.cli(), *report_args]
    written = batch.cohort().write(raw)
    proc = run_cli(command, env, check=False)
    run = BuildRun(
        batch,
        proc.returncode,
        proc.stdout,
        proc.stderr,
        time.perf_counter() - started,
        work / "warehouse.duckdb",
        written,
    )
    if before is not None:
        run.published = (before[0], _marts(run.db_path))
        run.reports = (before[1], sorted(p.name for p in reports.glob("*")))
        run.build_records = (before[2], _reported_build(env))
    if proc.returncode == 0:
        with duckdb.connect(str(run.db_path), read_only=True) as con:
            for t in TABLES:
                read, clean = con.execute(
                    f"select count(*), count(*) filter (where rejection_reason is null) from {CHECKED[t]}"
                ).fetchone()
                (quarantined,) = con.execute(
                    "select count(*) from quarantine.quarantined_rows where source_table = ?", [t]
                ).fetchone()
                run.row_counts[t] = (read, clean, quarantined)
    return run


@pytest.fixture(scope="session")
def fault_builds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, BuildRun]:
    """Every batch built once (two builds at a time on this 2-core machine): case name -> its build."""
    root = tmp_path_factory.mktemp("faults")
    batches = faults.plan_batches()
    # the passing batches and the gate cases (two builds each) are the longest: start them first
    ordered = sorted(batches, key=lambda b: b.fails_build and b.refused is None)
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=2) as pool:
        runs = list(pool.map(lambda b: _run_batch(b, root), ordered))
    faults.SUITE_SECONDS = time.perf_counter() - started
    faults.BUILDS = len(runs)
    by_case: dict[str, BuildRun] = {}
    for run in runs:
        faults.BATCH_ROWS_LOST[run.batch.name] = run.rows_lost
        for c in run.batch.cases:
            by_case[c.name] = run
    return by_case


def _same(got: object, want: object) -> bool:
    if isinstance(want, float) and isinstance(got, (int, float)):
        return math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-12)
    return got == want


def _check(expectation: object, run: BuildRun, con: duckdb.DuckDBPyConnection | None) -> None:
    if isinstance(expectation, BuildFails):
        assert run.returncode == 3, f"expected exit 3, got {run.returncode}\n{run.stderr[-3000:]}"
        assert "Traceback" not in run.stderr, run.stderr[-3000:]
        missing = [f for f in expectation.fragments if f not in run.stderr]
        assert not missing, f"error output lacks {missing}:\n{run.stderr[-3000:]}"
        return
    if isinstance(expectation, Refused):
        assert run.returncode == 3, f"expected exit 3, got {run.returncode}\n{run.stdout[-2000:]}\n{run.stderr[-3000:]}"
        assert "Traceback" not in run.stderr, run.stderr[-3000:]
        missing = [f for f in expectation.fragments if f not in run.stderr]
        assert not missing, f"error output lacks {missing}:\n{run.stderr[-3000:]}"
        # said once, by the gate: not again as the failed dbt test it explains
        assert run.stderr.count("delivery refused") == 1 and "assert_delivery_quarantine" not in run.stderr, run.stderr
        assert run.published is not None and run.reports is not None
        assert run.published[1] == run.published[0], "the published marts changed"
        assert run.reports[1] == run.reports[0], f"report files changed: {run.reports}"
        # a report made now describes the published build, not the refused one (which dbt's
        # target/run_results.json describes)
        assert run.build_records is not None
        (built, results), (built_after, results_after) = run.build_records
        assert results and {r["status"] for r in results["results"]} <= {"pass", "success", "no-op"}, results
        assert (built_after, results_after) == (built, results), f"the report would describe {built_after}"
        if expectation.command == "run":
            assert run.reports[0], "the good run wrote no report"
            assert "statistics -> schema analysis" not in run.stdout and "report: " not in run.stdout, run.stdout
        return
    if isinstance(expectation, Logged):
        missing = [f for f in expectation.fragments if f not in run.stdout]
        assert not missing, f"log lacks {missing}:\n{run.stdout[-3000:]}"
        return
    assert con is not None
    if isinstance(expectation, Quarantined):
        rows = con.execute(
            "select rejection_reason, count(*) from quarantine.quarantined_rows "
            "where source_table = ? and row_key = ? group by 1 order by 1",
            [expectation.table, expectation.key],
        ).fetchall()
        assert rows == [(expectation.reason, expectation.count)], (
            f"{expectation.table} {expectation.key!r}: quarantined as {rows}, expected "
            f"{expectation.count} x {expectation.reason!r}"
        )
    elif isinstance(expectation, FieldQuarantined):
        rows = con.execute(
            "select field_name, rejection_reason from quarantine.quarantined_fields "
            "where source_table = ? and row_key = ? and row_rejection_reason is null order by 1",
            [expectation.table, expectation.key],
        ).fetchall()
        assert rows == [(expectation.field_name, expectation.reason)], (
            f"{expectation.table} {expectation.key!r}: quarantined fields {rows}, expected "
            f"{expectation.field_name} as {expectation.reason!r}"
        )
        (row_reason,) = con.execute(
            f"select rejection_reason from {CHECKED[expectation.table]} where {faults.ROW_KEY_SQL[expectation.table]} = ?",
            [expectation.key],
        ).fetchone()
        assert row_reason is None, (
            f"{expectation.table} {expectation.key!r}: the whole row was rejected ({row_reason!r})"
        )
    elif isinstance(expectation, Kept):
        columns = [c for c, _ in expectation.values]
        select = ", ".join(["rejection_reason", *columns])
        key_sql = faults.ROW_KEY_SQL[expectation.table]
        rows = con.execute(
            f"select {select} from {CHECKED[expectation.table]} where {key_sql} = ?", [expectation.key]
        ).fetchall()
        assert len(rows) == 1, (
            f"{expectation.table} {expectation.key!r}: {len(rows)} rows in {CHECKED[expectation.table]}"
        )
        reason, *values = rows[0]
        assert reason is None, f"{expectation.table} {expectation.key!r} was rejected: {reason!r}"
        wrong = {c: (g, w) for (c, w), g in zip(expectation.values, values) if not _same(g, w)}
        assert not wrong, f"{expectation.table} {expectation.key!r}: (got, expected) {wrong}"
    elif isinstance(expectation, Marts):
        rows = tuple(tuple(r) for r in con.execute(expectation.sql).fetchall())
        assert rows == expectation.rows, f"{expectation.what}: got {rows}"
    else:  # pragma: no cover - a new expectation type without a check
        raise TypeError(expectation)


@pytest.mark.parametrize("fault", CASES, ids=[c.name for c in CASES])
def test_fault_case(fault: FaultCase, fault_builds: dict[str, BuildRun]) -> None:
    run = fault_builds[fault.name]
    result = faults.CaseResult(fault.name, as_expected=False, batch=run.batch.name)
    faults.RESULTS[fault.name] = result
    try:
        if not fault.fails_build and fault.refused is None:
            assert run.returncode == 0, f"build of {run.batch.name} exited {run.returncode}:\n{run.stderr[-4000:]}"
            assert run.rows_lost == 0, (
                f"rows lost in {run.batch.name}: written {run.written_rows}, "
                f"(read, clean, quarantined) {run.row_counts}"
            )
        if run.returncode == 0:
            with duckdb.connect(str(run.db_path), read_only=True) as con:
                for expectation in fault.expected:
                    _check(expectation, run, con)
        else:
            for expectation in fault.expected:
                _check(expectation, run, None)
    except AssertionError as exc:
        result.detail = str(exc).splitlines()[0] if str(exc) else "assertion failed"
        raise
    result.as_expected = True


def test_fault_suite_is_broad_enough() -> None:
    assert len(CASES) >= 30
    assert len({c.name for c in CASES}) == len(CASES)
    assert sum(c.fails_build for c in CASES) >= 5
    assert sum(c.refused is not None for c in CASES) >= 3


def test_every_rejection_reason_is_documented() -> None:
    """Each reason text the SQL can write is spelled exactly so in docs/data-rejection.md."""
    import re

    root = Path(__file__).resolve().parents[2]
    doc = (root / "docs" / "data-rejection.md").read_text()
    sources = [
        *(root / "models" / "staging").glob("*.sql"),
        root / "macros" / "checked_rows.sql",
        *(root / "models" / "intermediate").glob("int_*_checked.sql"),
    ]
    reasons = set()
    for path in sources:
        text = path.read_text()
        reasons |= {r for r in re.findall(r"then '([^'{]+)'", text) if r not in ("<", ">", "sirolimus")}
        reasons |= set(re.findall(r"'reason': '([^']+)'", text))
    reasons |= {f"duplicate key ({k})" for k in ("exposure_id", "result_id", "ae_id", "patient_id, assessed_on")}
    assert len(reasons) > 40
    undocumented = sorted(r for r in reasons if f"`{r}`" not in doc)
    assert not undocumented, f"reasons missing from docs/data-rejection.md: {undocumented}"
    # a reason may end with the delivery format it read the value in: " [delivery.yml date_order: ymd]"
    promised = {
        re.sub(r" \[delivery\.yml .*\]$", "", e.reason)
        for c in CASES
        for e in c.expected
        if isinstance(e, (Quarantined, FieldQuarantined))
    }
    assert promised <= reasons, f"fault cases expect reasons no SQL writes: {promised - reasons}"
