{#- One row: the study definition in force for this build (dbt vars, defaults in
    dbt_project.yml, another study's file through CTD_RTP_STUDY; docs/study-definition.md), with
    the response rule as text. The statistics, validation and report read the study from here,
    so they always describe the build they read. -#}
with

analytes as (

    select * from {{ ref('analytes') }}

),

cutoff as (

    select * from {{ ref('int_data_cutoff') }}

),

schedule as (

    select * from {{ ref('dim_visit_schedule') }}

),

response_analyte as (

    select
        analyte_name,
        unit
    from analytes
    where analyte = {{ response_analyte() }}

),

trough_analyte as (

    select
        analyte,
        reference_low,
        reference_high
    from analytes
    where analyte = {{ trough_analyte() }}

),

endpoint as (

    select visit_label from schedule
    where visit = {{ primary_endpoint_visit() }}

),

final as (

    select
        cast('{{ var("study_short_name") | replace("'", "''") }}' as {{ text_type() }}) as study_short_name,
        cast('{{ var("study_title") | replace("'", "''") }}' as {{ text_type() }}) as study_title,
        cast('{{ var("study_population") | replace("'", "''") }}' as {{ text_type() }}) as study_population,
        cast({{ index_drug() }} as {{ text_type() }}) as index_drug,
        cast('{{ (var("index_drug_aliases") or []) | join(", ") | replace("'", "''") }}' as {{ text_type() }})
            as index_drug_aliases,
        cast({{ response_analyte() }} as {{ text_type() }}) as response_analyte,
        (select analyte_name from response_analyte) as response_analyte_name,
        (select unit from response_analyte) as response_analyte_unit,
        (select analyte from trough_analyte) as trough_analyte,
        (select reference_low from trough_analyte) as trough_target_low,
        (select reference_high from trough_analyte) as trough_target_high,
        cast({{ primary_endpoint_visit() }} as {{ text_type() }}) as primary_endpoint_visit,
        (select visit_label from endpoint) as primary_endpoint_visit_label,
        cast('{{ var("comparison_visits") | join(",") }}' as {{ text_type() }}) as comparison_visits,
        cast({{ var('cr_platelet_threshold') }} as double) as cr_platelet_threshold,
        cast({{ var('pr_platelet_threshold') }} as double) as pr_platelet_threshold,
        cast({{ var('pr_fold_over_baseline') }} as double) as pr_fold_over_baseline,
        cast('{{ var("pr_rule") | lower }}' as {{ text_type() }}) as pr_rule,
        cast({{ var('bleeding_grade_nr') }} as integer) as bleeding_grade_nr,
        {{ 'true' if var('require_confirmation') else 'false' }} as require_confirmation,
        cast({{ var('confirmation_min_days') }} as integer) as confirmation_min_days,
        cast('{{ var("missing_bleeding_assessment") }}' as {{ text_type() }}) as missing_bleeding_assessment,
        {{ 'true' if var('require_loss_confirmation') else 'false' }} as require_loss_confirmation,
        cast({{ var('loss_confirmation_min_days') }} as integer) as loss_confirmation_min_days,
        cast({{ var('rescue_response_window_days') }} as integer) as rescue_response_window_days,
        {{ 'true' if var('corticosteroid_dependence_as_nr') else 'false' }} as corticosteroid_dependence_as_nr,
        cast({{ var('corticosteroid_dependence_min_days') }} as integer) as corticosteroid_dependence_min_days,
        cast({{ var('steroid_taper_mg_day') }} as double) as steroid_taper_mg_day,
        {{ 'true' if published_response_rule_in_force() else 'false' }} as is_published_rule,
        cast({{ platelet_response_rule_text() }} as {{ text_type() }}) as response_rule,
        cast('{{ tojson(var("response_subgroups") or []) | replace("'", "''") }}' as {{ text_type() }})
            as response_subgroups_json,
        cast('{{ tojson(var("report_panels") or []) | replace("'", "''") }}' as {{ text_type() }})
            as report_panels_json,
        cast('{{ (var("paired_figure_analytes") or []) | join(",") }}' as {{ text_type() }}) as paired_figure_analytes,
        cast({{ "'" ~ (var("ctcae_version") | string | replace("'", "''")) ~ "'" if var("ctcae_version") else "null" }} as {{ text_type() }})
            as ctcae_version,
        (select data_cutoff_date from cutoff) as data_cutoff_date,
        (select data_cutoff_source from cutoff) as data_cutoff_source,
        {{ cohort_label() }} as cohort

)

select * from final
