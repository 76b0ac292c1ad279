{#- Ranking of candidate rows inside a visit window: closest to the target day first,
    ties broken by the later day, then by the given key for determinism.
    Use as: row_number() over (partition by ... order by {{ visit_window_order('study_day', 'target_day', 'result_id') }}) -#}
{% macro visit_window_order(study_day, target_day, tiebreak_key) -%}
    abs({{ study_day }} - {{ target_day }}) asc, {{ study_day }} desc, {{ tiebreak_key }} desc
{%- endmacro %}
