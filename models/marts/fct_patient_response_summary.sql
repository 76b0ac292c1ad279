{#- One row per patient with a day 0: best response, first response, loss and regain, all
    from the per-count categories (int_platelet_count_response), the same rows whose visit
    counts give the visit responses (fct_platelet_response). Counts outside every visit window
    are NE there, so they never start the clock or confirm anything. -#}
with

responses as (

    select * from {{ ref('int_platelet_response') }}

),

counts as (

    select * from {{ ref('int_platelet_count_response') }}

),

patient_index as (

    select * from {{ ref('int_patient_index') }}

),

baseline as (

    select
        patient_id,
        platelet_count as baseline_platelet_count
    from {{ ref('int_visit_measurements') }}
    where visit = 'baseline'

),

endpoint_window as (

    select window_end_day from {{ ref('int_visit_windows') }}
    where visit = {{ primary_endpoint_visit() }}

),

per_patient as (

    -- the visit response (fct_platelet_response) at the primary endpoint (var primary_endpoint_visit)
    select
        patient_id,
        max(case when visit = {{ primary_endpoint_visit() }} then response end) as primary_endpoint_response
    from responses
    group by patient_id

),

best as (

    -- best response over every count in a visit window (ADaM best overall response)
    select
        patient_id,
        max(case response when 'CR' then 3 when 'PR' then 2 when 'NR' then 1 else 0 end) as best_rank,
        -- up to the end of the primary endpoint window
        max(
            case
                when study_day <= (select window_end_day from endpoint_window)
                    then case response when 'CR' then 3 when 'PR' then 2 when 'NR' then 1 else 0 end
            end
        ) as best_rank_by_endpoint
    from counts
    group by patient_id

),

responding_counts as (

    select
        patient_id,
        visit,
        study_day,
        row_number() over (partition by patient_id order by study_day, result_id) as response_number
    from counts
    where response in ('CR', 'PR')

),

first_response as (

    select
        patient_id,
        visit as first_response_visit,
        study_day as days_to_first_response
    from responding_counts
    where response_number = 1

),

loss_candidates as (

    -- an NR count after the first response (NE is no evidence either way)
    select
        counts.patient_id,
        counts.visit,
        counts.study_day
    from counts
    inner join first_response
        on counts.patient_id = first_response.patient_id
            and counts.study_day > first_response.days_to_first_response
    where counts.response = 'NR'

),

next_counts as (

    -- IWG: a loss is confirmed by the next evaluable count, loss_confirmation_min_days or more later
    select
        loss_candidates.patient_id,
        loss_candidates.study_day as loss_study_day,
        counts.response as next_response,
        row_number() over (
            partition by loss_candidates.patient_id, loss_candidates.study_day
            order by counts.study_day, counts.result_id
        ) as count_number
    from loss_candidates
    inner join counts
        on loss_candidates.patient_id = counts.patient_id
            and counts.study_day >= loss_candidates.study_day + {{ var('loss_confirmation_min_days') }}
            and counts.response in ('CR', 'PR', 'NR')

),

losses as (

    select
        loss_candidates.patient_id,
        loss_candidates.visit,
        loss_candidates.study_day,
        row_number() over (partition by loss_candidates.patient_id order by loss_candidates.study_day) as loss_number
    from loss_candidates
    left join next_counts
        on loss_candidates.patient_id = next_counts.patient_id
            and loss_candidates.study_day = next_counts.loss_study_day
            and next_counts.count_number = 1
    -- var require_loss_confirmation: the next evaluable count must be NR too
    where {% if var('require_loss_confirmation') %}next_counts.next_response = 'NR'{% else %}true{% endif %}

),

first_loss as (

    select
        patient_id,
        visit as loss_of_response_visit,
        study_day as loss_of_response_study_day
    from losses
    where loss_number = 1

),

regained as (

    select distinct responding_counts.patient_id
    from responding_counts
    inner join first_loss
        on responding_counts.patient_id = first_loss.patient_id
            and responding_counts.study_day > first_loss.loss_of_response_study_day

),

count_summary as (

    -- on-treatment platelet counts through the end of the last visit window
    select
        patient_id,
        max(platelet_count) as max_platelet_count
    from counts
    where study_day <= (select max(window_end_day) from {{ ref('int_visit_windows') }})
    group by patient_id

),

final as (

    select
        patient_index.patient_id,
        case best.best_rank when 3 then 'CR' when 2 then 'PR' when 1 then 'NR' else 'NE' end
            as best_response,
        coalesce(best.best_rank_by_endpoint >= 2, false) as is_responder_by_primary_endpoint,
        cast({{ primary_endpoint_visit() }} as {{ text_type() }}) as primary_endpoint_visit,
        coalesce(per_patient.primary_endpoint_response, 'NE') as primary_endpoint_response,
        first_response.first_response_visit,
        first_response.days_to_first_response,
        first_loss.patient_id is not null as lost_response,
        first_loss.loss_of_response_visit,
        first_loss.loss_of_response_study_day,
        regained.patient_id is not null as regained_response,
        baseline.baseline_platelet_count,
        count_summary.max_platelet_count,
        count_summary.max_platelet_count / nullif(baseline.baseline_platelet_count, 0) as best_fold_change,
        {{ cohort_label() }} as cohort
    from patient_index
    left join per_patient
        on patient_index.patient_id = per_patient.patient_id
    left join best
        on patient_index.patient_id = best.patient_id
    left join first_response
        on patient_index.patient_id = first_response.patient_id
    left join first_loss
        on patient_index.patient_id = first_loss.patient_id
    left join regained
        on patient_index.patient_id = regained.patient_id
    left join count_summary
        on patient_index.patient_id = count_summary.patient_id
    left join baseline
        on patient_index.patient_id = baseline.patient_id

)

select * from final
