"""Warehouse access: where the DuckDB file is, reading marts, writing `analysis` tables.

All I/O against the warehouse goes through here, so the statistics and report modules
stay pure (data frames in, data frames out).
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import time
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterator, Mapping, Protocol, Sequence

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


@contextmanager
def exclusive_run(db_path: Path) -> Iterator[None]:
    """One writer at a time: a second `ctd-rtp build/stats/run` gets WarehouseInUse at once.

    An advisory lock on `<db>.run.lock`, released by the kernel if the process dies, so a
    killed run never leaves the warehouse locked.
    """
    lock_path = db_path.with_name(db_path.name + ".run.lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise WarehouseInUse(
                f"the warehouse is in use: {db_path} is being rebuilt by {holder}; "
                "try again when that run finishes"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()} since {time.strftime('%Y-%m-%d %H:%M:%S')}")
        handle.flush()
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextmanager
def staged_copy(settings: Settings) -> Iterator[Settings]:
    """Work on a copy of the warehouse and publish it with one atomic rename on success.

    Readers keep querying the previous file while a build runs; a run that fails or is
    killed leaves the previous warehouse untouched (its half-built copy is discarded by
    the next run). Call inside `exclusive_run`.
    """
    live = settings.db_path
    building = live.with_name(live.name + ".building")
    for stale in (building, building.with_name(building.name + ".wal")):
        stale.unlink(missing_ok=True)
    if live.exists():
        shutil.copy2(live, building)
        live_wal = live.with_name(live.name + ".wal")
        if live_wal.exists():  # uncheckpointed changes of the live file travel with it
            shutil.copy2(live_wal, building.with_name(building.name + ".wal"))
    try:
        yield replace(settings, db_path=building)
        con = duckdb.connect(str(building))
        con.execute("checkpoint")  # fold the WAL in: the published file stands alone
        con.close()
        # a WAL left by the old file must never be replayed onto the new one
        live.with_name(live.name + ".wal").unlink(missing_ok=True)
        os.replace(building, live)
    finally:
        for leftover in (building, building.with_name(building.name + ".wal")):
            leftover.unlink(missing_ok=True)


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


def read_columns(con: duckdb.DuckDBPyConnection, schema: str, table: str, columns: Sequence[str],
                 categorical: bool = False) -> pd.DataFrame:
    """Some columns of a table, converted through Arrow: about 3x faster than ``.df()`` on
    millions of rows of text. Meant for text, float and non-null integer columns: Arrow turns
    dates into objects and integers with NULLs into float64, where ``.df()`` keeps
    datetime64 and nullable Int64. ``categorical``: see :func:`query_frame`."""
    _check_identifier(schema)
    _check_identifier(table)
    for column in columns:
        _check_identifier(column)
    exists = con.execute(
        "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
        [schema, table],
    ).fetchall()[0][0]  # fetched to the end: the connection takes no new relation before that
    if not exists:
        raise WarehouseMissing(f"table {schema}.{table} does not exist: run `ctd-rtp build` first")
    select = ", ".join(f'"{c}"' for c in columns)
    return query_frame(con, f'select {select} from "{schema}"."{table}"', categorical)


def query_frame(con: duckdb.DuckDBPyConnection, sql: str, categorical: bool = False) -> pd.DataFrame:
    """A query's result through Arrow (same dtype caveats as :func:`read_columns`); with
    ``categorical``, text columns become pandas categoricals (cheap to build from Arrow, and
    several times faster to hash, compare and deduplicate when values repeat a lot)."""
    return con.sql(sql).to_arrow_table().to_pandas(strings_to_categorical=categorical)


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


# --- Reading marts from either engine -------------------------------------------------------
# The statistics take data frames; where they come from is a Reader. DuckDB is the default;
# CTD_RTP_ENGINE=spark reads the tables `dbt build --target spark` wrote (pyspark, same
# warehouse folder and Derby metastore as the profile: CTD_RTP_SPARK_DIR).

ENGINES = ("duckdb", "spark")


class Reader(Protocol):
    """Something that returns a whole warehouse table as a data frame."""

    def read_mart(self, table: str, schema: str = "marts") -> pd.DataFrame: ...


@dataclass(frozen=True)
class DuckDBReader:
    """The DuckDB file (read only): exactly what `read_table` returns."""

    db_path: Path

    def read_mart(self, table: str, schema: str = "marts") -> pd.DataFrame:
        with connect(self.db_path, read_only=True) as con:
            return read_table(con, schema, table)


class SparkReader:
    """Tables of the Spark target through a local SparkSession on the same catalog.

    Embedded Derby allows one process at a time: do not read while a dbt Spark build runs.
    """

    def __init__(self, spark_dir: Path, master: str = "local[2]") -> None:
        from pyspark.sql import SparkSession  # only in .venv-spark

        spark_dir = Path(spark_dir).resolve()
        self.spark = (
            SparkSession.builder.master(master)
            .config("spark.sql.warehouse.dir", str(spark_dir / "warehouse"))
            .config("spark.hadoop.javax.jdo.option.ConnectionURL",
                    f"jdbc:derby:;databaseName={spark_dir / 'metastore_db'};create=true")
            .config("spark.driver.extraJavaOptions", f"-Dderby.system.home={spark_dir}")
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.ui.enabled", "false")
            .enableHiveSupport()
            .getOrCreate()
        )
        self.spark.sparkContext.setLogLevel("ERROR")

    def read_mart(self, table: str, schema: str = "marts") -> pd.DataFrame:
        _check_identifier(schema)
        _check_identifier(table)
        if not self.spark.catalog.tableExists(f"{schema}.{table}"):
            raise WarehouseMissing(f"table {schema}.{table} does not exist in Spark: run `dbt build --target spark` first")
        return self.spark.table(f"{schema}.{table}").toPandas()


def reader_from_env(environ: Mapping[str, str] | None = None, settings: Settings | None = None) -> Reader:
    """CTD_RTP_ENGINE=duckdb (default) or spark; CTD_RTP_SPARK_DIR is the Spark folder
    (default ./spark in the project, as in profiles.yml)."""
    env = os.environ if environ is None else environ
    engine = (env.get("CTD_RTP_ENGINE") or "duckdb").lower()
    settings = settings or Settings.from_env(env)
    if engine == "duckdb":
        return DuckDBReader(settings.db_path)
    if engine == "spark":
        spark_dir = Path(env.get("CTD_RTP_SPARK_DIR") or settings.project_dir / "spark")
        return SparkReader(spark_dir, env.get("CTD_RTP_SPARK_MASTER") or "local[2]")
    raise ValueError(f"CTD_RTP_ENGINE must be one of {', '.join(ENGINES)}, got {engine!r}")


def read_mart(table: str, reader: Reader | None = None) -> pd.DataFrame:
    """One mart as a data frame, from the engine CTD_RTP_ENGINE names (DuckDB by default)."""
    return (reader or reader_from_env()).read_mart(table)
