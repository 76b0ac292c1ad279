{#- Day 0 per patient: the first dose of the index drug (var index_drug). Patients without one have no study days. -#}
with

exposures as (

    select * from {{ ref('int_drug_exposures_checked') }}
    where rejection_reason is null and drug = {{ index_drug() }}

),

final as (

    select
        patient_id,
        min(started_on) as index_date
    from exposures
    group by patient_id

)

select * from final
