{#- Adds `rejection_reason` to a staged table: the row's own issue from staging, else the
    first cross-table rule it breaks (duplicate key, missing/unknown/quarantined patient,
    impossible date, overlapping period). Null = clean. Rows with a reason go to the
    quarantine, never silently away. The reason texts are listed in docs/data-rejection.md.

    period (optional): {'start': col, 'end': col, 'partition_by': [cols], 'reason': text}.
    Periods are inclusive of both ends, a null end = ongoing. A period that starts on or before
    the end of an earlier clean period of the same partition (ordered by start, then key) is
    rejected with `reason`; the earliest period is kept, so day 0 never moves.

    stamp: add `load_batch`, when this run processed the row (incremental models,
    macros/incremental_labs.sql). -#}
{% macro checked_rows(staged, key_columns, date_column=none, check_patient=true, period=none, stamp=false) -%}
with

staged as (

    select * from {{ staged }}

),

patients as (

    select
        patient_id,
        min(birth_year) as birth_year
    from {{ ref('stg_patients') }}
    where row_issue is null
    group by patient_id

),

-- every patient row, clean or not: a row of a quarantined patient says so (not "unknown patient")
patients_delivered as (

    select distinct patient_id
    from {{ ref('stg_patients') }}
    where patient_id is not null

),

keyed as (

    select
        staged.*,
        -- a row without its key is rejected by staging already; leaving its count null keeps
        -- the count of a row independent of unrelated rows (incremental runs see only some)
        case
            when {{ key_columns | join(' is not null and ') }} is not null
                then count(*) over (partition by {{ key_columns | join(', ') }})
        end as rows_with_key
    from staged

),

{%- if period %}

periods as (

    select
        keyed.*,
        -- latest end among the earlier periods that are clean so far (null end = ongoing)
        max(
            case
                when keyed.row_issue is null and keyed.rows_with_key = 1
                    then coalesce(keyed.{{ period['end'] }}, cast('9999-12-31' as date))
            end
        ) over (
            partition by {{ period['partition_by'] | join(', ') }}
            order by keyed.{{ period['start'] }}, {{ key_columns | join(', ') }}
            rows between unbounded preceding and 1 preceding
        ) as earlier_period_end
    from keyed

),

{%- endif %}

final as (

    select
        {{ star_except('checked', ['earlier_period_end']) if period else 'checked.*' }},
        case
            when checked.row_issue is not null then checked.row_issue
            when checked.rows_with_key > 1 then 'duplicate key ({{ key_columns | join(", ") }})'
            {%- if check_patient %}
            when checked.patient_id is null then 'missing patient_id'
            when patients.patient_id is null
                and checked.patient_id in (select patients_delivered.patient_id from patients_delivered)
                then 'patient quarantined'
            when patients.patient_id is null then 'unknown patient'
            {%- endif %}
            {%- if date_column %}
            when checked.{{ date_column }} > current_date then 'date in the future'
            when extract(year from checked.{{ date_column }}) < patients.birth_year then 'date before birth'
            when checked.{{ date_column }} < cast('{{ var("study_earliest_date") }}' as date)
                then 'date before study period'
            {%- endif %}
            {%- if period %}
            when checked.earlier_period_end >= checked.{{ period['start'] }} then '{{ period["reason"] }}'
            {%- endif %}
        end as rejection_reason{{ ',' if stamp }}
        {%- if stamp %}
        {{ load_batch_stamp() }} as load_batch
        {%- endif %}
    from {{ 'periods' if period else 'keyed' }} as checked
    left join patients
        on checked.patient_id = patients.patient_id

)

select * from final
{%- endmacro %}
