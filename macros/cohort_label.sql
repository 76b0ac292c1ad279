{#- The cohort every mart row comes from, as a SQL string literal. The bundled cohort says
    it is synthetic; a user's own cohort names its source folder. -#}
{% macro cohort_label() -%}
    '{{ var("cohort_label") | replace("'", "''") }}'
{%- endmacro %}
