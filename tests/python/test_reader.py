"""The Reader interface on DuckDB (ctd_rtp.warehouse.DuckDBReader): what the statistics and the
report read through it is what the DuckDB connection gives, and the engine switch is checked.
(SparkReader is exercised by `make test-spark`: it needs .venv-spark and Java.)"""

from __future__ import annotations

import pandas as pd
import pytest

from conftest import Built, run_cli
from ctd_rtp.analysis import INPUT_MARTS, marts_fingerprint
from ctd_rtp.warehouse import (
    DuckDBReader,
    WarehouseMissing,
    connect,
    engine_from_env,
    frame,
    read_table,
    reader_from_env,
    table_fingerprint,
)


def test_duckdb_reader_reads_tables_columns_and_fingerprints_like_the_connection(demo_warehouse: Built) -> None:
    reader = DuckDBReader(demo_warehouse.db_path)
    with connect(demo_warehouse.db_path) as con:
        whole = read_table(con, "marts", "rpt_response_rates")
        subset = con.execute(
            "select patient_id, analyte, study_day, value from marts.fct_lab_results "
            "where analyte = 'PLT' and study_day is not null"
        ).df()
        fingerprints = {name: table_fingerprint(con, "marts", name) for name in INPUT_MARTS}
        fingerprint = marts_fingerprint(con)
    with reader.snapshot() as current:
        pd.testing.assert_frame_equal(current.read_mart("rpt_response_rates"), whole)
        pd.testing.assert_frame_equal(
            current.read_mart(
                "fct_lab_results",
                columns=("patient_id", "analyte", "study_day", "value"),
                where="analyte = 'PLT' and study_day is not null",
            ),
            subset,
        )
        assert {name: current.table_fingerprint(name) for name in INPUT_MARTS} == fingerprints
        assert marts_fingerprint(current) == fingerprint
    assert reader.location == str(demo_warehouse.db_path)


def test_frame_is_what_duckdb_df_gives_for_every_table_of_a_build(demo_warehouse: Built) -> None:
    """`frame` (through Arrow) stands in for DuckDB's `.df()` in every read: same dtypes, same values."""
    with connect(demo_warehouse.db_path) as con:
        tables = con.execute(
            "select table_schema, table_name from information_schema.tables where table_type = 'BASE TABLE'"
        ).fetchall()
        assert len(tables) > 40
        for schema, table in tables:
            sql = f'select * from "{schema}"."{table}"'
            pd.testing.assert_frame_equal(frame(con, sql), con.execute(sql).df(), check_exact=True, obj=sql)


@pytest.mark.parametrize("where", ["true", "false", "n = 1", "n = 2", "n = 3"])
def test_frame_is_what_duckdb_df_gives_for_nulls_empty_results_and_other_types(where: str) -> None:
    """Each column once with NULLs, once without, once all NULL (row 3) and with no row at all;
    DECIMAL and HUGEINT (read with `.df()` itself) and duplicate names too."""
    import duckdb

    con = duckdb.connect()
    con.execute(
        """create table t as select * from (values
        (1, 10::tinyint, 100::smallint, 1000::bigint, true, 1.5::float, 2.5::double, 'a', date '2024-01-31',
         timestamp '2024-01-31 10:00:00', 1.25::decimal(9, 2), 12::hugeint),
        (2, null, 200::smallint, null, null, null, null, null, null, null, null, null),
        (3, null, null, null, null, null, null, null, null, null, null, null)
        ) as v(n, i8, i16, i64, b, f, d, s, dt, ts, dec, huge)"""
    )
    plain = "n, i8, i16, i64, b, f, d, s, dt, ts"
    assert "DECIMAL" not in str(con.sql(f"select {plain} from t").types)  # so `plain` is read through Arrow
    for sql in (
        f"select {plain} from t where {where}",
        f"select {plain}, dec, huge from t where {where}",
        f"select n, s, s from t where {where}",
    ):
        pd.testing.assert_frame_equal(frame(con, sql), con.execute(sql).df(), check_exact=True, obj=sql)
    # categorical: the text columns as categories, every other column as above
    sql = f"select {plain} from t where {where}"
    expected = con.execute(sql).df()
    got = frame(con, sql, categorical=True)
    assert isinstance(got["s"].dtype, pd.CategoricalDtype)

    def values(column: pd.Series) -> list:
        return [None if pd.isna(v) else v for v in column]

    assert values(got["s"]) == values(expected["s"])
    pd.testing.assert_frame_equal(got.drop(columns="s"), expected.drop(columns="s"), check_exact=True)


def test_duckdb_reader_errors_are_clear(demo_warehouse: Built) -> None:
    reader = DuckDBReader(demo_warehouse.db_path)
    with pytest.raises(WarehouseMissing, match="marts.no_such_table does not exist"):
        reader.read_mart("no_such_table")
    with pytest.raises(ValueError, match="not a plain SQL identifier"):
        reader.read_mart("rpt_response_rates", columns=("visit; drop table x",))


def test_engine_switch(tmp_path) -> None:
    assert engine_from_env({}) == "duckdb"
    assert engine_from_env({"CTD_RTP_ENGINE": "Spark"}) == "spark"
    with pytest.raises(ValueError, match="CTD_RTP_ENGINE must be one of duckdb, spark"):
        engine_from_env({"CTD_RTP_ENGINE": "postgres"})
    reader = reader_from_env({"CTD_RTP_DB": str(tmp_path / "w.duckdb")})
    assert isinstance(reader, DuckDBReader) and reader.db_path == tmp_path / "w.duckdb"


def test_cli_says_what_runs_on_spark(demo_warehouse: Built) -> None:
    env = {**demo_warehouse.env, "CTD_RTP_ENGINE": "spark"}
    proc = run_cli(["build", "--quiet"], env, check=False)
    assert proc.returncode == 2
    assert "builds the DuckDB file only" in proc.stderr and "dbt build --target spark" in proc.stderr
    proc = run_cli(["stats"], {**demo_warehouse.env, "CTD_RTP_ENGINE": "oracle"}, check=False)
    assert proc.returncode == 2 and "CTD_RTP_ENGINE must be one of" in proc.stderr


def test_settings_carry_engine_and_paths_so_the_modules_read_no_environment(tmp_path) -> None:
    from ctd_rtp.warehouse import Settings, reader_for

    env = {
        "CTD_RTP_DB": str(tmp_path / "w.duckdb"),
        "CTD_RTP_ENGINE": "DuckDB",
        "DBT_TARGET_PATH": "elsewhere",
        "CTD_RTP_SPARK_DIR": str(tmp_path / "spark"),
        "CTD_RTP_SPARK_MASTER": "local[1]",
    }
    settings = Settings.from_env(env, project_dir=tmp_path)
    assert (settings.engine, settings.spark_dir, settings.spark_master) == ("duckdb", tmp_path / "spark", "local[1]")
    assert settings.dbt_target_path == tmp_path.resolve() / "elsewhere"  # relative to the project, as dbt runs there
    reader = reader_for(settings)
    assert isinstance(reader, DuckDBReader) and reader.db_path == tmp_path / "w.duckdb"
    with pytest.raises(ValueError, match="CTD_RTP_ENGINE must be one of duckdb, spark, got 'oracle'"):
        reader_for(Settings.from_env({**env, "CTD_RTP_ENGINE": "oracle"}))
    # the report and the statistics take the reader from the settings, never from os.environ
    import inspect

    from ctd_rtp import analysis
    from ctd_rtp.report import loading, rendering

    for module in (analysis, loading, rendering):
        assert "os.environ" not in inspect.getsource(module) and "reader_from_env(" not in inspect.getsource(module)
