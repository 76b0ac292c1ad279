"""Command line: `ctd-rtp run` builds the warehouse, runs the statistics, renders the report.

Exit codes (for schedulers):
  0  success
  1  unexpected error (a bug: the traceback is printed)
  2  bad usage or configuration (missing input folder, bad option)
  3  dbt build failed (a test or model failed; the failing nodes are listed), or the delivery
     gate refused the delivery (a raw table with more than var max_quarantined_share of its rows
     quarantined, a mart that had rows coming out empty, an empty core mart: the message names
     the table, the counts and the top reasons). Nothing is published, the report step does not
     run; `--accept-delivery` publishes anyway (docs/data-rejection.md section 7, the delivery gate).
  4  validation failed (Great Expectations); the last good report is left in place
  5  the warehouse is in use by another process
  6  the warehouse or a table is missing (build first)

`ctd-rtp check DIR` (a delivery check before any build; it never writes the warehouse):
  0  the delivery would be accepted: no raw table's share of rows quarantined by the rules it
     evaluates exceeds var max_quarantined_share (dbt_project.yml, or --vars)
  2  bad usage (the folder is missing, --vars is not YAML)
  3  the delivery would be refused: a table above the share, or a file or setting that would
     stop the build (not readable, a column missing, a bad delivery.yml or local map)
"""

from __future__ import annotations

import argparse
import errno
import os
import re
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from . import cohort, gate, incremental, run_state
from .dbt import MEMORY_LIMIT_VAR, THREADS_VAR, BadVars, DbtFailed, dbt_threads, parse_vars, run_dbt
from .warehouse import (
    DEFAULT_DB_NAME,
    Settings,
    WarehouseInUse,
    WarehouseMissing,
    connect,
    discard_stale_copy,
    engine_from_env,
    exclusive_run,
    staged_copy,
)

EXIT_OK, EXIT_BUG, EXIT_USAGE, EXIT_DBT, EXIT_VALIDATION, EXIT_IN_USE, EXIT_MISSING = 0, 1, 2, 3, 4, 5, 6


class UsageError(RuntimeError):
    """Bad option or configuration: exit 2."""


def log(message: str) -> None:
    print(f"[ctd-rtp {time.strftime('%H:%M:%S')}] {message}", flush=True)


@contextmanager
def step(name: str) -> Iterator[None]:
    """One log line when a step starts and one with its duration when it ends."""
    log(f"{name} ...")
    started = time.perf_counter()
    yield
    log(f"{name} done in {time.perf_counter() - started:.1f}s")


def _writable_folder(folder: Path, what: str) -> None:
    """Stop before any work (exit 2) when `folder` cannot be created or written to. Folders the
    check had to create are removed again: a run that stops later leaves nothing behind."""
    created = [p for p in (folder, *folder.parents) if not p.exists()]
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".ctd-rtp-write-check-"):
            pass
    except OSError as exc:
        raise UsageError(f"{what} {folder} is not writable ({exc.strerror or exc}): choose a writable folder") from None
    finally:
        for path in created:  # deepest first
            try:
                path.rmdir()
            except OSError:
                break


def _usable_warehouse_path(settings: Settings) -> None:
    """dbt-duckdb writes the warehouse path into SQL unescaped: a quote in it would fail deep in
    dbt, so it is refused here, naming the path. Spaces and other characters work."""
    if any(q in str(settings.db_path) for q in "'\""):
        raise UsageError(
            f"the warehouse path {settings.db_path} contains a quote character, which dbt "
            "cannot use in a DuckDB path; set CTD_RTP_DB to a path without quotes"
        )
    _writable_folder(settings.db_path.parent, "the warehouse folder")


def cmd_synth(args: argparse.Namespace, settings: Settings) -> int:
    out = Path(args.out)
    if args.lab_extract is not None:
        with step(
            f"append a SYNTHETIC lab extract ({args.lab_extract:.1%} of the lab rows, seed {args.seed}) to {out}"
        ):
            try:
                path = cohort.write_lab_extract(out, args.lab_extract, args.seed)
            except (ValueError, FileNotFoundError, FileExistsError) as exc:
                raise UsageError(str(exc)) from exc
            log(f"  wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")
        return EXIT_OK
    with step(f"synthesize {args.patients} patients (seed {args.seed}, {args.format}) into {out}"):
        for path in cohort.write_cohort(out, args.patients, args.seed, args.format, args.chunk_size):
            log(f"  wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")
    return EXIT_OK


