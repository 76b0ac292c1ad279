{#- The IWG platelet response rule (Rodeghiero et al., Blood 2009). The one place it lives.
    Thresholds come from dbt vars (dbt_project.yml): cr_platelet_threshold,
    pr_platelet_threshold, pr_fold_over_baseline, pr_rule ("and" | "or"), bleeding_grade_nr. -#}

{% macro meets_cr_count(platelet_count) -%}
    ({{ platelet_count }} >= {{ var('cr_platelet_threshold') }})
{%- endmacro %}

{% macro meets_pr_count(platelet_count, baseline_count) -%}
    {%- set rule = var('pr_rule') | lower -%}
    {%- if rule not in ('and', 'or') -%}
        {{ exceptions.raise_compiler_error("var pr_rule must be 'and' or 'or', got '" ~ var('pr_rule') ~ "'") }}
    {%- endif -%}
    ({{ platelet_count }} >= {{ var('pr_platelet_threshold') }}
        {{ rule }} {{ platelet_count }} >= {{ var('pr_fold_over_baseline') }} * {{ baseline_count }})
{%- endmacro %}

{#- Response category: CR, PR, NR or NE (not evaluable: no count in the window or no baseline).
    Bleeding at or above var bleeding_grade_nr makes any count NR; a missing bleeding
    assessment counts as no bleeding. cr_confirmed / pr_confirmed are SQL booleans that
    are true unless IWG confirmation is switched on (var require_confirmation). -#}
{% macro platelet_response(platelet_count, baseline_count, bleeding_grade, cr_confirmed='true', pr_confirmed='true') -%}
    case
        when {{ platelet_count }} is null or {{ baseline_count }} is null then 'NE'
        when coalesce({{ bleeding_grade }}, 0) >= {{ var('bleeding_grade_nr') }} then 'NR'
        when {{ meets_cr_count(platelet_count) }} and {{ cr_confirmed }} then 'CR'
        when {{ meets_pr_count(platelet_count, baseline_count) }} and {{ pr_confirmed }} then 'PR'
        else 'NR'
    end
{%- endmacro %}

{#- Human-readable statement of the rule in force, for docs and the report's methods. -#}
{% macro platelet_response_rule_text() -%}
    {%- set pr_join = 'AND' if var('pr_rule') | lower == 'and' else 'OR' -%}
    'CR: platelets >= {{ var("cr_platelet_threshold") }} x10^9/L; PR: platelets >= {{ var("pr_platelet_threshold") }} x10^9/L {{ pr_join }} >= {{ var("pr_fold_over_baseline") }}x baseline; either requires WHO bleeding grade < {{ var("bleeding_grade_nr") }}; NR otherwise; NE when no count in the visit window or no baseline.{{ " Confirmation: a second qualifying count >= " ~ var("confirmation_min_days") ~ " days apart in the same window." if var("require_confirmation") else " No confirmation count required." }}'
{%- endmacro %}
