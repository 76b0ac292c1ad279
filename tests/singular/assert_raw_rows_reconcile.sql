{#- Nothing is lost: for every raw table, raw rows = clean rows + quarantined rows.
    A row that fans out in a join or vanishes in a filter fails this test. -#}
{%- set tables = [
    ('patients', 'int_patients_checked'),
    ('drug_exposures', 'int_drug_exposures_checked'),
    ('lab_results', 'int_lab_results_checked'),
    ('visit_assessments', 'int_visit_assessments_checked'),
    ('adverse_events', 'int_adverse_events_checked'),
] -%}

with

{% for table, checked in tables %}
    {{ table }}_counts as (

        select
            '{{ table }}' as source_table,
            (select count(*) from {{ raw_table(table) }}) as raw_rows,
            (
                select count(*) from {{ ref(checked) }}
                where rejection_reason is null
            ) as clean_rows,
            (
                select count(*) from {{ ref('quarantined_rows') }}
                where source_table = '{{ table }}'
            ) as quarantined_rows

    ),

{% endfor %}
all_counts as (

    {% for table, checked in tables %}
        select * from {{ table }}_counts
        {% if not loop.last %}union all{% endif %}
    {% endfor %}

)

select *
from all_counts
where raw_rows != clean_rows + quarantined_rows
