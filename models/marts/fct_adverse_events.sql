with

events as (

    select * from {{ ref('int_adverse_events_checked') }}
    where rejection_reason is null

),

patient_index as (

    select * from {{ ref('int_patient_index') }}

),

final as (

    select
        events.ae_id,
        events.patient_id,
        events.term,
        events.ctcae_grade,
        events.is_serious,
        events.is_related_to_study_drug,
        events.onset_on,
        events.resolved_on,
        events.resolved_on is null as is_ongoing,
        {{ dbt.datediff('patient_index.index_date', 'events.onset_on', 'day') }} as onset_study_day,
        {{ dbt.datediff('events.onset_on', 'events.resolved_on', 'day') }} as duration_days,
        coalesce(events.onset_on >= patient_index.index_date, false) as is_treatment_emergent,
        {{ cohort_label() }} as cohort
    from events
    left join patient_index
        on events.patient_id = patient_index.patient_id

)

select * from final
