{#- One row per patient with a day 0: the observation window that time-to-event censoring and
    the share of time in response use, and the treatments that explain or confound a response.
    Observation ends at the earliest of the data cut-off (int_data_cutoff), the end of index_drug
    (every clean exposure ended), and the start of rescue therapy (int_rescue_episodes, on or
    after day 0). Time in response (IWG 2009, duration of response as the share of observed time):
    each evaluable count (CR/PR/NR, int_platelet_count_response) holds until the next one; days
    observed run from day 0 to the last evaluable count in the window. Follow-up (STROBE 14c)
    runs from day 0 to the last contact (any clean dated record; an ongoing exposure counts up to
    the cut-off), at most the data cut-off. -#}
with

patient_index as (

    select * from {{ ref('int_patient_index') }}

),

counts as (

    select * from {{ ref('int_platelet_count_response') }}

),

cutoff as (

    select * from {{ ref('int_data_cutoff') }}

),

index_drug as (

    select
        patient_id,
        max(ended_on) as last_ended_on,
        max(case when ended_on is null then 1 else 0 end) = 1 as is_ongoing
    from {{ ref('int_drug_exposures_checked') }}
    where rejection_reason is null and drug = {{ index_drug() }}
    group by patient_id

),

rescue as (

    select
        rescue.patient_id,
        min(rescue.started_on) as first_rescue_on
    from {{ ref('int_rescue_episodes') }} as rescue
    inner join patient_index
        on rescue.patient_id = patient_index.patient_id
            and rescue.started_on >= patient_index.index_date
    group by rescue.patient_id

),

other_drug_names as (

    select distinct
        patient_id,
        drug
    from {{ ref('fct_concomitant_drugs') }}
    where is_other_itp_treatment and overlaps_follow_up

),

other_drugs as (

    select
        patient_id,
        {{ dbt.listagg('drug', "', '", 'order by drug') }} as other_itp_drugs
    from other_drug_names
    group by patient_id

),

windows as (

    select
        patient_index.patient_id,
        patient_index.index_date,
        cutoff.data_cutoff_date,
        case when not index_drug.is_ongoing then index_drug.last_ended_on end as end_of_treatment_on,
        rescue.first_rescue_on
    from patient_index
    cross join cutoff
    left join index_drug
        on patient_index.patient_id = index_drug.patient_id
    left join rescue
        on patient_index.patient_id = rescue.patient_id

),

observation as (

    select
        *,
        -- ties: rescue, then end of treatment, then the cut-off
        case
            when first_rescue_on is not null
                and first_rescue_on <= data_cutoff_date
                and (end_of_treatment_on is null or first_rescue_on <= end_of_treatment_on)
                then 'start of rescue therapy'
            when end_of_treatment_on is not null and end_of_treatment_on <= data_cutoff_date
                then 'end of treatment'
            else 'data cut-off'
        end as observation_end_reason
    from windows

),

observation_end as (

    select
        *,
        case observation_end_reason
            when 'start of rescue therapy' then first_rescue_on
            when 'end of treatment' then end_of_treatment_on
            else data_cutoff_date
        end as observation_ends_on
    from observation

),

evaluable as (

    select
        counts.patient_id,
        counts.collected_on,
        counts.study_day,
        counts.response,
        lead(counts.study_day) over (
            partition by counts.patient_id order by counts.study_day, counts.result_id
        ) as next_study_day
    from counts
    inner join observation_end
        on counts.patient_id = observation_end.patient_id
            and counts.collected_on <= observation_end.observation_ends_on
    where counts.response in ('CR', 'PR', 'NR')

),

time_in_response as (

    select
        patient_id,
        max(collected_on) as last_platelet_assessment_on,
        max(study_day) as days_observed,
        cast(sum(case when response in ('CR', 'PR') then coalesce(next_study_day - study_day, 0) else 0 end)
            as bigint) as days_in_response,
        count(*) as n_evaluable_counts
    from evaluable
    group by patient_id

),

contacts as (

    -- every clean dated record of the patient; an index-drug exposure ongoing at the cut-off
    -- counts as contact up to the cut-off
    select patient_id, collected_on as contact_on from {{ ref('int_lab_results_checked') }}
    where rejection_reason is null
    union all
    select patient_id, assessed_on as contact_on from {{ ref('int_visit_assessments_checked') }}
    where rejection_reason is null
    union all
    select patient_id, coalesce(resolved_on, onset_on) as contact_on from {{ ref('int_adverse_events_checked') }}
    where rejection_reason is null
    union all
    select
        exposures.patient_id,
        case
            when exposures.ended_on is not null then exposures.ended_on
            when exposures.drug = {{ index_drug() }} then cutoff.data_cutoff_date
            else exposures.started_on
        end as contact_on
    from {{ ref('int_drug_exposures_checked') }} as exposures
    cross join cutoff
    where exposures.rejection_reason is null

),

last_contact as (

    select
        contacts.patient_id,
        max(case when contacts.contact_on <= cutoff.data_cutoff_date then contacts.contact_on end) as last_contact_on
    from contacts
    cross join cutoff
    group by contacts.patient_id

),

steroid_dependence as (

    -- a count meeting the response thresholds while steroid dependent
    select distinct patient_id
    from counts
    where is_corticosteroid_dependent and meets_response_count

),

final as (

    select
        observation_end.patient_id,
        observation_end.index_date,
        observation_end.data_cutoff_date,
        cutoff.data_cutoff_source,
        observation_end.end_of_treatment_on,
        observation_end.first_rescue_on,
        observation_end.first_rescue_on is not null as had_rescue_therapy,
        observation_end.observation_ends_on,
        observation_end.observation_end_reason,
        time_in_response.last_platelet_assessment_on,
        coalesce(time_in_response.n_evaluable_counts, 0) as n_evaluable_counts,
        coalesce(time_in_response.days_observed, 0) as days_observed,
        coalesce(time_in_response.days_in_response, 0) as days_in_response,
        {% call as_contract_type('double') -%}
        cast(time_in_response.days_in_response as double) / nullif(time_in_response.days_observed, 0)
        {%- endcall %} as share_of_time_in_response,
        -- follow-up: day 0 to the last contact, at most the data cut-off (STROBE 14c)
        least(last_contact.last_contact_on, observation_end.data_cutoff_date) as follow_up_ends_on,
        {{ dbt.datediff('observation_end.index_date', 'least(last_contact.last_contact_on, observation_end.data_cutoff_date)', 'day') }}
            as follow_up_days,
        {{ days_to_months(dbt.datediff('observation_end.index_date', 'least(last_contact.last_contact_on, observation_end.data_cutoff_date)', 'day')) }}
            as follow_up_months,
        other_drugs.other_itp_drugs,
        other_drugs.patient_id is not null as has_other_itp_treatment,
        steroid_dependence.patient_id is not null as is_corticosteroid_dependent,
        {{ cohort_label() }} as cohort
    from observation_end
    cross join cutoff
    left join time_in_response
        on observation_end.patient_id = time_in_response.patient_id
    left join other_drugs
        on observation_end.patient_id = other_drugs.patient_id
    left join last_contact
        on observation_end.patient_id = last_contact.patient_id
    left join steroid_dependence
        on observation_end.patient_id = steroid_dependence.patient_id

)

select * from final
