{#- Incremental on DuckDB (macros/incremental_labs.sql): a run processes the extract files it
    has not seen, plus older rows sharing a result_id with them, and replaces those result_ids. -#}
{{ config(
    materialized=lab_materialization(),
    incremental_strategy='delete+insert',
    unique_key='result_id',
    on_schema_change='fail'
) }}

{%- set staged = ref('stg_lab_results') -%}
{%- if is_incremental() -%}
    {%- set staged = new_extract_rows(staged, 'lab_results', 'result_id') -%}
{%- endif %}

{{ checked_rows(staged, ['result_id'], date_column='collected_on', stamp=true) }}
