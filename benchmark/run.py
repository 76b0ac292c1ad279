"""Benchmark: the warehouse against what a user would write instead, for cohorts of 1k, 10k,
100k (and 1M) patients and the demo, with every target of issue 16 printed met or not.

For each size: synthesize a SYNTHETIC cohort (`ctd-rtp synth --seed 1`, CSV by default), then
measure, each step in its own process (so peak memory is per step):
  - read: DuckDB reading every raw file once into tables (the engine floor);
  - the core job as one plain DuckDB SQL script (benchmark/reference_sql.py) and in
    straightforward pandas (benchmark/reference_pandas.py), whose outputs are then checked
    equal to the marts (benchmark/references.py; a difference stops the benchmark);
  - full build: `ctd-rtp build` on a fresh warehouse;
  - dbt's floor: the build's dbt command selecting no node (benchmark/dbt_floor.py), once from
    a fresh target folder (a full parse, as the first build pays) and once with the build's
    partial parse kept: no build that runs dbt can be faster;
  - incremental: a new lab extract file with repeat draws for 1% of the lab rows
    (`cohort.write_lab_extract`), then `ctd-rtp build` again;
  - statistics and report (on the warehouse after the incremental run);
  - `ctd-rtp run` twice (as `make run` twice): the second, with no input changed, is timed
    (no dbt, no statistics, no report: python/ctd_rtp/run_state.py).
`--repeat 2` times the references and the full build twice and keeps the best.
Prints a table and the targets, writes JSON. Not a test: it reports what it measured, met or not.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ctd_rtp import cohort
from ctd_rtp.warehouse import PROJECT_DIR

if TYPE_CHECKING:
    import duckdb

TIME = shutil.which("time") or "/usr/bin/time"


@dataclass
class Measure:
    seconds: float
    peak_rss_mb: float | None
    cpu_seconds: float | None = (
        None  # user + system of the process and its children: less noisy than wall time on a shared machine
    )


@dataclass
class Row:
    patients: int | str  # "demo": the bundled cohort
    lab_rows: int
    raw_mb: float
    synth_s: float | None  # None: the cohort of an earlier run was reused
    load: str  # `uptime` load averages when the size started
    floor: Measure
    sql_reference: Measure | None  # None: not run (above REFERENCES_MAX_PATIENTS)
    pandas_reference: Measure | None
    references_equal_marts: str  # what the check compared
    build: Measure
    incremental: Measure
    appended_rows: int
    stats: Measure
    report: Measure
    no_change_run: Measure
    report_mb: float | None
    # dbt selecting no node (benchmark/dbt_floor.py): from a fresh target folder, and with the
    # build's partial parse kept; the nodes the full build ran (its run_results.json)
    dbt_floor_fresh: Measure | None = None
    dbt_floor_kept: Measure | None = None
    build_nodes: int | None = None


def _measured(command: Sequence[str], env: dict[str, str]) -> Measure:
    """Wall time and peak resident memory of a command and its children (GNU time -f %M)."""
    use_time = Path(TIME).exists()
    full = [TIME, "-f", "MAXRSS_KB=%M CPU_S=%U+%S", *command] if use_time else list(command)
    started = time.perf_counter()
    proc = subprocess.run(full, cwd=PROJECT_DIR, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(
            f"{' '.join(command)} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        )
    match = re.search(r"MAXRSS_KB=(\d+) CPU_S=([\d.]+)\+([\d.]+)", proc.stderr)
    if not match:
        return Measure(round(seconds, 2), None)
    return Measure(
        round(seconds, 2), round(int(match.group(1)) / 1024, 1), round(float(match.group(2)) + float(match.group(3)), 2)
    )


def _best(measures: Sequence[Measure]) -> Measure:
    return min(measures, key=lambda m: m.seconds)


def load_average() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


FLOOR_SCRIPT = """
import duckdb, sys
from pathlib import Path
raw, db = Path(sys.argv[1]), sys.argv[2]
con = duckdb.connect(db)
for t in ("patients", "drug_exposures", "lab_results", "visit_assessments", "adverse_events"):
    files = sorted(raw.glob(f"{t}*.parquet")) or sorted(raw.glob(f"{t}*.csv"))
    read = (f"read_parquet({[str(f) for f in files]!r})" if files[0].suffix == ".parquet"
            else f"read_csv({[str(f) for f in files]!r}, header = true, all_varchar = true)")
    con.execute(f"create or replace table {t} as select * from {read}")
