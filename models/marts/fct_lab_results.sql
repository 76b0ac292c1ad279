{#- Incremental on DuckDB (macros/incremental_labs.sql): a run rebuilds the patient x analyte
    pairs that have lab rows loaded after this table's newest load_batch. -#}
-- depends_on: {{ ref('int_lab_results_checked') }}
{{ config(
    materialized=lab_materialization(),
    incremental_strategy='append',
    on_schema_change='fail',
    pre_hook="{{ delete_touched_lab_pairs() }}"
) }}

with

windowed as (

    select * from {{ ref('int_lab_results_windowed') }}

),

{%- if is_incremental() %}

touched as (

    {{ touched_lab_pairs(lab_watermark()) }}

),

{%- endif %}

analytes as (

    select * from {{ ref('analytes') }}

),

final as (

    select
        windowed.result_id,
        windowed.patient_id,
        windowed.analyte,
        analytes.analyte_name,
        analytes.panel,
        windowed.unit,
        windowed.collected_on,
        windowed.study_day,
        windowed.value,
        windowed.is_censored,
        windowed.censoring,
        windowed.visit,
        windowed.is_visit_value,
        {{ cohort_label() }} as cohort,
        windowed.source_file,
        windowed.load_batch
    from windowed
    inner join analytes
        on windowed.analyte = analytes.analyte
    {%- if is_incremental() %}
    inner join touched
        on windowed.patient_id = touched.patient_id
            and windowed.analyte = touched.analyte
    {%- endif %}

)

select * from final
