with

responses as (

    select * from {{ ref('int_platelet_response') }}

),

final as (

    select
        patient_id,
        visit,
        visit_order,
        visit_date,
        study_day,
        platelet_count,
        baseline_platelet_count,
        platelet_count / nullif(baseline_platelet_count, 0) as fold_change,
        who_bleeding_grade,
        bleeding_evidence,
        rescue_therapy,
        response,
        response_reason,
        response in ('CR', 'PR') as is_responder,
        {{ cohort_label() }} as cohort
    from responses

)

select * from final
