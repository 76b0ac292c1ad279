{#- Adds `rejection_reason` to a staged table: the row's own issue from staging, else the
    first cross-table rule it breaks (duplicate key, unknown patient, impossible date).
    Null = clean. Rows with a reason go to the quarantine, never silently away. -#}
{% macro checked_rows(staged, key_columns, date_column=none, check_patient=true) -%}
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

keyed as (

    select
        staged.*,
        count(*) over (partition by {{ key_columns | join(', ') }}) as rows_with_key
    from staged

),

final as (

    select
        keyed.*,
        case
            when keyed.row_issue is not null then keyed.row_issue
            when keyed.rows_with_key > 1 then 'duplicate key ({{ key_columns | join(", ") }})'
            {%- if check_patient %}
            when patients.patient_id is null then 'unknown patient'
            {%- endif %}
            {%- if date_column %}
            when keyed.{{ date_column }} > current_date then 'date in the future'
            when extract(year from keyed.{{ date_column }}) < patients.birth_year then 'date before birth'
            when keyed.{{ date_column }} < cast('{{ var("study_earliest_date") }}' as date)
                then 'date before study period'
            {%- endif %}
        end as rejection_reason
    from keyed
    left join patients
        on keyed.patient_id = patients.patient_id

)

select * from final
{%- endmacro %}
