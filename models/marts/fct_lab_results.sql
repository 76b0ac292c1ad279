{#- A view: int_lab_results_windowed (a table, incremental on DuckDB) with the analyte's name and
    panel. Writing its 10M+ rows a second time would double the heaviest step of a build. -#}
{{ config(materialized='view') }}

with

windowed as (

    select * from {{ ref('int_lab_results_windowed') }}

),

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
        windowed.lab_flag,
        windowed.visit,
        windowed.is_visit_value,
        {{ cohort_label() }} as cohort,
        windowed.source_file,
        windowed.load_batch
    from windowed
    inner join analytes
        on windowed.analyte = analytes.analyte

)

select * from final
