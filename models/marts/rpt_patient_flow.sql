{#- One row per step of the patient flow (STROBE item 13): patients delivered, quarantined (one
    row per reason), accepted, without / with an index dose (day 0), then per post-baseline visit
    the evaluable patients and the not-evaluable ones by reason, and the patients analysed at the
    last visit. Every count is of distinct patients; the report draws its flow diagram from here. -#}
with

delivered as (

    select
        patient_id,
        rejection_reason
    from {{ ref('int_patients_checked') }}

),

patients as (

    select
        patient_id,
        has_index_drug_start
    from {{ ref('dim_patients') }}

),

responses as (

    select
        patient_id,
        visit,
        visit_order,
        response,
        response_reason
    from {{ ref('fct_platelet_response') }}

),

last_visit as (

    select max(visit_order) as visit_order from responses

),

steps as (

    select
        10 as step_order,
        'delivered' as step,
        'Patients delivered' as step_label,
        cast(null as {{ text_type() }}) as visit,
        cast(null as {{ text_type() }}) as reason,
        count(distinct patient_id) as n_patients
    from delivered

    union all

    select
        20 as step_order,
        'quarantined' as step,
        'Patients quarantined' as step_label,
        cast(null as {{ text_type() }}) as visit,
        rejection_reason as reason,
        count(distinct patient_id) as n_patients
    from delivered
    where rejection_reason is not null
    group by rejection_reason

    union all

    select
        30 as step_order,
        'accepted' as step,
        'Patients accepted' as step_label,
        cast(null as {{ text_type() }}) as visit,
        cast(null as {{ text_type() }}) as reason,
        count(*) as n_patients
    from patients

    union all

    select
        40 as step_order,
        'no_index_dose' as step,
        'Without a first index-drug dose (no day 0)' as step_label,
        cast(null as {{ text_type() }}) as visit,
        cast(null as {{ text_type() }}) as reason,
        sum(case when has_index_drug_start then 0 else 1 end) as n_patients
    from patients

    union all

    select
        50 as step_order,
        'with_index_dose' as step,
        'With a first index-drug dose (day 0): analysis set' as step_label,
        cast(null as {{ text_type() }}) as visit,
        cast(null as {{ text_type() }}) as reason,
        sum(case when has_index_drug_start then 1 else 0 end) as n_patients
    from patients

    union all

    select
        60 + visit_order as step_order,
        'evaluable' as step,
        'Evaluable for response' as step_label,
        visit,
        cast(null as {{ text_type() }}) as reason,
        sum(case when response = 'NE' then 0 else 1 end) as n_patients
    from responses
    group by visit, visit_order

    union all

    select
        60 + visit_order as step_order,
        'not_evaluable' as step,
        'Not evaluable (NE)' as step_label,
        visit,
        response_reason as reason,
        count(*) as n_patients
    from responses
    where response = 'NE'
    group by visit, visit_order, response_reason

    union all

    select
        90 as step_order,
        'analysed' as step,
        'Analysed at the last visit' as step_label,
        responses.visit,
        cast(null as {{ text_type() }}) as reason,
        sum(case when responses.response = 'NE' then 0 else 1 end) as n_patients
    from responses
    inner join last_visit on responses.visit_order = last_visit.visit_order
    group by responses.visit

),

final as (

    select
        cast(step_order as integer) as step_order,
        step,
        step_label,
        visit,
        reason,
        cast(coalesce(n_patients, 0) as integer) as n_patients,
        {{ cohort_label() }} as cohort
    from steps

)

select * from final
