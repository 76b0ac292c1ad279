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

{% macro parse_number(column) -%}
    try_cast(nullif(trim(cast({{ column }} as varchar)), '') as double)
{%- endmacro %}

{#- A value that is present in the raw text (not null, not blank). -#}
{% macro is_blank(column) -%}
    (nullif(trim(cast({{ column }} as varchar)), '') is null)
{%- endmacro %}
