with

measurements as (

    select * from {{ ref('int_visit_measurements') }}

),

final as (

    select
        patient_id,
        visit,
        visit_order,
        target_day,
        visit_date,
        study_day,
        platelet_count,
        platelet_study_day,
        baseline_platelet_count,
        who_bleeding_grade,
        prednisone_equivalent_mg_day,
        rescue_therapy,
        sirolimus_trough,
        sirolimus_daily_dose_mg,
        {{ cohort_label() }} as cohort
    from measurements

)

select * from final
