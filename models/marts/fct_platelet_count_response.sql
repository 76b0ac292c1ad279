with

counts as (

    select * from {{ ref('int_platelet_count_response') }}

),

final as (

    select
        patient_id,
        result_id,
        collected_on,
        study_day,
        visit,
        is_visit_value,
        platelet_count,
        baseline_platelet_count,
        who_bleeding_grade,
        bleeding_evidence,
        is_after_rescue,
        rescue_started_on,
        prednisone_equivalent_mg_day,
        is_corticosteroid_dependent,
        meets_response_count,
        response,
        response_reason,
        {{ cohort_label() }} as cohort
    from counts

)

select * from final
