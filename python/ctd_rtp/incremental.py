"""Whether a build may be incremental, decided from a fingerprint of what the marts are built from.

The lab models are incremental (macros/incremental_labs.sql): a run processes only lab extract
files it has not seen. That is only right when nothing else changed, so `ctd-rtp build` compares
the inputs with those of the last successful build (stored in the warehouse, table
`meta.build_inputs`) and rebuilds in full (`dbt build --full-refresh`) when:
  - there is no previous build, or it was made by an older version of this tool;
  - the SQL, macros, seeds, dbt_project.yml, the --vars or the pseudonym salt changed;
  - a raw file other than a lab extract changed, appeared or went (patients, drug exposures,
    visit assessments and adverse events feed every lab row's checks and study day);
  - a lab extract seen before changed or went (extracts are append-only).
A new lab extract file (lab_results_<anything>.csv|.parquet) is the one change an incremental
run takes. Files are compared by size and modification time (as make and rsync do).

When nothing at all changed since a build whose delivery passed the gate (the same code, data
tests, profile, tool and library versions, vars, salt and files), `ctd-rtp build` does not start
dbt: the published warehouse is what dbt would build again (`Plan.skip`). A change to the data
tests, the profile or the tool alone runs dbt without a full refresh.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd

STATE_SCHEMA, STATE_TABLE = "meta", "build_inputs"
# bump when the incremental models change shape, so an older warehouse is rebuilt in full
STATE_VERSION = "1"
CODE_FOLDERS = ("models", "macros", "seeds")
CODE_FILES = ("dbt_project.yml", "study.yml")
# what decides the checks and how dbt runs, not what the lab models hold: a change re-runs dbt
# (incremental), never skips it
CHECK_FOLDERS = ("tests/generic", "tests/singular", "analyses", "python/ctd_rtp")
CHECK_FILES = ("profiles.yml",)
CHECK_PACKAGES = ("dbt-core", "dbt-duckdb", "duckdb")
# written with the inputs: whether the build's delivery passed the gate or was accepted over it
DELIVERY_KEY = "delivery"
APPENDABLE = ("lab_results",)
RAW_SUFFIXES = (".csv", ".parquet")


@dataclass(frozen=True)
class Plan:
    full_refresh: bool
    reason: str
    new_files: tuple[str, ...] = ()
    skip: bool = False  # nothing changed: the published warehouse stands, dbt need not run


def _code_fingerprint(project_dir: Path, dbt_vars: str | None, environ: Mapping[str, str]) -> str:
    digest = hashlib.sha256(f"version {STATE_VERSION}\n".encode())
    paths = [project_dir / name for name in CODE_FILES]
    for folder in CODE_FOLDERS:
        paths += sorted(p for p in (project_dir / folder).rglob("*") if p.is_file())
    for path in paths:
        if path.exists():
            digest.update(f"{path.relative_to(project_dir)}\n".encode())
            digest.update(path.read_bytes())
    digest.update(f"vars {dbt_vars or ''}\n".encode())
    # the salt itself is a secret: only its hash goes into the fingerprint
    digest.update(hashlib.sha256(environ.get("CTD_RTP_PSEUDONYM_SALT", "").encode()).digest())
    return digest.hexdigest()


def _checks_fingerprint(project_dir: Path) -> str:
    from importlib import metadata

    digest = hashlib.sha256()
    paths = [project_dir / name for name in CHECK_FILES]
    for folder in CHECK_FOLDERS:
        paths += sorted(p for p in (project_dir / folder).rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    for path in paths:
        if path.exists():
            digest.update(f"{path.relative_to(project_dir)}\n".encode())
            digest.update(path.read_bytes())
    for package in CHECK_PACKAGES:
        try:
            digest.update(f"{package} {metadata.version(package)}\n".encode())
        except metadata.PackageNotFoundError:
            digest.update(f"{package} missing\n".encode())
    return digest.hexdigest()


def is_lab_extract(name: str) -> bool:
    stem, _, suffix = name.rpartition(".")
    return f".{suffix}" in RAW_SUFFIXES and any(stem == t or stem.startswith(f"{t}_") for t in APPENDABLE)


def current_inputs(
    project_dir: Path, raw_dir: Path | None, dbt_vars: str | None = None, environ: Mapping[str, str] | None = None
) -> dict[str, str]:
    """name -> fingerprint: 'code' for the project and settings, 'raw_dir', and one entry per raw file."""
    env = os.environ if environ is None else environ
    inputs = {
        "code": _code_fingerprint(project_dir, dbt_vars, env),
        "checks": _checks_fingerprint(project_dir),
        "raw_dir": str(raw_dir or "(demo seeds)"),
    }
    if raw_dir is not None and raw_dir.is_dir():
        for path in sorted(raw_dir.iterdir()):
            # delivery.yml changes how every file reads: a change is a full refresh, as for a file
            if path.is_file() and (path.suffix in RAW_SUFFIXES or path.name == "delivery.yml"):
                stat = path.stat()
                inputs[f"file:{path.name}"] = f"{stat.st_size}:{stat.st_mtime_ns}"
    return inputs


def _raw_file_changes(previous: Mapping[str, str], current: Mapping[str, str]) -> tuple[str | None, list[str]]:
    """(why a full refresh is needed, or None; the new lab extract files) from the raw files' fingerprints.

    Files are compared in name order; the first file that is gone, changed, or new but not a lab
    extract is the reason for a full refresh.
    """
    new_files = []
    for key in sorted(set(previous) | set(current)):
        if not key.startswith("file:"):
            continue
        name = key.removeprefix("file:")
        before, now = previous.get(key), current.get(key)
        if before == now:
            continue
        if before is None and is_lab_extract(name):
            new_files.append(name)
            continue
        change = "is new" if before is None else "is gone" if now is None else "changed"
        return f"{name} {change}", new_files
    return None, new_files


def plan(previous: Mapping[str, str] | None, current: Mapping[str, str]) -> Plan:
    """Full refresh or incremental, and why (pure: tested without a warehouse)."""
    if not previous:
        return Plan(True, "no previous build to add to")
    for key in ("code", "raw_dir"):
        if previous.get(key) != current.get(key):
            what = {"code": "the SQL, seeds, vars or salt changed", "raw_dir": "the raw folder changed"}[key]
            return Plan(True, what)
    refresh, new_files = _raw_file_changes(previous, current)
    if refresh is not None:
        return Plan(True, refresh)
    if new_files:
        return Plan(False, f"{len(new_files)} new lab extract file(s): {', '.join(new_files)}", tuple(new_files))
    if previous.get("checks") != current.get("checks"):
        return Plan(False, "the data tests, profile or tool changed (no new data)")
    if previous.get(DELIVERY_KEY) != "passed":
        return Plan(False, "no input changed, but the last delivery did not pass the gate (it was accepted)")
    return Plan(False, "no input changed since the last build; dbt not run", skip=True)


def read_state(con: duckdb.DuckDBPyConnection) -> dict[str, str] | None:
    """The inputs of the last successful build, or None when the warehouse has none (or no marts)."""
    found = con.execute(
        "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
        [STATE_SCHEMA, STATE_TABLE],
    ).fetchall()[0][0]
    if not found:
        return None
    rows = con.execute(f"select name, fingerprint from {STATE_SCHEMA}.{STATE_TABLE}").fetchall()
    return dict(rows) or None


def write_state(con: duckdb.DuckDBPyConnection, inputs: Mapping[str, str], delivery: str = "passed") -> None:
    """The inputs of a successful build, and whether its delivery `passed` the gate or was `accepted`."""
    state = {**inputs, DELIVERY_KEY: delivery}
    frame = pd.DataFrame({"name": list(state), "fingerprint": list(state.values())})
    con.execute(f"create schema if not exists {STATE_SCHEMA}")
    con.register("build_inputs_frame", frame)
    con.execute(f"create or replace table {STATE_SCHEMA}.{STATE_TABLE} as select * from build_inputs_frame")
    con.unregister("build_inputs_frame")
