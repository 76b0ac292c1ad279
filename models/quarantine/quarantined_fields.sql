{#- Every field nulled in an otherwise clean row, with its raw text and the rule it broke.
    The row goes on without the field (raw rows = clean rows + quarantined_rows still holds);
    a field that could decide a result makes that result NE (docs/clinical-rules.md). -#}
{%- set fields = [
    ('visit_assessments', 'int_visit_assessments_checked',
     "patient_id || '@' || cast(assessed_on as " ~ text_type() ~ ")",
     ['who_bleeding_grade', 'prednisone_equivalent_mg_day', 'rescue_therapy']),
] -%}
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
