{#- The IWG response at each post-baseline visit: the category of the count that represents
    the visit (int_platelet_count_response, is_visit_value), or NE without one. -#}
with

measurements as (

    select * from {{ ref('int_visit_measurements') }}
    where visit != 'baseline'

),

visit_counts as (

    select * from {{ ref('int_platelet_count_response') }}
    where is_visit_value

),

final as (

    select
        measurements.patient_id,
        measurements.visit,
        measurements.visit_order,
        measurements.visit_date,
        measurements.study_day,
        visit_counts.result_id as platelet_result_id,
        measurements.platelet_count,
        measurements.baseline_platelet_count,
        measurements.who_bleeding_grade,
        measurements.bleeding_evidence,
        measurements.bleeding_evidence_issue,
        measurements.rescue_therapy,
        coalesce(visit_counts.response, 'NE') as response,
        coalesce(visit_counts.response_reason, 'no platelet count in the visit window') as response_reason
    from measurements
    left join visit_counts
        on measurements.patient_id = visit_counts.patient_id
            and measurements.visit = visit_counts.visit

)

select * from final
