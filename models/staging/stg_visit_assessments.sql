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
        {{ is_blank('who_bleeding_grade', fmt) }} as bleeding_blank,
        {{ is_blank('prednisone_equivalent_mg_day', fmt) }} as prednisone_blank,
        {{ is_blank('rescue_therapy', fmt) }} as rescue_blank
    from source

),

final as (

    select
        patient_id,
        assessed_on,
        who_bleeding_grade,
        prednisone_equivalent_mg_day,
        rescue_therapy,
        case
            when patient_id is null or patient_id = '' then 'missing patient_id'
            when assessed_on is null then 'assessed_on missing or not a date'
            when who_bleeding_grade is null and not bleeding_blank then 'who_bleeding_grade not an integer'
            when who_bleeding_grade not between 0 and 4 then 'who_bleeding_grade outside 0-4'
            when prednisone_equivalent_mg_day is null and not prednisone_blank
                then 'prednisone_equivalent_mg_day not a number'
            when prednisone_equivalent_mg_day < 0 then 'negative prednisone dose'
            when rescue_therapy is null and not rescue_blank then 'rescue_therapy not a boolean'
        end as row_issue
    from renamed

)

select * from final
