"""Whether a `ctd-rtp run` with no input changed has anything left to do.

A build whose inputs did not change is skipped (:mod:`ctd_rtp.incremental`). The statistics and
the report are skipped too when the report on disk is provably the one this run would write:
the run that wrote it left a record beside it (``ctd_rtp_report_latest.run.json``) of

- the warehouse's build inputs (``meta.build_inputs``: code, vars, raw files, delivery result),
- the run id of the statistics it printed (``analysis.report_results.run_id``: a `ctd-rtp stats`
  since then gives another one),
- the report's own code (the package's Python sources and templates),
- the run's options (``--min-cell-count``, ``--listing-max-patients``, ``--docx``),
- the SHA-256 of the report files it wrote.

Any difference, a missing or unreadable record, or a report file changed since, and the run does
its statistics and report as usual. The record is written only after a whole run succeeded.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import duckdb

from . import incremental

RECORD_NAME = "ctd_rtp_report_latest.run.json"
REPORT_FILES = ("ctd_rtp_report_latest.html", "ctd_rtp_report_latest.docx")
RECORD_VERSION = 1


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def code_fingerprint() -> str:
    """The statistics' and report's code: every file of the installed package but caches."""
    package = Path(__file__).resolve().parent
    digest = hashlib.sha256()
    for path in sorted(p for p in package.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        digest.update(f"{path.relative_to(package)}\n".encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def warehouse_state(con: duckdb.DuckDBPyConnection) -> dict[str, Any] | None:
    """The build inputs and the statistics run id of a warehouse, or None when it has neither."""
    build = incremental.read_state(con)
    if build is None:
        return None
    found = con.execute(
        "select count(*) from information_schema.tables where table_schema = 'analysis' and table_name = 'report_results'"
    ).fetchall()[0][0]
    if not found:
        return None
    run_ids = [r[0] for r in con.execute("select distinct run_id from analysis.report_results").fetchall()]
    if len(run_ids) != 1:
        return None
    return {
        "build_inputs": hashlib.sha256(json.dumps(build, sort_keys=True).encode()).hexdigest(),
        "statistics_run_id": str(run_ids[0]),
    }


def expected(con: duckdb.DuckDBPyConnection, options: Mapping[str, Any]) -> dict[str, Any] | None:
    """What the record of a current report holds, but the report files' hashes."""
    state = warehouse_state(con)
    if state is None:
        return None
    return {"version": RECORD_VERSION, **state, "code": code_fingerprint(), "options": dict(options)}


def record(out_dir: Path, con: duckdb.DuckDBPyConnection, options: Mapping[str, Any]) -> None:
    """After a successful run: the record beside the report (no record when nothing can be proven)."""
    path = out_dir / RECORD_NAME
    state = expected(con, options)
    if state is None:
        path.unlink(missing_ok=True)
        return
    files = {name: _sha256(out_dir / name) for name in REPORT_FILES if (out_dir / name).exists()}
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({**state, "files": files}, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    tmp.replace(path)


def why_not_current(out_dir: Path, con: duckdb.DuckDBPyConnection, options: Mapping[str, Any]) -> str | None:
    """None when the report in ``out_dir`` is the one this run would write; else the reason."""
    path = out_dir / RECORD_NAME
    try:
        stored = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return "no record of the run that wrote the report"
    except (OSError, ValueError):
        return f"{path.name} is unreadable"
    state = expected(con, options)
    if state is None:
        return "the warehouse has no statistics from a recorded build"
    for key, what in (
        ("version", "the record format"),
        ("build_inputs", "the build"),
        ("statistics_run_id", "the statistics (ctd-rtp stats ran since)"),
        ("code", "the package's code"),
        ("options", "the options"),
    ):
        if stored.get(key) != state[key]:
            return f"{what} changed since the report was written"
    files = stored.get("files") or {}
    if "ctd_rtp_report_latest.html" not in files or (options.get("docx") and "ctd_rtp_report_latest.docx" not in files):
        return "the record lists no report file"
    for name, sha in files.items():
        target = out_dir / name
        if not target.exists() or _sha256(target) != sha:
            return f"{name} changed or is gone since it was written"
    return None
