with

patients as (

    select * from {{ ref('int_patients_checked') }}
    where rejection_reason is null

),

patient_index as (

    select * from {{ ref('int_patient_index') }}

),

baseline as (

    select * from {{ ref('int_visit_measurements') }}
    where visit = 'baseline'

),

final as (

    select
        patients.patient_id,
        patients.sex,
        patients.birth_year,
        {% call as_contract_type('bigint') %}extract(year from patient_index.index_date) - patients.birth_year{% endcall %} as age_at_index,
        patients.ctd_diagnosis,
        patients.ctd_diagnosed_on,
        patients.thrombocytopenia_diagnosed_on,
        {% call as_contract_type('double') %}round({{ dbt.datediff('patients.ctd_diagnosed_on', 'patient_index.index_date', 'day') }} / 365.25, 1){% endcall %}
            as ctd_duration_years,
        {% call as_contract_type('double') %}round({{ dbt.datediff('patients.thrombocytopenia_diagnosed_on', 'patient_index.index_date', 'day') }} / 365.25, 1){% endcall %}
            as thrombocytopenia_duration_years,
        patients.prior_therapy_lines,
        patient_index.index_date,
        patient_index.index_date is not null as has_index_drug_start,
        baseline.platelet_count as baseline_platelet_count,
        baseline.who_bleeding_grade as baseline_bleeding_grade,
        baseline.prednisone_equivalent_mg_day as baseline_prednisone_mg_day,
        {{ cohort_label() }} as cohort
    from patients
    left join patient_index
        on patients.patient_id = patient_index.patient_id
    left join baseline
        on patients.patient_id = baseline.patient_id

)

select * from final
