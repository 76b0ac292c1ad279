{#- Clean lab results with study day and visit window; `is_visit_value` marks the one result
    per patient x analyte x visit that represents the visit (closest to target, ties later).
    Study day and window: macros/visit_window.sql. Incremental on DuckDB (config in
    dbt_project.yml, macros/incremental_labs.sql): a run rebuilds the patient x analyte pairs
    that have lab rows loaded after this table's newest load_batch. -#}
with

checked as (

    select * from {{ ref('int_lab_results_checked') }}

),

labs as (

    select checked.*
    from checked
    {{- only_touched_lab_pairs('checked') }}
    where checked.rejection_reason is null

),

{{ visit_windowed('labs', 'collected_on', ['patient_id', 'analyte'], 'result_id', keep_unwindowed=true) }},

final as (

    select
        result_id,
        patient_id,
        analyte,
        unit,
        value,
        is_censored,
        censoring,
        lab_flag,
        collected_on,
        study_day,
        visit,
        visit is not null and rank_in_window = 1 as is_visit_value,
        source_file,
        load_batch
    from windowed

)

select * from final
