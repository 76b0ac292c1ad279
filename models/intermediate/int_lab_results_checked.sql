{#- Incremental on DuckDB (macros/incremental_labs.sql): a run processes the extract files it
    has not seen, plus older rows sharing a result_id with them, and replaces those result_ids. -#}
{%- set staged = ref('stg_lab_results') -%}
{%- if is_incremental() -%}
    {%- set staged = new_extract_rows(staged, 'lab_results', 'result_id') -%}
{%- endif %}

{#- the copy of an exact duplicate that is kept comes from the earliest file by name: lab_results.csv,
    then lab_results_<extract> in name order (name extracts by date), so a full refresh keeps the copy
    an incremental run kept -#}
{{ checked_rows(
    staged, ['result_id'],
    content_columns=[
        'patient_id', 'collected_on', 'source_test_code', 'source_unit', 'source_value', 'analyte', 'unit',
        'value', 'is_censored', 'censoring', 'lab_flag', 'row_issue'
    ],
    date_column='collected_on', stamp=true, order_copies_by='source_file'
) }}
