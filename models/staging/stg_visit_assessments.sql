{#- Visit assessments typed (in the delivery's declared formats, macros/delivery.sql). A bad
    value in one field (bleeding grade, steroid dose, rescue flag) nulls that field only and
    names it in `<field>_issue`: the row's other fields stay usable and the field goes to
    quarantine.quarantined_fields. Only a missing patient or date rejects the whole row
    (row_issue). -#}
{%- set fmt = delivery_format('visit_assessments') -%}
with

source as (

    select * from {{ raw_table('visit_assessments') }}

),

renamed as (

    select
        {{ patient_key('patient_id') }} as patient_id,
        {{ parse_date('assessed_on', fmt) }} as assessed_on,
        {{ parse_integer('who_bleeding_grade', fmt) }} as who_bleeding_grade,
        {{ parse_number('prednisone_equivalent_mg_day', fmt) }} as prednisone_equivalent_mg_day,
        {{ parse_boolean('rescue_therapy', fmt) }} as rescue_therapy,
        -- the delivered text (null when blank or a declared missing-value token), for the quarantine
        case when not {{ is_blank('who_bleeding_grade', fmt) }}
                then trim(cast(who_bleeding_grade as {{ text_type() }}))
        end as who_bleeding_grade_text,
        case when not {{ is_blank('prednisone_equivalent_mg_day', fmt) }}
                then trim(cast(prednisone_equivalent_mg_day as {{ text_type() }}))
        end as prednisone_equivalent_mg_day_text,
        case when not {{ is_blank('rescue_therapy', fmt) }}
                then trim(cast(rescue_therapy as {{ text_type() }}))
        end as rescue_therapy_text
    from source

),

field_checks as (

    select
        *,
        case
            when who_bleeding_grade is null and who_bleeding_grade_text is not null
                then 'who_bleeding_grade not an integer'
            when who_bleeding_grade not between 0 and 4 then 'who_bleeding_grade outside 0-4'
        end as who_bleeding_grade_issue,
        case
            when prednisone_equivalent_mg_day is null and prednisone_equivalent_mg_day_text is not null
                then 'prednisone_equivalent_mg_day not a number' || {{ format_note(fmt, 'number') }}
            when prednisone_equivalent_mg_day < 0 then 'negative prednisone dose'
        end as prednisone_equivalent_mg_day_issue,
        case
            when rescue_therapy is null and rescue_therapy_text is not null
                then 'rescue_therapy not a boolean' || {{ format_note(fmt, 'boolean') }}
        end as rescue_therapy_issue
    from renamed

),

final as (

    select
        patient_id,
        assessed_on,
        case when who_bleeding_grade_issue is null then who_bleeding_grade end as who_bleeding_grade,
        case when prednisone_equivalent_mg_day_issue is null then prednisone_equivalent_mg_day end
            as prednisone_equivalent_mg_day,
        rescue_therapy,
        who_bleeding_grade_issue,
        prednisone_equivalent_mg_day_issue,
        rescue_therapy_issue,
        who_bleeding_grade_text,
        prednisone_equivalent_mg_day_text,
        rescue_therapy_text,
        case
            when patient_id is null or patient_id = '' then 'missing patient_id'
            when assessed_on is null then 'assessed_on missing or not a date' || {{ format_note(fmt, 'date') }}
        end as row_issue
    from field_checks

)

select * from final
