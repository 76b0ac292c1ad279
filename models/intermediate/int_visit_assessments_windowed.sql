{#- The clinical assessment that represents each patient x visit (same window rule as labs),
    and what it says about bleeding. Quarantined assessments with a readable date compete for
    the window too: when the one that would represent the visit is quarantined (a conflicting
    duplicate, ...) or its grade was nulled (quarantine.quarantined_fields), the visit's
    bleeding evidence is 'unusable', never "no bleeding". Exact duplicate copies do not compete
    (their kept copy does). -#}
with

assessments as (

    select * from {{ ref('int_visit_assessments_checked') }}
    where assessed_on is not null
        and (rejection_reason is null or rejection_reason not like 'exact duplicate%')

),

patient_index as (

    select * from {{ ref('int_patient_index') }}

),

windows as (

    select * from {{ ref('int_visit_windows') }}

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
        with_study_day.rejection_reason,
        with_study_day.who_bleeding_grade,
        with_study_day.who_bleeding_grade_issue,
        with_study_day.prednisone_equivalent_mg_day,
        with_study_day.rescue_therapy,
        windows.visit,
        row_number() over (
            partition by with_study_day.patient_id, windows.visit
            order by
                {{ visit_window_order('with_study_day.study_day', 'windows.target_day', 'with_study_day.assessed_on') }},
                -- a quarantined twin of the chosen date wins the tie: its evidence is lost
                case when with_study_day.rejection_reason is null then 1 else 0 end
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
        case when rejection_reason is null then who_bleeding_grade end as who_bleeding_grade,
        case when rejection_reason is null then prednisone_equivalent_mg_day end as prednisone_equivalent_mg_day,
        case when rejection_reason is null then rescue_therapy end as rescue_therapy,
        case
            when rejection_reason is not null or who_bleeding_grade_issue is not null then 'unusable'
            when who_bleeding_grade is null then 'not recorded'
            else 'recorded'
        end as bleeding_evidence,
        coalesce(rejection_reason, who_bleeding_grade_issue) as bleeding_evidence_issue
    from ranked
    where rank_in_window = 1

)

select * from final
