{#- Lab results typed, mapped to a canonical analyte and converted to its canonical unit.
    Read in the delivery's declared format (delivery.yml: decimal and thousands separators, date
    order, missing-value tokens). An abnormal flag beside the value ("25 L", "120*", "4.5 ↑") goes
    to lab_flag and the number goes on; censored text ("<5", ">1000") keeps the bound as the value
    with a censoring flag. Test code and unit are normalised (macros/parsing.sql) before the
    lookup in lab_test_map (the shipped seed plus the delivery's own lab_test_map.csv).
    The reasons in row_issue are listed in docs/data-rejection.md. -#}
{%- set fmt = delivery_format('lab_results') -%}
with

source as (

    select * from {{ raw_table('lab_results') }}

),

renamed as (

    select
        nullif(trim(cast(result_id as {{ text_type() }})), '') as result_id,
        {{ patient_key('patient_id') }} as patient_id,
        {{ parse_date('collected_on', fmt) }} as collected_on,
        trim(cast(test_code as {{ text_type() }})) as source_test_code,
        trim(cast(unit as {{ text_type() }})) as source_unit,
        trim(cast(value as {{ text_type() }})) as source_value,
        {{ delivery_text('value', fmt) }} as value_text,
        source_file
    from source

),

flagged as (

    select
        *,
        -- most values are plain numbers: only the others are searched for a flag
        case when try_cast(value_text as double) is null then {{ lab_flag('value_text') }} end as lab_flag,
        case
            when try_cast(value_text as double) is null then {{ lab_value_without_flag('value_text') }}
            else value_text
        end as value_core
    from renamed

),

parsed as (

    select
        *,
        case
            when value_core like '<%' then '<'
            when value_core like '>%' then '>'
        end as censoring,
        {{ number_from_text("trim(" ~ strip_leading('value_core', '<>=') ~ ")", fmt) }} as source_numeric_value
    from flagged

),

test_map as (

    select * from {{ lab_test_map_in_force() }}

),

analytes as (

    select * from {{ ref('analytes') }}

),

-- the distinct (code, unit) pairs of the delivery, normalised once each
pairs as (

    select distinct
        source_test_code,
        source_unit
    from renamed

),

pair_texts as (

    select
        source_test_code,
        source_unit,
        {{ test_code_text('source_test_code') }} as code_text,
        {{ normalize_unit('source_unit') }} as unit_key
    from pairs

),

-- a unit written in the test name as well ("PLT (10^9/L)") is dropped when it is the row's unit
pair_name_units as (

    select
        *,
        regexp_extract(code_text, '{{ test_code_unit_regex() }}', 1) as code_before_unit,
        {{ normalize_unit("regexp_extract(code_text, '" ~ test_code_unit_regex() ~ "', 2)") }} as name_unit_key
    from pair_texts

),

pair_keys as (

    select
        source_test_code,
        source_unit,
        unit_key,
        case
            when name_unit_key <> '' and name_unit_key = unit_key then code_before_unit
            else code_text
        end as code_key
    from pair_name_units

),

mapped_pairs as (

    select
        pair_keys.source_test_code,
        pair_keys.source_unit,
        test_map.analyte,
        test_map.factor,
        pair_keys.code_key in (select known.code_key from test_map as known) as is_code_known
    from pair_keys
    left join test_map
        on pair_keys.code_key = test_map.code_key
            and pair_keys.unit_key = test_map.unit_key

),

mapped as (

    select
        parsed.*,
        mapped_pairs.analyte,
        mapped_pairs.factor,
        mapped_pairs.is_code_known
    from parsed
    left join mapped_pairs
        on parsed.source_test_code is not distinct from mapped_pairs.source_test_code
            and parsed.source_unit is not distinct from mapped_pairs.source_unit

),

final as (

    select
        mapped.result_id,
        mapped.patient_id,
        mapped.collected_on,
        mapped.source_test_code,
        mapped.source_unit,
        mapped.source_value,
        mapped.analyte,
        analytes.unit,
        mapped.source_numeric_value * mapped.factor as value,
        mapped.censoring is not null as is_censored,
        mapped.censoring,
        mapped.lab_flag,
        mapped.source_file,
        case
            when mapped.result_id is null or mapped.result_id = '' then 'missing result_id'
            when mapped.collected_on is null then 'collected_on missing or not a date' || {{ format_note(fmt, 'date') }}
            when mapped.value_text is null then 'empty value'
            when mapped.source_numeric_value is null then 'value not numeric' || {{ format_note(fmt, 'number') }}
            when mapped.analyte is null and mapped.is_code_known then 'unknown unit for test code'
            when mapped.analyte is null then 'unknown test code'
            when mapped.source_numeric_value * mapped.factor < analytes.plausible_low
                or mapped.source_numeric_value * mapped.factor > analytes.plausible_high
                then 'outside plausible range'
            -- a count per microlitre (factor 0.001 to 10^9/L) below 1000/uL is below what a counter
            -- reports: almost always a 10^9/L value labelled /uL (45 "/uL" would become 0.045)
            when mapped.factor = 0.001
                and mapped.source_numeric_value < {{ var('per_microlitre_min_count', 1000) }}
                then 'value too small for its unit (scale mix-up?)'
        end as row_issue
    from mapped
    left join analytes
        on mapped.analyte = analytes.analyte

)

select * from final
