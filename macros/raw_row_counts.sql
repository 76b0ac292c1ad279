{#- Raw row counts kept at load: the check of a CSV file's lines (macros/raw_table.sql,
    duckdb__read_raw_one_file) counts its rows in the same scan and records them here, one row
    per file path (table meta.raw_rows_<table>: one per raw table, so the staging models, which run
    in parallel, never write the same table), so the reconciliation test (tests/singular/assert_raw_rows_reconcile.sql)
    compares clean + quarantined rows with the count of that load instead of reading the file
    again. Parquet files (row counts in their metadata) and the demo seeds are counted directly. -#}

{#- on-run-start: the schema exists before the staging models run in parallel. -#}
{% macro create_raw_row_counts_schema() -%}
    {{ return('create schema if not exists meta' if target.type == 'duckdb' else 'select 1') }}
{%- endmacro %}

{#- SQL statements that count the rows of `read_sql` (a read_csv(...) call) of raw table `name`
    into meta.raw_rows_<name> under `path`. -#}
{% macro raw_file_rows_record(name, path, read_sql) -%}
    {%- set path_sql = path | replace("'", "''") -%}
    create table if not exists meta.raw_rows_{{ name }} (file_path varchar, n_rows bigint);
    delete from meta.raw_rows_{{ name }} where file_path = '{{ path_sql }}';
    insert into meta.raw_rows_{{ name }} select '{{ path_sql }}', count(*) from {{ read_sql }}
{%- endmacro %}

{#- An expression: the rows the raw table `name` held when it was loaded in this build (null when
    a CSV file's count is missing: the test then fails instead of passing unchecked). -#}
{% macro raw_rows_at_load(name) -%}
    {%- set raw_dir = env_var('CTD_RTP_RAW_DIR', '').rstrip('/') -%}
    {%- if raw_dir == '' or not execute or target.type != 'duckdb' -%}
        {{ return("(select count(*) from " ~ raw_table(name) ~ ")") }}
    {%- endif -%}
    {%- set parts = [] -%}
    {%- for path in adapter.dispatch('list_raw_files', 'ctd_rtp')(raw_dir, name) -%}
        {%- set path_sql = path | replace("'", "''") -%}
        {%- if path.endswith('.parquet') -%}
            {%- do parts.append("(select count(*) from read_parquet('" ~ path_sql ~ "'))") -%}
        {%- else -%}
            {%- do parts.append("(select max(n_rows) from meta.raw_rows_" ~ name ~ " where file_path = '" ~ path_sql ~ "')") -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return("(" ~ parts | join(" + ") ~ ")") }}
{%- endmacro %}

{#- The record of CSV files whose lines passed the checks of macros/raw_table.sql
    (duckdb__read_raw_one_file), one row per file read (table meta.raw_checked_<table>): its size
    and modification time when it was checked, its header line and the DuckDB that read it.
    Written only after the checks passed. A query of the file's size and modification time now and
    the header line recorded for exactly these (null: not checked as it is). -#}
{% macro raw_file_checked_lookup(name, csv_sql) -%}
    create schema if not exists meta;
    create table if not exists meta.raw_checked_{{ name }} (
        file_path varchar, file_size bigint, file_modified varchar, header_line varchar, duckdb_version varchar
    );
    select
        f.size,
        cast(f.last_modified as varchar),
        (
            select max(c.header_line) from meta.raw_checked_{{ name }} as c
            where c.file_path = '{{ csv_sql }}' and c.file_size = f.size
                and c.file_modified = cast(f.last_modified as varchar) and c.duckdb_version = version()
        )
    from read_blob('{{ csv_sql }}') as f
{%- endmacro %}

{% macro raw_file_checked_record(name, csv_sql, file_stat, header_line) -%}
    delete from meta.raw_checked_{{ name }} where file_path = '{{ csv_sql }}';
    insert into meta.raw_checked_{{ name }} values (
        '{{ csv_sql }}', {{ file_stat['size'] }}, '{{ file_stat['modified'] }}',
        '{{ header_line | replace("'", "''") }}', version()
    )
{%- endmacro %}
