{%- set fmt = delivery_format('drug_exposures') -%}
with

source as (

    select * from {{ raw_table('drug_exposures') }}

),

renamed as (

    select
        nullif(trim(cast(exposure_id as {{ text_type() }})), '') as exposure_id,
        {{ patient_key('patient_id') }} as patient_id,
        lower(trim(cast(drug as {{ text_type() }}))) as drug,
        {{ parse_date('started_on', fmt) }} as started_on,
        {{ parse_date('ended_on', fmt) }} as ended_on,
        {{ parse_number('daily_dose_mg', fmt) }} as daily_dose_mg,
        {{ is_blank('ended_on', fmt) }} as ended_on_blank
    from source

),

final as (

    select
        exposure_id,
        patient_id,
        -- the index drug's aliases (var index_drug_aliases): one name downstream
        case when drug in {{ index_drug_aliases() }} then {{ index_drug() }} else drug end as drug,
        started_on,
        ended_on,
        ended_on_blank as is_ongoing,
        daily_dose_mg,
        case
            when exposure_id is null or exposure_id = '' then 'missing exposure_id'
            when drug is null or drug = '' then 'missing drug'
            when started_on is null then 'started_on missing or not a date' || {{ format_note(fmt, 'date') }}
            when ended_on is null and not ended_on_blank then 'ended_on not a date' || {{ format_note(fmt, 'date') }}
            when ended_on < started_on then 'exposure ends before it starts'
            when daily_dose_mg is null then 'daily_dose_mg missing or not a number' || {{ format_note(fmt, 'number') }}
            when daily_dose_mg <= 0 then 'daily_dose_mg not positive'
        end as row_issue
    from renamed

)

select * from final
