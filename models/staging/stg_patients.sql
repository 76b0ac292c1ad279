{%- set fmt = delivery_format('patients') -%}
with

source as (

    select * from {{ raw_table('patients') }}

),

renamed as (

    select
        {{ patient_key('patient_id') }} as patient_id,
        {{ parse_sex('sex', fmt) }} as sex,
        {{ parse_integer('birth_year', fmt) }} as birth_year,
        trim(cast(ctd_diagnosis as {{ text_type() }})) as ctd_diagnosis,
        {{ parse_date('ctd_diagnosed_on', fmt) }} as ctd_diagnosed_on,
        {{ parse_date('thrombocytopenia_diagnosed_on', fmt) }} as thrombocytopenia_diagnosed_on,
        {{ parse_integer('prior_therapy_lines', fmt) }} as prior_therapy_lines,
        {{ is_blank('ctd_diagnosed_on', fmt) }} as ctd_diagnosed_on_blank,
        {{ is_blank('thrombocytopenia_diagnosed_on', fmt) }} as thrombocytopenia_diagnosed_on_blank,
        {{ is_blank('prior_therapy_lines', fmt) }} as prior_therapy_lines_blank
    from source

),

final as (

    select
        patient_id,
        sex,
        birth_year,
        ctd_diagnosis,
        ctd_diagnosed_on,
        thrombocytopenia_diagnosed_on,
        prior_therapy_lines,
        case
            when patient_id is null or patient_id = '' then 'missing patient_id'
            when sex not in ('F', 'M') or sex is null then 'sex not F or M' || {{ format_note(fmt, 'sex') }}
            when birth_year is null then 'birth_year not an integer'
            -- ages 0-120 (the dim_patients age test): a later year or a century-old one is a typo
            when birth_year not between extract(year from current_date) - 120 and extract(year from current_date)
                then 'birth_year not within the last 120 years'
            when ctd_diagnosis not in {{ quoted_list(var('diagnoses')) }}
                or ctd_diagnosis is null then 'unknown ctd_diagnosis'
            when ctd_diagnosed_on is null and not ctd_diagnosed_on_blank then 'ctd_diagnosed_on not a date' || {{ format_note(fmt, 'date') }}
            when thrombocytopenia_diagnosed_on is null and not thrombocytopenia_diagnosed_on_blank
                then 'thrombocytopenia_diagnosed_on not a date' || {{ format_note(fmt, 'date') }}
            when prior_therapy_lines is null and not prior_therapy_lines_blank then 'prior_therapy_lines not an integer'
            when prior_therapy_lines < 0 then 'negative prior_therapy_lines'
        end as row_issue
    from renamed

)

select * from final
