{#- The IWG response (macro platelet_response) at each post-baseline visit.
    With var require_confirmation, CR/PR also needs another count in the same visit window,
    at least confirmation_min_days apart, that meets the same count rule. -#}
with

measurements as (

    select * from {{ ref('int_visit_measurements') }}
    where visit != 'baseline'

),

platelet_counts as (

    select * from {{ ref('int_lab_results_windowed') }}
    where analyte = 'PLT' and visit is not null

),

confirmation as ( -- noqa: ST03

    -- used only when var require_confirmation is on (the join below is conditional)
    select
        measurements.patient_id,
        measurements.visit,
        max(case when {{ meets_cr_count('other.value') }} then 1 else 0 end) = 1 as has_cr_confirmation,
        max(case when {{ meets_pr_count('other.value', 'measurements.baseline_platelet_count') }} then 1 else 0 end) = 1
            as has_pr_confirmation
    from measurements
    inner join platelet_counts as other
        on measurements.patient_id = other.patient_id
            and measurements.visit = other.visit
            and abs(other.study_day - measurements.platelet_study_day) >= {{ var('confirmation_min_days') }}
    group by measurements.patient_id, measurements.visit

),

final as (

    select
        measurements.patient_id,
        measurements.visit,
        measurements.visit_order,
        measurements.visit_date,
        measurements.study_day,
        measurements.platelet_count,
        measurements.baseline_platelet_count,
        measurements.who_bleeding_grade,
        measurements.rescue_therapy,
        {%- if var('require_confirmation') %}
        {{ platelet_response(
            'measurements.platelet_count', 'measurements.baseline_platelet_count', 'measurements.who_bleeding_grade',
            'coalesce(confirmation.has_cr_confirmation, false)', 'coalesce(confirmation.has_pr_confirmation, false)'
        ) }} as response
        {%- else %}
        {{ platelet_response(
            'measurements.platelet_count', 'measurements.baseline_platelet_count', 'measurements.who_bleeding_grade'
        ) }} as response
        {%- endif %}
    from measurements
    {%- if var('require_confirmation') %}
        left join confirmation
            on measurements.patient_id = confirmation.patient_id
                and measurements.visit = confirmation.visit
    {%- endif %}
)

select * from final
