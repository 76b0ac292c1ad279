{#- One row per post-baseline platelet count (as int_platelet_count_response): the treatment
    context the response rule needs. is_after_rescue: the count lies in a rescue episode or
    within var rescue_response_window_days after it (int_rescue_episodes). Corticosteroid
    dependence (IWG 2009: steroids needed for >= 2 months), by proxy: the latest clean visit
    assessment on or before the count records a prednisone-equivalent dose above var
    steroid_taper_mg_day, and every assessment since one at least var
    corticosteroid_dependence_min_days before the count did too. -#}
with

platelet_counts as (

    select * from {{ ref('int_lab_results_windowed') }}
    where analyte = {{ response_analyte() }} and study_day >= 1

),

rescue as (

    select * from {{ ref('int_rescue_episodes') }}

),

assessments as (

    select
        patient_id,
        assessed_on,
        prednisone_equivalent_mg_day,
        coalesce(prednisone_equivalent_mg_day > {{ var('steroid_taper_mg_day') }}, false) as is_above_taper
    from {{ ref('int_visit_assessments_checked') }}
    where rejection_reason is null and assessed_on is not null

),

steroid_runs as (

    -- gaps and islands: a run is a sequence of assessments above the taper dose
    select
        *,
        sum(case when is_above_taper then 0 else 1 end) over (
            partition by patient_id order by assessed_on rows between unbounded preceding and current row
        ) as run_number
    from assessments

),

steroid_run_starts as (

    select
        *,
        min(case when is_above_taper then assessed_on end) over (partition by patient_id, run_number)
            as above_taper_since_on
    from steroid_runs

),

latest_assessment as (

    select
        platelet_counts.result_id,
        steroid_run_starts.prednisone_equivalent_mg_day,
        steroid_run_starts.is_above_taper,
        steroid_run_starts.above_taper_since_on,
        row_number() over (
            partition by platelet_counts.result_id order by steroid_run_starts.assessed_on desc
        ) as assessment_number
    from platelet_counts
    inner join steroid_run_starts
        on platelet_counts.patient_id = steroid_run_starts.patient_id
            and platelet_counts.collected_on >= steroid_run_starts.assessed_on

),

rescue_at_count as (

    select
        platelet_counts.result_id,
        max(rescue.started_on) as rescue_started_on
    from platelet_counts
    inner join rescue
        on platelet_counts.patient_id = rescue.patient_id
            and platelet_counts.collected_on between rescue.started_on and rescue.window_ends_on
    group by platelet_counts.result_id

),

final as (

    select
        platelet_counts.patient_id,
        platelet_counts.result_id,
        rescue_at_count.result_id is not null as is_after_rescue,
        rescue_at_count.rescue_started_on,
        latest_assessment.prednisone_equivalent_mg_day,
        case when latest_assessment.is_above_taper then latest_assessment.above_taper_since_on end
            as steroid_above_taper_since_on,
        coalesce(
            latest_assessment.is_above_taper
            and {{ dbt.datediff('latest_assessment.above_taper_since_on', 'platelet_counts.collected_on', 'day') }}
            >= {{ var('corticosteroid_dependence_min_days') }},
            false
        ) as is_corticosteroid_dependent
    from platelet_counts
    left join rescue_at_count
        on platelet_counts.result_id = rescue_at_count.result_id
    left join latest_assessment
        on platelet_counts.result_id = latest_assessment.result_id
            and latest_assessment.assessment_number = 1

)

select * from final
