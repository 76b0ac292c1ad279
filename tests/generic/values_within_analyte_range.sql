{#- Every value lies inside its analyte's plausible range, read from the `analytes` seed
    (never hard-coded per column). Returns the offending rows with the range they broke. -#}
{% test values_within_analyte_range(model, column_name, analyte_column='analyte', bound='plausible') %}

with

checked as (

    select * from {{ model }}

),

analytes as (

    select * from {{ ref('analytes') }}

)

select
    checked.{{ analyte_column }} as analyte,
    checked.{{ column_name }} as value,
    analytes.{{ bound }}_low as range_low,
    analytes.{{ bound }}_high as range_high
from checked
left join analytes
    on checked.{{ analyte_column }} = analytes.analyte
where checked.{{ column_name }} is not null
    and (
        analytes.analyte is null
        or checked.{{ column_name }} < analytes.{{ bound }}_low
        or checked.{{ column_name }} > analytes.{{ bound }}_high
    )

{% endtest %}
