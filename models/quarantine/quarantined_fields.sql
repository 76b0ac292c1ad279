{#- Every field nulled in an otherwise clean row, with its raw text and the rule it broke.
    The row goes on without the field (raw rows = clean rows + quarantined_rows still holds);
    a field that could decide a result makes that result NE (docs/clinical-rules.md). -#}
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
                {{ column }}_issue as rejection_reason
            from {{ ref(model) }}
            where rejection_reason is null and {{ column }}_issue is not null

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

    select * from unioned

)

select * from final
