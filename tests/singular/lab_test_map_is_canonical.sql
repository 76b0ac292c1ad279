{#- The shipped lab test map holds canonical unit spellings only (the normalisation in
    macros/parsing.sql is what makes the other spellings match), and no two of its rows share a
    normalised (test code, unit) key. A row returned here is the problem. -#}
with

shipped as (

    select
        source_code,
        source_unit,
        analyte,
        {{ test_code_text('source_code') }} as code_key,
        {{ normalize_unit('source_unit') }} as unit_key
    from {{ ref('lab_test_map') }}

)

select
    source_code,
    source_unit,
    'unit not in its canonical spelling (' || unit_key || ')' as problem
from shipped
where unit_key <> lower(replace(source_unit, ' ', ''))

union all

select
    min(source_code) as source_code,
    min(source_unit) as source_unit,
    'normalised key shared by ' || cast(count(*) as {{ text_type() }}) || ' rows' as problem
from shipped
group by code_key, unit_key
having count(*) > 1
