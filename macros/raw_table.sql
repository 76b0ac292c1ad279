{#- Where a raw table comes from.
    Default: the bundled synthetic demo seeds in schema `raw`.
    With CTD_RTP_RAW_DIR set: the user's own <table>.parquet or <table>.csv in that folder,
    read in place by DuckDB with every column as text (staging casts, so a malformed value
    is quarantined with a reason instead of failing the load). -#}
{% macro raw_table(name) -%}
    {%- set raw_dir = env_var('CTD_RTP_RAW_DIR', '') -%}
    {%- if raw_dir == '' -%}
        {{ ref(name) }}
    {%- else -%}
        {{ return(adapter.dispatch('read_raw_file', 'ctd_rtp')(raw_dir.rstrip('/'), name)) }}
    {%- endif -%}
{%- endmacro %}

{% macro default__read_raw_file(raw_dir, name) -%}
    {{ exceptions.raise_compiler_error("CTD_RTP_RAW_DIR is only supported on DuckDB so far (target type: " ~ target.type ~ ")") }}
{%- endmacro %}

{% macro duckdb__read_raw_file(raw_dir, name) -%}
    {%- set parquet_path = raw_dir ~ '/' ~ name ~ '.parquet' -%}
    {%- set csv_path = raw_dir ~ '/' ~ name ~ '.csv' -%}
    {%- set fmt = 'csv' -%}
    {%- if execute -%}
        {%- set found = run_query("select count(*) from glob('" ~ parquet_path ~ "')").columns[0].values()[0] -%}
        {%- if found > 0 -%}
            {%- set fmt = 'parquet' -%}
        {%- else -%}
            {%- set found_csv = run_query("select count(*) from glob('" ~ csv_path ~ "')").columns[0].values()[0] -%}
            {%- if found_csv == 0 -%}
                {{ exceptions.raise_compiler_error("raw table '" ~ name ~ "' not found: expected " ~ csv_path ~ " or " ~ parquet_path ~ " (CTD_RTP_RAW_DIR=" ~ raw_dir ~ ")") }}
            {%- endif -%}
        {%- endif -%}
    {%- endif -%}
    {%- if fmt == 'parquet' -%}
        read_parquet('{{ parquet_path }}')
    {%- else -%}
        read_csv('{{ csv_path }}', header = true, all_varchar = true, auto_detect = true)
    {%- endif -%}
{%- endmacro %}
