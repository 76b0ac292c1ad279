{#- The study definition (dbt vars, defaults in dbt_project.yml; docs/study-definition.md) as
    SQL. Models call these macros instead of writing a drug, an analyte or a visit. -#}

{#- The index drug as a SQL literal, lower case as staging writes drug names. -#}
{% macro index_drug() -%}
    '{{ var("index_drug") | lower | replace("'", "''") }}'
{%- endmacro %}

{#- The other names of the index drug as a SQL list; ('') when none. -#}
{% macro index_drug_aliases() -%}
    {%- set aliases = var('index_drug_aliases') or [] -%}
    {%- if aliases is string -%}{%- set aliases = [aliases] -%}{%- endif -%}
    ({% for a in aliases %}'{{ a | lower | trim | replace("'", "''") }}'{{ ", " if not loop.last }}{% else %}''{% endfor %})
{%- endmacro %}

{% macro response_analyte() -%}
    '{{ var("response_analyte") | replace("'", "''") }}'
{%- endmacro %}

{#- The trough analyte code, or a code no analyte has when the study names none. -#}
{% macro trough_analyte() -%}
    '{{ (var("trough_analyte") or "(no trough analyte)") | replace("'", "''") }}'
{%- endmacro %}

{% macro primary_endpoint_visit() -%}
    '{{ var("primary_endpoint_visit") | replace("'", "''") }}'
{%- endmacro %}

{#- The visit schedule rows, checked: a clear compile error naming the var beats a wrong window. -#}
{% macro study_visit_schedule() -%}
    {%- set rows = var('visit_schedule') -%}
    {%- set required = ['visit', 'visit_order', 'visit_label', 'target_day', 'window_start_day', 'window_end_day', 'is_baseline'] -%}
    {%- if rows is string or rows is mapping or rows | length == 0 -%}
        {{ exceptions.raise_compiler_error("var visit_schedule must be a list of visits (docs/study-definition.md)") }}
    {%- endif -%}
    {%- set visits = [] -%}
    {%- set baselines = [] -%}
    {%- for row in rows -%}
        {%- for key in required -%}
            {%- if row[key] is not defined or row[key] is none -%}
                {{ exceptions.raise_compiler_error("var visit_schedule: visit " ~ (row.visit or loop.index) ~ " has no " ~ key) }}
            {%- endif -%}
        {%- endfor -%}
        {%- if not (row.window_start_day <= row.target_day <= row.window_end_day) -%}
            {{ exceptions.raise_compiler_error("var visit_schedule: visit " ~ row.visit ~ ": target_day must lie in [window_start_day, window_end_day]") }}
        {%- endif -%}
        {%- if row.visit in visits -%}
            {{ exceptions.raise_compiler_error("var visit_schedule: visit " ~ row.visit ~ " appears twice") }}
        {%- endif -%}
        {%- do visits.append(row.visit) -%}
        {%- if row.is_baseline -%}{%- do baselines.append(row.visit) -%}{%- endif -%}
        {%- if row.is_baseline and row.visit != 'baseline' -%}
            {{ exceptions.raise_compiler_error("var visit_schedule: the baseline visit must be named 'baseline', got " ~ row.visit) }}
        {%- endif -%}
    {%- endfor -%}
    {%- if baselines | length != 1 -%}
        {{ exceptions.raise_compiler_error("var visit_schedule must have exactly one visit with is_baseline: true, found " ~ baselines | length) }}
    {%- endif -%}
    {%- if var('primary_endpoint_visit') not in visits or var('primary_endpoint_visit') in baselines -%}
        {{ exceptions.raise_compiler_error("var primary_endpoint_visit '" ~ var('primary_endpoint_visit') ~ "' is not a post-baseline visit of visit_schedule (" ~ visits | join(', ') ~ ")") }}
    {%- endif -%}
    {%- for v in var('comparison_visits') -%}
        {%- if v not in visits or v in baselines -%}
            {{ exceptions.raise_compiler_error("var comparison_visits: '" ~ v ~ "' is not a post-baseline visit of visit_schedule (" ~ visits | join(', ') ~ ")") }}
        {%- endif -%}
    {%- endfor -%}
    {%- for row in rows %}
    select
        cast('{{ row.visit }}' as {{ text_type() }}) as visit,
        cast({{ row.visit_order }} as integer) as visit_order,
        cast('{{ row.visit_label | replace("'", "''") }}' as {{ text_type() }}) as visit_label,
        cast({{ row.target_day }} as integer) as target_day,
        cast({{ row.window_start_day }} as integer) as window_start_day,
        cast({{ row.window_end_day }} as integer) as window_end_day,
        {{ 'true' if row.is_baseline else 'false' }} as is_baseline
    {{ "union all" if not loop.last }}
    {%- endfor %}
{%- endmacro %}

{#- SQL list literal of a list var: ('a', 'b'). -#}
{% macro quoted_list(values) -%}
    ({% for v in values %}'{{ v | replace("'", "''") }}'{{ ", " if not loop.last }}{% endfor %})
{%- endmacro %}