def _engine() -> str:
    try:
        return engine_from_env()
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def _duckdb_only(command: str) -> None:
    if _engine() != "duckdb":
        raise UsageError(
            f"`ctd-rtp {command}` builds the DuckDB file only; on Spark build with "
            "`.venv-spark/bin/dbt build --target spark`, then run `ctd-rtp stats` and `ctd-rtp report` "
            "with CTD_RTP_ENGINE=spark from .venv-spark (README: Run on Spark)"
        )


def _check_vars(args: argparse.Namespace, settings: Settings) -> None:
    """Bad --vars is bad usage (exit 2), found before any lock or copy is taken."""
    try:
        parse_vars(getattr(args, "vars", None), settings.project_dir)
    except BadVars as exc:
        raise UsageError(str(exc)) from None


def _check_build_settings() -> None:
    """A memory limit that is not a size (a number and a unit, e.g. 3GB) is bad usage (exit 2),
    named before dbt starts; DuckDB judges the unit. The same for a thread count that is not a
    whole number from 1 (profiles.yml reads both)."""
    value = os.environ.get(MEMORY_LIMIT_VAR)
    if value is not None and not re.fullmatch(r"\s*\d+(\.\d+)?\s*[A-Za-z]+\s*", value):
        raise UsageError(
            f"{MEMORY_LIMIT_VAR}={value!r} is not a memory size: give a number and a unit, e.g. 3GB or 500MB"
        )
    threads = os.environ.get(THREADS_VAR)
    if threads is not None and not re.fullmatch(r"\s*[1-9]\d*\s*", threads):
        raise UsageError(
            f"{THREADS_VAR}={threads!r} is not a number of dbt threads: give a whole number from 1, e.g. 1 or 2"
        )


def _fold_study_vars(args: argparse.Namespace, settings: Settings) -> None:
    """CTD_RTP_STUDY=path: the study file's vars go to dbt under the user's --vars, once, here,
    so every step (the build, the incremental fingerprint, `check`) sees the same vars."""
    from .study import BadStudy, merged_vars

    if settings.study_path is None or not hasattr(args, "vars"):
        return
    try:
        args.vars = merged_vars(settings.project_dir, settings.study_path, args.vars)
    except BadStudy as exc:
        raise UsageError(str(exc)) from None
    log(f"study definition: {settings.study_path}")


def cmd_build(args: argparse.Namespace, settings: Settings) -> int:
    _duckdb_only("build")
    _check_vars(args, settings)
    _check_build_settings()
    _usable_warehouse_path(settings)
    with exclusive_run(settings.db_path):
        if _unchanged(args, settings):
            return EXIT_OK
        with staged_copy(settings) as working:
            _build(args, working)
    return EXIT_OK


def _unchanged(args: argparse.Namespace, settings: Settings) -> bool:
    """True (and a log line) when no input changed since a build whose delivery passed the gate:
    the published warehouse is what dbt would build again, so neither dbt nor the copy runs."""
    if getattr(args, "full_refresh", False) or not settings.db_path.exists():
        return False
    if settings.raw_dir is not None and not settings.raw_dir.is_dir():
        return False  # _build says why
    inputs = incremental.current_inputs(settings.project_dir, settings.raw_dir, getattr(args, "vars", None))
    with connect(settings.db_path) as con:
        decided = incremental.plan(incremental.read_state(con), inputs)
    if decided.skip:
        discard_stale_copy(settings)  # what a killed run left
        log(f"incremental: {decided.reason} (the published {settings.db_path} stands)")
    return decided.skip


