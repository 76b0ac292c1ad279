{#- Every raw row that did not pass, with the rule it broke. Nothing is dropped silently:
    raw rows = clean rows + quarantined rows, per table (tests/singular/assert_raw_rows_reconcile.sql). -#}
{%- set tables = checked_raw_tables() -%}
with

{% for table, model, key in tables %}
    {{ table }} as (

        select
            '{{ table }}' as source_table,
            coalesce({{ key }}, '(missing key)') as row_key,
            patient_id,
            rejection_reason
        from {{ ref(model) }}
        where rejection_reason is not null

    ),

{% endfor %}
unioned as (

    {% for table, model, key in tables %}
        select * from {{ table }}
        {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

final as (

    select
        source_table,
        row_key,
        -- duplicates share a key: number them so each quarantined row stays addressable
        row_number() over (
            partition by source_table, row_key, rejection_reason order by patient_id
        ) as occurrence,
        patient_id,
        rejection_reason
    from unioned

)

select * from final
