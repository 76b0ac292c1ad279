with

responses as (

    select * from {{ ref('int_platelet_response') }}

),

platelet_counts as (

    select * from {{ ref('int_lab_results_windowed') }}
    where analyte = 'PLT'

),

patient_index as (

    select * from {{ ref('int_patient_index') }}

),

baseline as (

    select
        patient_id,
        platelet_count as baseline_platelet_count
    from {{ ref('int_visit_measurements') }}
    where visit = 'baseline'

),

per_patient as (

    select
        patient_id,
        max(case response when 'CR' then 3 when 'PR' then 2 when 'NR' then 1 else 0 end) as best_rank,
        min(case when response in ('CR', 'PR') then visit_order end) as first_response_visit_order,
        max(case when visit = 'month_6' then response end) as month_6_response,
        max(case when visit = 'month_3' then response end) as month_3_response
    from responses
    group by patient_id

),

lost as (

    -- responded at a visit, then NR at a later one
    select distinct earlier.patient_id
    from responses as earlier
    inner join responses as later
        on earlier.patient_id = later.patient_id
            and earlier.visit_order < later.visit_order
    where earlier.response in ('CR', 'PR') and later.response = 'NR'

),

counts as (

    -- on-treatment platelet counts through the end of the month-6 window
    select
        platelet_counts.patient_id,
        max(platelet_counts.value) as max_platelet_count,
        min(case
            when
                {{ meets_pr_count('platelet_counts.value', 'baseline.baseline_platelet_count') }}
                or {{ meets_cr_count('platelet_counts.value') }}
                then platelet_counts.study_day
        end) as days_to_first_response_count
    from platelet_counts
    inner join baseline
        on platelet_counts.patient_id = baseline.patient_id
    where platelet_counts.study_day between 1 and (
            select max(window_end_day) from {{ ref('visit_windows') }}
        )
    group by platelet_counts.patient_id

),

final as (

    select
        patient_index.patient_id,
        case per_patient.best_rank when 3 then 'CR' when 2 then 'PR' when 1 then 'NR' else 'NE' end
            as best_response,
        per_patient.best_rank >= 2 as is_responder_by_month_6,
        per_patient.month_3_response,
        coalesce(per_patient.month_6_response, 'NE') as month_6_response,
        case per_patient.first_response_visit_order
            when 1 then 'month_1' when 3 then 'month_3' when 6 then 'month_6'
        end as first_response_visit,
        case when per_patient.best_rank >= 2 then counts.days_to_first_response_count end
            as days_to_first_response,
        lost.patient_id is not null as lost_response,
        baseline.baseline_platelet_count,
        counts.max_platelet_count,
        counts.max_platelet_count / nullif(baseline.baseline_platelet_count, 0) as best_fold_change,
        {{ cohort_label() }} as cohort
    from patient_index
    left join per_patient
        on patient_index.patient_id = per_patient.patient_id
    left join lost
        on patient_index.patient_id = lost.patient_id
    left join counts
        on patient_index.patient_id = counts.patient_id
    left join baseline
        on patient_index.patient_id = baseline.patient_id

)

select * from final
