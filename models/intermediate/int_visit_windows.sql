{#- The visit schedule of the study in force (var visit_schedule, macros/study.sql): one row per
    analysis visit with its target study day and inclusive window. Within a window the value
    closest to the target day represents the visit (ties: the later day). -#}
{{ study_visit_schedule() }}
