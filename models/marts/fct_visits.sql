with

measurements as (

    select * from {{ ref('int_visit_measurements') }}

),

trough_target as (

    select
        reference_low,
        reference_high
    from {{ ref('analytes') }}
    where analyte = 'SIRO_TROUGH'

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
        sirolimus_trough between trough_target.reference_low and trough_target.reference_high
            as is_sirolimus_trough_in_target,
        sirolimus_daily_dose_mg,
        {{ cohort_label() }} as cohort
    from measurements
    cross join trough_target

)

select * from final