con.close()
"""


def _remove(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)


def _synthesized(n: int | str, raw: Path, fmt: str, label: str, log: Callable[[str], None]) -> float | None:
    """Write the SYNTHETIC cohort of n patients to `raw` unless an earlier run left the same one there.

    Returns the seconds synthesis took, or None when the earlier cohort was reused.
    """
    complete = raw / ".complete"
    # the raw contract's columns too: a cohort written by an older version is written again
    marker = f"{n} patients, seed {SEED}, {fmt}, columns {sorted(cohort.RAW_COLUMNS.items())}"
    if complete.exists() and complete.read_text() == marker:
        log(f"{label}: reusing the SYNTHETIC cohort in {raw} (delete it to synthesize again)")
        for extract in raw.glob("lab_results_*"):  # appended by an earlier run: start from the cohort alone
            extract.unlink()
        return None
    _remove(raw)
    log(f"{label}: synthesize (seed {SEED}, {fmt})")
    started = time.perf_counter()
    cohort.write_cohort(raw, int(n), seed=SEED, fmt=fmt, chunk_size=5000)
    synth_s = round(time.perf_counter() - started, 2)
    complete.write_text(marker)
    return synth_s


def _references_equal_marts(db: Path, workdir: Path, n: int | str, label: str) -> str:
    """Check both references' outputs equal the marts of `db`; the rows compared, or RuntimeError."""
    from benchmark.references import differences

    counts: dict[str, int] = {}
    problems: list[str] = []
    for name in ("sql", "pandas"):
        counts, found = differences(db, workdir / f"reference_{name}_{n}")
        problems += [f"{name} reference: {p}" for p in found]
    if problems:
        raise RuntimeError(f"{label}: a reference differs from the marts:\n" + "\n".join(problems[:20]))
    return ", ".join(f"{mart} {rows:,} rows" for mart, rows in counts.items())


