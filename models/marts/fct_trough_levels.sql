with

troughs as (

    select * from {{ ref('int_trough_levels') }}

),

final as (

    select
        patient_id,
        result_id,
        collected_on,
        study_day,
        visit,
        is_visit_value,
        trough,
        exposure_id,
        daily_dose_mg,
        is_on_treatment,
        is_in_target,
        target_low,
        target_high,
        {{ cohort_label() }} as cohort
    from troughs

)

select * from final
