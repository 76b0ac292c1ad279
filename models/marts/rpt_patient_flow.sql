{#- One row per step of the patient flow (STROBE item 13): patients delivered, quarantined (one
    row per reason), accepted, without / with an index dose (day 0), then per post-baseline visit
    the evaluable patients and the not-evaluable ones by reason, and the patients analysed at the
    last visit. Every count is of distinct patients; the report draws its flow diagram from here. -#}
with

delivered as (

    select patient_id, rejection_reason from {{ ref('int_patients_checked') }}

),

patients as (

    select patient_id, has_index_drug_start from {{ ref('dim_patients') }}

),

responses as (

    select patient_id, visit, visit_order, response, response_reason from {{ ref('fct_platelet_response') }}

),

last_visit as (

    select max(visit_order) as visit_order from responses

),

steps as (

    select 10 as step_order, 'delivered' as step, 'Patients delivered' as step_label,
        cast(null as {{ text_type() }}) as visit, cast(null as {{ text_type() }}) as reason,
        count(distinct patient_id) as n_patients
    from delivered

    union all

    select 20, 'quarantined', 'Patients quarantined', null, rejection_reason, count(distinct patient_id)
    from delivered
    where rejection_reason is not null
    group by rejection_reason

    union all

    select 30, 'accepted', 'Patients accepted', null, null, count(*) from patients

    union all

    select 40, 'no_index_dose', 'Without a first index-drug dose (no day 0)', null, null,
        sum(case when has_index_drug_start then 0 else 1 end)
    from patients

    union all

    select 50, 'with_index_dose', 'With a first index-drug dose (day 0): analysis set', null, null,
        sum(case when has_index_drug_start then 1 else 0 end)
    from patients

    union all

    select 60 + visit_order, 'evaluable', 'Evaluable for response', visit, null,
        sum(case when response = 'NE' then 0 else 1 end)
    from responses
    group by visit, visit_order

    union all

    select 60 + visit_order, 'not_evaluable', 'Not evaluable (NE)', visit, response_reason, count(*)
    from responses
    where response = 'NE'
    group by visit, visit_order, response_reason

    union all

    select 90, 'analysed', 'Analysed at the last visit', responses.visit, null,
        sum(case when responses.response = 'NE' then 0 else 1 end)
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
