"""Warehouse access: where the DuckDB file is, reading marts, writing `analysis` tables.

All I/O against the warehouse goes through here, so the statistics and report modules
stay pure (data frames in, data frames out).
"""

from __future__ import annotations

import os
import re
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Mapping

import duckdb
import pandas as pd

PROJECT_DIR = Path(__file__).resolve().parents[2]
DEFAULT_DB_NAME = "warehouse.duckdb"
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")


class WarehouseInUse(RuntimeError):
    """Another process holds the DuckDB file (a build or a report is running)."""


class WarehouseMissing(RuntimeError):
    """The warehouse file or a table in it does not exist yet."""


@dataclass(frozen=True)
class Settings:
    """Where things are. Built from the environment once, at the edge (the CLI)."""

    project_dir: Path
    db_path: Path
    raw_dir: Path | None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, project_dir: Path | None = None) -> "Settings":
        env = os.environ if environ is None else environ
        project = Path(env.get("CTD_RTP_PROJECT_DIR") or project_dir or PROJECT_DIR).resolve()
        db = Path(env.get("CTD_RTP_DB") or project / DEFAULT_DB_NAME)
        if not db.is_absolute():
            db = (Path.cwd() / db).resolve()
        raw = env.get("CTD_RTP_RAW_DIR") or None
        return cls(project_dir=project, db_path=db, raw_dir=Path(raw).resolve() if raw else None)

    @property
    def is_demo(self) -> bool:
        return self.raw_dir is None


def _lock_error(exc: Exception, db_path: Path) -> bool:
    text = str(exc).lower()
    return "lock" in text and ("conflicting" in text or "could not set lock" in text)


@contextmanager
def connect(db_path: Path, read_only: bool = True) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open the warehouse; a clear error when it is missing or another process writes it."""
    if read_only and not db_path.exists():
        raise WarehouseMissing(f"no warehouse at {db_path}: run `ctd-rtp build` (or `make run`) first")
    try:
        con = duckdb.connect(str(db_path), read_only=read_only)
    except duckdb.IOException as exc:
        if _lock_error(exc, db_path):
            raise WarehouseInUse(
                f"the warehouse is in use: {db_path} is locked by another process "
                "(a build or report is running); try again when it finishes"
            ) from exc
        raise
    try:
        yield con
    finally:
        con.close()


def read_table(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> pd.DataFrame:
    """A whole table as a data frame, with a clear error when it is missing."""
    _check_identifier(schema)
    _check_identifier(table)
    exists = con.execute(
        "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
        [schema, table],
    ).fetchone()[0]
    if not exists:
        raise WarehouseMissing(f"table {schema}.{table} does not exist: run `ctd-rtp build` first")
    return con.execute(f'select * from "{schema}"."{table}"').df()


def table_fingerprint(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> str:
    """Order-independent content hash of a table: row count + xor of row hashes."""
    _check_identifier(schema)
    _check_identifier(table)
    n, h = con.execute(f'select count(*), coalesce(bit_xor(hash(t)), 0) from "{schema}"."{table}" as t').fetchone()
    return f"{n}:{h:016x}"


def write_tables(con: duckdb.DuckDBPyConnection, schema: str, frames: Mapping[str, pd.DataFrame]) -> None:
    """Replace several tables in one transaction: readers see all old or all new tables."""
    _check_identifier(schema)
    con.execute("begin transaction")
    try:
        con.execute(f'create schema if not exists "{schema}"')
        for name, frame in frames.items():
            _check_identifier(name)
            con.register("_frame", frame)
            con.execute(f'create or replace table "{schema}"."{name}" as select * from _frame')
            con.unregister("_frame")
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise


def _check_identifier(name: str) -> None:
    if not _IDENTIFIER.match(name):
        raise ValueError(f"not a plain SQL identifier: {name!r}")
