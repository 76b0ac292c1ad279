{#- One row per patient x time-to-event parameter, in the ADaM ADTTE shape (PARAMCD, STARTDT,
    ADT, AVAL, CNSR, EVNTDESC, CNSDTDSC). Every event comes from the per-count categories
    (int_platelet_count_response) through the same rows that give the visit response and the
    patient summary (fct_patient_response_summary: first response, confirmed loss); the
    observation window and its end reason come from fct_patient_follow_up.
      TTRESP  time to first response (CR or PR), from day 0; every patient with a day 0.
      TTCR    time to complete response, from day 0; every patient with a day 0.
      DOR     duration of response, from the first response to the confirmed loss of response;
              patients whose first response is an event of TTRESP.
    An event after the end of observation does not count. Censored (CNSR 1): at the start of
    rescue therapy when it ends observation; else at the last evaluable platelet count (CR/PR/NR)
    on or before the end of observation (the data cut-off or the end of treatment); with no
    evaluable count, at day 0 (AVAL 0). AVAL = ADT - STARTDT in days. -#}
with

follow_up as (

    select * from {{ ref('fct_patient_follow_up') }}

),

summary as (

    select * from {{ ref('fct_patient_response_summary') }}

),

first_cr as (

    select
        patient_id,
        min(study_day) as days_to_first_cr
    from {{ ref('int_platelet_count_response') }}
    where response = 'CR'
    group by patient_id

),

patients as (

    select
        follow_up.*,
        summary.days_to_first_response,
        summary.loss_of_response_study_day,
        first_cr.days_to_first_cr,
        case
            when follow_up.observation_end_reason = 'start of rescue therapy' then follow_up.first_rescue_on
            else coalesce(follow_up.last_platelet_assessment_on, follow_up.index_date)
        end as censored_on,
        case
            when follow_up.observation_end_reason = 'start of rescue therapy' then 'start of rescue therapy'
            when follow_up.last_platelet_assessment_on is null
                then 'no evaluable post-baseline platelet count (censored at day 0)'
            else 'last platelet assessment on or before the ' || follow_up.observation_end_reason
        end as censoring_description
    from follow_up
    left join summary
        on follow_up.patient_id = summary.patient_id
    left join first_cr
        on follow_up.patient_id = first_cr.patient_id

),

events as (

    select
        patient_id,
        'TTRESP' as paramcd,
        'Time to first response (CR or PR) (days)' as param,
        index_date as start_date,
        cast({{ dbt.dateadd('day', 'days_to_first_response', 'index_date') }} as date) as event_on,
        'first CR or PR platelet count' as event_description,
        censored_on,
        censoring_description,
        observation_ends_on,
        observation_end_reason,
        index_date
    from patients
    union all
    select
        patient_id,
        'TTCR' as paramcd,
        'Time to complete response (days)' as param,
        index_date as start_date,
        cast({{ dbt.dateadd('day', 'days_to_first_cr', 'index_date') }} as date) as event_on,
        'first CR platelet count' as event_description,
        censored_on,
        censoring_description,
        observation_ends_on,
        observation_end_reason,
        index_date
    from patients
    union all
    select
        patient_id,
        'DOR' as paramcd,
        'Duration of response (days)' as param,
        cast({{ dbt.dateadd('day', 'days_to_first_response', 'index_date') }} as date) as start_date,
        cast({{ dbt.dateadd('day', 'loss_of_response_study_day', 'index_date') }} as date) as event_on,
        'confirmed loss of response (first NR count)' as event_description,
        censored_on,
        censoring_description,
        observation_ends_on,
        observation_end_reason,
        index_date
    from patients
    -- responders only: the first response is an event of TTRESP
    where days_to_first_response is not null
        and {{ dbt.dateadd('day', 'days_to_first_response', 'index_date') }} <= observation_ends_on

),

decided as (

    select
        *,
        coalesce(event_on <= observation_ends_on, false) as has_event
    from events

),

final as (

    select
        patient_id,
        paramcd,
        param,
        start_date,
        case when has_event then event_on else censored_on end as analysis_date,
        {{ dbt.datediff('start_date', 'case when has_event then event_on else censored_on end', 'day') }} as days,
        case when has_event then 0 else 1 end as cnsr,
        case when has_event then event_description end as event_description,
        case when not has_event then censoring_description end as censoring_description,
        {{ dbt.datediff('index_date', 'start_date', 'day') }} as start_study_day,
        {{ dbt.datediff('index_date', 'case when has_event then event_on else censored_on end', 'day') }}
            as analysis_study_day,
        observation_end_reason,
        {{ cohort_label() }} as cohort
    from decided

)

select * from final
