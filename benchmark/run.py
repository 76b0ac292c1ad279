"""Benchmark: where the time goes for cohorts of 1k, 10k, 100k (and 1M) patients.

For each size: synthesize a SYNTHETIC cohort as Parquet, then measure, each step in its own
process (so peak memory is per step):
  - engine floor: DuckDB reading the same raw files once into tables;
  - full build: `ctd-rtp build` on a fresh warehouse;
  - incremental: a new lab extract file with repeat draws for 1% of the lab rows
    (`cohort.write_lab_extract`), then `ctd-rtp build` again, which processes only that file
    (and the patient x analyte pairs it touches);
  - statistics and report (on the warehouse after the incremental run).
Prints a table and writes JSON. Not a test: it reports what it measured, met or not.
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Sequence

from ctd_rtp import cohort
from ctd_rtp.warehouse import PROJECT_DIR

TIME = shutil.which("time") or "/usr/bin/time"


@dataclass
class Measure:
    seconds: float
    peak_rss_mb: float | None


@dataclass
class Row:
    patients: int
    lab_rows: int
    raw_mb: float
    synth_s: float | None  # None: the cohort of an earlier run was reused
    floor: Measure
    build: Measure
    incremental: Measure
    appended_rows: int
    stats: Measure
    report: Measure
    build_over_floor: float
    report_mb: float | None


def _measured(command: Sequence[str], env: dict[str, str]) -> Measure:
    """Wall time and peak resident memory of a command and its children (GNU time -f %M)."""
    use_time = Path(TIME).exists()
    full = [TIME, "-f", "MAXRSS_KB=%M", *command] if use_time else list(command)
    started = time.perf_counter()
    proc = subprocess.run(full, cwd=PROJECT_DIR, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    match = re.search(r"MAXRSS_KB=(\d+)", proc.stderr)
    return Measure(round(seconds, 2), round(int(match.group(1)) / 1024, 1) if match else None)


FLOOR_SCRIPT = """
import duckdb, sys
raw, db = sys.argv[1], sys.argv[2]
con = duckdb.connect(db)
for t in ("patients", "drug_exposures", "lab_results", "visit_assessments", "adverse_events"):
    con.execute(f"create or replace table {t} as select * from read_parquet('{raw}/{t}*.parquet')")
con.close()
"""


def run_size(n: int, workdir: Path, log: Callable[[str], None]) -> Row:
    raw = workdir / f"raw_{n}"
    db = workdir / f"warehouse_{n}.duckdb"
    complete = raw / ".complete"
    reuse = complete.exists() and complete.read_text() == f"{n} patients, seed {n}"
    for path in ([db] if reuse else [raw, db]):
        shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)
    for extract in raw.glob("lab_results_*"):  # appended by an earlier run: start from the cohort alone
        extract.unlink()
    env = dict(os.environ)
    env.update({
        "CTD_RTP_RAW_DIR": str(raw), "CTD_RTP_DB": str(db),
        "DBT_TARGET_PATH": str(workdir / f"target_{n}"), "DBT_LOG_PATH": str(workdir / f"logs_{n}"),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false", "GX_ANALYTICS_ENABLED": "false",
    })
    cli = [sys.executable, "-m", "ctd_rtp.cli"]

    synth_s = None
    if reuse:
        log(f"{n} patients: reusing the SYNTHETIC cohort in {raw} (delete it to synthesize again)")
    else:
        log(f"{n} patients: synthesize")
        started = time.perf_counter()
        cohort.write_cohort(raw, n, seed=n, fmt="parquet", chunk_size=5000)
        synth_s = round(time.perf_counter() - started, 2)
        complete.write_text(f"{n} patients, seed {n}")
    raw_mb = round(sum(p.stat().st_size for p in raw.iterdir()) / 1e6, 1)

    log(f"{n} patients: engine floor")
    floor_db = workdir / f"floor_{n}.duckdb"
    floor_db.unlink(missing_ok=True)
    floor = _measured([sys.executable, "-c", FLOOR_SCRIPT, str(raw), str(floor_db)], env)
    floor_db.unlink(missing_ok=True)

    log(f"{n} patients: full build")
    build = _measured([*cli, "build", "--quiet"], env)
    import duckdb

    with duckdb.connect(str(db), read_only=True) as con:
        lab_rows = con.execute("select count(*) from staging.stg_lab_results").fetchone()[0]

    log(f"{n} patients: incremental build after a 1% lab extract")
    extract = cohort.write_lab_extract(raw, 0.01, seed=1)
    with duckdb.connect() as con:
        appended_rows = con.execute(f"select count(*) from read_parquet('{extract}')").fetchone()[0]
    incremental = _measured([*cli, "build", "--quiet"], env)

    log(f"{n} patients: statistics")
    stats = _measured([*cli, "stats"], env)
    log(f"{n} patients: report")
    report_dir = workdir / f"reports_{n}"
    report = _measured([*cli, "report", "--out-dir", str(report_dir)], env)
    latest = report_dir / "ctd_rtp_report_latest.html"
    return Row(
        patients=n, lab_rows=int(lab_rows), raw_mb=raw_mb, synth_s=synth_s, floor=floor, build=build,
        incremental=incremental, appended_rows=int(appended_rows), stats=stats, report=report,
        build_over_floor=round(build.seconds / floor.seconds, 1) if floor.seconds else float("nan"),
        report_mb=round(latest.stat().st_size / 1e6, 2) if latest.exists() else None,
    )


def machine() -> dict[str, str]:
    mem_kb = next((int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                   if line.startswith("MemTotal")), 0) if Path("/proc/meminfo").exists() else 0
    return {"cores": str(os.cpu_count()), "memory_gib": f"{mem_kb / 1024 / 1024:.0f}",
            "python": platform.python_version(), "platform": platform.platform()}


def format_table(rows: Sequence[Row]) -> str:
    header = ("patients", "lab rows", "raw MB", "floor s", "build s", "build/floor", "build peak MB",
              "+1% rows", "incremental s", "incremental/build", "stats s", "report s", "report MB")
    lines = [" | ".join(header), " | ".join("---" for _ in header)]
    for r in rows:
        lines.append(" | ".join(str(v) for v in (
            f"{r.patients:,}", f"{r.lab_rows:,}", r.raw_mb, r.floor.seconds, r.build.seconds, r.build_over_floor,
            r.build.peak_rss_mb, f"{r.appended_rows:,}", r.incremental.seconds,
            f"{r.incremental.seconds / r.build.seconds:.0%}",
            r.stats.seconds, r.report.seconds, r.report_mb,
        )))
    return "\n".join(lines)


def main(sizes: Sequence[int], workdir: Path, json_out: Path, log: Callable[[str], None] = print) -> list[Row]:
    workdir.mkdir(parents=True, exist_ok=True)
    rows = [run_size(n, workdir, log) for n in sizes]
    json_out.parent.mkdir(parents=True, exist_ok=True)
    json_out.write_text(json.dumps({"machine": machine(), "rows": [asdict(r) for r in rows]}, indent=2))
    print(format_table(rows))
    print(f"machine: {machine()}  (JSON: {json_out})")
    return rows
