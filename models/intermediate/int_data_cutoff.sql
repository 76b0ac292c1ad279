{#- One row: the data cut-off date that closes follow-up for time-to-event censoring. The var
    data_cutoff_date when set (an ISO date), else the latest date in the delivery (clean rows of
    labs, visit assessments, drug exposures and adverse events). -#}
{#- read by several models and tests: a table, computed once instead of once per reader (issue 16) -#}
{{ config(materialized='table') }}
with

dates as (

    select max(collected_on) as latest_on from {{ ref('int_lab_results_checked') }}
    where rejection_reason is null
    union all
    select max(assessed_on) as latest_on from {{ ref('int_visit_assessments_checked') }}
    where rejection_reason is null
    union all
    select max(coalesce(ended_on, started_on)) as latest_on from {{ ref('int_drug_exposures_checked') }}
    where rejection_reason is null
    union all
    select max(coalesce(resolved_on, onset_on)) as latest_on from {{ ref('int_adverse_events_checked') }}
    where rejection_reason is null

),

final as (

    {%- set cutoff = var('data_cutoff_date') %}
    -- an aggregate either way, so the model has one row
    select
        {{ "max(cast('" ~ cutoff ~ "' as date))" if cutoff else "max(latest_on)" }} as data_cutoff_date,
        -- a delivery with no clean row at all (accepted with --accept-delivery) has no cut-off
        {{ "'var data_cutoff_date'" if cutoff else
            "case when max(latest_on) is null then 'no clean date in the delivery' "
            ~ "else 'latest date in the delivery' end" }} as data_cutoff_source
    from dates

)

select * from final
