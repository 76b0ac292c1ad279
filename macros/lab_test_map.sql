{#- The lab test map in force: the shipped seed (seeds/reference/lab_test_map.csv) plus, when the
    delivery brings one, its own `lab_test_map.csv` in CTD_RTP_RAW_DIR (same columns: source_code,
    source_unit, analyte, factor, optional note). A site adds its laboratory's spellings there
    without editing the project. Keys are compared normalised (macros/parsing.sql). A local row
    that repeats a shipped row is fine; one that maps a shipped (code, unit) elsewhere, or a row
    without an analyte of seeds/reference/analytes.csv or a positive factor, stops the build
    naming the rows. One row per (code_key, unit_key). -#}
{% macro lab_test_map_in_force() -%}
    {%- set shipped = "select source_code, source_unit, analyte, cast(factor as double) as factor from " ~ ref('lab_test_map') -%}
    {%- set local_path = local_lab_test_map_path() -%}
    {%- if local_path is none -%}
        {{ return("(select distinct " ~ test_code_text('source_code') ~ " as code_key, "
            ~ normalize_unit('source_unit') ~ " as unit_key, analyte, factor from (" ~ shipped ~ ") as shipped)") }}
    {%- endif -%}
    {%- do check_local_lab_test_map(local_path) -%}
    {{ return("(select distinct " ~ test_code_text('source_code') ~ " as code_key, "
        ~ normalize_unit('source_unit') ~ " as unit_key, analyte, factor from (" ~ shipped
        ~ " union all select source_code, source_unit, analyte, try_cast(factor as double) as factor from "
        ~ local_lab_test_map_read(local_path) ~ ") as merged)") }}
{%- endmacro %}

{#- The local map's path, or none (no CTD_RTP_RAW_DIR, no file, or only parsing). -#}
{% macro local_lab_test_map_path() -%}
    {%- set raw_dir = env_var('CTD_RTP_RAW_DIR', '').rstrip('/') -%}
    {%- if raw_dir == '' or not execute -%}{{ return(none) }}{%- endif -%}
    {%- if target.type == 'spark' -%}
        {%- do run_query("create or replace temporary view ctd_rtp_local_map_listing using binaryFile options (path "
            ~ ctd_rtp.spark_literal(raw_dir) ~ ", pathGlobFilter 'lab_test_map.csv')") -%}
        {%- if run_query("select count(*) from ctd_rtp_local_map_listing").rows[0][0] > 0 -%}
            {{ exceptions.raise_compiler_error("lab_test_map.csv in " ~ raw_dir ~ ": a local lab test map is read on DuckDB only so far;"
                ~ " on Spark add its rows to seeds/reference/lab_test_map.csv") }}
        {%- endif -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set path = raw_dir ~ '/lab_test_map.csv' -%}
    {%- if run_query("select count(*) from glob('" ~ path | replace("'", "''") ~ "')").rows[0][0] == 0 -%}
        {{ return(none) }}
    {%- endif -%}
    {{ return(path) }}
{%- endmacro %}

{% macro local_lab_test_map_read(path) -%}
    {{ return("(select row_number() over () + 1 as line, trim(source_code) as source_code, trim(source_unit) as source_unit,"
        ~ " trim(analyte) as analyte, trim(factor) as factor from read_csv('" ~ path | replace("'", "''")
        ~ "', header = true, all_varchar = true))") }}
{%- endmacro %}

{#- Every row of the local map is usable and none contradicts the shipped map, or the build stops. -#}
{% macro check_local_lab_test_map(path) -%}
    {%- set columns = run_query("describe select * from read_csv('" ~ path | replace("'", "''") ~ "', header = true, all_varchar = true)")
        .columns[0].values() | map('lower') | list -%}
    {%- set missing = [] -%}
    {%- for c in ['source_code', 'source_unit', 'analyte', 'factor'] -%}
        {%- if c not in columns -%}{%- do missing.append(c) -%}{%- endif -%}
    {%- endfor -%}
    {%- if missing -%}
        {{ exceptions.raise_compiler_error("lab_test_map.csv (local map in CTD_RTP_RAW_DIR): missing column(s) " ~ missing | join(', ')
            ~ "; expected source_code, source_unit, analyte, factor (as seeds/reference/lab_test_map.csv); found " ~ columns | join(', ')) }}
    {%- endif -%}
    {%- set code_key = test_code_text('source_code') -%}
    {%- set unit_key = normalize_unit('source_unit') -%}
    {%- set problems = run_query(
        "with local as (select *, " ~ code_key ~ " as code_key, " ~ unit_key ~ " as unit_key, try_cast(factor as double) as factor_number"
        ~ " from " ~ local_lab_test_map_read(path) ~ "),"
        ~ " shipped as (select row_number() over (order by source_code, source_unit) as n, source_code, source_unit, analyte,"
        ~ " cast(factor as double) as factor, " ~ code_key ~ " as code_key, " ~ unit_key ~ " as unit_key from " ~ ref('lab_test_map') ~ ")"
        ~ " select 'lab_test_map.csv line ' || line || ' (' || coalesce(source_code, '') || ', ' || coalesce(source_unit, '') || '): '"
        ~ " || case when coalesce(source_code, '') = '' or coalesce(source_unit, '') = '' then 'source_code and source_unit must not be empty'"
        ~ " when coalesce(analyte, '') = '' then 'analyte is empty: fill in an analyte code of seeds/reference/analytes.csv (PLT, WBC, ...) or delete the row'"
        ~ " when analyte not in (select analyte from " ~ ref('analytes') ~ ") then 'unknown analyte ' || analyte || ' (the codes are in seeds/reference/analytes.csv)'"
        ~ " when factor_number is null or not isfinite(factor_number) or factor_number <= 0 then 'factor ' || coalesce(factor, '(empty)') || ' is not a positive number (1 when the unit is already the canonical one)'"
        ~ " end as problem, line from local"
        ~ " where coalesce(source_code, '') = '' or coalesce(source_unit, '') = '' or coalesce(analyte, '') = ''"
        ~ " or analyte not in (select analyte from " ~ ref('analytes') ~ ")"
        ~ " or factor_number is null or not isfinite(factor_number) or factor_number <= 0"
        ~ " union all"
        ~ " select 'lab_test_map.csv line ' || local.line || ' (' || local.source_code || ', ' || local.source_unit || ' -> ' || local.analyte"
        ~ " || ' x' || local.factor || ') conflicts with the shipped seeds/reference/lab_test_map.csv row (' || shipped.source_code || ', '"
        ~ " || shipped.source_unit || ' -> ' || shipped.analyte || ' x' || printf('%g', shipped.factor) || '): the same test code and unit'"
        ~ " || ' (after normalisation) cannot map to two analytes or factors; delete the local row or correct it', local.line"
        ~ " from local join shipped on local.code_key = shipped.code_key and local.unit_key = shipped.unit_key"
        ~ " where local.analyte <> shipped.analyte or local.factor_number <> shipped.factor"
        ~ " union all"
        ~ " select 'lab_test_map.csv lines ' || a.line || ' and ' || b.line || ': (' || a.source_code || ', ' || a.source_unit"
        ~ " || ') maps to both ' || a.analyte || ' x' || a.factor || ' and ' || b.analyte || ' x' || b.factor, a.line"
        ~ " from local as a join local as b on a.code_key = b.code_key and a.unit_key = b.unit_key and a.line < b.line"
        ~ " where a.analyte <> b.analyte or a.factor_number <> b.factor_number"
        ~ " order by 2 limit 5"
    ).columns[0].values() -%}
    {%- if problems | length > 0 -%}
        {{ exceptions.raise_compiler_error("local lab test map " ~ path ~ ":\n  " ~ problems | join("\n  ")) }}
    {%- endif -%}
{%- endmacro %}
