{#- The cohort every mart row comes from, as a SQL string literal. The bundled cohort says
    it is synthetic; a user's own cohort names its source folder. -#}
{% macro cohort_label() -%}
    {{ return(adapter.dispatch('cohort_label', 'ctd_rtp')()) }}
{%- endmacro %}

{% macro default__cohort_label() -%}
    '{{ var("cohort_label") | replace("'", "''") }}'
{%- endmacro %}

{#- Spark string literals escape with a backslash. -#}
{% macro spark__cohort_label() -%}
    {{ ctd_rtp.spark_literal(var("cohort_label") | string) }}
{%- endmacro %}
