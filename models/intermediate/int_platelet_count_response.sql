{#- One row per post-baseline platelet count (clean PLT result on study day >= 1 of a patient
    with a day 0): its IWG category under the vars in force (macro platelet_response_detail).
    Bleeding is taken from the visit assessment of the same window (int_visit_measurements);
    a count outside every visit window has no assessment and is NE. The count that represents
    its visit (is_visit_value) gives the visit's response; the others serve only to confirm
    (var require_confirmation) or to confirm a loss (var require_loss_confirmation).
    Visit response, best response, time to first response and loss of response all derive
    from these rows. -#}
with

platelet_counts as (

    select * from {{ ref('int_lab_results_windowed') }}
    where analyte = {{ response_analyte() }} and study_day >= 1

),

visits as (

    select * from {{ ref('int_visit_measurements') }}

),

treatment as (

    -- rescue therapy and corticosteroid dependence at each count
    select * from {{ ref('int_platelet_count_treatment') }}

),

baseline as (

    select
        patient_id,
        platelet_count as baseline_platelet_count
    from visits
    where visit = 'baseline'

),

with_context as (

    select
        platelet_counts.patient_id,
        platelet_counts.result_id,
        platelet_counts.collected_on,
        platelet_counts.study_day,
        platelet_counts.visit,
        visits.visit_order,
        platelet_counts.is_visit_value,
        platelet_counts.value as platelet_count,
        baseline.baseline_platelet_count,
        visits.who_bleeding_grade,
        case when platelet_counts.visit is not null then visits.bleeding_evidence end as bleeding_evidence,
        visits.bleeding_evidence_issue,
        coalesce(treatment.is_after_rescue, false) as is_after_rescue,
        treatment.rescue_started_on,
        treatment.prednisone_equivalent_mg_day,
        coalesce(treatment.is_corticosteroid_dependent, false) as is_corticosteroid_dependent
    from platelet_counts
    left join baseline
        on platelet_counts.patient_id = baseline.patient_id
    left join visits
        on platelet_counts.patient_id = visits.patient_id
            and platelet_counts.visit = visits.visit
    left join treatment
        on platelet_counts.result_id = treatment.result_id

),

{%- if var('require_confirmation') %}

confirmation as (

    -- IWG confirmation: another count in the same window, at least confirmation_min_days away,
    -- that meets the same count rule
    select
        with_context.result_id,
        max(case when {{ meets_cr_count('other.value') }} then 1 else 0 end) = 1 as has_cr_confirmation,
        max(case when {{ meets_pr_count('other.value', 'with_context.baseline_platelet_count') }} then 1 else 0 end) = 1
            as has_pr_confirmation
    from with_context
    inner join platelet_counts as other
        on with_context.patient_id = other.patient_id
            and with_context.visit = other.visit
            and abs(other.study_day - with_context.study_day) >= {{ var('confirmation_min_days') }}
    group by with_context.result_id

),

{%- endif %}

categorised as (

    select
        with_context.*,
        {{ meets_response_count('with_context.platelet_count', 'with_context.baseline_platelet_count') }}
            as meets_response_count,
        {%- if var('require_confirmation') %}
        {{ platelet_response_detail(
            'with_context.platelet_count', 'with_context.baseline_platelet_count', 'with_context.who_bleeding_grade',
            'with_context.bleeding_evidence', 'with_context.visit is not null',
            'coalesce(confirmation.has_cr_confirmation, false)', 'coalesce(confirmation.has_pr_confirmation, false)',
            'with_context.is_after_rescue', 'with_context.is_corticosteroid_dependent'
        ) }} as response_detail
        {%- else %}
        {{ platelet_response_detail(
            'with_context.platelet_count', 'with_context.baseline_platelet_count', 'with_context.who_bleeding_grade',
            'with_context.bleeding_evidence', 'with_context.visit is not null', 'true', 'true',
            'with_context.is_after_rescue', 'with_context.is_corticosteroid_dependent'
        ) }} as response_detail
        {%- endif %}
    from with_context
    {%- if var('require_confirmation') %}
        left join confirmation
            on with_context.result_id = confirmation.result_id
    {%- endif %}

),

final as (

    select
        patient_id,
        result_id,
        collected_on,
        study_day,
        visit,
        visit_order,
        is_visit_value,
        platelet_count,
        baseline_platelet_count,
        who_bleeding_grade,
        bleeding_evidence,
        bleeding_evidence_issue,
        is_after_rescue,
        rescue_started_on,
        prednisone_equivalent_mg_day,
        is_corticosteroid_dependent,
        meets_response_count,
        {{ dbt.split_part('response_detail', "'|'", 1) }} as response,
        {{ dbt.split_part('response_detail', "'|'", 2) }} as response_reason
    from categorised

)

select * from final
