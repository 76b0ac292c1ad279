{#- The IWG platelet response rule (Rodeghiero et al., Blood 2009). The one place it lives.
    Thresholds come from dbt vars (dbt_project.yml): cr_platelet_threshold,
    pr_platelet_threshold, pr_fold_over_baseline, pr_rule ("and" | "or"), bleeding_grade_nr,
    missing_bleeding_assessment ("no_bleeding" | "not_evaluable"), rescue_response_window_days,
    corticosteroid_dependence_as_nr. -#}

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

{#- The count meets the CR or the PR count rule (bleeding and confirmation aside). -#}
{% macro meets_response_count(platelet_count, baseline_count) -%}
    ({{ meets_cr_count(platelet_count) }} or {{ meets_pr_count(platelet_count, baseline_count) }})
{%- endmacro %}

{#- The response of one platelet count with its reason, as 'CODE|reason' (split it with
    dbt.split_part; one case expression, so the code and its reason can never disagree).

    bleeding_evidence says what is known about bleeding at the count:
      'recorded'     an assessment applies and its WHO grade is usable (bleeding_grade);
      'not recorded' no assessment applies: var missing_bleeding_assessment decides
                     ('no_bleeding', the default, or 'not_evaluable');
      'unusable'     an assessment applies but its grade was quarantined or is missing for a
                     known reason: a count that would be CR/PR is NE (lost data is no good news).
    in_window: false for a count outside every visit window (no assessment applies): NE.
    cr_confirmed / pr_confirmed: SQL booleans, true unless IWG confirmation is on
    (var require_confirmation).
    after_rescue: the count lies within var rescue_response_window_days of rescue therapy
    (IWG 2009: a response explained by rescue treatment is not a response): a would-be CR/PR is NR.
    steroid_dependent: corticosteroid dependence at the count (IWG 2009); NR only with var
    corticosteroid_dependence_as_nr. Order: no count/baseline/window -> NE; bleeding >= var
    bleeding_grade_nr -> NR; count below both rules -> NR; rescue -> NR; steroid dependence -> NR
    (var); then the evidence and confirmation. -#}
{% macro platelet_response_detail(platelet_count, baseline_count, bleeding_grade, bleeding_evidence,
                                  in_window='true', cr_confirmed='true', pr_confirmed='true',
                                  after_rescue='false', steroid_dependent='false') -%}
    {%- set missing_rule = var('missing_bleeding_assessment') -%}
    {%- if missing_rule not in ('no_bleeding', 'not_evaluable') -%}
        {{ exceptions.raise_compiler_error("var missing_bleeding_assessment must be 'no_bleeding' or 'not_evaluable', got '" ~ missing_rule ~ "'") }}
    {%- endif -%}
    case
        when {{ platelet_count }} is null then 'NE|no platelet count'
        when {{ baseline_count }} is null then 'NE|no baseline platelet count'
        when not {{ in_window }} then 'NE|count outside every visit window'
        when {{ bleeding_grade }} >= {{ var('bleeding_grade_nr') }}
            then 'NR|WHO bleeding grade >= {{ var("bleeding_grade_nr") }}'
        when not {{ meets_response_count(platelet_count, baseline_count) }} then 'NR|count below the response rule'
        when {{ after_rescue }}
            then 'NR|response explained by rescue therapy (within {{ var("rescue_response_window_days") }} days)'
        {%- if var('corticosteroid_dependence_as_nr') %}
        when {{ steroid_dependent }} then 'NR|corticosteroid dependent (corticosteroid_dependence_as_nr)'
        {%- endif %}
        when {{ bleeding_evidence }} = 'unusable' then 'NE|bleeding assessment unusable (quarantined or invalid grade)'
        {%- if missing_rule == 'not_evaluable' %}
        when {{ bleeding_evidence }} = 'not recorded'
            then 'NE|no bleeding assessment (missing_bleeding_assessment: not_evaluable)'
        {%- endif %}
        when {{ meets_cr_count(platelet_count) }} and {{ cr_confirmed }} then 'CR|meets the CR rule'
        when {{ meets_pr_count(platelet_count, baseline_count) }} and {{ pr_confirmed }} then 'PR|meets the PR rule'
        else 'NR|response not confirmed'
    end
{%- endmacro %}

{#- True when every var of the response rule has the value of the published analysis (IWG
    2009 as applied by Li et al. 2025): the demo cohort is calibrated to that rule only. -#}
{% macro published_response_rule_in_force() -%}
    {%- set published = {
        'cr_platelet_threshold': 100, 'pr_platelet_threshold': 30, 'pr_fold_over_baseline': 2,
        'pr_rule': 'and', 'bleeding_grade_nr': 2, 'require_confirmation': false,
        'missing_bleeding_assessment': 'no_bleeding', 'rescue_response_window_days': 28,
        'corticosteroid_dependence_as_nr': false,
    } -%}
    {%- for name, value in published.items() -%}
        {%- if var(name) != value -%}{{ return(false) }}{%- endif -%}
    {%- endfor -%}
    {{ return(true) }}
{%- endmacro %}

{#- Human-readable statement of the rule in force, for docs and the report's methods. -#}
{% macro platelet_response_rule_text() -%}
    {%- set pr_join = 'AND' if var('pr_rule') | lower == 'and' else 'OR' -%}
    {%- set missing = 'counts as no bleeding' if var('missing_bleeding_assessment') == 'no_bleeding' else 'makes a would-be CR/PR count NE' -%}
    'CR: platelets >= {{ var("cr_platelet_threshold") }} x10^9/L; PR: platelets >= {{ var("pr_platelet_threshold") }} x10^9/L{{ (" " ~ pr_join ~ " >= " ~ var("pr_fold_over_baseline") ~ "x baseline") if var("pr_fold_over_baseline") else "" }}; either requires WHO bleeding grade < {{ var("bleeding_grade_nr") }} at the visit assessment of the same window; NR otherwise; NE when no count in the visit window or no baseline, or when the bleeding grade of a would-be CR/PR count was quarantined or invalid. A visit without any bleeding assessment {{ missing }}.{{ " Confirmation: a second qualifying count >= " ~ var("confirmation_min_days") ~ " days apart in the same window." if var("require_confirmation") else " No confirmation count required." }}{{ " Loss of response: confirmed by the next count >= " ~ var("loss_confirmation_min_days") ~ " day(s) later." if var("require_loss_confirmation") else " Loss of response: one NR visit after a response." }} A would-be CR/PR count from the start of rescue therapy until {{ var("rescue_response_window_days") }} days after its end is NR (response explained by rescue therapy).{{ " Corticosteroid dependence (prednisone-equivalent > " ~ var("steroid_taper_mg_day") ~ " mg/day for >= " ~ var("corticosteroid_dependence_min_days") ~ " days up to the count) makes a would-be CR/PR count NR." if var("corticosteroid_dependence_as_nr") else "" }}'
{%- endmacro %}
