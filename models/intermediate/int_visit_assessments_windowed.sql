{#- The clinical assessment that represents each patient x visit (same window rule as labs). -#}
with

assessments as (

    select * from {{ ref('int_visit_assessments_checked') }}
    where rejection_reason is null

),

patient_index as (

    select * from {{ ref('int_patient_index') }}

),

windows as (

    select * from {{ ref('visit_windows') }}

),

with_study_day as (

    select
        assessments.*,
        {{ dbt.datediff('patient_index.index_date', 'assessments.assessed_on', 'day') }} as study_day
    from assessments
    inner join patient_index
        on assessments.patient_id = patient_index.patient_id

),

ranked as (

    select
        with_study_day.patient_id,
        with_study_day.assessed_on,
        with_study_day.study_day,
        with_study_day.who_bleeding_grade,
        with_study_day.prednisone_equivalent_mg_day,
        with_study_day.rescue_therapy,
        windows.visit,
        row_number() over (
            partition by with_study_day.patient_id, windows.visit
            order by {{ visit_window_order('with_study_day.study_day', 'windows.target_day', 'with_study_day.assessed_on') }}
        ) as rank_in_window
    from with_study_day
    inner join windows
        on with_study_day.study_day between windows.window_start_day and windows.window_end_day

),

final as (

    select
        patient_id,
        visit,
        assessed_on,
        study_day,
        who_bleeding_grade,
        prednisone_equivalent_mg_day,
        rescue_therapy
    from ranked
    where rank_in_window = 1

)

select * from final
