{#- Text -> typed values, the same way for every raw table. -#}

{#- A boolean spelled any of the usual ways; anything else is null (and quarantined by the caller). -#}
{% macro parse_boolean(column) -%}
    case lower(trim(cast({{ column }} as {{ text_type() }})))
        when 'true' then true when 't' then true when 'yes' then true when 'y' then true when '1' then true
        when 'false' then false when 'f' then false when 'no' then false when 'n' then false when '0' then false
    end
{%- endmacro %}

{#- An ISO date (yyyy-mm-dd); null when empty or unparseable. -#}
{% macro parse_date(column) -%}
    {{ return(adapter.dispatch('parse_date', 'ctd_rtp')(column)) }}
{%- endmacro %}

{% macro default__parse_date(column) -%}
    try_cast(nullif(trim(cast({{ column }} as varchar)), '') as date)
{%- endmacro %}

{#- Spark's date cast is lenient ("2024", "2024-05", "2024-05-01 junk" all cast): accept only
    yyyy-m-d text, as DuckDB does. -#}
{% macro spark__parse_date(column) -%}
    (case
        when trim(cast({{ column }} as string)) rlike '^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}$'
            then try_cast(trim(cast({{ column }} as string)) as date)
    end)
{%- endmacro %}

{#- A whole number. "2" and "2.0" (how pandas writes an integer column with gaps) are 2;
    "1.5", "1e1", "0x10" are null (and quarantined by the caller): a plain cast would round
    a bleeding grade of 1.5 to 2 without a word. -#}
{% macro parse_integer(column) -%}
    {{ return(adapter.dispatch('parse_integer', 'ctd_rtp')(column)) }}
{%- endmacro %}

{% macro default__parse_integer(column) -%}
    (case
        when regexp_full_match(trim(cast({{ column }} as varchar)), '[+-]?[0-9]+([.]0*)?')
            then try_cast(try_cast(trim(cast({{ column }} as varchar)) as double) as integer)
    end)
{%- endmacro %}

{#- Spark: `rlike` with anchors (Spark has no regexp_full_match). -#}
{% macro spark__parse_integer(column) -%}
    (case
        when trim(cast({{ column }} as string)) rlike '^[+-]?[0-9]+([.]0*)?$'
            then try_cast(try_cast(trim(cast({{ column }} as string)) as double) as integer)
    end)
{%- endmacro %}

{#- A finite number; null when empty, not a number, or NaN / Infinity (which DuckDB would cast). -#}
{% macro parse_number(column) -%}
    {{ return(adapter.dispatch('parse_number', 'ctd_rtp')(column)) }}
{%- endmacro %}

{% macro default__parse_number(column) -%}
    {{ finite_or_null("try_cast(nullif(trim(cast(" ~ column ~ " as varchar)), '') as double)") }}
{%- endmacro %}

{#- Spark's double cast also takes Java spellings ("1.5d", "2f"): accept plain decimal/exponent text only. -#}
{% macro spark__parse_number(column) -%}
    (case
        when trim(cast({{ column }} as string)) rlike '^[+-]?([0-9]+[.]?[0-9]*|[.][0-9]+)([eE][+-]?[0-9]+)?$'
            then {{ finite_or_null("try_cast(trim(cast(" ~ column ~ " as string)) as double)") }}
    end)
{%- endmacro %}

{% macro finite_or_null(expression) -%}
    {{ return(adapter.dispatch('finite_or_null', 'ctd_rtp')(expression)) }}
{%- endmacro %}

{% macro default__finite_or_null(expression) -%}
    (case when isfinite({{ expression }}) then {{ expression }} end)
{%- endmacro %}

{#- Spark has no isfinite; NaN and +/-Infinity are what a text cast can produce. -#}
{% macro spark__finite_or_null(expression) -%}
    (case when not isnan({{ expression }}) and abs({{ expression }}) != double('Infinity') then {{ expression }} end)
{%- endmacro %}

{#- A value that is present in the raw text (not null, not blank). -#}
{% macro is_blank(column) -%}
    (nullif(trim(cast({{ column }} as {{ text_type() }})), '') is null)
{%- endmacro %}
