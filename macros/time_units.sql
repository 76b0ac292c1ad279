{#- Days as months (365.25 / 12 = 30.4375 days a month): the one place patient-months are
    derived, so SQL users and the report read the same number. Null stays null. -#}
{% macro days_to_months(days) -%}
    cast({{ days }} as double) / cast(30.4375 as double)
{%- endmacro %}
