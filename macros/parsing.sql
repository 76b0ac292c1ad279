{#- Text -> typed values, the same way for every raw table. -#}

{#- A boolean spelled any of the usual ways; anything else is null (and quarantined by the caller). -#}
{% macro parse_boolean(column) -%}
    case lower(trim(cast({{ column }} as varchar)))
        when 'true' then true when 't' then true when 'yes' then true when 'y' then true when '1' then true
        when 'false' then false when 'f' then false when 'no' then false when 'n' then false when '0' then false
    end
{%- endmacro %}

{#- An ISO date (yyyy-mm-dd); null when empty or unparseable. -#}
{% macro parse_date(column) -%}
    try_cast(nullif(trim(cast({{ column }} as varchar)), '') as date)
{%- endmacro %}

{#- A whole number. "2" and "2.0" (how pandas writes an integer column with gaps) are 2;
    "1.5", "1e1", "0x10" are null (and quarantined by the caller): a plain cast would round
    a bleeding grade of 1.5 to 2 without a word. -#}
{% macro parse_integer(column) -%}
    (case
        when regexp_full_match(trim(cast({{ column }} as varchar)), '[+-]?[0-9]+([.]0*)?')
            then try_cast(try_cast(trim(cast({{ column }} as varchar)) as double) as integer)
    end)
{%- endmacro %}

{#- A finite number; null when empty, not a number, or NaN / Infinity (which DuckDB would cast). -#}
{% macro parse_number(column) -%}
    {{ finite_or_null("try_cast(nullif(trim(cast(" ~ column ~ " as varchar)), '') as double)") }}
{%- endmacro %}

{% macro finite_or_null(expression) -%}
    (case when isfinite({{ expression }}) then {{ expression }} end)
{%- endmacro %}

{#- A value that is present in the raw text (not null, not blank). -#}
{% macro is_blank(column) -%}
    (nullif(trim(cast({{ column }} as varchar)), '') is null)
{%- endmacro %}
