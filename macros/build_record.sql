{#- The record of the dbt run that built this warehouse, kept in the warehouse itself
    (meta.dbt_run_results: one row per node that ran, with the run's command, vars and time), so
    that the report describes the build whose tables it reads. target/run_results.json describes
    the last dbt run instead, which may be a build that `ctd-rtp build` refused and never
    published (it builds on a private copy of the warehouse: this record goes in or out with
    that copy). on-run-end, so every dbt run that builds writes it, `ctd-rtp build` and a
    `dbt build` by hand alike; a run of some nodes (`dbt run -s ...`) records those nodes.
    DuckDB only: on Spark the report reads run_results.json (it builds in place, no copy). -#}
{% macro record_dbt_run(results) -%}
    {%- if not execute or target.type != 'duckdb' -%}
        {{ return('select 1') }}
    {%- endif -%}
    {%- set args = invocation_args_dict or {} -%}
    {%- set finished = modules.datetime.datetime.utcnow().strftime('%Y-%m-%dT%H:%M:%S.%fZ') -%}
    {%- set head = [
        sql_text_literal(invocation_id),
        sql_text_literal(args.get('which', 'unknown') | string),
        sql_text_literal(json_safe(args.get('vars') or {}) | tojson),
        sql_text_literal(finished),
    ] | join(', ') -%}
    {%- set rows = [] -%}
    {%- for r in results -%}
        {%- set failures = 'null' if r.failures is none else r.failures -%}
        {%- do rows.append(
            "(" ~ head ~ ", " ~ sql_text_literal(r.node.unique_id) ~ ", " ~ sql_text_literal(r.status | string)
            ~ ", " ~ failures ~ ", " ~ (r.execution_time or 0) ~ ")"
        ) -%}
    {%- endfor -%}
    create schema if not exists meta;
    create or replace table meta.dbt_run_results (
        invocation_id varchar, command varchar, vars_json varchar, generated_at varchar,
        unique_id varchar, status varchar, failures bigint, execution_time double
    );
    {% if rows %}insert into meta.dbt_run_results values {{ rows | join(',\n') }};{% endif %}
{%- endmacro %}


{#- `value` with what JSON cannot hold as text: a date or time (a YAML date in --vars, such as
    {data_cutoff_date: 2023-09-01}) as its ISO text, as dbt writes it in run_results.json, and
    anything else unknown as str(). -#}
{% macro json_safe(value) -%}
    {%- if value is none or value is boolean or value is number or value is string -%}
        {{ return(value) }}
    {%- elif value is mapping -%}
        {%- set out = {} -%}
        {%- for key, item in value.items() -%}{%- do out.update({key | string: json_safe(item)}) -%}{%- endfor -%}
        {{ return(out) }}
    {%- elif value.isoformat is defined -%}
        {{ return(value.isoformat()) }}
    {%- elif value is iterable -%}
        {%- set out = [] -%}
        {%- for item in value -%}{%- do out.append(json_safe(item)) -%}{%- endfor -%}
        {{ return(out) }}
    {%- else -%}
        {{ return(value | string) }}
    {%- endif -%}
{%- endmacro %}
