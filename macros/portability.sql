{#- The few SQL spellings that differ between DuckDB (the default, `default__*`) and Apache
    Spark (`spark__*`). The DuckDB SQL is exactly what it was before Spark support: the
    default branches are the original text. -#}

{#- The text type in casts: DuckDB `varchar`; Spark's varchar needs a length, its text type is `string`. -#}
{% macro text_type() -%}
    {{ return(adapter.dispatch('text_type', 'ctd_rtp')()) }}
{%- endmacro %}

{% macro default__text_type() -%}varchar{%- endmacro %}

{% macro spark__text_type() -%}string{%- endmacro %}

{#- Drop leading characters (any of `characters`) from a text expression. -#}
{% macro strip_leading(expression, characters) -%}
    {{ return(adapter.dispatch('strip_leading', 'ctd_rtp')(expression, characters)) }}
{%- endmacro %}

{% macro default__strip_leading(expression, characters) -%}
    ltrim({{ expression }}, '{{ characters }}')
{%- endmacro %}

{#- Spark's two-argument ltrim takes (trim characters, text): the SQL-standard form is unambiguous. -#}
{% macro spark__strip_leading(expression, characters) -%}
    trim(leading '{{ characters }}' from {{ expression }})
{%- endmacro %}

{#- `alias.*` without some columns: DuckDB `* exclude (...)`, Spark `* except (...)`. -#}
{% macro star_except(alias, columns) -%}
    {{ return(adapter.dispatch('star_except', 'ctd_rtp')(alias, columns)) }}
{%- endmacro %}

{% macro default__star_except(alias, columns) -%}
    {{ alias }}.* exclude ({{ columns | join(', ') }})
{%- endmacro %}

{% macro spark__star_except(alias, columns) -%}
    {{ alias }}.* except ({{ columns | join(', ') }})
{%- endmacro %}

{#- Types the marts' contracts name, on both engines. DuckDB's `datediff` and `extract` return
    bigint and `bigint / 365.25` is a double; Spark returns int and a decimal. -#}

{#- Spark's datediff as bigint (DuckDB's type): overrides dbt-spark's `spark__datediff` for every
    `dbt.datediff` call (dispatch looks in the root project first); DuckDB's is untouched. -#}
{% macro spark__datediff(first_date, second_date, datepart) -%}
    cast({{ dbt.spark__datediff(first_date, second_date, datepart) }} as bigint)
{%- endmacro %}

{#- `{% call as_contract_type('double') %}expression{% endcall %}`: the expression unchanged on
    DuckDB (its type already is the contract's), cast to the type on Spark. -#}
{% macro as_contract_type(data_type) -%}
    {{ return(adapter.dispatch('as_contract_type', 'ctd_rtp')(caller(), data_type)) }}
{%- endmacro %}

{% macro default__as_contract_type(expression, data_type) -%}
    {{ expression }}
{%- endmacro %}

{% macro spark__as_contract_type(expression, data_type) -%}
    cast({{ expression }} as {{ data_type }})
{%- endmacro %}
