-- Response at each visit by connective tissue disease, for analysts.
-- Compile with `dbt compile -s response_by_diagnosis` and run the SQL in target/compiled/.
with

responses as (

    select * from {{ ref('fct_platelet_response') }}

),

patients as (

    select * from {{ ref('dim_patients') }}

),

final as (

    select
        responses.visit,
        patients.ctd_diagnosis,
        count(*) as n_patients,
        sum(case when responses.response in ('CR', 'PR') then 1 else 0 end) as n_responders,
        sum(case when responses.response = 'NE' then 1 else 0 end) as n_not_evaluable
    from responses
    inner join patients
        on responses.patient_id = patients.patient_id
    group by responses.visit, patients.ctd_diagnosis

)

select * from final
order by visit, ctd_diagnosis
