{#- The visit schedule in force, for SQL users and the Python statistics and report. -#}
select
    visit,
    visit_order,
    visit_label,
    target_day,
    window_start_day,
    window_end_day,
    is_baseline,
    visit = {{ primary_endpoint_visit() }} as is_primary_endpoint,
    {{ cohort_label() }} as cohort
from {{ ref('int_visit_windows') }}
