{#- Nothing is lost: for every raw table, raw rows = clean rows + quarantined rows.
    A row that fans out in a join or vanishes in a filter fails this test. The raw rows of a CSV
    file are those counted when it was loaded (macros/raw_row_counts.sql): the file is not read again. -#}
{%- set tables = checked_raw_tables() -%}

with

{% for table, checked, key in tables %}
    {{ table }}_counts as (

        select
            '{{ table }}' as source_table,
            {{ raw_rows_at_load(table) }} as raw_rows,
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

    {% for table, checked, key in tables %}
        select * from {{ table }}_counts
        {% if not loop.last %}union all{% endif %}
    {% endfor %}

)

select *
from all_counts
where raw_rows is distinct from clean_rows + quarantined_rows