def _build(args: argparse.Namespace, settings: Settings) -> None:
    if settings.raw_dir is not None and not settings.raw_dir.is_dir():
        raise UsageError(f"CTD_RTP_RAW_DIR={settings.raw_dir} is not a folder")
    source = f"own data in {settings.raw_dir}" if settings.raw_dir else "bundled SYNTHETIC demo cohort"
    published = settings.db_path.with_name(settings.db_path.name.removesuffix(".building"))
    dbt_vars = getattr(args, "vars", None)
    inputs = incremental.current_inputs(settings.project_dir, settings.raw_dir, dbt_vars)
    build_plan = incremental.Plan(True, "--full-refresh asked for")
    if not getattr(args, "full_refresh", False):
        previous = None
        if settings.db_path.exists():
            with connect(settings.db_path) as con:
                previous = incremental.read_state(con)
        build_plan = incremental.plan(previous, inputs)
    kind = "full refresh" if build_plan.full_refresh else "incremental"
    log(f"{kind}: {build_plan.reason}")
    threads, why = dbt_threads(settings)
    if why != "the default":
        log(f"dbt threads: {threads} ({why})")
    accept = getattr(args, "accept_delivery", False)
    previous_marts = gate.mart_rows(settings.db_path)  # the copy of the published warehouse, before dbt
    gate_failed: DbtFailed | None = None
    if settings.raw_dir is not None:
        _utf8_copies(settings)
    with step(f"dbt build, {kind} ({source}) -> {published} (built on a private copy, published when done)"):
        # dbt unit tests check the SQL, not the delivery: `make test` runs them
        # (tests/python/test_dbt_project.py), a production build does not
        dbt_args = ["build", "--exclude-resource-type", "unit_test"]
        run_vars = _with_accept(dbt_vars, settings.project_dir) if accept else dbt_vars
        if run_vars:
            dbt_args += ["--vars", run_vars]
        if build_plan.full_refresh:
            dbt_args.append("--full-refresh")
        try:
            run_dbt(settings, dbt_args, quiet=getattr(args, "quiet", False))
        except DbtFailed as exc:
            # the gate's own dbt test alone failed: the gate below says why, once
            if not exc.nodes or set(exc.nodes) != {gate.DBT_TEST}:
                raise
            gate_failed = exc
    _log_quarantine(settings)
    passed = _check_delivery(settings, previous_marts, accept, gate_failed)
    with connect(settings.db_path, read_only=False) as con:
        incremental.write_state(con, inputs, "passed" if passed else "accepted")


def _with_accept(dbt_vars: str | None, project_dir: Path) -> str:
    """The user's --vars (checked by parse_vars) plus accept_delivery: true (dbt takes one mapping)."""
    import json

    return json.dumps({**parse_vars(dbt_vars, project_dir), "accept_delivery": True}, default=str)


def _check_delivery(
    settings: Settings, previous_marts: dict[str, int] | None, accept: bool, gate_failed: DbtFailed | None
) -> bool:
    """The delivery gate on the working copy: refuse (exit 3, nothing published) or accept.
    True when the delivery passed, False when it was accepted over a refusal."""
    delivery = gate.read_delivery(settings.db_path)
    found = gate.refusals(delivery, previous_marts)
    if not found:
        if gate_failed is not None:  # dbt and the gate disagree: show dbt's own words
            raise gate_failed
        log(
            "delivery gate: passed (max_quarantined_share "
            f"{delivery.max_share:.1%}; highest share {max((t.share for t in delivery.tables), default=0):.1%})"
        )
        return True
    if accept:
        log(gate.accepted_line(found))
        return False
    raise gate.DeliveryRefused(gate.refusal_message(found, delivery.max_share))


def _utf8_copies(settings: Settings) -> None:
    """Files delivery.yml declares in another encoding: read with Python's codecs, a UTF-8 copy
    beside the warehouse for dbt to read (the delivered file is not changed)."""
    from . import delivery

    out = delivery.utf8_copy_dir(settings.db_path)
    try:
        copies = delivery.write_utf8_copies(settings.raw_dir, out) if settings.raw_dir else []
    except delivery.DeliveryError as exc:
        raise UsageError(str(exc)) from None
    for name, encoding in copies:
        log(f"  {name}: read as {encoding} (delivery.yml), UTF-8 copy in {out}")


def _log_quarantine(settings: Settings) -> None:
    """A successful build can still have held rows back: say how many and why."""
    with connect(settings.db_path) as con:
        rows = con.execute(
            "select source_table, rejection_reason, count(*) from quarantine.quarantined_rows "
            "group by all order by 1, 3 desc"
        ).fetchall()
    if not rows:
        log("quarantine: no rows held back")
        return
    log(f"quarantine: {sum(r[2] for r in rows)} raw row(s) held back (see quarantine.quarantined_rows):")
    for table, reason, n in rows:
        log(f"  {table}: {n} x {reason}")


