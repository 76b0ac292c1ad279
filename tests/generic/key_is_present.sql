{#- Every row has a key. Unlike dbt's `not_null`, the failing rows are returned whole: their
    other columns are what identifies a row whose key is missing. -#}
{% test key_is_present(model, column_name) %}

select *
from {{ model }}
where {{ column_name }} is null

{% endtest %}
