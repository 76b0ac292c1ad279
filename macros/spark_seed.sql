{#- Seeds on Spark (dbt-spark session method): dbt-spark binds every CSV value as the text
    '{value}', so an empty cell arrives as the string 'None' and a quote inside a value breaks
    the statement. Here each value is rendered as a SQL literal instead: empty = null, text
    escaped for Spark (backslash and quote). Each batch is written as one file, so a small seed
    reads back in CSV order (the report lists reference.analytes in seed order). Used only by
    `dbt seed` on a Spark target. -#}
{% macro spark__load_csv_rows(model, agate_table) %}
    {%- set batch_size = get_batch_size() -%}
    {%- set column_override = model['config'].get('column_types', {}) -%}
    {%- set types = [] -%}
    {%- for col_name in agate_table.column_names -%}
        {%- do types.append(column_override.get(col_name, adapter.convert_type(agate_table, loop.index0))) -%}
    {%- endfor -%}
    {%- set statements = [] -%}
    {%- for chunk in agate_table.rows | batch(batch_size) -%}
        {%- set sql -%}
            insert into {{ this.render() }} select /*+ COALESCE(1) */ * from values
            {% for row in chunk -%}
                ({%- for value in row -%}
                    cast({{ ctd_rtp.spark_literal(value) }} as {{ types[loop.index0] }})
                    {%- if not loop.last %}, {% endif -%}
                {%- endfor -%})
                {%- if not loop.last %},{% endif %}
            {% endfor %}
        {%- endset -%}
        {%- do adapter.add_query(sql, abridge_sql_log=True) -%}
        {%- if loop.index0 == 0 -%}{%- do statements.append(sql) -%}{%- endif -%}
    {%- endfor -%}
    {{ return(statements[0] if statements else '') }}
{% endmacro %}

{% macro spark_literal(value) -%}
    {%- if value is none -%}
        null
    {%- elif value is sameas true -%}
        true
    {%- elif value is sameas false -%}
        false
    {%- elif value is number -%}
        {{ value }}
    {%- else -%}
        '{{ value | string | replace("\\", "\\\\") | replace("'", "\\'") }}'
    {%- endif -%}
{%- endmacro %}