def cmd_stats(args: argparse.Namespace, settings: Settings) -> int:
    if _engine() == "spark":  # the Spark catalog: analysis tables replaced in place (no staged copy)
        _stats(settings, getattr(args, "min_cell_count", 0), getattr(args, "listing_max_patients", None))
        return EXIT_OK
    if not settings.db_path.exists():  # before the lock: no stray <db>.run.lock beside no warehouse
        raise WarehouseMissing(f"no warehouse at {settings.db_path}: run `ctd-rtp build` (or `make run`) first")
    _usable_warehouse_path(settings)
    with exclusive_run(settings.db_path), staged_copy(settings) as working:
        _stats(working, getattr(args, "min_cell_count", 0), getattr(args, "listing_max_patients", None))
    return EXIT_OK


def _stats(settings: Settings, min_cell_count: int = 0, listing_max_patients: int | None = None) -> None:
    from .analysis import run_analysis

    with step(f"statistics -> schema analysis ({_engine()})"):
        tables = run_analysis(settings, min_cell_count=min_cell_count, listing_max_patients=listing_max_patients)
        for name, frame in tables.items():
            log(f"  analysis.{name}: {len(frame)} rows")


def _cell_count(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("--min-cell-count must be 0 (off) or a positive count")
    return value


def default_report_dir(settings: Settings) -> Path:
    """<project>/reports for the project's own warehouse.duckdb; a `reports` folder beside any
    other warehouse (CTD_RTP_DB), so a run on one cohort never overwrites another's report."""
    if settings.db_path == (settings.project_dir / DEFAULT_DB_NAME).resolve():
        return settings.project_dir / "reports"
    return settings.db_path.parent / "reports"


def cmd_report(args: argparse.Namespace, settings: Settings) -> int:
    from .report import generate_report

    _engine()  # a bad CTD_RTP_ENGINE is a usage error
    out_dir = Path(args.out_dir) if args.out_dir else default_report_dir(settings)
    _writable_folder(out_dir, "the report folder")
    result = generate_report(settings, out_dir, log=log, docx=getattr(args, "docx", False))
    log(f"report written: {result.dated_path}")
    log(f"latest report:  {result.latest_path}")
    if result.docx_path is not None:
        log(f"word tables:    {result.docx_path}")
    return EXIT_OK


def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    _duckdb_only("run")
    _check_vars(args, settings)
    _check_build_settings()
    _usable_warehouse_path(settings)
    _writable_folder(Path(args.out_dir) if args.out_dir else default_report_dir(settings), "the report folder")
    started = time.perf_counter()
    # build and statistics on a private copy, published together: readers never see marts
    # from one run beside statistics from another
    out_dir = Path(args.out_dir) if args.out_dir else default_report_dir(settings)
    options = _run_options(args)
    with exclusive_run(settings.db_path):
        unchanged = _unchanged(args, settings)
        if unchanged:
            with connect(settings.db_path) as con:
                why = run_state.why_not_current(out_dir, con, options)
            if why is None:
                log(f"nothing to do: the statistics and the report {out_dir / run_state.REPORT_FILES[0]} are current")
                log("  (`ctd-rtp run --full-refresh` rebuilds and rewrites everything)")
                log(f"all done in {time.perf_counter() - started:.1f}s")
                return EXIT_OK
            log(f"statistics and report: rerun ({why})")
        with staged_copy(settings) as working:
            if not unchanged:
                _build(args, working)
            _stats(working, getattr(args, "min_cell_count", 0), getattr(args, "listing_max_patients", None))
        log(f"published {settings.db_path}")
        code = cmd_report(args, settings)
        if code == EXIT_OK:
            with connect(settings.db_path) as con:
                run_state.record(out_dir, con, options)
    log(f"all done in {time.perf_counter() - started:.1f}s")
    return code


def _run_options(args: argparse.Namespace) -> dict[str, object]:
    """The options that change what `run` writes after the build (see run_state)."""
    return {
        "min_cell_count": getattr(args, "min_cell_count", 0),
        "listing_max_patients": getattr(args, "listing_max_patients", None),
        "docx": bool(getattr(args, "docx", False)),
    }


def cmd_check(args: argparse.Namespace, settings: Settings) -> int:
    from . import check

    folder = Path(args.folder)
    if not folder.is_dir():
        raise UsageError(f"{folder} is not a folder (ctd-rtp check DIR: the folder of raw files)")
    # not into the delivery folder: a check only reads the delivery
    stub = Path(args.map_stub) if args.map_stub else Path.cwd() / "lab_test_map.stub.csv"
    try:
        return check.main(folder.resolve(), settings.project_dir, args.vars, stub)
    except check.CheckUsageError as exc:
        raise UsageError(str(exc)) from None


def cmd_benchmark(args: argparse.Namespace, settings: Settings) -> int:
    # a dev tool, kept outside the installed package (benchmark/ in the project folder)
    if not (settings.project_dir / "benchmark" / "run.py").exists():
        raise UsageError(
            f"`ctd-rtp benchmark` needs the project's source tree (no benchmark/run.py in {settings.project_dir})"
        )
    if str(settings.project_dir) not in sys.path:
        sys.path.insert(0, str(settings.project_dir))
    from benchmark import run as benchmark

    try:
        sizes: list[int | str] = [
            s.strip() if s.strip() == "demo" else int(s.replace("_", "")) for s in args.sizes.split(",")
        ]
    except ValueError:
        raise UsageError(f"--sizes takes patient counts and `demo`, comma-separated; got {args.sizes!r}") from None
    benchmark.main(sizes, Path(args.workdir), Path(args.json), log=log, fmt=args.format, repeat=args.repeat)
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ctd-rtp",
        description="Single-arm treatment-response study warehouse (the study: dbt_project.yml vars or CTD_RTP_STUDY): "
        "build, statistics and report.",
        epilog="Environment: CTD_RTP_DB (warehouse file, default ./warehouse.duckdb in the project), "
        "CTD_RTP_RAW_DIR (folder of your own raw CSV/Parquet files; default: the bundled SYNTHETIC demo), "
        "CTD_RTP_ENGINE (duckdb, default, or spark: stats and report on the Spark tables of CTD_RTP_SPARK_DIR). "
        "CTD_RTP_DUCKDB_MEMORY_LIMIT (DuckDB memory_limit of a build, default 3GB; DuckDB spills to disk beyond it), "
        "CTD_RTP_DBT_THREADS (dbt nodes run at once in a build, sharing the memory limit: default 2, 1 for raw files "
        "over 1 GB). "
        "Exit codes: 0 ok, 1 bug, 2 usage, 3 dbt failed or delivery refused, 4 validation failed, 5 warehouse in use, "
        "6 missing.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("synth", help="write a SYNTHETIC cohort in the raw contract (CSV or Parquet)")
    p.add_argument("--out", required=True, help="folder to write patients.csv, lab_results.csv, ...")
    p.add_argument("--patients", type=int, default=cohort.DEMO_PATIENTS)
    p.add_argument("--seed", type=int, default=cohort.DEMO_SEED)
    p.add_argument("--format", choices=("csv", "parquet"), default="csv")
    p.add_argument("--chunk-size", type=int, default=5000, help="patients generated and written at a time")
    p.add_argument(
        "--lab-extract",
        type=float,
        metavar="FRACTION",
        help="instead: add a new lab extract file to the cohort in --out, repeat draws for this share "
        "of its lab rows (e.g. 0.01), as a next extract would arrive",
    )
    p.set_defaults(func=cmd_synth)

    for name, func, text in (
        ("build", cmd_build, "dbt build: load, stage, test and publish the marts"),
        ("run", cmd_run, "build + stats + report (the main job)"),
    ):
        p = sub.add_parser(name, help=text)
        p.add_argument("--vars", help='dbt vars as YAML, e.g. "{pr_rule: or}"')
        p.add_argument("--quiet", action="store_true", help="hide dbt's own output unless it fails")
        p.add_argument(
            "--accept-delivery",
            action="store_true",
            help="publish even when the delivery gate refuses the delivery (too many rows quarantined, "
            "a mart coming out empty); the log says what was accepted",
        )
        p.add_argument(
            "--full-refresh",
            action="store_true",
            help="rebuild the incremental lab models from scratch (by default decided from the inputs: "
            "only new lab extract files -> incremental)",
        )
        if name == "run":
            p.add_argument(
                "--out-dir",
                help="report folder (default: <project>/reports for the project's "
                "warehouse.duckdb, else a reports folder beside CTD_RTP_DB)",
            )
            p.add_argument("--docx", action="store_true", help="also write the report's tables as a Word file (.docx)")
        if name == "run":
            p.add_argument(
                "--min-cell-count",
                type=_cell_count,
                default=0,
                metavar="N",
                help="for sharing: print counts from 1 to N-1 as <N, their percentages hidden, in the "
                "results table, the page and the Word file",
            )
            p.add_argument(
                "--listing-max-patients",
                type=_cell_count,
                default=None,
                metavar="N",
                help="show the patient listing when the analysis set has at most N patients (default 50; "
                "0: never; never with --min-cell-count)",
            )
        p.set_defaults(func=func)

    p = sub.add_parser(
        "check",
        help="check a delivery folder before any build: per file and column what would be "
        "quarantined and how to declare its format (exit 3: the delivery would be refused)",
    )
    p.add_argument("folder", help="the folder of raw files (as CTD_RTP_RAW_DIR), with its delivery.yml if any")
    p.add_argument("--vars", help='dbt vars as YAML, e.g. "{max_quarantined_share: 0.1}"')
    p.add_argument(
        "--map-stub",
        help="where to write the map stub of unknown (test code, unit) pairs "
        "(default: ./lab_test_map.stub.csv; written only when there are some)",
    )
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("stats", help="paired tests, response CIs, Friedman, subgroups -> schema analysis")
    p.add_argument(
        "--min-cell-count",
        type=_cell_count,
        default=0,
        metavar="N",
        help="for sharing: print counts from 1 to N-1 as <N, their percentages hidden, in the results "
        "table (analysis.report_results), the page and the Word file",
    )
    p.add_argument(
        "--listing-max-patients",
        type=_cell_count,
        default=None,
        metavar="N",
        help="show the patient listing when the analysis set has at most N patients (default 50; 0: never; "
        "never with --min-cell-count)",
    )
    p.set_defaults(func=cmd_stats)

    p = sub.add_parser("benchmark", help="time and memory of build/incremental/stats/report at several cohort sizes")
    p.add_argument(
        "--sizes",
        default="1000,10000,100000",
        help="comma-separated patient counts, or `demo` for the bundled cohort (add 1000000 when asked)",
    )
    p.add_argument("--format", choices=("csv", "parquet"), default="csv", help="raw file format of the cohorts")
    p.add_argument(
        "--repeat", type=int, default=1, help="time the references and the full build this many times, keep the best"
    )
    p.add_argument("--workdir", default="/tmp/ctd-rtp-benchmark", help="scratch folder for cohorts and warehouses")
    p.add_argument("--json", default="benchmark/results.json", help="where to write the figures as JSON")
    p.set_defaults(func=cmd_benchmark)

    p = sub.add_parser("report", help="validate the marts and render the HTML report (scheduler entry point)")
    p.add_argument(
        "--out-dir",
        help="report folder (default: <project>/reports for the project's "
        "warehouse.duckdb, else a reports folder beside CTD_RTP_DB)",
    )
    p.add_argument("--docx", action="store_true", help="also write the report's tables as a Word file (.docx)")
    p.set_defaults(func=cmd_report)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    settings = Settings.from_env()
    handlers: list[tuple[type[BaseException], int, Callable[[BaseException], str]]] = [
        (UsageError, EXIT_USAGE, str),
        (DbtFailed, EXIT_DBT, str),
        (gate.DeliveryRefused, EXIT_DBT, str),
        (WarehouseInUse, EXIT_IN_USE, str),
        (WarehouseMissing, EXIT_MISSING, str),
    ]
    try:
        _fold_study_vars(args, settings)
        return args.func(args, settings)
    except Exception as exc:  # noqa: BLE001 - mapped to documented exit codes below
        for kind, code, render in handlers:
            if isinstance(exc, kind):
                print(f"error: {render(exc)}", file=sys.stderr)
                return code
        # Only a command that validated can raise ValidationFailed, and it has then loaded the
        # module: importing it here would load SciPy (through .stats) for every command,
        # about 0.5 s of a build or of a run with nothing to do.
        validation = sys.modules.get(f"{__package__}.validation")
        if validation is not None and isinstance(exc, validation.ValidationFailed):
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_VALIDATION
        if isinstance(exc, OSError) and exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            # a folder that turned read-only after the checks above: configuration, not a bug
            print(f"error: cannot write {exc.filename or ''}: {exc.strerror}", file=sys.stderr)
            return EXIT_USAGE
        raise


if __name__ == "__main__":
    sys.exit(main())
