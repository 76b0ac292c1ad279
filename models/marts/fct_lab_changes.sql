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

visit_values as (

    select windowed.*
    from {{ ref('int_lab_results_windowed') }} as windowed
    {{- only_touched_lab_pairs('windowed') }}
    where windowed.is_visit_value

),

analytes as (

    select * from {{ ref('analytes') }}

),

windows as (

    select * from {{ ref('int_visit_windows') }}

),

baseline as (

    select * from visit_values
    where visit = 'baseline'

),

followup as (

    select * from visit_values
    where visit != 'baseline'

),

final as (

    select
        followup.patient_id,
        followup.analyte,
        analytes.analyte_name,
        analytes.panel,
        analytes.unit,
        followup.visit,
        windows.visit_order,
        followup.study_day,
        baseline.study_day as baseline_study_day,
        baseline.value as baseline_value,
        followup.value,
        followup.value - baseline.value as change,
        case
            when baseline.value != 0
                then 100.0 * (followup.value - baseline.value) / abs(baseline.value)
        end as pct_change,
        coalesce(baseline.is_censored, false) as is_baseline_censored,
        followup.is_censored as is_value_censored,
        case
            when followup.value < analytes.reference_low then 'low'
            when followup.value > analytes.reference_high then 'high'
            when analytes.reference_low is null and analytes.reference_high is null then null
            else 'normal'
        end as reference_flag,
        {{ cohort_label() }} as cohort,
        case
            when baseline.load_batch > followup.load_batch then baseline.load_batch
            else followup.load_batch
        end as load_batch
    from followup
    inner join analytes
        on followup.analyte = analytes.analyte
    inner join windows
        on followup.visit = windows.visit
    left join baseline
        on followup.patient_id = baseline.patient_id
            and followup.analyte = baseline.analyte

)

select * from final