def _count(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    """The single number a `select count(*)` query returns."""
    row = con.execute(sql).fetchone()
    assert row is not None  # an aggregate without group by always returns one row
    return row[0]


def run_size(n: int | str, workdir: Path, log: Callable[[str], None], fmt: str = "csv", repeat: int = 1) -> Row:
    """One cohort size (n patients, or "demo" for the bundled cohort) measured end to end."""
    demo = n == "demo"
    label = "demo" if demo else f"{n} patients"
    raw = PROJECT_DIR / "seeds" / "demo" if demo else workdir / f"raw_{n}_{fmt}"
    db = workdir / f"warehouse_{n}.duckdb"
    load = load_average()
    env = dict(os.environ)
    env.update(
        {
            "CTD_RTP_DB": str(db),
            "DBT_TARGET_PATH": str(workdir / f"target_{n}"),
            "DBT_LOG_PATH": str(workdir / f"logs_{n}"),
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
            "GX_ANALYTICS_ENABLED": "false",
        }
    )
    env.pop("CTD_RTP_RAW_DIR", None)
    synth_s = None
    if not demo:
        env["CTD_RTP_RAW_DIR"] = str(raw)
        synth_s = _synthesized(n, raw, fmt, label, log)
    raw_mb = round(sum(p.stat().st_size for p in raw.iterdir() if p.suffix in (".csv", ".parquet")) / 1e6, 1)
    for stale in (db, db.with_name(db.name + ".wal"), workdir / f"target_{n}"):
        _remove(stale)

    log(f"{label}: read every raw file once (load {load})")
    floor_db = workdir / f"floor_{n}.duckdb"
    floor_db.unlink(missing_ok=True)
    floor = _measured([sys.executable, "-c", FLOOR_SCRIPT, str(raw), str(floor_db)], env)
    floor_db.unlink(missing_ok=True)

    references: dict[str, Measure | None] = {"sql": None, "pandas": None}
    with_references = demo or int(n) <= REFERENCES_MAX_PATIENTS
    if not with_references:
        log(f"{label}: no references (no target compares with them above {REFERENCES_MAX_PATIENTS:,} patients)")
    for name in ("sql", "pandas") if with_references else ():
        out = workdir / f"reference_{name}_{n}"
        log(f"{label}: the core job in {'plain DuckDB SQL' if name == 'sql' else 'pandas'}")
        references[name] = _best(
            [
                _measured([sys.executable, "-m", f"benchmark.reference_{name}", str(raw), str(out)], env)
                for _ in range(repeat)
            ]
        )

    log(f"{label}: full build")
    builds = []
    for attempt in range(repeat):
        if attempt:
            builds.append(_measured([*CLI, "build", "--quiet", "--full-refresh"], env))
        else:
            builds.append(_measured([*CLI, "build", "--quiet"], env))
    build = _best(builds)
    import duckdb

    build_nodes = len(json.loads((workdir / f"target_{n}" / "run_results.json").read_text())["results"])
    log(f"{label}: dbt's floor, the build's dbt command selecting no node (fresh target folder, then the build's)")
    fresh_target = workdir / f"floor_target_{n}"
    _remove(fresh_target)
    dbt_floor_fresh = _measured(
        [sys.executable, "-m", "benchmark.dbt_floor"], {**env, "DBT_TARGET_PATH": str(fresh_target)}
    )
    _remove(fresh_target)
    dbt_floor_kept = _measured([sys.executable, "-m", "benchmark.dbt_floor"], env)

    equal = "not run"
    if with_references:
        equal = _references_equal_marts(db, workdir, n, label)
        log(f"{label}: both references equal the marts ({equal})")
    with duckdb.connect(str(db), read_only=True) as con:
        lab_rows = _count(con, "select count(*) from staging.stg_lab_results")

    appended_rows = 0
    if demo:
        log(f"{label}: no lab extract for the bundled cohort (its folder is the project's seeds)")
        incremental = Measure(float("nan"), None)
    else:
        log(f"{label}: incremental build after a 1% lab extract")
        extract = cohort.write_lab_extract(raw, 0.01, seed=1)
        with duckdb.connect() as con:
            read = f"read_parquet('{extract}')" if fmt == "parquet" else f"read_csv('{extract}', header = true)"
            appended_rows = _count(con, f"select count(*) from {read}")
        incremental = _measured([*CLI, "build", "--quiet"], env)

    log(f"{label}: statistics")
    stats = _measured([*CLI, "stats"], env)
    log(f"{label}: report")
    report_dir = workdir / f"reports_{n}"
    report = _measured([*CLI, "report", "--out-dir", str(report_dir)], env)
    # `make run` twice: the first run leaves the record that lets the second skip its work
    log(f"{label}: ctd-rtp run (statistics and report again: no run has recorded them yet)")
    _measured([*CLI, "run", "--quiet", "--out-dir", str(report_dir)], env)
    log(f"{label}: ctd-rtp run again, no input changed")
    no_change = _measured([*CLI, "run", "--quiet", "--out-dir", str(report_dir)], env)
    latest = report_dir / "ctd_rtp_report_latest.html"
    return Row(
        patients=n,
        lab_rows=int(lab_rows),
        raw_mb=raw_mb,
        synth_s=synth_s,
        load=load,
        floor=floor,
        sql_reference=references["sql"],
        pandas_reference=references["pandas"],
        references_equal_marts=equal,
        build=build,
        incremental=incremental,
        appended_rows=int(appended_rows),
        stats=stats,
        report=report,
        no_change_run=no_change,
        report_mb=round(latest.stat().st_size / 1e6, 2) if latest.exists() else None,
        dbt_floor_fresh=dbt_floor_fresh,
        dbt_floor_kept=dbt_floor_kept,
        build_nodes=build_nodes,
    )


SEED = 1
CLI = [sys.executable, "-m", "ctd_rtp.cli"]
# The targets compare the build with the references at 100,000 patients; above that they are not
# run: the pandas reference peaked at 7.3 GB at 100k, so 1M would need about 70 GB.
REFERENCES_MAX_PATIENTS = 100_000
GIB = 1024.0


@dataclass
class Target:
    size: str
    what: str
    measured: str
    met: bool | None  # None: not measured in this run


def floor_note(r: Row, limit_s: float) -> str:
    """For a build-time limit below dbt's floor measured at that size: say it is out of reach."""
    floor = r.dbt_floor_kept
    if floor is None or limit_s >= floor.seconds:
        return ""
    return (
        f"; below dbt's floor here ({floor.seconds} s selecting no node, partial parse kept):"
        " no build that runs dbt meets it"
    )


def targets(rows: Sequence[Row]) -> list[Target]:
    """Every target of issue 16 for the sizes measured, with the ratio or figure measured."""
    by_size = {r.patients: r for r in rows}
    out: list[Target] = []

    def add(size: int | str, what: str, value: float, limit: float, text: str) -> None:
        out.append(Target(f"{size:,}" if isinstance(size, int) else str(size), what, text, value <= limit))

    if (r := by_size.get(100_000)) is not None and r.sql_reference and r.pandas_reference:
        add(
            100_000,
            "full build <= 2x the plain-SQL reference",
            r.build.seconds / r.sql_reference.seconds,
            2.0,
            f"{r.build.seconds / r.sql_reference.seconds:.2f}x ({r.build.seconds} s / {r.sql_reference.seconds} s)",
        )
        add(
            100_000,
            "full build >= 2x faster than the pandas reference",
            r.build.seconds / r.pandas_reference.seconds,
            0.5,
            f"{r.pandas_reference.seconds / r.build.seconds:.2f}x faster ({r.pandas_reference.seconds} s / "
            f"{r.build.seconds} s)",
        )
        peak = (r.build.peak_rss_mb or float("inf")) / GIB
        add(100_000, "full build peak memory <= 4 GiB", peak, 4.0, f"{peak:.2f} GiB")
        both = r.stats.seconds + r.report.seconds
        add(
            100_000, "statistics + report <= 10 s", both, 10.0, f"{both:.1f} s ({r.stats.seconds} + {r.report.seconds})"
        )
    if (r := by_size.get(10_000)) is not None:
        add(10_000, "full build <= 8 s", r.build.seconds, 8.0, f"{r.build.seconds} s{floor_note(r, 8.0)}")
    for size in (1_000, "demo"):
        if (r := by_size.get(size)) is not None:
            add(size, "full build <= 5 s", r.build.seconds, 5.0, f"{r.build.seconds} s{floor_note(r, 5.0)}")
    for r in rows:
        if r.patients != "demo":
            share = r.incremental.seconds / r.build.seconds
            add(
                r.patients,
                "incremental after a 1% lab extract <= 15% of the full build",
                share,
                0.15,
                f"{share:.0%} ({r.incremental.seconds} s){floor_note(r, 0.15 * r.build.seconds)}",
            )
    for r in rows:
        add(
            r.patients,
            "a run with no input changed <= 5 s",
            r.no_change_run.seconds,
            5.0,
            f"{r.no_change_run.seconds} s",
        )
    if (r := by_size.get(1_000_000)) is not None:
        add(1_000_000, "full build <= 10 min", r.build.seconds, 600.0, f"{r.build.seconds / 60:.1f} min")
        peak = (r.build.peak_rss_mb or float("inf")) / GIB
        add(1_000_000, "full build peak memory <= 12 GiB", peak, 12.0, f"{peak:.2f} GiB")
    return out


def machine() -> dict[str, str]:
    mem_kb = (
        next(
            (
                int(line.split()[1])
                for line in Path("/proc/meminfo").read_text().splitlines()
                if line.startswith("MemTotal")
            ),
            0,
        )
        if Path("/proc/meminfo").exists()
        else 0
    )
    return {
        "cores": str(os.cpu_count()),
        "memory_gib": f"{mem_kb / 1024 / 1024:.0f}",
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def format_table(rows: Sequence[Row]) -> str:
    header = (
        "patients",
        "lab rows",
        "load",
        "read once s",
        "SQL reference s",
        "pandas reference s",
        "build s",
        "build CPU s",
        "build / SQL",
        "pandas / build",
        "build peak MB",
        "+1% rows",
        "incremental s",
        "incremental / build",
        "stats s",
        "report s",
        "no-change run s",
        "dbt floor s, fresh / kept",
        "build nodes",
    )
    lines = [" | ".join(header), " | ".join("---" for _ in header)]
    for r in rows:
        incremental = "-" if r.patients == "demo" else f"{r.incremental.seconds} "
        share = "-" if r.patients == "demo" else f"{r.incremental.seconds / r.build.seconds:.0%}"
        lines.append(
            " | ".join(
                str(v)
                for v in (
                    r.patients if r.patients == "demo" else f"{r.patients:,}",
                    f"{r.lab_rows:,}",
                    r.load,
                    r.floor.seconds,
                    r.sql_reference.seconds if r.sql_reference else "-",
                    r.pandas_reference.seconds if r.pandas_reference else "-",
                    r.build.seconds,
                    r.build.cpu_seconds,
                    f"{r.build.seconds / r.sql_reference.seconds:.1f}" if r.sql_reference else "-",
                    f"{r.pandas_reference.seconds / r.build.seconds:.2f}" if r.pandas_reference else "-",
                    r.build.peak_rss_mb,
                    f"{r.appended_rows:,}" if r.patients != "demo" else "-",
                    incremental.strip(),
                    share,
                    r.stats.seconds,
                    r.report.seconds,
                    r.no_change_run.seconds,
                    f"{r.dbt_floor_fresh.seconds} / {r.dbt_floor_kept.seconds}"
                    if r.dbt_floor_fresh and r.dbt_floor_kept
                    else "-",
                    r.build_nodes if r.build_nodes is not None else "-",
                )
            )
        )
    return "\n".join(lines)


def format_targets(found: Sequence[Target]) -> str:
    return "\n".join(f"{'MET    ' if t.met else 'NOT MET'}  {t.size:>9}  {t.what}: {t.measured}" for t in found)


def main(
    sizes: Sequence[int | str],
    workdir: Path,
    json_out: Path,
    log: Callable[[str], None] = print,
    fmt: str = "csv",
    repeat: int = 1,
) -> list[Row]:
    workdir.mkdir(parents=True, exist_ok=True)
    started = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    rows = [run_size(n, workdir, log, fmt, repeat) for n in sizes]
    found = targets(rows)
    json_out.parent.mkdir(parents=True, exist_ok=True)
    json_out.write_text(
        json.dumps(
            {
                "started": started,
                "format": fmt,
                "repeat": repeat,
                "machine": machine(),
                "rows": [asdict(r) for r in rows],
                "targets": [asdict(t) for t in found],
            },
            indent=2,
            default=str,
        )
    )
    print(format_table(rows))
    print()
    print(format_targets(found))
    print(f"started {started}; machine: {machine()}; format {fmt}, best of {repeat}  (JSON: {json_out})")
    return rows
