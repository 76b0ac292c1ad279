{#- One row per patient with a day 0 x subgroup definition of the study (var
    response_subgroups): the patient's level (null: not classifiable). The subgroup response
    comparison (analysis.subgroup_response) reads it. -#}
{%- set subgroups = var('response_subgroups') or [] %}
with

patients as (

    select * from {{ ref('dim_patients') }}
    where has_index_drug_start

),

final as (

    {%- for subgroup in subgroups %}
        select
            patient_id,
            cast('{{ subgroup.name | replace("'", "''") }}' as {{ text_type() }}) as subgroup,
            cast('{{ subgroup.label | replace("'", "''") }}' as {{ text_type() }}) as subgroup_label,
            cast({{ subgroup.expression }} as {{ text_type() }}) as subgroup_level,
            {{ cohort_label() }} as cohort
        from patients
        {{ "union all" if not loop.last }}
    {%- else %}
        select
            patient_id,
            cast(null as {{ text_type() }}) as subgroup,
            cast(null as {{ text_type() }}) as subgroup_label,
            cast(null as {{ text_type() }}) as subgroup_level,
            {{ cohort_label() }} as cohort
        from patients
        where false
    {%- endfor %}

)

select * from final
