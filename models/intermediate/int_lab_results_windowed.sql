{#- Clean lab results with study day and visit window; `is_visit_value` marks the one result
    per patient x analyte x visit that represents the visit (closest to target, ties later).
    Incremental on DuckDB (macros/incremental_labs.sql): a run rebuilds the patient x analyte
    pairs that have lab rows loaded after this table's newest load_batch. -#}
{{ config(
    materialized=lab_materialization(),
    incremental_strategy='append',
    on_schema_change='fail',
    pre_hook="{{ delete_touched_lab_pairs() }}"
) }}

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

patient_index as (

    select * from {{ ref('int_patient_index') }}

),

windows as (

    select * from {{ ref('int_visit_windows') }}

),

with_study_day as (

    select
        labs.result_id,
        labs.patient_id,
        labs.analyte,
        labs.unit,
        labs.value,
        labs.is_censored,
        labs.censoring,
        labs.lab_flag,
        labs.collected_on,
        labs.source_file,
        labs.load_batch,
        {{ dbt.datediff('patient_index.index_date', 'labs.collected_on', 'day') }} as study_day
    from labs
    inner join patient_index
        on labs.patient_id = patient_index.patient_id

),

windowed as (

    select
        with_study_day.*,
        windows.visit,
        windows.target_day,
        row_number() over (
            partition by with_study_day.patient_id, with_study_day.analyte, windows.visit
            order by {{ visit_window_order('with_study_day.study_day', 'windows.target_day', 'with_study_day.result_id') }}
        ) as rank_in_window
    from with_study_day
    left join windows
        on with_study_day.study_day between windows.window_start_day and windows.window_end_day

),

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
