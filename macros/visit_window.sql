{#- Study day and visit window, the one place they are assigned (labs and assessments alike).
    Study day = the row's date - day 0 (int_patient_index). A row falls in every window of the
    visit schedule (int_visit_windows, from var visit_schedule) whose inclusive [window_start_day, window_end_day] holds its study day;
    within a window the row closest to the target day represents the visit (ties: the later
    day, then the larger tiebreak key), rank_in_window = 1.

    Renders two CTEs, `with_study_day` and `windowed`, to follow other CTEs in a `with` list:
      rows          the CTE of rows to window (their columns are carried through)
      date_column   the date that gives the study day
      partition_by  what one visit value is per, besides the visit (e.g. patient_id, analyte)
      tiebreak_key  the last tie breaker (for determinism)
      keep_unwindowed  true: rows outside every window are kept with a null visit (left join)
      extra_order   more order-by terms after the window order -#}
{% macro visit_windowed(rows, date_column, partition_by, tiebreak_key, keep_unwindowed=false, extra_order=none) -%}
with_study_day as (

    select
        {{ rows }}.*,
        {{ dbt.datediff('visit_patient_index.index_date', rows ~ '.' ~ date_column, 'day') }} as study_day
    from {{ rows }}
    inner join {{ ref('int_patient_index') }} as visit_patient_index
        on {{ rows }}.patient_id = visit_patient_index.patient_id

),

windowed as (

    select
        with_study_day.*,
        visit_windows.visit,
        visit_windows.target_day,
        row_number() over (
            partition by {% for column in partition_by %}with_study_day.{{ column }}, {% endfor %}visit_windows.visit
            order by
                {{ visit_window_order('with_study_day.study_day', 'visit_windows.target_day', 'with_study_day.' ~ tiebreak_key) }}
                {%- if extra_order %},
                {{ extra_order }}{% endif %}
        ) as rank_in_window
    from with_study_day
    {{ 'left' if keep_unwindowed else 'inner' }} join {{ ref('int_visit_windows') }} as visit_windows
        on with_study_day.study_day between visit_windows.window_start_day and visit_windows.window_end_day

)
{%- endmacro %}

{#- Ranking of candidate rows inside a visit window: closest to the target day first,
    ties broken by the later day, then by the given key for determinism. -#}
{% macro visit_window_order(study_day, target_day, tiebreak_key) -%}
    abs({{ study_day }} - {{ target_day }}) asc, {{ study_day }} desc, {{ tiebreak_key }} desc
{%- endmacro %}
