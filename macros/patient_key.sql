{#- The patient identifier every table carries. With CTD_RTP_PSEUDONYM_SALT set, it is a
    salted SHA-256 pseudonym instead of the study id: the same in every table (so joins
    still work), not reversible without the salt. Applied once, in staging, so marts,
    quarantine, analysis tables and the report all carry the pseudonym.
    The salt appears in the compiled SQL under target/: treat that folder as secret
    (`dbt clean` removes it). -#}
{% macro patient_key(column) -%}
    {%- set salt = env_var('CTD_RTP_PSEUDONYM_SALT', '') -%}
    {%- if salt == '' -%}
        nullif(trim(cast({{ column }} as {{ text_type() }})), '')
    {%- else -%}
        {{ return(adapter.dispatch('pseudonym', 'ctd_rtp')(column, salt)) }}
    {%- endif -%}
{%- endmacro %}

{% macro default__pseudonym(column, salt) -%}
    case
        when nullif(trim(cast({{ column }} as varchar)), '') is not null
            then 'PS-' || substr(sha256('{{ salt | replace("'", "''") }}' || '|' || trim(cast({{ column }} as varchar))), 1, 16)
    end
{%- endmacro %}

{#- Spark: sha2(text, 256) is the same SHA-256 hex digest as DuckDB's sha256(text). Spark string
    literals escape with a backslash (and '' is two adjacent literals), so the salt is escaped so. -#}
{% macro spark__pseudonym(column, salt) -%}
    case
        when nullif(trim(cast({{ column }} as string)), '') is not null
            then 'PS-' || substr(sha2({{ ctd_rtp.spark_literal(salt) }} || '|' || trim(cast({{ column }} as string)), 256), 1, 16)
    end
{%- endmacro %}
