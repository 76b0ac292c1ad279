{%- set fmt = delivery_format('adverse_events') -%}
with

source as (

    select * from {{ raw_table('adverse_events') }}

),

renamed as (

    select
        nullif(trim(cast(ae_id as {{ text_type() }})), '') as ae_id,
        {{ patient_key('patient_id') }} as patient_id,
        {{ parse_date('onset_on', fmt) }} as onset_on,
        {{ parse_date('resolved_on', fmt) }} as resolved_on,
        trim(cast(term as {{ text_type() }})) as term,
        {{ parse_integer('ctcae_grade', fmt) }} as ctcae_grade,
        {{ parse_boolean('serious', fmt) }} as is_serious,
        {{ parse_boolean('related_to_study_drug', fmt) }} as is_related_to_study_drug,
        {{ is_blank('resolved_on', fmt) }} as resolved_on_blank
    from source

),

final as (

    select
        ae_id,
        patient_id,
        onset_on,
        resolved_on,
        term,
        ctcae_grade,
        is_serious,
        is_related_to_study_drug,
        case
            when ae_id is null or ae_id = '' then 'missing ae_id'
            when onset_on is null then 'onset_on missing or not a date' || {{ format_note(fmt, 'date') }}
            when resolved_on is null and not resolved_on_blank then 'resolved_on not a date' || {{ format_note(fmt, 'date') }}
            when resolved_on < onset_on then 'adverse event resolves before onset'
            when term is null or term = '' then 'missing term'
            when ctcae_grade is null then 'ctcae_grade missing or not an integer'
            when ctcae_grade not between 1 and 5 then 'ctcae_grade outside 1-5'
            when is_serious is null then 'serious not a boolean' || {{ format_note(fmt, 'boolean') }}
            when is_related_to_study_drug is null then 'related_to_study_drug not a boolean' || {{ format_note(fmt, 'boolean') }}
        end as row_issue
    from renamed

)

select * from final
