{#- Every delivered field whose value was nulled, with its raw text and the rule it broke, and
    whether its row was quarantined anyway (row_rejection_reason; null = the row is clean and goes
    on without the field). Listing the fields of quarantined rows too shows every problem of a
    delivery at once. raw rows = clean rows + quarantined_rows still holds; a nulled field that
    could decide a result makes that result NE (docs/clinical-rules.md). -#}
{%- set field_columns = {
    'visit_assessments': ['who_bleeding_grade', 'prednisone_equivalent_mg_day', 'rescue_therapy'],
} -%}
{%- set fields = [] -%}
{%- for table, model, key in checked_raw_tables() if table in field_columns -%}
    {%- do fields.append((table, model, key, field_columns[table])) -%}
{%- endfor -%}
with

{% for table, model, key, columns in fields %}
    {% for column in columns %}
        {{ table }}_{{ column }} as (

            select
                '{{ table }}' as source_table,
                {{ key }} as row_key,
                patient_id,
                '{{ column }}' as field_name,
                {{ column }}_text as raw_value,
                {{ column }}_issue as rejection_reason,
                rejection_reason as row_rejection_reason
            from {{ ref(model) }}
            where {{ column }}_issue is not null

        ),

    {% endfor %}
{% endfor %}
unioned as (

    {% for table, model, key, columns in fields %}
        {% set outer = loop %}
        {% for column in columns %}
            select * from {{ table }}_{{ column }}
            {% if not (loop.last and outer.last) %}union all{% endif %}
        {% endfor %}
    {% endfor %}

),

final as (

    select
        source_table,
        row_key,
        -- rows sharing a key (duplicates, all quarantined) are numbered, as in quarantined_rows
        row_number() over (
            partition by source_table, row_key, field_name order by row_rejection_reason, raw_value
        ) as occurrence,
        patient_id,
        field_name,
        raw_value,
        rejection_reason,
        row_rejection_reason
    from unioned

)

select * from final
