{#- One row per rescue therapy episode: a clean visit assessment with rescue_therapy true (the
    episode is that day), or a clean drug exposure whose drug is of class 'rescue' in
    seeds/reference/drug_classes.csv (ongoing: until the data cut-off). A would-be CR/PR count
    from the episode's start until var rescue_response_window_days after its end is NR
    (IWG 2009: a response explained by rescue therapy is not a response). -#}
{#- read by several models and tests: a table, computed once instead of once per reader (issue 16) -#}
{{ config(materialized='table') }}
with

assessments as (

    select * from {{ ref('int_visit_assessments_checked') }}
    where rejection_reason is null and rescue_therapy

),

exposures as (

    select * from {{ ref('int_drug_exposures_checked') }}
    where rejection_reason is null

),

drug_classes as (

    select * from {{ ref('drug_classes') }}
    where drug_class = 'rescue'

),

cutoff as (

    select * from {{ ref('int_data_cutoff') }}

),

episodes as (

    select
        patient_id,
        'visit assessment' as rescue_source,
        cast(assessed_on as {{ text_type() }}) as rescue_key,
        cast(null as {{ text_type() }}) as drug,
        assessed_on as started_on,
        assessed_on as ended_on
    from assessments
    union all
    select
        exposures.patient_id,
        'drug exposure' as rescue_source,
        exposures.exposure_id as rescue_key,
        exposures.drug,
        exposures.started_on,
        coalesce(exposures.ended_on, cutoff.data_cutoff_date) as ended_on
    from exposures
    inner join drug_classes
        on exposures.drug = drug_classes.drug
    cross join cutoff

),

final as (

    select
        patient_id,
        rescue_source,
        rescue_key,
        drug,
        started_on,
        ended_on,
        cast({{ dbt.dateadd('day', var('rescue_response_window_days'), 'ended_on') }} as date) as window_ends_on
    from episodes

)

select * from final
