{{ checked_rows(
    ref('stg_patients'), ['patient_id'],
    content_columns=[
        'sex', 'birth_year', 'ctd_diagnosis', 'ctd_diagnosed_on', 'thrombocytopenia_diagnosed_on',
        'prior_therapy_lines', 'row_issue'
    ],
    date_column=none, check_patient=false
) }}
