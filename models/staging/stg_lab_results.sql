{#- Lab results typed, mapped to a canonical analyte and converted to its canonical unit.
    Censored text ("<5", ">1000") keeps the bound as the value with a censoring flag.
    The reasons in row_issue are listed in docs/data-rejection.md. -#}
with

source as (

    select * from {{ raw_table('lab_results') }}

),

renamed as (

    select
        nullif(trim(cast(result_id as {{ text_type() }})), '') as result_id,
        {{ patient_key('patient_id') }} as patient_id,
        {{ parse_date('collected_on') }} as collected_on,
        trim(cast(test_code as {{ text_type() }})) as source_test_code,
        trim(cast(unit as {{ text_type() }})) as source_unit,
        trim(cast(value as {{ text_type() }})) as source_value,
        source_file
    from source

),

parsed as (

    select
        *,
        case
            when source_value like '<%' then '<'
            when source_value like '>%' then '>'
        end as censoring,
        {{ finite_or_null("try_cast(trim(" ~ strip_leading('source_value', '<>=') ~ ") as double)") }} as source_numeric_value
    from renamed

),

test_map as (

    select * from {{ ref('lab_test_map') }}

),

analytes as (

    select * from {{ ref('analytes') }}

),

mapped as (

    select
        parsed.*,
        test_map.analyte,
        test_map.factor
    from parsed
    left join test_map
        on upper(parsed.source_test_code) = upper(test_map.source_code)
            and lower(parsed.source_unit) = lower(test_map.source_unit)

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
        mapped.source_file,
        case
            when mapped.result_id is null or mapped.result_id = '' then 'missing result_id'
            when mapped.collected_on is null then 'collected_on missing or not a date'
            when mapped.source_value is null or mapped.source_value = '' then 'empty value'
            when mapped.source_numeric_value is null then 'value not numeric'
            when mapped.analyte is null
                and upper(mapped.source_test_code) in (select upper(source_code) from test_map)
                then 'unknown unit for test code'
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
