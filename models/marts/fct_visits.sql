with

measurements as (

    select * from {{ ref('int_visit_measurements') }}

),

visit_troughs as (

    -- in target as decided once per trough level (int_trough_levels)
    select * from {{ ref('int_trough_levels') }}
    where is_visit_value

),

final as (

    select
        measurements.patient_id,
        measurements.visit,
        measurements.visit_order,
        measurements.target_day,
        measurements.visit_date,
        measurements.study_day,
        measurements.platelet_count,
        measurements.platelet_study_day,
        measurements.baseline_platelet_count,
        measurements.who_bleeding_grade,
        measurements.prednisone_equivalent_mg_day,
        measurements.prednisone_equivalent_mg_day <= {{ var('steroid_taper_mg_day') }} as is_steroid_tapered,
        cast({{ var('steroid_taper_mg_day') }} as double) as steroid_taper_mg_day,
        measurements.rescue_therapy,
        measurements.index_drug_trough,
        visit_troughs.is_in_target as is_index_drug_trough_in_target,
        measurements.index_drug_daily_dose_mg,
        {{ cohort_label() }} as cohort
    from measurements
    left join visit_troughs
        on measurements.patient_id = visit_troughs.patient_id
            and measurements.visit = visit_troughs.visit

)

select * from final
